// The network's DHCP server (RFC 2131; the part dnsmasq plays for a libvirt network): addresses
// from a range, static leases by MAC (libvirt's <host mac= ip= name=/>), and a lease table as
// `virsh net-dhcp-leases` shows it. A message that does not parse (short, wrong cookie, options
// running past the end, no message type) is counted as garbage and gets no answer.

import { ipString, macString, put16, put32, u32 } from "./packet.js";

export interface StaticHost {
  mac: string;
  ip: number;
  name?: string;
}

export interface DhcpConfig {
  server: number;
  prefix: number;
  /** Option 3; none on an isolated network (no default route, as libvirt gives it). */
  router?: number;
  /** Option 6. */
  dns?: number;
  domain?: string;
  rangeStart: number;
  rangeEnd: number;
  hosts: StaticHost[];
  /** Lease time in seconds (dnsmasq's default: one hour). */
  leaseSeconds?: number;
}

export interface Lease {
  mac: string;
  ip: number;
  expiresMs: number;
  hostname: string | undefined;
  clientId: string | undefined;
  /** Offered, not yet acknowledged. */
  offered: boolean;
}

const DISCOVER = 1;
const OFFER = 2;
const REQUEST = 3;
const DECLINE = 4;
const ACK = 5;
const NAK = 6;
const RELEASE = 7;
const INFORM = 8;
const COOKIE = 0x63825363;
/** An offer is held this long for the client's REQUEST. */
const OFFER_HOLD_MS = 30_000;

export interface DhcpReply {
  data: Uint8Array;
  /** Broadcast the reply (the client asked so, or it has no address yet to unicast to). */
  broadcast: boolean;
  /** The client's hardware address and the address to send to when not broadcast. */
  mac: Uint8Array;
  ip: number;
}

interface Message {
  op: number;
  xid: number;
  flags: number;
  ciaddr: number;
  chaddr: Uint8Array;
  type: number;
  options: Map<number, Uint8Array>;
}

function parse(d: Uint8Array): Message | undefined {
  if (d.length < 240 || d[1] !== 1 || d[2] !== 6 || u32(d, 236) !== COOKIE) return undefined;
  const options = new Map<number, Uint8Array>();
  let i = 240;
  for (;;) {
    if (i >= d.length) return undefined; // no end option
    const code = d[i]!;
    if (code === 255) break;
    if (code === 0) {
      i++;
      continue;
    }
    if (i + 1 >= d.length) return undefined;
    const len = d[i + 1]!;
    if (i + 2 + len > d.length) return undefined;
    options.set(code, d.subarray(i + 2, i + 2 + len));
    i += 2 + len;
  }
  const t = options.get(53);
  if (t?.length !== 1) return undefined;
  return {
    op: d[0]!,
    xid: u32(d, 4),
    flags: (d[10]! << 8) | d[11]!,
    ciaddr: u32(d, 12),
    chaddr: d.slice(28, 34),
    type: t[0]!,
    options,
  };
}

const ascii = (b: Uint8Array | undefined) =>
  b === undefined ? undefined : String.fromCharCode(...b.filter((c) => c >= 0x20 && c < 0x7f));

export class DhcpServer {
  readonly leases = new Map<string, Lease>();
  readonly counters = {
    discover: 0,
    offer: 0,
    request: 0,
    ack: 0,
    nak: 0,
    release: 0,
    decline: 0,
    inform: 0,
    garbage: 0,
  };
  private readonly mask: number;

  constructor(
    readonly config: DhcpConfig,
    private readonly now: () => number,
  ) {
    this.mask = config.prefix === 0 ? 0 : (0xffffffff << (32 - config.prefix)) >>> 0;
  }

  private get leaseMs(): number {
    return (this.config.leaseSeconds ?? 3600) * 1000;
  }

  /** Handles one BOOTP message from a client; the reply to send, if any. */
  handle(d: Uint8Array): DhcpReply | undefined {
    const m = parse(d);
    if (m?.op !== 1) {
      this.counters.garbage++;
      return undefined;
    }
    const mac = macString(m.chaddr);
    const now = this.now();
    switch (m.type) {
      case DISCOVER: {
        this.counters.discover++;
        const ip = this.choose(mac, now, m.options.get(50));
        if (ip === undefined) return undefined; // the pool is exhausted: say nothing (as dnsmasq)
        this.remember(mac, ip, now + OFFER_HOLD_MS, m, true);
        this.counters.offer++;
        return this.reply(m, OFFER, ip);
      }
      case REQUEST: {
        this.counters.request++;
        const sid = m.options.get(54);
        if (sid && (sid.length !== 4 || u32(sid, 0) !== this.config.server)) {
          // The client took another server's offer: forget ours.
          const l = this.leases.get(mac);
          if (l?.offered) this.leases.delete(mac);
          return undefined;
        }
        const want = m.options.get(50);
        const ip = want?.length === 4 ? u32(want, 0) : m.ciaddr;
        if (ip !== 0 && this.allowed(mac, ip, now)) {
          this.remember(mac, ip, now + this.leaseMs, m, false);
          this.counters.ack++;
          return this.reply(m, ACK, ip);
        }
        this.counters.nak++;
        return this.reply(m, NAK, 0);
      }
      case RELEASE: {
        this.counters.release++;
        const l = this.leases.get(mac);
        if (l && l.ip === m.ciaddr) this.leases.delete(mac);
        return undefined;
      }
      case DECLINE:
        this.counters.decline++;
        this.leases.delete(mac);
        return undefined;
      case INFORM:
        this.counters.inform++;
        return m.ciaddr === 0 ? undefined : this.reply(m, ACK, 0);
      default:
        this.counters.garbage++;
        return undefined;
    }
  }

  private inRange(ip: number): boolean {
    return ip >= this.config.rangeStart && ip <= this.config.rangeEnd && ip !== this.config.server;
  }

  private staticFor(mac: string): StaticHost | undefined {
    return this.config.hosts.find((h) => h.mac === mac);
  }

  private holder(ip: number, now: number): string | undefined {
    for (const l of this.leases.values()) if (l.ip === ip && l.expiresMs > now) return l.mac;
    const h = this.config.hosts.find((x) => x.ip === ip);
    return h?.mac;
  }

  /** Whether `mac` may have `ip` now. */
  private allowed(mac: string, ip: number, now: number): boolean {
    const st = this.staticFor(mac);
    if (st) return st.ip === ip;
    if (!this.inRange(ip)) return false;
    const h = this.holder(ip, now);
    return h === undefined || h === mac;
  }

  private choose(mac: string, now: number, requested: Uint8Array | undefined): number | undefined {
    const st = this.staticFor(mac);
    if (st) return st.ip;
    const had = this.leases.get(mac);
    if (had && this.allowed(mac, had.ip, now)) return had.ip;
    if (requested?.length === 4 && this.allowed(mac, u32(requested, 0), now)) return u32(requested, 0);
    for (let ip = this.config.rangeStart; ip <= this.config.rangeEnd; ip++) {
      if (this.inRange(ip) && this.holder(ip, now) === undefined) return ip;
    }
    return undefined;
  }

  private remember(mac: string, ip: number, expiresMs: number, m: Message, offered: boolean): void {
    const id = m.options.get(61);
    const was = this.leases.get(mac);
    this.leases.set(mac, {
      mac,
      ip,
      expiresMs,
      hostname: ascii(m.options.get(12)) ?? was?.hostname ?? this.staticFor(mac)?.name,
      clientId: id ? Array.from(id, (b) => b.toString(16).padStart(2, "0")).join(":") : undefined,
      offered,
    });
  }

  private reply(m: Message, type: number, ip: number): DhcpReply {
    const opts: number[] = [53, 1, type, 54, 4, ...bytes(this.config.server)];
    if (type !== NAK) {
      if (type !== ACK || ip !== 0) opts.push(51, 4, ...bytes(this.leaseMs / 1000));
      opts.push(1, 4, ...bytes(this.mask));
      if (this.config.router !== undefined) opts.push(3, 4, ...bytes(this.config.router));
      if (this.config.dns !== undefined) opts.push(6, 4, ...bytes(this.config.dns));
      const dom = this.config.domain;
      if (dom) opts.push(15, dom.length, ...Array.from(dom, (c) => c.charCodeAt(0)));
    }
    opts.push(255);
    const d = new Uint8Array(240 + opts.length);
    d[0] = 2;
    d[1] = 1;
    d[2] = 6;
    put32(d, 4, m.xid);
    put16(d, 10, m.flags & 0x8000);
    put32(d, 12, type === ACK && ip === 0 ? m.ciaddr : 0);
    put32(d, 16, ip);
    put32(d, 20, this.config.server);
    d.set(m.chaddr, 28);
    put32(d, 236, COOKIE);
    d.set(opts, 240);
    const broadcast = (m.flags & 0x8000) !== 0 || type === NAK || ip === 0;
    return { data: d, broadcast, mac: m.chaddr, ip: ip || m.ciaddr };
  }

  /** The lease for an address or a name (live leases and static hosts). */
  lookupName(name: string): number | undefined {
    const now = this.now();
    for (const l of this.leases.values()) if (!l.offered && l.expiresMs > now && l.hostname === name) return l.ip;
    return this.config.hosts.find((h) => h.name === name)?.ip;
  }

  /** `virsh net-dhcp-leases`: live acknowledged leases. */
  table(): { expiry: string; mac: string; protocol: "ipv4"; address: string; hostname: string; clientId: string }[] {
    const now = this.now();
    const wall = Date.now() - now;
    return [...this.leases.values()]
      .filter((l) => !l.offered && l.expiresMs > now)
      .sort((a, b) => a.ip - b.ip)
      .map((l) => ({
        expiry: new Date(wall + l.expiresMs).toISOString().slice(0, 19).replace("T", " "),
        mac: l.mac,
        protocol: "ipv4" as const,
        address: `${ipString(l.ip)}/${this.config.prefix}`,
        hostname: l.hostname ?? "-",
        clientId: l.clientId ?? "-",
      }));
  }
}

function bytes(n: number): number[] {
  return [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}
