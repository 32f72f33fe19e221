// Reading and building the Ethernet, ARP, IPv4, UDP and TCP headers the switch and the gateway
// handle. Parsers check every length against the bytes present and return a reason instead of
// throwing: a frame comes from a guest, and a bad one is counted and dropped, never a host error.

import { inetChecksum } from "../../devices/net/backend.js";

export const ETH_IPV4 = 0x0800;
export const ETH_ARP = 0x0806;
export const ETH_VLAN = 0x8100;
export const IP_ICMP = 1;
export const IP_TCP = 6;
export const IP_UDP = 17;

export const BROADCAST = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);

export const u16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;
export const u32 = (b: Uint8Array, o: number): number =>
  ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;

export function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
}

export function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 24) & 0xff;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

/** Parses "52:54:00:12:34:56" (either case). */
export function parseMac(s: string): Uint8Array<ArrayBuffer> {
  const p = s.split(":");
  if (p.length !== 6 || p.some((x) => !/^[0-9a-fA-F]{2}$/.test(x))) throw new RangeError(`not a MAC address: ${s}`);
  return Uint8Array.from(p.map((x) => Number.parseInt(x, 16)));
}

export function macString(m: Uint8Array): string {
  return Array.from(m.subarray(0, 6), (x) => x.toString(16).padStart(2, "0")).join(":");
}

/** An IPv4 address as a number (a.b.c.d -> a<<24 | ...), unsigned. */
export function ipNumber(s: string): number {
  const p = s.split(".");
  if (p.length !== 4 || p.some((x) => !/^\d{1,3}$/.test(x) || Number(x) > 255)) {
    throw new RangeError(`not an IPv4 address: ${s}`);
  }
  return p.reduce((a, x) => a * 256 + Number(x), 0);
}

export function ipString(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}

export function ipBytes(n: number): Uint8Array {
  return Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

/** A parsed IPv4 packet inside an (untagged) Ethernet frame. */
export interface Ipv4 {
  src: number;
  dst: number;
  proto: number;
  ttl: number;
  /** The payload (after the IP header, up to the IP total length). */
  payload: Uint8Array;
  /** More fragments follow or this is not the first fragment. */
  fragment: boolean;
}

/** The IPv4 packet of an Ethernet frame, or a reason it is malformed. */
export function parseIpv4(f: Uint8Array): Ipv4 | string {
  if (f.length < 34) return "truncated";
  const vihl = f[14]!;
  const ihl = (vihl & 0x0f) * 4;
  const total = u16(f, 16);
  if (vihl >> 4 !== 4 || ihl < 20) return "truncated";
  if (total < ihl || 14 + total > f.length) return "truncated";
  if (inetChecksum(f.subarray(14, 14 + ihl)) !== 0) return "checksum";
  return {
    src: u32(f, 26),
    dst: u32(f, 30),
    proto: f[23]!,
    ttl: f[22]!,
    payload: f.subarray(14 + ihl, 14 + total),
    fragment: (u16(f, 20) & 0x3fff) !== 0,
  };
}

/** The one's-complement sum of the pseudo-header TCP and UDP checksums cover, unfolded. */
function pseudoSum(src: number, dst: number, proto: number, length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + proto + length;
}

/** The TCP or UDP checksum of `seg` (its checksum field included): 0 when it is right. */
export function l4Checksum(src: number, dst: number, proto: number, seg: Uint8Array): number {
  let sum = pseudoSum(src, dst, proto, seg.length);
  for (let i = 0; i + 1 < seg.length; i += 2) sum += (seg[i]! << 8) | seg[i + 1]!;
  if (seg.length & 1) sum += seg[seg.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

let ipIdent = 0;

/** An Ethernet frame carrying an IPv4 packet with `payload` (whose checksum the caller set). */
export function ipv4Frame(
  dstMac: Uint8Array,
  srcMac: Uint8Array,
  src: number,
  dst: number,
  proto: number,
  payload: Uint8Array,
): Uint8Array {
  const f = new Uint8Array(34 + payload.length);
  f.set(dstMac.subarray(0, 6), 0);
  f.set(srcMac.subarray(0, 6), 6);
  put16(f, 12, ETH_IPV4);
  f[14] = 0x45;
  put16(f, 16, 20 + payload.length);
  ipIdent = (ipIdent + 1) & 0xffff;
  put16(f, 18, ipIdent);
  f[20] = 0x40; // don't fragment
  f[22] = 64;
  f[23] = proto;
  put32(f, 26, src);
  put32(f, 30, dst);
  put16(f, 24, inetChecksum(f.subarray(14, 34)));
  f.set(payload, 34);
  return f;
}

/** A UDP segment with its checksum. */
export function udpSegment(src: number, dst: number, srcPort: number, dstPort: number, data: Uint8Array): Uint8Array {
  const s = new Uint8Array(8 + data.length);
  put16(s, 0, srcPort);
  put16(s, 2, dstPort);
  put16(s, 4, s.length);
  s.set(data, 8);
  const c = l4Checksum(src, dst, IP_UDP, s);
  put16(s, 6, c === 0 ? 0xffff : c);
  return s;
}

/** A parsed UDP datagram, or a reason it is malformed. */
export interface Udp {
  srcPort: number;
  dstPort: number;
  data: Uint8Array;
}

export function parseUdp(ip: Ipv4): Udp | string {
  const p = ip.payload;
  if (p.length < 8) return "truncated";
  const len = u16(p, 4);
  if (len < 8 || len > p.length) return "truncated";
  const seg = p.subarray(0, len);
  if (u16(p, 6) !== 0 && l4Checksum(ip.src, ip.dst, IP_UDP, seg) !== 0) return "checksum";
  return { srcPort: u16(p, 0), dstPort: u16(p, 2), data: seg.subarray(8) };
}

export const TCP_FIN = 1;
export const TCP_SYN = 2;
export const TCP_RST = 4;
export const TCP_PSH = 8;
export const TCP_ACK = 16;

export interface Tcp {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  /** The MSS option of a SYN, if any. */
  mss: number | undefined;
  data: Uint8Array;
}

export function parseTcp(ip: Ipv4): Tcp | string {
  const p = ip.payload;
  if (p.length < 20) return "truncated";
  const off = (p[12]! >> 4) * 4;
  if (off < 20 || off > p.length) return "truncated";
  if (l4Checksum(ip.src, ip.dst, IP_TCP, p) !== 0) return "checksum";
  let mss: number | undefined;
  for (let i = 20; i < off; ) {
    const kind = p[i]!;
    if (kind === 0) break;
    if (kind === 1) {
      i++;
      continue;
    }
    const len = p[i + 1] ?? 0;
    if (len < 2 || i + len > off) break;
    if (kind === 2 && len === 4) mss = u16(p, i + 2);
    i += len;
  }
  return {
    srcPort: u16(p, 0),
    dstPort: u16(p, 2),
    // Signed 32-bit, as the NAT's sequence arithmetic keeps them (compared with `| 0` differences).
    seq: u32(p, 4) | 0,
    ack: u32(p, 8) | 0,
    flags: p[13]!,
    window: u16(p, 14),
    mss,
    data: p.subarray(off),
  };
}

/** A TCP segment with its checksum; a SYN carries an MSS option. */
export function tcpSegment(
  src: number,
  dst: number,
  t: { srcPort: number; dstPort: number; seq: number; ack: number; flags: number; window: number; mss?: number },
  data: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const opt = t.mss === undefined ? 0 : 4;
  const s = new Uint8Array(20 + opt + data.length);
  put16(s, 0, t.srcPort);
  put16(s, 2, t.dstPort);
  put32(s, 4, t.seq);
  put32(s, 8, t.ack);
  s[12] = ((20 + opt) / 4) << 4;
  s[13] = t.flags;
  put16(s, 14, t.window);
  if (t.mss !== undefined) {
    s.set([2, 4], 20);
    put16(s, 22, t.mss);
  }
  s.set(data, 20 + opt);
  put16(s, 16, l4Checksum(src, dst, IP_TCP, s));
  return s;
}
