// Two VMs in one page (Chromium through playwright-core), each in its own Worker, on one network
// that runs in the page: libvirt's `default` network (switch, DHCP, DNS) with each NIC's backend
// on a MessagePort. One guest has virtio-net, the other ne2k-pci; both run the tiny Linux and the
// same commands as in the Node tests (test/net/linux-network.test.ts): they take DHCP leases in
// 192.168.122.0/24 and ping each other, by address and by name.

import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DHCP_SCRIPT } from "../net/guests.js";
import { type Harness, startHarness, waitFor } from "./harness.js";

describe("two VMs in one page on the page's network", () => {
  let h: Harness;
  let page: Page;

  beforeAll(async () => {
    h = await startHarness();
    page = await h.newPage();
  });

  afterAll(async () => {
    await h?.close();
  });

  const serial = (i: number) => page.evaluate((n) => window.__x86net.serial(n), i);
  /** Types `cmd` into VM i's console and returns what it printed up to the end marker. */
  const sh = async (i: number, cmd: string, ms = 60_000): Promise<string> => {
    const from = (await serial(i)).length;
    await page.evaluate(
      ([n, text]) => window.__x86net.input(n as number, text as string),
      [i, `${cmd}; echo @@@; echo end\r`],
    );
    const out = await waitFor(
      page,
      `vm${i + 1}: ${cmd}`,
      async () => (await serial(i)).slice(from),
      (s) => s.includes("@@@\r\nend"),
      ms,
    );
    return out.slice(0, out.indexOf("@@@\r\nend"));
  };

  it("boots both guests, gives them leases in 192.168.122.0/24, and they ping each other", async () => {
    await page.goto(`${h.url}net.html?nics=virtio-net,ne2k_pci`);
    for (const i of [0, 1])
      await waitFor(
        page,
        `vm${i + 1}'s shell prompt`,
        () => serial(i),
        (s) => s.includes("~ # "),
        90_000,
      );
    // The guests see a NIC each: virtio-net's and ne2k-pci's drivers bound.
    expect(await sh(0, "cat /sys/class/net/eth0/device/uevent")).toContain("DRIVER=virtio_net");
    expect(await sh(1, "cat /sys/class/net/eth0/device/uevent")).toContain("DRIVER=ne2k-pci");
    for (const i of [0, 1]) {
      const up = await sh(
        i,
        `${DHCP_SCRIPT} && ip link set eth0 up && udhcpc -i eth0 -s /tmp/dhcp.sh -q -n -t 5 -T 2 -x hostname:vm${i + 1} 2>&1 && ip -4 addr show eth0`,
      );
      expect(up).toMatch(/inet 192\.168\.122\.\d+\/24/);
    }
    const leases = await page.evaluate(() => window.__x86net.leases());
    expect(leases).toEqual([
      { mac: "52:54:00:12:34:01", address: "192.168.122.2/24", hostname: "vm1" },
      { mac: "52:54:00:12:34:02", address: "192.168.122.3/24", hostname: "vm2" },
    ]);
    const ping = await sh(0, "ping -c 2 192.168.122.3");
    expect(ping).toContain("2 packets transmitted, 2 packets received");
    const back = await sh(1, "ping -c 1 vm1 && ping -c 1 192.168.122.1");
    expect(back).toContain("PING vm1 (192.168.122.2)");
    expect(back.match(/1 packets received/g)).toHaveLength(2);
    // The switch learned both NICs on their MessagePort ports and dropped nothing.
    const info = await page.evaluate(() => window.__x86net.info());
    expect(info).toMatch(/mac 52:54:00:12:34:01 vlan 1 on vnet0/);
    expect(info).toMatch(/mac 52:54:00:12:34:02 vlan 1 on vnet1/);
    expect(info).toMatch(/port vnet0 \(vlan 1\): rx [1-9]\d* frames .* drops 0\n/);
    expect(info).toMatch(/port vnet1 \(vlan 1\): rx [1-9]\d* frames .* drops 0\n/);
    expect(h.problems).toEqual([]);
  }, 180_000);

  it("reaches the page's own server by HTTP through fetch, and says plainly what a page refuses", async () => {
    // 192.168.122.1 is the host's loopback to a guest; in the page it is the page's own origin.
    const page1 = await sh(0, "wget -q -O - http://192.168.122.1/net.html | grep -o 'VMs on one network' | head -1");
    expect(page1).toContain("VMs on one network");
    const missing = await sh(1, "wget -q -O - http://192.168.122.1/no-such-file 2>&1; echo rc=$?");
    expect(missing).toMatch(/404|rc=1/);
    // Another port: no sockets in a page, so the guest's SYN gets RST ("Connection refused").
    const refused = await sh(0, "wget -q -O - http://192.168.122.1:8080/ 2>&1; echo rc=$?");
    expect(refused).toMatch(/refused/i);
    const info = await page.evaluate(() => window.__x86net.info());
    expect(info).toMatch(
      /outside \(page\): HTTP to port 80 through fetch \(2 requests, 0 failed, 0 rejected\); refused: TCP 1,/,
    );
    expect(info).toContain("refused TCP to 127.0.0.1:8080: a page opens no TCP connections");
  });

  it("downloads a capture of the page's network that Debian's tcpdump reads", async () => {
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#capture")]);
    expect(download.suggestedFilename()).toBe("default.pcap");
    const file = join(mkdtempSync(join(tmpdir(), "x86lab-page-")), "default.pcap");
    await download.saveAs(file);
    const text = execFileSync("tcpdump", ["-nn", "-r", file], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    rmSync(dirname(file), { recursive: true, force: true });
    expect(text).toMatch(/IP 192\.168\.122\.2 > 192\.168\.122\.3: ICMP echo request/);
    expect(text).toMatch(/IP 192\.168\.122\.3 > 192\.168\.122\.2: ICMP echo reply/);
    expect(text).toMatch(/BOOTP\/DHCP, Request from 52:54:00:12:34:02/);
  });
});
