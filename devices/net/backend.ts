// Where a NIC's frames go: a backend takes the Ethernet frames the guest sends and hands the NIC
// the frames that arrive for it. A later issue plugs in a virtual switch; here there are two
// backends the tests (and the command line) can use: a host port whose frames the host code
// sends and reads, and a small host-side endpoint that answers ARP and ICMP echo for one
// address, so that a guest's `ping` gets replies without any host networking, and hands UDP
// datagrams sent to it to a service (tftp.ts: a TFTP server for bulk transfers).

/** Frames as whole Ethernet frames without FCS (destination MAC first). */
export interface NetBackend {
  /** The guest sent a frame. */
  transmit(frame: Uint8Array): void;
  /** Set by the NIC: call it with a frame for the guest. */
  onReceive: ((frame: Uint8Array) => void) | undefined;
}

/** A backend the host drives: it collects what the guest sends and injects frames. */
export class HostNetBackend implements NetBackend {
  readonly sent: Uint8Array[] = [];
  onReceive: ((frame: Uint8Array) => void) | undefined;
  /** Called for each frame the guest sends (after it is recorded). */
  onTransmit: ((frame: Uint8Array) => void) | undefined;

  transmit(frame: Uint8Array): void {
    this.sent.push(frame);
    this.onTransmit?.(frame);
  }

  /** Delivers a frame to the guest's NIC. */
  inject(frame: Uint8Array): void {
    this.onReceive?.(frame);
  }
}

const ETH_ARP = 0x0806;
const ETH_IPV4 = 0x0800;

/** Parses "a.b.c.d". */
export function ipv4(s: string): Uint8Array {
  const parts = s.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new RangeError(`not an IPv4 address: ${s}`);
  }
  return Uint8Array.from(parts);
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The Internet checksum (RFC 1071) of `data`. */
export function inetChecksum(data: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i + 1 < data.length; i += 2) sum += (data[i]! << 8) | data[i + 1]!;
  if (data.length & 1) sum += data[data.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** A UDP datagram to or from the host endpoint. */
export interface UdpDatagram {
  srcPort: number;
  dstPort: number;
  payload: Uint8Array;
}

/** What answers UDP at the host endpoint: the datagrams to send back to the sender. */
export type UdpService = (d: UdpDatagram) => UdpDatagram[];

const IP_UDP = 17;

/**
 * A host on the wire at `ip` with `mac`: answers ARP requests for its address and ICMP echo
 * requests sent to it, passes UDP datagrams sent to it to `udp` (if set), and counts what it saw.
 * Everything else is ignored.
 */
export class EchoHostBackend implements NetBackend {
  onReceive: ((frame: Uint8Array) => void) | undefined;
  readonly ip: Uint8Array;
  readonly counts = { frames: 0, arpReplies: 0, echoReplies: 0, udpIn: 0, udpOut: 0, ignored: 0 };
  /** The UDP service (every port); without one, UDP is ignored. */
  udp: UdpService | undefined;
  private ipId = 0;

  constructor(
    ip = "10.0.2.2",
    readonly mac = Uint8Array.of(0x52, 0x55, 0x0a, 0x00, 0x02, 0x02),
  ) {
    this.ip = ipv4(ip);
  }

  transmit(frame: Uint8Array): void {
    this.counts.frames++;
    const udp = this.udpReplies(frame);
    if (udp) {
      for (const r of udp) this.onReceive?.(r);
      return;
    }
    const reply = this.answer(frame);
    if (reply) this.onReceive?.(reply);
    else this.counts.ignored++;
  }

  /** Frames answering a UDP datagram to this host, or undefined when `f` is not one. */
  private udpReplies(f: Uint8Array): Uint8Array[] | undefined {
    const service = this.udp;
    if (!service || f.length < 42 || ((f[12]! << 8) | f[13]!) !== ETH_IPV4) return undefined;
    const ihl = (f[14]! & 0x0f) * 4;
    const total = (f[16]! << 8) | f[17]!;
    if (f[14]! >> 4 !== 4 || ihl < 20 || 14 + total > f.length || total < ihl + 8) return undefined;
    if (f[23] !== IP_UDP || !equal(f.subarray(30, 34), this.ip)) return undefined;
    if (((f[20]! << 8) | f[21]!) & 0x3fff) return []; // a fragment: not reassembled, dropped
    const u = 14 + ihl;
    const len = (f[u + 4]! << 8) | f[u + 5]!;
    if (len < 8 || u + len > 14 + total) return [];
    this.counts.udpIn++;
    const replies = service({
      srcPort: (f[u]! << 8) | f[u + 1]!,
      dstPort: (f[u + 2]! << 8) | f[u + 3]!,
      payload: f.slice(u + 8, u + len),
    });
    const mac = f.subarray(6, 12);
    const ip = f.subarray(26, 30);
    return replies.map((d) => this.udpFrame(mac, ip, d));
  }

  /** An Ethernet/IPv4/UDP frame from this host (UDP checksum 0: none, as IPv4 allows). */
  private udpFrame(mac: Uint8Array, ip: Uint8Array, d: UdpDatagram): Uint8Array {
    const total = 20 + 8 + d.payload.length;
    const r = new Uint8Array(14 + total);
    r.set(mac, 0);
    r.set(this.mac, 6);
    r.set([0x08, 0x00, 0x45, 0, total >> 8, total & 0xff], 12);
    this.ipId = (this.ipId + 1) & 0xffff;
    r.set([this.ipId >> 8, this.ipId & 0xff, 0x40, 0, 64, IP_UDP, 0, 0], 18);
    r.set(this.ip, 26);
    r.set(ip, 30);
    const h = inetChecksum(r.subarray(14, 34));
    r[24] = h >> 8;
    r[25] = h & 0xff;
    const ulen = 8 + d.payload.length;
    r.set([d.srcPort >> 8, d.srcPort & 0xff, d.dstPort >> 8, d.dstPort & 0xff, ulen >> 8, ulen & 0xff, 0, 0], 34);
    r.set(d.payload, 42);
    this.counts.udpOut++;
    return r;
  }

  private answer(f: Uint8Array): Uint8Array | undefined {
    if (f.length < 14) return undefined;
    const type = (f[12]! << 8) | f[13]!;
    const src = f.subarray(6, 12);
    if (type === ETH_ARP && f.length >= 42) {
      // Ethernet/IPv4 request (oper 1) for our address.
      if (f[20] !== 0 || f[21] !== 1 || !equal(f.subarray(38, 42), this.ip)) return undefined;
      const r = new Uint8Array(42);
      r.set(src, 0);
      r.set(this.mac, 6);
      r.set([0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 2], 12);
      r.set(this.mac, 22);
      r.set(this.ip, 28);
      r.set(f.subarray(22, 32), 32); // the asker's MAC and IP
      this.counts.arpReplies++;
      return r;
    }
    if (type === ETH_IPV4 && f.length >= 34) {
      const ihl = (f[14]! & 0x0f) * 4;
      const total = (f[16]! << 8) | f[17]!;
      if (f[14]! >> 4 !== 4 || ihl < 20 || 14 + total > f.length || total < ihl + 8) return undefined;
      if (f[23] !== 1 || !equal(f.subarray(30, 34), this.ip)) return undefined; // ICMP to us
      const icmp = f.subarray(14 + ihl, 14 + total);
      if (icmp[0] !== 8) return undefined; // echo request
      const r = f.slice(0, 14 + total);
      r.set(src, 0);
      r.set(this.mac, 6);
      r.set(f.subarray(26, 30), 30); // destination: the sender
      r.set(this.ip, 26);
      r[22] = 64; // TTL
      r[24] = r[25] = 0;
      const hsum = inetChecksum(r.subarray(14, 14 + ihl));
      r[24] = hsum >> 8;
      r[25] = hsum & 0xff;
      const ri = r.subarray(14 + ihl);
      ri[0] = 0; // echo reply
      ri[2] = ri[3] = 0;
      const csum = inetChecksum(ri);
      ri[2] = csum >> 8;
      ri[3] = csum & 0xff;
      this.counts.echoReplies++;
      return r;
    }
    return undefined;
  }
}
