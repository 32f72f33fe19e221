// The host's side of a network (libvirt's virbr0 address with its dnsmasq and masquerade rules):
// one switch port at the gateway address that answers ARP and ping, serves DHCP and DNS, and on a
// `nat` network carries guest TCP and UDP to the host's sockets (tcp-nat.ts, and UDP here), with
// port forwards from host ports to guests (QEMU's hostfwd).
//
// What reaches the outside: TCP and UDP a guest sends to an address beyond the network go to that
// address; to the gateway's own address (other than DNS and DHCP) they go to the host's loopback,
// as QEMU's user network maps its host address. `restrict` (QEMU's restrict=on) and an isolated
// network reach nothing outside, forwards excepted. ICMP leaves nowhere (Node has no raw sockets):
// pings beyond the gateway are counted and dropped.

import { inetChecksum } from "../../devices/net/backend.js";
import { DhcpServer, type StaticHost } from "./dhcp.js";
import { DnsServer } from "./dns.js";
import type { Outside, OutsideDatagrams, OutsideListener, OutsideStream } from "./outside.js";
import {
  BROADCAST,
  ETH_ARP,
  ETH_IPV4,
  IP_ICMP,
  IP_TCP,
  IP_UDP,
  type Ipv4,
  ipNumber,
  ipString,
  ipv4Frame,
  macString,
  parseIpv4,
  parseTcp,
  parseUdp,
  put16,
  put32,
  u16,
  u32,
  udpSegment,
} from "./packet.js";
import type { SwitchPort } from "./switch.js";
import { TcpNat } from "./tcp-nat.js";
import { UdpForwards } from "./udp-forward.js";

export interface PortForward {
  proto: "tcp" | "udp";
  /** Host address to listen on (default 127.0.0.1: forwards are not opened to the world unasked). */
  hostAddr: string;
  hostPort: number;
  /** Guest address; default the lowest address leased when a connection comes. */
  guestAddr?: string;
  guestPort: number;
}

export interface GatewayConfig {
  ip: number;
  prefix: number;
  mac: Uint8Array;
  mode: "nat" | "isolated";
  restrict: boolean;
  dhcp?: { rangeStart: number; rangeEnd: number; hosts: StaticHost[]; leaseSeconds?: number };
  domain?: string;
  /** <dns><host ip=><hostname/></host></dns> */
  dnsHosts: { ip: number; names: string[] }[];
  /** NAT source ports for forwarded connections (libvirt's <nat><port start end/>). */
  portRange?: [number, number];
}

const UDP_IDLE_MS = 60_000;
/** Host UDP sockets for guest flows at most, and DNS queries forwarded at once at most. */
export const MAX_UDP_FLOWS = 256;
export const MAX_DNS_PENDING = 64;
const ARP_WAIT_MS = 3000;

interface UdpFlow {
  sock: OutsideDatagrams;
  mac: Uint8Array;
  peers: Set<string>;
  timer: ReturnType<typeof setTimeout>;
}

export class Gateway {
  readonly dhcp: DhcpServer | undefined;
  readonly dns: DnsServer;
  readonly tcp: TcpNat | undefined;
  /** Peers of UDP forwards and the gateway ports the guests see them at. */
  readonly udpForwards: UdpForwards | undefined;
  readonly counters = {
    frames: 0,
    arpReplies: 0,
    echoReplies: 0,
    truncated: 0,
    checksum: 0,
    fragments: 0,
    restricted: 0,
    icmpDropped: 0,
    udpFlows: 0,
    udpOut: 0,
    udpIn: 0,
    /** Flows or queries refused because the limits above were reached. */
    overLimit: 0,
    ignored: 0,
  };
  readonly forwards: { fwd: PortForward; listener: OutsideListener; error?: string }[] = [];
  private readonly arp = new Map<number, Uint8Array>();
  private readonly arpWaiters = new Map<number, ((mac: Uint8Array | undefined) => void)[]>();
  private readonly udpFlows = new Map<string, UdpFlow>();
  private readonly mask: number;
  private dnsPending = 0;

  constructor(
    readonly config: GatewayConfig,
    readonly port: SwitchPort,
    private readonly outside: Outside | undefined,
    now: () => number = () => performance.now(),
  ) {
    this.mask = config.prefix === 0 ? 0 : (0xffffffff << (32 - config.prefix)) >>> 0;
    const nat = config.mode === "nat";
    if (config.dhcp) {
      this.dhcp = new DhcpServer(
        {
          server: config.ip,
          prefix: config.prefix,
          router: nat ? config.ip : undefined,
          dns: config.ip,
          domain: config.domain,
          ...config.dhcp,
        },
        now,
      );
    }
    this.dns = new DnsServer((name) => this.lookup(name), config.domain, this.reachesOut && !!outside?.dnsUpstream());
    if (outside) {
      this.tcp = new TcpNat(outside, (mac, src, dst, seg) => this.send(mac, src, dst, IP_TCP, seg), config.portRange);
      this.udpForwards = new UdpForwards(
        outside,
        config.portRange ?? [1024, 65535],
        (spec) => (spec.guestAddr !== undefined ? ipNumber(spec.guestAddr) : this.firstLease()),
        (guest, fromPort, guestPort, data) =>
          this.resolve(guest, (mac) => {
            if (mac) this.send(mac, config.ip, guest, IP_UDP, udpSegment(config.ip, guest, fromPort, guestPort, data));
            else this.udpForwards!.counters.unresolved++;
          }),
      );
    }
    port.onReceive = (f) => this.receive(f);
  }

  /** Whether guest flows may leave the network. */
  get reachesOut(): boolean {
    return this.config.mode === "nat" && !this.config.restrict && this.outside !== undefined;
  }

  private lookup(name: string): number | undefined {
    for (const h of this.config.dnsHosts) if (h.names.some((n) => n.toLowerCase() === name)) return h.ip;
    return this.dhcp?.lookupName(name);
  }

  private local(ip: number): boolean {
    return ((ip ^ this.config.ip) & this.mask) === 0;
  }

  private send(mac: Uint8Array, src: number, dst: number, proto: number, payload: Uint8Array): void {
    this.port.transmit(ipv4Frame(mac, this.config.mac, src, dst, proto, payload));
  }

  /** A frame from the switch. */
  receive(f: Uint8Array): void {
    this.counters.frames++;
    if (f.length < 14) return;
    const toUs = f.subarray(0, 6).every((b, i) => b === this.config.mac[i]);
    const bcast = (f[0]! & 1) === 1;
    if (!toUs && !bcast) return;
    const type = u16(f, 12);
    if (type === ETH_ARP) this.onArp(f);
    else if (type === ETH_IPV4) this.onIpv4(f);
    else this.counters.ignored++;
  }

  private onArp(f: Uint8Array): void {
    if (f.length < 42 || u16(f, 14) !== 1 || u16(f, 16) !== ETH_IPV4 || f[18] !== 6 || f[19] !== 4) {
      this.counters.truncated++;
      return;
    }
    const op = u16(f, 20);
    const senderIp = u32(f, 28);
    const senderMac = f.slice(22, 28);
    if (this.local(senderIp) && senderIp !== 0 && !(senderMac[0]! & 1)) this.learn(senderIp, senderMac);
    if (op !== 1 || u32(f, 38) !== this.config.ip) return;
    this.counters.arpReplies++;
    this.port.transmit(this.arpFrame(2, senderMac, senderMac, senderIp));
  }

  /** An ARP request (op 1, to broadcast) or reply (op 2) from the gateway about `targetIp`. */
  private arpFrame(op: 1 | 2, dst: Uint8Array, targetMac: Uint8Array, targetIp: number): Uint8Array {
    const r = new Uint8Array(42);
    r.set(dst, 0);
    r.set(this.config.mac, 6);
    r.set([0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, op], 12);
    r.set(this.config.mac, 22);
    put32(r, 28, this.config.ip);
    r.set(targetMac, 32);
    put32(r, 38, targetIp);
    return r;
  }

  private learn(ip: number, mac: Uint8Array): void {
    this.arp.set(ip, mac);
    const w = this.arpWaiters.get(ip);
    if (w) {
      this.arpWaiters.delete(ip);
      for (const cb of w) cb(mac);
    }
  }

  /** The MAC of a guest address: known, or asked for with an ARP request. */
  private resolve(ip: number, cb: (mac: Uint8Array | undefined) => void): void {
    const known = this.arp.get(ip);
    if (known) {
      cb(known);
      return;
    }
    const list = this.arpWaiters.get(ip);
    if (list) {
      list.push(cb);
      return;
    }
    this.arpWaiters.set(ip, [cb]);
    this.port.transmit(this.arpFrame(1, BROADCAST, new Uint8Array(6), ip));
    setTimeout(() => {
      const w = this.arpWaiters.get(ip);
      this.arpWaiters.delete(ip);
      for (const c of w ?? []) c(undefined);
    }, ARP_WAIT_MS).unref?.();
  }

  private onIpv4(f: Uint8Array): void {
    const ip = parseIpv4(f);
    if (typeof ip === "string") {
      if (ip === "checksum") this.counters.checksum++;
      else this.counters.truncated++;
      return;
    }
    if (ip.fragment) {
      this.counters.fragments++; // not reassembled
      return;
    }
    const mac = f.slice(6, 12);
    if (this.local(ip.src) && ip.src !== 0) this.arp.set(ip.src, mac);
    if (ip.proto === IP_UDP) this.onUdp(ip, mac);
    else if (ip.proto === IP_TCP) this.onTcp(ip, mac);
    else if (ip.proto === IP_ICMP) this.onIcmp(ip, mac);
    else this.counters.ignored++;
  }

  private bad(reason: string): void {
    if (reason === "checksum") this.counters.checksum++;
    else this.counters.truncated++;
  }

  private onIcmp(ip: Ipv4, mac: Uint8Array): void {
    if (ip.dst !== this.config.ip) {
      this.counters.icmpDropped++;
      return;
    }
    const p = ip.payload;
    if (p.length < 8) {
      this.bad("truncated");
      return;
    }
    if (inetChecksum(p) !== 0) {
      this.bad("checksum");
      return;
    }
    if (p[0] !== 8) return;
    const r = p.slice();
    r[0] = 0;
    r[2] = r[3] = 0;
    put16(r, 2, inetChecksum(r));
    this.counters.echoReplies++;
    this.send(mac, this.config.ip, ip.src, IP_ICMP, r);
  }

  /** Where a guest flow to `dst` goes on the host, or undefined when it may not leave. */
  private target(dst: number): string | undefined {
    if (!this.reachesOut) return undefined;
    if (dst === this.config.ip) return "127.0.0.1";
    if (this.local(dst) || dst >>> 28 >= 14 || dst === 0) return undefined; // on-link, multicast
    return ipString(dst);
  }

  private onTcp(ip: Ipv4, mac: Uint8Array): void {
    const t = parseTcp(ip);
    if (typeof t === "string") {
      this.bad(t);
      return;
    }
    if (!this.tcp) {
      this.counters.restricted++;
      return;
    }
    const target = this.target(ip.dst);
    if (target === undefined && ip.dst !== this.config.ip && !this.local(ip.dst)) this.counters.restricted++;
    if (this.local(ip.dst) && ip.dst !== this.config.ip) return;
    this.tcp.fromGuest(mac, ip.src, ip.dst, t, target);
  }

  private onUdp(ip: Ipv4, mac: Uint8Array): void {
    const u = parseUdp(ip);
    if (typeof u === "string") {
      this.bad(u);
      return;
    }
    if (u.dstPort === 67 && this.dhcp && (ip.dst === 0xffffffff || ip.dst === this.config.ip)) {
      const r = this.dhcp.handle(u.data);
      if (!r) return;
      const dstIp = r.broadcast ? 0xffffffff : r.ip;
      const seg = udpSegment(this.config.ip, dstIp, 67, 68, r.data);
      this.port.transmit(
        ipv4Frame(r.broadcast ? BROADCAST : r.mac, this.config.mac, this.config.ip, dstIp, IP_UDP, seg),
      );
      return;
    }
    if (ip.dst === 0xffffffff || ip.dst >>> 28 === 14) return;
    if (u.dstPort === 53 && ip.dst === this.config.ip) {
      this.onDns(ip, mac, u.srcPort, u.data);
      return;
    }
    // An answer to a UDP forward's peer (allowed under restrict: the user asked for the forward).
    if (ip.dst === this.config.ip && this.udpForwards?.fromGuest(ip.src, u.srcPort, u.dstPort, u.data)) return;
    const target = this.target(ip.dst);
    if (target === undefined) {
      if (!this.local(ip.dst) || ip.dst === this.config.ip) this.counters.restricted++;
      return;
    }
    this.udpOut(mac, ip.src, u.srcPort, u.dstPort, target, u.data);
  }

  private onDns(ip: Ipv4, mac: Uint8Array, srcPort: number, q: Uint8Array): void {
    const r = this.dns.handle(q);
    if (!r) return;
    if ("reply" in r) {
      this.send(mac, this.config.ip, ip.src, IP_UDP, udpSegment(this.config.ip, ip.src, 53, srcPort, r.reply));
      return;
    }
    const up = this.outside?.dnsUpstream();
    if (!up) return;
    if (this.dnsPending >= MAX_DNS_PENDING) {
      this.counters.overLimit++;
      return;
    }
    this.dnsPending++;
    // Forwarded from a socket of this query's own: the answer comes back from the gateway's :53.
    const sock = this.outside!.udp();
    let open = true;
    const done = () => {
      if (!open) return;
      open = false;
      this.dnsPending--;
      sock.close();
    };
    const timer = setTimeout(done, 5000);
    timer.unref?.();
    sock.onMessage = (d, from, port) => {
      if (from !== up.ip || port !== up.port) return;
      clearTimeout(timer);
      done();
      this.send(mac, this.config.ip, ip.src, IP_UDP, udpSegment(this.config.ip, ip.src, 53, srcPort, d));
    };
    sock.send(q, up.ip, up.port);
  }

  private udpOut(
    mac: Uint8Array,
    src: number,
    srcPort: number,
    dstPort: number,
    target: string,
    data: Uint8Array,
  ): void {
    const key = `${src}:${srcPort}`;
    let flow = this.udpFlows.get(key);
    if (!flow && this.udpFlows.size >= MAX_UDP_FLOWS) {
      this.counters.overLimit++;
      return;
    }
    if (!flow) {
      const sock = this.outside!.udp();
      const f: UdpFlow = { sock, mac, peers: new Set(), timer: setTimeout(() => undefined, 0) };
      sock.onMessage = (d, from, port) => {
        const peer = `${from}:${port}`;
        // Only answers from where the guest sent to (an address-restricted cone).
        if (!f.peers.has(peer)) return;
        const seen = from === "127.0.0.1" ? this.config.ip : ipNumber(from);
        this.counters.udpIn++;
        this.send(f.mac, seen, src, IP_UDP, udpSegment(seen, src, port, srcPort, d));
        this.touch(key, f);
      };
      this.udpFlows.set(key, f);
      this.counters.udpFlows++;
      flow = f;
    }
    flow.peers.add(`${target}:${dstPort}`);
    this.touch(key, flow);
    this.counters.udpOut++;
    flow.sock.send(data, target, dstPort);
  }

  private touch(key: string, f: UdpFlow): void {
    clearTimeout(f.timer);
    f.timer = setTimeout(() => {
      f.sock.close();
      this.udpFlows.delete(key);
    }, UDP_IDLE_MS);
    f.timer.unref?.();
  }

  /** Starts a port forward; `ready` reports the listening port or the error. */
  addForward(fwd: PortForward, ready: (err?: string) => void = () => undefined): void {
    if (!this.outside || !this.tcp) {
      ready("this network has no host side for forwards");
      return;
    }
    const entry: { fwd: PortForward; listener: OutsideListener; error?: string } = {
      fwd,
      listener: { port: fwd.hostPort, close: () => undefined },
    };
    this.forwards.push(entry);
    const done = (err?: string) => {
      entry.error = err;
      ready(err);
    };
    if (fwd.proto === "udp") {
      const bound = this.udpForwards!.bind(fwd, done);
      if (bound) entry.listener = bound;
      return;
    }
    entry.listener = this.outside.listenTcp(fwd.hostAddr, fwd.hostPort, (s) => this.forwardConnection(fwd, s), done);
  }

  private forwardConnection(fwd: PortForward, s: OutsideStream): void {
    const guest = fwd.guestAddr !== undefined ? ipNumber(fwd.guestAddr) : this.firstLease();
    if (guest === undefined) {
      s.destroy();
      return;
    }
    this.resolve(guest, (mac) => {
      if (!mac) s.destroy();
      else this.tcp!.inbound(s, mac, this.config.ip, guest, fwd.guestPort);
    });
  }

  private firstLease(): number | undefined {
    const rows = this.dhcp?.table() ?? [];
    return rows.length > 0 ? ipNumber(rows[0]!.address.split("/")[0]!) : undefined;
  }

  /** Connections and flows, one line each (for `info network`). */
  connections(): string[] {
    const lines = [...(this.tcp?.conns.values() ?? [])].map((c) => c.describe());
    for (const [k, f] of this.udpFlows) {
      const [ip, port] = k.split(":");
      lines.push(`udp ${ipString(Number(ip))}:${port} -> ${[...f.peers].join(", ")}`);
    }
    lines.push(...(this.udpForwards?.describe(ipString(this.config.ip)) ?? []));
    return lines;
  }

  /** The ARP entries the gateway learned. */
  neighbours(): { ip: string; mac: string }[] {
    return [...this.arp].map(([ip, mac]) => ({ ip: ipString(ip), mac: macString(mac) }));
  }

  close(): void {
    for (const f of this.forwards) f.listener.close();
    this.tcp?.close();
    this.udpForwards?.close();
    for (const f of this.udpFlows.values()) {
      clearTimeout(f.timer);
      f.sock.close();
    }
    this.udpFlows.clear();
  }
}
