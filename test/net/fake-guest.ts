// A scripted guest for gateway tests: a switch port that sends hand-built frames and keeps
// what it receives.

import type { Network } from "../../vmm/net/network.js";
import {
  BROADCAST,
  IP_TCP,
  IP_UDP,
  ipv4Frame,
  parseIpv4,
  parseTcp,
  parseUdp,
  type Tcp,
  tcpSegment,
  type Udp,
  udpSegment,
} from "../../vmm/net/packet.js";
import type { SwitchPort } from "../../vmm/net/switch.js";

export class FakeGuest {
  readonly port: SwitchPort;
  readonly got: Uint8Array[] = [];

  constructor(
    readonly net: Network,
    readonly mac: Uint8Array,
    public ip: number,
    name = "fake",
  ) {
    this.port = net.attach(name);
    this.port.onReceive = (f) => this.got.push(f);
  }

  get gwMac(): Uint8Array {
    return this.net.gateway!.config.mac;
  }

  send(frame: Uint8Array): void {
    this.port.transmit(frame);
    this.net.switch.pump();
  }

  udp(dst: number, srcPort: number, dstPort: number, data: Uint8Array, dstMac = this.gwMac): void {
    this.send(ipv4Frame(dstMac, this.mac, this.ip, dst, IP_UDP, udpSegment(this.ip, dst, srcPort, dstPort, data)));
  }

  tcp(dst: number, t: Parameters<typeof tcpSegment>[2], data?: Uint8Array): void {
    this.send(ipv4Frame(this.gwMac, this.mac, this.ip, dst, IP_TCP, tcpSegment(this.ip, dst, t, data)));
  }

  /** Received UDP datagrams (and removes them from `got`). */
  takeUdp(): (Udp & { src: number })[] {
    const out: (Udp & { src: number })[] = [];
    for (const f of this.got.splice(0)) {
      const ip = parseIpv4(f);
      if (typeof ip === "string" || ip.proto !== IP_UDP) continue;
      const u = parseUdp(ip);
      if (typeof u !== "string") out.push({ ...u, src: ip.src });
    }
    return out;
  }

  takeTcp(): Tcp[] {
    const out: Tcp[] = [];
    for (const f of this.got.splice(0)) {
      const ip = parseIpv4(f);
      if (typeof ip === "string" || ip.proto !== IP_TCP) continue;
      const t = parseTcp(ip);
      if (typeof t !== "string") out.push(t);
    }
    return out;
  }
}

export { BROADCAST };

/** Waits for the event loop to turn `n` times (host sockets progress). */
export async function turns(n = 20): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

/** Waits until `cond()` or `ms` pass. */
export async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
}
