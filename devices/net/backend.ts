// Where a NIC's frames go: a backend takes the Ethernet frames the guest sends and hands the NIC
// the frames that arrive for it. A later issue plugs in a virtual switch; here there are two
// backends the tests (and the command line) can use: a host port whose frames the host code
// sends and reads, and a small host-side endpoint that answers ARP and ICMP echo for one
// address, so that a guest's `ping` gets replies without any host networking.

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

/**
 * A host on the wire at `ip` with `mac`: answers ARP requests for its address and ICMP echo
 * requests sent to it, and counts what it saw. Everything else is ignored.
 */
export class EchoHostBackend implements NetBackend {
  onReceive: ((frame: Uint8Array) => void) | undefined;
  readonly ip: Uint8Array;
  readonly counts = { frames: 0, arpReplies: 0, echoReplies: 0, ignored: 0 };

  constructor(
    ip = "10.0.2.2",
    readonly mac = Uint8Array.of(0x52, 0x55, 0x0a, 0x00, 0x02, 0x02),
  ) {
    this.ip = ipv4(ip);
  }

  transmit(frame: Uint8Array): void {
    this.counts.frames++;
    const reply = this.answer(frame);
    if (reply) this.onReceive?.(reply);
    else this.counts.ignored++;
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
