import { createSocket } from "node:dgram";
import type { AddressInfo } from "node:net";
import { createServer } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { MAX_UDP_FLOWS } from "../../vmm/net/gateway.js";
import { defaultNetworkDef, Network, type NetworkDef } from "../../vmm/net/network.js";
import { NodeOutside } from "../../vmm/net/node-outside.js";
import type { Outside } from "../../vmm/net/outside.js";
import { ipNumber, put16, put32, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, u16, u32 } from "../../vmm/net/packet.js";
import { BROADCAST, FakeGuest, waitFor } from "./fake-guest.js";

const GW = ipNumber("192.168.122.1");
const MAC = Uint8Array.of(0x52, 0x54, 0, 1, 2, 3);
const nets: Network[] = [];
afterEach(() => {
  for (const n of nets.splice(0)) n.close();
});

function network(def: Partial<NetworkDef> = {}, outside?: Outside): Network {
  const n = new Network({ ...defaultNetworkDef(), ...def }, { outside });
  nets.push(n);
  return n;
}

function dhcp(type: number, xid: number, opts: number[] = [], mac: Uint8Array = MAC): Uint8Array {
  const d = new Uint8Array(240 + 3 + opts.length + 1);
  d.set([1, 1, 6, 0], 0);
  put32(d, 4, xid);
  d.set(mac, 28);
  put32(d, 236, 0x63825363);
  d.set([53, 1, type, ...opts, 255], 240);
  return d;
}

function dnsQuery(name: string, id = 0x1234, type = 1): Uint8Array {
  const labels = name.split(".").flatMap((l) => [l.length, ...Array.from(l, (c) => c.charCodeAt(0))]);
  const q = new Uint8Array(12 + labels.length + 1 + 4);
  put16(q, 0, id);
  q[2] = 1; // RD
  put16(q, 4, 1);
  q.set(labels, 12);
  put16(q, 12 + labels.length + 1, type);
  put16(q, 12 + labels.length + 3, 1);
  return q;
}

/** A DHCP exchange: DISCOVER, then REQUEST of what was offered; returns the acknowledged address. */
function lease(g: FakeGuest, name: string): number {
  g.got.length = 0;
  g.udp(
    0xffffffff,
    68,
    67,
    dhcp(1, 7, [12, name.length, ...Array.from(name, (c) => c.charCodeAt(0))], g.mac),
    BROADCAST,
  );
  const offer = g.takeUdp()[0]!;
  expect(offer.data[240 + 2]).toBe(2);
  const ip = u32(offer.data, 16);
  g.udp(
    0xffffffff,
    68,
    67,
    dhcp(
      3,
      7,
      [
        50,
        4,
        ip >>> 24,
        (ip >>> 16) & 255,
        (ip >>> 8) & 255,
        ip & 255,
        12,
        name.length,
        ...Array.from(name, (c) => c.charCodeAt(0)),
      ],
      g.mac,
    ),
    BROADCAST,
  );
  const ack = g.takeUdp()[0]!;
  expect(ack.data[240 + 2]).toBe(5);
  g.ip = ip;
  return ip;
}

describe("gateway: DHCP", () => {
  it("leases from .2 up, keeps static leases, and lists leases like net-dhcp-leases", () => {
    const n = network({
      dhcp: {
        start: "192.168.122.2",
        end: "192.168.122.254",
        hosts: [{ mac: "52:54:00:00:00:99", ip: "192.168.122.50", name: "fixed" }],
      },
    });
    const a = new FakeGuest(n, MAC, 0, "a");
    const b = new FakeGuest(n, Uint8Array.of(0x52, 0x54, 0, 0, 0, 0x99), 0, "b");
    expect(lease(a, "alpha")).toBe(ipNumber("192.168.122.2"));
    expect(lease(b, "beta")).toBe(ipNumber("192.168.122.50"));
    // The same client asking again gets the same address.
    expect(lease(a, "alpha")).toBe(ipNumber("192.168.122.2"));
    expect(n.leases().map((l) => [l.mac, l.address, l.hostname])).toEqual([
      ["52:54:00:01:02:03", "192.168.122.2/24", "alpha"],
      ["52:54:00:00:00:99", "192.168.122.50/24", "beta"],
    ]);
    // A request for an address the server would not give is NAKed.
    a.udp(0xffffffff, 68, 67, dhcp(3, 8, [50, 4, 192, 168, 122, 50]), BROADCAST);
    expect(a.takeUdp()[0]!.data[242]).toBe(6);
  });

  it("counts DHCP garbage and drops it without an answer", () => {
    const n = network();
    const g = new FakeGuest(n, MAC, 0);
    const good = dhcp(1, 1);
    const cases = [
      new Uint8Array(100), // short
      (() => {
        const d = good.slice();
        d[236] = 0; // bad cookie
        return d;
      })(),
      good.slice(0, 243), // no end option
      dhcp(1, 1, [12, 200]), // an option past the end
      dhcp(99, 1), // unknown message type
      (() => {
        const d = good.slice();
        d[0] = 2; // a reply sent to the server
        return d;
      })(),
    ];
    for (const c of cases) g.udp(0xffffffff, 68, 67, c, BROADCAST);
    expect(g.takeUdp()).toHaveLength(0);
    expect(n.gateway!.dhcp!.counters.garbage).toBe(6);
  });
});

describe("gateway: DNS", () => {
  it("answers leased names, NXDOMAIN for unknown bare names, and counts garbage", () => {
    const n = network({ domain: "lab" });
    const g = new FakeGuest(n, MAC, 0);
    lease(g, "alpha");
    g.udp(GW, 5000, 53, dnsQuery("alpha"));
    g.udp(GW, 5000, 53, dnsQuery("alpha.lab"));
    g.udp(GW, 5000, 53, dnsQuery("nobody"));
    const [a, b, c] = g.takeUdp();
    expect(u16(a!.data, 6)).toBe(1);
    expect(Array.from(a!.data.subarray(a!.data.length - 4))).toEqual([192, 168, 122, 2]);
    expect(u16(b!.data, 6)).toBe(1);
    expect(c!.data[3]! & 15).toBe(3);
    const q = dnsQuery("alpha");
    const garbage = [
      q.slice(0, 11),
      (() => {
        const d = q.slice();
        d[12] = 0xc0; // compression in the question
        return d;
      })(),
      (() => {
        const d = q.slice();
        d[12] = 60; // a label past the end
        return d;
      })(),
      (() => {
        const d = q.slice();
        put16(d, 4, 2); // two questions
        return d;
      })(),
      (() => {
        const d = q.slice();
        d[2] |= 0x80; // a response
        return d;
      })(),
    ];
    for (const d of garbage) g.udp(GW, 5000, 53, d);
    expect(g.takeUdp()).toHaveLength(0);
    expect(n.gateway!.dns.counters.garbage).toBe(5);
  });

  it("forwards other names upstream and refuses them under restrict", async () => {
    const up = createSocket("udp4");
    up.on("message", (m, r) => {
      const a = new Uint8Array(m.length);
      a.set(m);
      a[2]! |= 0x80;
      up.send(a, r.port, r.address);
    });
    await new Promise<void>((r) => up.bind(0, "127.0.0.1", r));
    const outside = new NodeOutside({ dns: { ip: "127.0.0.1", port: up.address().port } });
    try {
      const n = network({}, outside);
      const g = new FakeGuest(n, MAC, ipNumber("192.168.122.9"));
      g.udp(GW, 5001, 53, dnsQuery("example.org", 0x4242));
      await waitFor(() => g.got.length > 0);
      const r = g.takeUdp()[0]!;
      expect(r.src).toBe(GW);
      expect(r.srcPort).toBe(53);
      expect(u16(r.data, 0)).toBe(0x4242);
      const locked = network({ name: "locked", restrict: true }, outside);
      const h = new FakeGuest(locked, MAC, ipNumber("192.168.122.9"));
      h.udp(GW, 5001, 53, dnsQuery("example.org"));
      expect(h.takeUdp()[0]!.data[3]! & 15).toBe(5);
    } finally {
      up.close();
    }
  });
});

describe("gateway: malformed frames", () => {
  it("counts bad IP and UDP checksums, truncated headers and fragments, and drops them", () => {
    const n = network();
    const g = new FakeGuest(n, MAC, ipNumber("192.168.122.9"));
    const built: Uint8Array[] = [];
    g.port.taps.push((f, _p, d) => d === "in" && built.push(f.slice()));
    g.udp(GW, 5000, 53, dnsQuery("alpha"));
    g.takeUdp();
    const base = built[0]!;
    const badIp = base.slice();
    badIp[24]! ^= 0xff;
    const badUdp = base.slice();
    badUdp[40]! ^= 0xff;
    const truncated = base.slice(0, 30);
    const lying = base.slice();
    put16(lying, 16, 1400); // total length past the frame
    const frag = base.slice();
    put16(frag, 20, 0x2000);
    put16(frag, 24, 0);
    const sum = (() => {
      let s = 0;
      for (let i = 14; i < 34; i += 2) s += (frag[i]! << 8) | frag[i + 1]!;
      while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
      return ~s & 0xffff;
    })();
    put16(frag, 24, sum);
    for (const f of [badIp, badUdp, truncated, lying, frag]) g.send(f);
    expect(g.takeUdp()).toHaveLength(0);
    expect(n.gateway!.counters).toMatchObject({ checksum: 2, truncated: 2, fragments: 1 });
    // A TCP SYN with a bad checksum, and one whose data offset runs past the segment.
    built.length = 0;
    g.tcp(GW, { srcPort: 1, dstPort: 2, seq: 1, ack: 0, flags: TCP_SYN, window: 100 });
    g.got.length = 0;
    const syn = built[0]!;
    const badTcp = syn.slice();
    badTcp[34 + 16]! ^= 0x55;
    const offset = syn.slice();
    offset[34 + 12] = 0xf0;
    g.send(badTcp);
    g.send(offset);
    // An ARP frame cut short.
    g.send(
      syn
        .slice(0, 20)
        .fill(0xff, 0, 6)
        .map((b, i) => (i === 12 ? 8 : i === 13 ? 6 : b)),
    );
    expect(g.takeTcp()).toHaveLength(0);
    expect(n.gateway!.counters).toMatchObject({ checksum: 3, truncated: 4 });
  });
});

/** An Outside that records what the gateway asked of it. */
function spying(inner: Outside): Outside & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    connectTcp: (ip, port) => {
      calls.push(`tcp ${ip}:${port}`);
      return inner.connectTcp(ip, port);
    },
    udp: () => {
      calls.push("udp");
      return inner.udp();
    },
    listenTcp: (h, p, c, r) => {
      calls.push(`listen ${h}:${p}`);
      return inner.listenTcp(h, p, c, r);
    },
    dnsUpstream: () => inner.dnsUpstream(),
  };
}

describe("gateway: NAT", () => {
  it("carries a guest TCP connection to the host's loopback and back", async () => {
    const server = createServer((s) => {
      s.on("data", (d) => s.end(`echo:${d}`));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    try {
      const outside = spying(new NodeOutside());
      const n = network({}, outside);
      expect(outside.calls).toEqual([]); // nothing opened before a guest asks
      const g = new FakeGuest(n, MAC, ipNumber("192.168.122.9"));
      const t = { srcPort: 40000, dstPort: port, window: 8192 };
      g.tcp(GW, { ...t, seq: 100, ack: 0, flags: TCP_SYN, mss: 1460 });
      await waitFor(() => g.got.length > 0);
      const synack = g.takeTcp()[0]!;
      expect(synack.flags).toBe(TCP_SYN | TCP_ACK);
      expect(synack.ack).toBe(101);
      const iss = synack.seq;
      g.tcp(GW, { ...t, seq: 101, ack: iss + 1, flags: TCP_ACK });
      g.tcp(GW, { ...t, seq: 101, ack: iss + 1, flags: TCP_ACK | TCP_PSH }, new TextEncoder().encode("hi"));
      const seen: number[] = [];
      let text = "";
      let fin = false;
      await waitFor(() => {
        for (const s of g.takeTcp()) {
          seen.push(s.flags);
          text += new TextDecoder().decode(s.data);
          if (s.flags & TCP_FIN) fin = true;
        }
        return fin;
      });
      expect(text).toBe("echo:hi");
      expect(outside.calls).toEqual([`tcp 127.0.0.1:${port}`]);
      expect(n.gateway!.connections()[0]).toMatch(/^tcp 192\.168\.122\.9:40000 -> 192\.168\.122\.1:\d+/);
    } finally {
      server.close();
    }
  });

  it("refuses with RST, and opens nothing, under restrict and on an isolated network", async () => {
    for (const def of [{ restrict: true }, { mode: "isolated" as const }]) {
      const outside = spying(new NodeOutside());
      const n = network(def, outside);
      const g = new FakeGuest(n, MAC, ipNumber("192.168.122.9"));
      g.tcp(ipNumber("10.1.2.3"), { srcPort: 40000, dstPort: 80, seq: 5, ack: 0, flags: TCP_SYN, window: 1000 });
      g.tcp(GW, { srcPort: 40001, dstPort: 80, seq: 5, ack: 0, flags: TCP_SYN, window: 1000 });
      g.udp(ipNumber("10.1.2.3"), 5000, 9, new Uint8Array(4));
      const rs = g.takeTcp();
      expect(rs.map((r) => r.flags)).toEqual([TCP_RST | TCP_ACK, TCP_RST | TCP_ACK]);
      expect(rs[0]!.ack).toBe(6);
      expect(outside.calls).toEqual([]);
      expect(n.gateway!.counters.restricted).toBeGreaterThanOrEqual(2);
    }
  });

  it("carries guest UDP to the host and takes answers only from where it went, within a flow limit", async () => {
    const echo = createSocket("udp4");
    echo.on("message", (m, r) => echo.send(m, r.port, r.address));
    await new Promise<void>((r) => echo.bind(0, "127.0.0.1", r));
    try {
      const outside = spying(new NodeOutside());
      const n = network({}, outside);
      const g = new FakeGuest(n, MAC, ipNumber("192.168.122.9"));
      g.udp(GW, 6000, echo.address().port, new TextEncoder().encode("ping-udp"));
      await waitFor(() => g.got.length > 0);
      const [r] = g.takeUdp();
      expect(new TextDecoder().decode(r!.data)).toBe("ping-udp");
      expect([r!.src, r!.srcPort, r!.dstPort]).toEqual([GW, echo.address().port, 6000]);
      // A guest that makes up source ports gets MAX_UDP_FLOWS host sockets, no more.
      for (let p = 0; p < MAX_UDP_FLOWS + 20; p++) g.udp(GW, 10000 + p, 9, new Uint8Array(1));
      expect(outside.calls.filter((c) => c === "udp")).toHaveLength(MAX_UDP_FLOWS);
      expect(n.gateway!.counters.overLimit).toBe(21);
    } finally {
      echo.close();
    }
  });

  it("answers a segment of no connection with RST", () => {
    const n = network({}, new NodeOutside());
    const g = new FakeGuest(n, MAC, ipNumber("192.168.122.9"));
    g.tcp(GW, { srcPort: 40000, dstPort: 80, seq: 5, ack: 77, flags: TCP_ACK, window: 1000 });
    const [r] = g.takeTcp();
    expect(r!.flags).toBe(TCP_RST);
    expect(r!.seq).toBe(77);
    expect(n.gateway!.tcp!.counters.unknown).toBe(1);
  });
});
