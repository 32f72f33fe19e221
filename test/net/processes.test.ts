// VMs in two Node processes on one network: this process holds the `default` network (gateway,
// DHCP) and one guest, and serves the network on a TCP port; a child process's guest joins it
// through a stream (QEMU's -netdev stream framing), takes a lease and pings this process's guest.
// A capture of the whole network is read back by Debian's tcpdump.

import { execFileSync, spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { defaultNetworkDef, Network } from "../../vmm/net/network.js";
import { serveNetwork } from "../../vmm/net/stream.js";
import { bootGuest, DHCP_SCRIPT, guestMac, Runner } from "./guests.js";

const dir = mkdtempSync(join(tmpdir(), "x86lab-net-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ROOT = new URL("../../", import.meta.url).pathname;
const DHCP = (name: string) =>
  `${DHCP_SCRIPT} && ip link set eth0 up && udhcpc -i eth0 -s /tmp/dhcp.sh -q -n -t 5 -T 2 -x hostname:${name} 2>&1 && ip -4 addr show eth0`;

describe("a network shared by two processes", () => {
  it("gives the other process's guest a lease, and the two guests ping each other", async () => {
    const net = new Network(defaultNetworkDef());
    const pcap = join(dir, "default.pcap");
    const fd = openSync(pcap, "w");
    net.capture(
      (b) => writeSync(fd, b),
      () => closeSync(fd),
    );
    const served = await new Promise<ReturnType<typeof serveNetwork>>((resolve, reject) => {
      const s = serveNetwork(net, { host: "127.0.0.1", port: 0 }, (err) => (err ? reject(new Error(err)) : resolve(s)));
    });
    try {
      const here = await bootGuest("here", net.attach("vnet0"), guestMac(1), "virtio");
      const runner = new Runner([here]);
      await runner.until(here, "~ # ");
      expect(await runner.sh(here, DHCP("here"))).toContain("inet 192.168.122.2/24");
      const child = spawn(
        process.execPath,
        [
          "--import",
          "tsx",
          "test/net/child-vm.ts",
          String(served.port()),
          "there",
          "2",
          DHCP("there"),
          "ping -c 2 192.168.122.2",
          "ping -c 1 here",
        ],
        { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
      );
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => {
        stdout += d;
      });
      child.stderr.on("data", (d) => {
        stderr += d;
      });
      const code = await runner.during(new Promise<number | null>((r) => child.on("close", r)), 200_000);
      expect(stderr).toBe("");
      expect(code).toBe(0);
      const results = stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { out: string; counters: { framesIn: number } });
      expect(results[0]!.out).toContain("inet 192.168.122.3/24");
      expect(results[1]!.out).toContain("2 packets transmitted, 2 packets received");
      expect(results[2]!.out).toContain("PING here (192.168.122.2)");
      expect(results[2]!.out).toContain("1 packets received");
      expect(net.leases().map((l) => l.hostname)).toEqual(["here", "there"]);
      expect(served.counters.framesIn).toBeGreaterThan(5);
      expect(served.counters.badLength).toBe(0);
    } finally {
      served.server.close();
      net.close();
    }
    // tcpdump reads the capture: the DHCP exchange and the pings between the processes' guests.
    const text = execFileSync("tcpdump", ["-nn", "-r", pcap], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
    expect(text).toMatch(/192\.168\.122\.1\.67 > 192\.168\.122\.3\.68: BOOTP\/DHCP, Reply/);
    expect(text).toMatch(/IP 192\.168\.122\.3 > 192\.168\.122\.2: ICMP echo request/);
    expect(text).toMatch(/IP 192\.168\.122\.2 > 192\.168\.122\.3: ICMP echo reply/);
  }, 240_000);
});
