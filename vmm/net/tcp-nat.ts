// The NAT's TCP: the gateway ends each guest TCP connection itself (as QEMU's slirp and v86's
// fake stack do) and carries its bytes over a host stream, so no raw sockets are needed.
//
// Outbound: a guest SYN to an outside address opens a host connection; the guest gets SYN-ACK
// once that connects, RST if it fails. Inbound (a port forward): a host connection on the
// forwarded port makes the gateway send the guest a SYN from the gateway's address.
// The stack is small: in-order data only (a segment past a hole is dropped and the guest's own
// retransmission fills the hole), our unacknowledged bytes resent after a timeout on the host's
// clock with backoff, the guest's window respected, the host stream paused while too much waits
// for the guest. No window scaling or SACK (we offer neither, so the guest uses neither).

import type { Outside, OutsideStream } from "./outside.js";
import { ipString, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, type Tcp, tcpSegment } from "./packet.js";

const MSS = 1460;
const WINDOW = 65535;
/** Bytes from the host waiting for the guest before the host stream is paused. */
const HIGH_WATER = 256 * 1024;
const RTO_MS = 300;
const RTO_MAX_MS = 5000;
const MAX_RETRIES = 12;
export const MAX_CONNECTIONS = 1024;

type State = "connecting" | "syn-sent" | "syn-received" | "established" | "closed";

const after = (a: number, b: number) => ((a - b) | 0) > 0;

export class TcpConn {
  state: State;
  /** Our next sequence number to send, the oldest unacknowledged one, the guest's next expected. */
  sndNxt: number;
  sndUna: number;
  /** The highest sequence number sent (sndNxt goes back on a retransmission; this does not). */
  sndMax: number;
  rcvNxt = 0;
  guestWindow = 0;
  mss = 536;
  /** Bytes from the host not yet acknowledged by the guest, from sndUna on. */
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  outsideEnded = false;
  finSent = false;
  /** The sequence number our FIN took, once sent. */
  private finSeq: number | undefined;
  guestFin = false;
  paused = false;
  /**
   * Bytes in flight at most (a congestion window: slow start from 4 segments up to ssthresh, then
   * a segment per window; halved on three duplicate ACKs, back to 2 segments on a timeout), so that a NIC with a small receive ring
   * (ne2k's 16 KiB) is not sent a whole window it must drop.
   */
  cwnd = 4 * 536;
  /** Above this, the window grows by one segment per window's worth of ACKs (RFC 5681). */
  ssthresh = WINDOW;
  private dupAcks = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private retries = 0;
  readonly opened = new Date();
  bytesIn = 0;
  bytesOut = 0;

  constructor(
    private readonly nat: TcpNat,
    readonly guestIp: number,
    readonly guestPort: number,
    /** The address and port the guest sees for the other end. */
    readonly remoteIp: number,
    readonly remotePort: number,
    readonly guestMac: Uint8Array,
    readonly stream: OutsideStream,
    readonly inbound: boolean,
    iss: number,
  ) {
    this.state = inbound ? "syn-sent" : "connecting";
    this.sndNxt = this.sndUna = this.sndMax = iss;
    stream.onData = (d) => this.fromOutside(d);
    stream.onEnd = () => {
      this.outsideEnded = true;
      this.flush();
    };
    stream.onError = () => this.reset();
    stream.onDrain = () => undefined;
  }

  get key(): string {
    return `${this.guestIp}:${this.guestPort}-${this.remoteIp}:${this.remotePort}`;
  }

  send(flags: number, data?: Uint8Array, seq = this.sndNxt): void {
    const mss = flags & TCP_SYN ? MSS : undefined;
    const seg = tcpSegment(
      this.remoteIp,
      this.guestIp,
      { srcPort: this.remotePort, dstPort: this.guestPort, seq, ack: this.rcvNxt, flags, window: WINDOW, mss },
      data,
    );
    this.nat.emit(this.guestMac, this.remoteIp, this.guestIp, seg);
  }

  /** Host stream connected (outbound): answer the guest's SYN. */
  connected(): void {
    if (this.state !== "connecting") return;
    this.state = "syn-received";
    this.send(TCP_SYN | TCP_ACK);
    this.advance(1);
    this.arm();
  }

  private fromOutside(d: Uint8Array): void {
    this.bytesIn += d.length;
    this.pending.push(d.slice());
    this.pendingBytes += d.length;
    if (this.pendingBytes > HIGH_WATER && !this.paused) {
      this.paused = true;
      this.stream.pause();
    }
    this.flush();
  }

  /** Sends what the guest's window allows, then our FIN once the host is done and all is sent. */
  flush(): void {
    if (this.state !== "established" || this.finSent) return; // nothing follows our FIN
    let offset = (this.sndNxt - this.sndUna) | 0;
    const limit = Math.min(this.guestWindow, this.cwnd);
    while (offset < this.pendingBytes && offset < limit) {
      const n = Math.min(this.mss, this.pendingBytes - offset, limit - offset);
      if (n <= 0) break;
      this.send(TCP_ACK | TCP_PSH, this.slice(offset, n));
      this.advance(n);
      offset += n;
    }
    if (this.outsideEnded && !this.finSent && offset >= this.pendingBytes) {
      this.send(TCP_FIN | TCP_ACK);
      this.finSeq = this.sndNxt;
      this.advance(1);
      this.finSent = true;
    }
    if (this.sndNxt !== this.sndUna) this.arm();
  }

  /** sndNxt moves on by `n` sent. */
  advance(n: number): void {
    this.sndNxt = (this.sndNxt + n) | 0;
    if (after(this.sndNxt, this.sndMax)) this.sndMax = this.sndNxt;
  }

  private slice(offset: number, n: number): Uint8Array {
    const out = new Uint8Array(n);
    let at = 0;
    let skip = offset;
    for (const c of this.pending) {
      if (skip >= c.length) {
        skip -= c.length;
        continue;
      }
      const take = Math.min(c.length - skip, n - at);
      out.set(c.subarray(skip, skip + take), at);
      at += take;
      skip = 0;
      if (at === n) break;
    }
    return out;
  }

  private acked(n: number): void {
    let left = n;
    while (left > 0 && this.pending.length > 0) {
      const c = this.pending[0]!;
      if (c.length <= left) {
        left -= c.length;
        this.pendingBytes -= c.length;
        this.pending.shift();
      } else {
        this.pending[0] = c.subarray(left);
        this.pendingBytes -= left;
        left = 0;
      }
    }
    if (this.paused && this.pendingBytes < HIGH_WATER / 4) {
      this.paused = false;
      this.stream.resume();
    }
  }

  /** Starts the retransmission timer unless it runs. */
  arm(): void {
    if (this.timer !== undefined) return;
    const ms = Math.min(RTO_MAX_MS, RTO_MS * 2 ** this.retries);
    this.timer = setTimeout(() => this.timeout(), ms);
    this.timer.unref?.();
  }

  private disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private timeout(): void {
    this.timer = undefined;
    if (this.state === "closed" || this.sndNxt === this.sndUna) return;
    if (++this.retries > MAX_RETRIES) {
      this.reset();
      return;
    }
    this.nat.counters.retransmits++;
    if (this.state === "syn-sent") this.send(TCP_SYN, undefined, this.sndUna);
    else if (this.state === "syn-received") this.send(TCP_SYN | TCP_ACK, undefined, this.sndUna);
    else {
      this.ssthresh = Math.max(2 * this.mss, this.cwnd >> 1);
      this.cwnd = 2 * this.mss;
      this.goBack();
    }
    this.arm();
  }

  /** Sends again from the oldest unacknowledged byte. */
  private goBack(): void {
    this.sndNxt = this.sndUna;
    this.finSent = false;
    this.flush();
  }

  /** A segment from the guest for this connection. */
  segment(t: Tcp): void {
    if (t.flags & TCP_RST) {
      this.close(true);
      return;
    }
    if (this.state === "syn-sent") {
      if ((t.flags & (TCP_SYN | TCP_ACK)) !== (TCP_SYN | TCP_ACK) || t.ack !== ((this.sndUna + 1) | 0)) return;
      this.rcvNxt = (t.seq + 1) | 0;
      this.sndUna = this.sndNxt = this.sndMax = t.ack;
      this.mss = Math.min(MSS, t.mss ?? 536);
      this.cwnd = 4 * this.mss;
      this.guestWindow = t.window;
      this.state = "established";
      this.disarm();
      this.retries = 0;
      this.send(TCP_ACK);
      this.stream.resume();
      return;
    }
    if (t.flags & TCP_SYN) {
      // The guest's SYN again: answer it again if we are past connecting.
      if (this.state === "syn-received") this.send(TCP_SYN | TCP_ACK, undefined, this.sndUna);
      return;
    }
    if (this.state === "connecting") return;
    if (t.flags & TCP_ACK) {
      if (this.state === "syn-received" && t.ack === this.sndNxt) {
        this.sndUna = t.ack;
        this.state = "established";
        this.retries = 0;
        this.disarm();
      } else if (after(t.ack, this.sndUna) && !after(t.ack, this.sndMax)) {
        // An ACK past sndNxt acknowledges what was sent before a retransmission went back.
        if (after(t.ack, this.sndNxt)) this.sndNxt = t.ack;
        let n = (t.ack - this.sndUna) | 0;
        if (this.finSeq !== undefined && after(t.ack, this.finSeq)) {
          n--; // our FIN took a sequence number
          this.finSent = true;
        }
        this.acked(n);
        this.sndUna = t.ack;
        this.retries = 0;
        this.dupAcks = 0;
        const grow = this.cwnd < this.ssthresh ? Math.min(n, this.mss) : Math.ceil((this.mss * this.mss) / this.cwnd);
        this.cwnd = Math.min(WINDOW, this.cwnd + grow);
        this.disarm();
      } else if (t.ack === this.sndUna && this.sndNxt !== this.sndUna && t.data.length === 0 && ++this.dupAcks === 3) {
        this.nat.counters.retransmits++;
        this.ssthresh = Math.max(2 * this.mss, this.cwnd >> 1);
        this.cwnd = this.ssthresh;
        this.goBack();
      }
      this.guestWindow = t.window;
    }
    if (this.state !== "established") return;
    if (t.data.length > 0 || t.flags & TCP_FIN) {
      if (t.seq === this.rcvNxt && !this.guestFin) {
        if (t.data.length > 0) {
          this.bytesOut += t.data.length;
          this.stream.write(t.data);
          this.rcvNxt = (this.rcvNxt + t.data.length) | 0;
        }
        if (t.flags & TCP_FIN) {
          this.rcvNxt = (this.rcvNxt + 1) | 0;
          this.guestFin = true;
          this.stream.end();
        }
      }
      this.send(TCP_ACK); // in order or not, the guest learns what we have
    }
    this.flush();
    if (this.guestFin && this.finSent && this.sndUna === this.sndNxt) this.close(false);
  }

  /** The host side failed: reset the guest's connection. */
  reset(): void {
    if (this.state === "closed") return;
    if (this.state !== "connecting" || this.inbound) this.send(TCP_RST | TCP_ACK);
    else this.send(TCP_RST | TCP_ACK, undefined, 0);
    this.nat.counters.resets++;
    this.close(true);
  }

  close(destroy: boolean): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.disarm();
    if (destroy) this.stream.destroy();
    this.nat.forget(this);
  }

  describe(): string {
    const dir = this.inbound ? "<-" : "->";
    return `tcp ${ipString(this.guestIp)}:${this.guestPort} ${dir} ${ipString(this.remoteIp)}:${this.remotePort} ${this.state} in ${this.bytesIn} out ${this.bytesOut}`;
  }
}

export class TcpNat {
  readonly conns = new Map<string, TcpConn>();
  readonly counters = { opened: 0, refused: 0, resets: 0, retransmits: 0, unknown: 0, forwarded: 0 };
  private iss = 0x1000;
  private nextPort = 0;

  constructor(
    readonly outside: Outside,
    /** Sends a TCP segment to the guest at `dst` (the gateway wraps it in IPv4 and Ethernet). */
    readonly emit: (mac: Uint8Array, src: number, dst: number, segment: Uint8Array) => void,
    private readonly portRange: [number, number] = [1024, 65535],
  ) {}

  private nextIss(): number {
    this.iss = (this.iss + 0x10000 + 7919) | 0;
    return this.iss;
  }

  forget(c: TcpConn): void {
    this.conns.delete(c.key);
  }

  /**
   * A segment from a guest. `target` is where an outbound connection goes on the host (the
   * destination itself, or loopback for the gateway's own address), undefined when the network
   * may not reach out (the guest gets RST).
   */
  fromGuest(mac: Uint8Array, src: number, dst: number, t: Tcp, target: string | undefined): void {
    const key = `${src}:${t.srcPort}-${dst}:${t.dstPort}`;
    const c = this.conns.get(key);
    if (c) {
      c.segment(t);
      return;
    }
    if (t.flags & TCP_RST) return;
    const rst = (seq: number, ack: number, flags: number) =>
      this.emit(
        mac,
        dst,
        src,
        tcpSegment(dst, src, { srcPort: t.dstPort, dstPort: t.srcPort, seq, ack, flags, window: 0 }),
      );
    const synOnly = (t.flags & (TCP_SYN | TCP_ACK)) === TCP_SYN;
    if (!synOnly || target === undefined || this.conns.size >= MAX_CONNECTIONS) {
      if (synOnly) this.counters.refused++;
      else this.counters.unknown++;
      // RFC 793: answer a segment for no connection with RST (its ACK's number, or ACK the SYN).
      if (t.flags & TCP_ACK) rst(t.ack, 0, TCP_RST);
      else rst(0, (t.seq + t.data.length + 1) | 0, TCP_RST | TCP_ACK);
      return;
    }
    const stream = this.outside.connectTcp(target, t.dstPort);
    const conn = new TcpConn(this, src, t.srcPort, dst, t.dstPort, mac, stream, false, this.nextIss());
    conn.rcvNxt = (t.seq + 1) | 0;
    conn.mss = Math.min(MSS, t.mss ?? 536);
    conn.cwnd = 4 * conn.mss;
    conn.guestWindow = t.window;
    stream.onConnect = () => conn.connected();
    this.conns.set(key, conn);
    this.counters.opened++;
  }

  /** A host connection on a forwarded port: open a connection to the guest. */
  inbound(stream: OutsideStream, mac: Uint8Array, gatewayIp: number, guestIp: number, guestPort: number): void {
    if (this.conns.size >= MAX_CONNECTIONS) {
      stream.destroy();
      return;
    }
    const [lo, hi] = this.portRange;
    let port = 0;
    for (let i = 0; i <= hi - lo; i++) {
      const p = lo + ((this.nextPort + i) % (hi - lo + 1));
      if (!this.conns.has(`${guestIp}:${guestPort}-${gatewayIp}:${p}`)) {
        port = p;
        this.nextPort = (this.nextPort + i + 1) % (hi - lo + 1);
        break;
      }
    }
    if (port === 0) {
      stream.destroy();
      return;
    }
    const c = new TcpConn(this, guestIp, guestPort, gatewayIp, port, mac, stream, true, this.nextIss());
    this.conns.set(c.key, c);
    this.counters.forwarded++;
    c.send(TCP_SYN);
    c.advance(1);
    c.arm();
  }

  close(): void {
    for (const c of [...this.conns.values()]) c.close(true);
  }
}
