// A TFTP server (RFC 1350, with the blksize and tsize options of RFC 2347-2349) as a UDP service of
// the host endpoint (backend.ts): the guest's `tftp -g` reads the files the host offers and
// `tftp -p` writes files the host keeps, so that a bulk network transfer has something to talk
// to without host networking. Each transfer gets its own server port (TID) from 49152 on; the
// server answers in the call that delivers the guest's packet, so nothing is ever retransmitted
// by the host. Blocks are at most 1,468 bytes (a 1,500-byte Ethernet MTU without fragments).

import type { UdpDatagram } from "./backend.js";

export const TFTP_PORT = 69;
const OP = { RRQ: 1, WRQ: 2, DATA: 3, ACK: 4, ERROR: 5, OACK: 6 } as const;
const MAX_BLKSIZE = 1468;
const FIRST_TID = 49152;
/** Largest file a guest may write (the host keeps it in memory). */
const MAX_UPLOAD = 64 << 20;

interface Transfer {
  client: number;
  kind: "read" | "write";
  name: string;
  blksize: number;
  /** Read: the file; write: the bytes so far. */
  data: Uint8Array;
  received: Uint8Array[];
  receivedBytes: number;
  /** The last block sent (read) or acknowledged (write). */
  block: number;
  done: boolean;
}

export interface TftpCounters {
  reads: number;
  writes: number;
  dataSent: number;
  dataReceived: number;
  bytesSent: number;
  bytesReceived: number;
  errors: number;
}

export class TftpServer {
  /** Files the guest may read, by name. */
  readonly files = new Map<string, Uint8Array>();
  /** Files the guest wrote, by name (complete transfers only). */
  readonly uploads = new Map<string, Uint8Array>();
  readonly counters: TftpCounters = {
    reads: 0,
    writes: 0,
    dataSent: 0,
    dataReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    errors: 0,
  };
  private readonly transfers = new Map<number, Transfer>();
  private nextTid = FIRST_TID;

  /** The UdpService entry point: `backend.udp = (d) => server.handle(d)`. */
  handle(d: UdpDatagram): UdpDatagram[] {
    const p = d.payload;
    if (p.length < 2) return [];
    const op = (p[0]! << 8) | p[1]!;
    if (d.dstPort === TFTP_PORT) return op === OP.RRQ || op === OP.WRQ ? this.request(d, op) : [];
    const t = this.transfers.get(d.dstPort);
    if (!t || t.client !== d.srcPort) return [this.error(d.dstPort, d.srcPort, 5, "unknown transfer ID")];
    const reply = (payload: Uint8Array): UdpDatagram[] => [{ srcPort: d.dstPort, dstPort: d.srcPort, payload }];
    if (op === OP.ERROR) {
      this.transfers.delete(d.dstPort);
      return [];
    }
    if (t.kind === "read" && op === OP.ACK && p.length >= 4) {
      const block = (p[2]! << 8) | p[3]!;
      if (block !== (t.block & 0xffff)) return []; // a duplicate ACK: the block already went out
      if (t.done) {
        this.transfers.delete(d.dstPort);
        return [];
      }
      return reply(this.nextData(t));
    }
    if (t.kind === "write" && op === OP.DATA && p.length >= 4) {
      const block = (p[2]! << 8) | p[3]!;
      if (block !== ((t.block + 1) & 0xffff)) return reply(ack(t.block)); // duplicate: ack again
      const data = p.subarray(4);
      if (t.receivedBytes + data.length > MAX_UPLOAD) {
        this.transfers.delete(d.dstPort);
        return [this.error(d.dstPort, d.srcPort, 3, "disk full")];
      }
      t.received.push(data.slice());
      t.receivedBytes += data.length;
      t.block++;
      this.counters.dataReceived++;
      this.counters.bytesReceived += data.length;
      if (data.length < t.blksize) {
        this.uploads.set(t.name, concat(t.received, t.receivedBytes));
        this.transfers.delete(d.dstPort);
      }
      return reply(ack(t.block));
    }
    return [this.error(d.dstPort, d.srcPort, 4, "illegal TFTP operation")];
  }

  private request(d: UdpDatagram, op: number): UdpDatagram[] {
    const fields = strings(d.payload.subarray(2));
    const [name, mode, ...opts] = fields;
    if (name === undefined || mode === undefined || mode.toLowerCase() !== "octet") {
      return [this.error(TFTP_PORT, d.srcPort, 4, "octet mode only")];
    }
    const tid = this.nextTid;
    this.nextTid = this.nextTid >= 65535 ? FIRST_TID : this.nextTid + 1;
    const file = this.files.get(name);
    if (op === OP.RRQ && !file) return [this.error(tid, d.srcPort, 1, "file not found")];
    const t: Transfer = {
      client: d.srcPort,
      kind: op === OP.RRQ ? "read" : "write",
      name,
      blksize: 512,
      data: file ?? new Uint8Array(0),
      received: [],
      receivedBytes: 0,
      block: 0,
      done: false,
    };
    const answered: string[] = [];
    for (let i = 0; i + 1 < opts.length; i += 2) {
      const key = opts[i]!.toLowerCase();
      const value = Number(opts[i + 1]);
      if (key === "blksize" && Number.isInteger(value) && value >= 8) {
        t.blksize = Math.min(value, MAX_BLKSIZE);
        answered.push("blksize", String(t.blksize));
      } else if (key === "tsize" && Number.isInteger(value)) {
        answered.push("tsize", String(op === OP.RRQ ? t.data.length : value));
      }
    }
    this.transfers.set(tid, t);
    if (t.kind === "read") this.counters.reads++;
    else this.counters.writes++;
    const out = (payload: Uint8Array): UdpDatagram[] => [{ srcPort: tid, dstPort: d.srcPort, payload }];
    // With options, an OACK (the client answers with ACK 0, or DATA 1 for a write).
    if (answered.length) return out(oack(answered));
    return out(t.kind === "read" ? this.nextData(t) : ack(0));
  }

  private nextData(t: Transfer): Uint8Array {
    const start = t.block * t.blksize;
    const piece = t.data.subarray(start, start + t.blksize);
    t.block++;
    if (piece.length < t.blksize) t.done = true;
    const p = new Uint8Array(4 + piece.length);
    p.set([0, OP.DATA, (t.block >> 8) & 0xff, t.block & 0xff]);
    p.set(piece, 4);
    this.counters.dataSent++;
    this.counters.bytesSent += piece.length;
    return p;
  }

  private error(from: number, to: number, code: number, message: string): UdpDatagram {
    this.counters.errors++;
    const text = new TextEncoder().encode(message);
    const p = new Uint8Array(5 + text.length);
    p.set([0, OP.ERROR, 0, code]);
    p.set(text, 4);
    return { srcPort: from, dstPort: to, payload: p };
  }
}

function ack(block: number): Uint8Array {
  return Uint8Array.of(0, OP.ACK, (block >> 8) & 0xff, block & 0xff);
}

function oack(fields: string[]): Uint8Array {
  const body = new TextEncoder().encode(`${fields.join("\0")}\0`);
  const p = new Uint8Array(2 + body.length);
  p.set([0, OP.OACK]);
  p.set(body, 2);
  return p;
}

/** NUL-terminated strings (a last one without its NUL is dropped). */
function strings(b: Uint8Array): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < b.length; i++) {
    if (b[i] === 0) {
      out.push(new TextDecoder().decode(b.subarray(start, i)));
      start = i + 1;
    }
  }
  return out;
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
