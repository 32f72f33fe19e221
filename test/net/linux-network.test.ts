// Four tiny Linux guests on one libvirt-style `default` network in this process: two in the
// network's own VLAN get DHCP leases, ping and resolve each other, fetch a page from the host's
// loopback through NAT, and serve a page to the host through a port forward; two more in VLAN 10
// of the same switch reach each other and none of the first two. Then a fifth guest in a child
// process joins the network through a stream (QEMU's -netdev stream framing), takes a lease and
// pings this process's guest; a capture of the whole run is read back by Debian's tcpdump.

import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { createServer, get, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultNetworkDef, Network } from "../../vmm/net/network.js";
import { NodeOutside } from "../../vmm/net/node-outside.js";
import { serveNetwork } from "../../vmm/net/stream.js";
import { bootGuest, DHCP_SCRIPT, type Guest, guestMac, Runner } from "./guests.js";

let net: Network;
let runner: Runner;
let vm1: Guest;
let vm2: Guest;
let vm3: Guest;
let vm4: Guest;
let web: Server;
let webPort: number;
let fwdPort = 0;
const dir = mkdtempSync(join(tmpdir(), "x86lab-net-"));
const pcap = join(dir, "default.pcap");
const ROOT = new URL("../../", import.meta.url).pathname;
const DHCP = (name: string) =>
  `${DHCP_SCRIPT} && ip link set eth0 up && udhcpc -i eth0 -s /tmp/dhcp.sh -q -n -t 5 -T 2 -x hostname:${name} 2>&1 && ip -4 addr show eth0`;
/** 128 KiB: more than one window holds. */
const BIG = Buffer.from(Array.from({ length: 128 * 1024 }, (_, i) => (i * 7 + (i >> 10)) & 0xff));

function httpGet(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get({ host: "127.0.0.1", port, path }, (res) => {
      let body = "";
      res.on("data", (d) => {
        body += d;
      });
      res.on("end", () => resolve(body));
    });
    req.on("error", reject);
    req.setTimeout(60_000, () => req.destroy(new Error("timeout")));
  });
}

beforeAll(async () => {
  web = createServer((req, res) =>
    res.end(req.url === "/big" ? BIG : `hello from the host, you asked for ${req.url}\n`),
  );
  await new Promise<void>((r) => web.listen(0, "127.0.0.1", r));
  webPort = (web.address() as AddressInfo).port;
  net = new Network(
    {
      ...defaultNetworkDef(),
      forwards: [{ proto: "tcp", hostAddr: "127.0.0.1", hostPort: 0, guestAddr: "192.168.122.2", guestPort: 8080 }],
    },
    { outside: new NodeOutside() },
  );
  const fd = openSync(pcap, "w");
  net.capture(
    (b) => writeSync(fd, b),
    () => closeSync(fd),
  );
  await new Promise<void>((r) => setTimeout(r, 50));
  fwdPort = net.gateway!.forwards[0]!.listener.port;
  vm1 = await bootGuest("vm1", net.attach("vnet0"), guestMac(1), "virtio");
  vm2 = await bootGuest("vm2", net.attach("vnet1"), guestMac(2), "ne2k");
  vm3 = await bootGuest("vm3", net.attach({ name: "vnet2", vlan: 10 }), guestMac(3), "virtio");
  vm4 = await bootGuest("vm4", net.attach({ name: "vnet3", vlan: 10 }), guestMac(4), "virtio");
  runner = new Runner([vm1, vm2, vm3, vm4]);
  for (const g of runner.guests) await runner.until(g, "~ # ");
}, 240_000);

afterAll(() => {
  net?.close();
  web?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("the default network with four guests", () => {
  it("gives leases in 192.168.122.0/24 and the guests ping and resolve each other", async () => {
    for (const g of [vm1, vm2]) {
      const up = await runner.sh(
        g,
        `${DHCP_SCRIPT} && ip link set eth0 up && udhcpc -i eth0 -s /tmp/dhcp.sh -q -n -t 5 -T 2 -x hostname:${g.name} 2>&1 && ip -4 addr show eth0`,
      );
      expect(up).toMatch(/inet 192\.168\.122\.\d+\/24/);
    }
    const leases = net.leases();
    expect(leases.map((l) => [l.mac, l.address, l.hostname])).toEqual([
      ["52:54:00:ab:00:01", "192.168.122.2/24", "vm1"],
      ["52:54:00:ab:00:02", "192.168.122.3/24", "vm2"],
    ]);
    const ping = await runner.sh(vm1, "ping -c 2 192.168.122.3");
    expect(ping).toContain("2 packets transmitted, 2 packets received");
    const back = await runner.sh(vm2, "ping -c 1 vm1 && ping -c 1 192.168.122.1");
    expect(back).toContain("PING vm1 (192.168.122.2)");
    expect(back).not.toContain("packet loss, 100%");
    expect(back.match(/1 packets received/g)).toHaveLength(2);
    expect(net.gateway!.dns.counters.local).toBeGreaterThanOrEqual(1);
  }, 120_000);

  it("fetches a page from the host's loopback through NAT", async () => {
    const page = await runner.sh(vm1, `wget -q -O - http://192.168.122.1:${webPort}/through-nat`);
    expect(page).toContain("hello from the host, you asked for /through-nat");
    expect(net.gateway!.tcp!.counters.opened).toBeGreaterThanOrEqual(1);
    // A larger answer than one window, byte for byte.
    const big = await runner.sh(vm1, `wget -q -O - http://192.168.122.1:${webPort}/big | md5sum`);
    expect(big).toContain(createHash("md5").update(BIG).digest("hex"));
  }, 120_000);

  it("serves a guest's httpd to the host through a port forward", async () => {
    await runner.sh(vm1, "mkdir -p /www && echo guest-page-$(hostname) > /www/index.html && httpd -p 8080 -h /www");
    const body = await runner.during(httpGet(fwdPort, "/index.html"));
    expect(body).toBe("guest-page-tiny\n");
    const again = await runner.during(Promise.all([httpGet(fwdPort, "/"), httpGet(fwdPort, "/index.html")]));
    expect(again).toEqual(["guest-page-tiny\n", "guest-page-tiny\n"]);
    expect(net.gateway!.tcp!.counters.forwarded).toBe(3);
  }, 120_000);

  it("keeps VLAN 10 apart from the network's VLAN", async () => {
    await runner.sh(vm3, "ip link set eth0 up && ip addr add 192.168.122.103/24 dev eth0");
    await runner.sh(vm4, "ip link set eth0 up && ip addr add 192.168.122.104/24 dev eth0");
    const inside = await runner.sh(vm3, "ping -c 2 192.168.122.104");
    expect(inside).toContain("2 packets transmitted, 2 packets received");
    const across = await runner.sh(vm3, "ping -c 1 -W 1 192.168.122.2; ping -c 1 -W 1 192.168.122.1");
    expect(across.match(/0 packets received/g)).toHaveLength(2);
    const fromOther = await runner.sh(vm1, "ping -c 1 -W 1 192.168.122.104");
    expect(fromOther).toContain("0 packets received");
    // The gateway never heard VLAN 10's addresses.
    expect(net.gateway!.neighbours().map((n) => n.ip)).not.toContain("192.168.122.103");
    expect(
      net.switch
        .macTable()
        .filter((m) => m.vlan === 10)
        .map((m) => m.port)
        .sort(),
    ).toEqual(["vnet2", "vnet3"]);
  }, 120_000);

  it("shares the network with a guest in another process, and tcpdump reads the capture", async () => {
    const served = await new Promise<ReturnType<typeof serveNetwork>>((resolve, reject) => {
      const x = serveNetwork(net, { host: "127.0.0.1", port: 0 }, (err) => (err ? reject(new Error(err)) : resolve(x)));
    });
    try {
      const child = spawn(
        process.execPath,
        [
          "--import",
          "tsx",
          "test/net/child-vm.ts",
          String(served.port()),
          "there",
          "9",
          DHCP("there"),
          "ping -c 2 192.168.122.2",
          "ping -c 1 vm1",
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
        .map((l) => JSON.parse(l) as { out: string });
      expect(results[0]!.out).toContain("inet 192.168.122.4/24");
      expect(results[1]!.out).toContain("2 packets transmitted, 2 packets received");
      expect(results[2]!.out).toContain("PING vm1 (192.168.122.2)");
      expect(results[2]!.out).toContain("1 packets received");
      expect(net.leases().map((l) => l.hostname)).toEqual(["vm1", "vm2", "there"]);
      expect(served.counters.framesIn).toBeGreaterThan(5);
      expect(served.counters.badLength).toBe(0);
    } finally {
      served.server.close();
    }
    net.close(); // flushes and closes the capture
    const text = execFileSync("tcpdump", ["-nn", "-r", pcap], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
    expect(text).toMatch(/192\.168\.122\.1\.67 > 192\.168\.122\.4\.68: BOOTP\/DHCP, Reply/);
    expect(text).toMatch(/IP 192\.168\.122\.4 > 192\.168\.122\.2: ICMP echo request/);
    expect(text).toMatch(/IP 192\.168\.122\.2 > 192\.168\.122\.4: ICMP echo reply/);
    // The VLAN 10 pair's pings are on the wire of the switch too, tagged nowhere (access ports).
    expect(text).toMatch(/IP 192\.168\.122\.103 > 192\.168\.122\.104: ICMP echo request/);
  }, 240_000);
});
