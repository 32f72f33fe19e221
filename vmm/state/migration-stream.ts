// The live-migration stream between two processes (a TCP or Unix socket): an 8-byte magic and a
// version, then frames. A frame is its body's length (32-bit big-endian), the body (one type byte
// and the payload) and the body's CRC-32, so a flipped bit, a cut stream or bytes that are not
// ours are found at the frame where they happen and the receiver refuses the migration there,
// before anything it holds is used: RAM pages land in a VM that does not run until the state
// frame (itself a checksummed saved-VM file, container.ts) has been read and applied.

import { crc32 } from "../../devices/crc32.js";

export class MigrationError extends Error {}

export const STREAM_MAGIC = new TextEncoder().encode("X86LMIG\0");
export const STREAM_VERSION = 1;
/** No frame is bigger: a page batch is at most 1024 pages; the state file has no RAM. */
export const MAX_FRAME_BODY = 64 << 20;
const PAGE = 4096;

export enum FrameType {
  /** Source → destination: the machine's description and CPUID, as JSON. */
  Hello = 1,
  /** Destination → source: the machine fits; pages may flow. */
  Ready = 2,
  /** Source → destination: a batch of pages (see encodePages). */
  Pages = 3,
  /** Source → destination: the CPU and device state (a saved-VM file without RAM). */
  State = 4,
  /** Destination → source: the state is applied; the destination runs the guest now. */
  Done = 5,
  /** Either way: a refusal or failure, as UTF-8 text; the stream ends after it. */
  Error = 6,
  /** Source → destination: the migration is cancelled (migrate_cancel). */
  Cancel = 7,
}

export interface Frame {
  type: FrameType;
  payload: Uint8Array;
}

export function streamHeader(): Uint8Array {
  const h = new Uint8Array(12);
  h.set(STREAM_MAGIC);
  new DataView(h.buffer).setUint32(8, STREAM_VERSION);
  return h;
}

export function encodeFrame(type: FrameType, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 1 + payload.length + 4);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, 1 + payload.length);
  out[4] = type;
  out.set(payload, 5);
  dv.setUint32(5 + payload.length, crc32(out.subarray(4, 5 + payload.length)));
  return out;
}

export const textFrame = (type: FrameType, text: string) => encodeFrame(type, new TextEncoder().encode(text));

/**
 * Splits the incoming bytes into checked frames. `push` throws a MigrationError at the first
 * thing that is not a valid stream; `end` throws when the stream stopped inside a frame.
 */
export class FrameParser {
  private buf = new Uint8Array(0);
  private headerSeen = false;
  /** Frames read so far (for error messages). */
  frames = 0;
  bytes = 0;

  push(chunk: Uint8Array): Frame[] {
    this.bytes += chunk.length;
    const b = new Uint8Array(this.buf.length + chunk.length);
    b.set(this.buf);
    b.set(chunk, this.buf.length);
    const out: Frame[] = [];
    let at = 0;
    if (!this.headerSeen) {
      if (b.length < 12) {
        this.buf = b;
        return out;
      }
      for (let i = 0; i < STREAM_MAGIC.length; i++) {
        if (b[i] !== STREAM_MAGIC[i])
          throw new MigrationError("the incoming stream is not a migration stream (bad magic)");
      }
      const version = new DataView(b.buffer, b.byteOffset).getUint32(8);
      if (version !== STREAM_VERSION)
        throw new MigrationError(`migration stream version ${version}; this side reads version ${STREAM_VERSION}`);
      this.headerSeen = true;
      at = 12;
    }
    const dv = new DataView(b.buffer, b.byteOffset, b.length);
    while (b.length - at >= 4) {
      const len = dv.getUint32(at);
      if (len === 0 || len > MAX_FRAME_BODY)
        throw new MigrationError(`migration stream frame ${this.frames + 1}: impossible length ${len}`);
      if (b.length - at < 4 + len + 4) break;
      const body = b.subarray(at + 4, at + 4 + len);
      const want = dv.getUint32(at + 4 + len);
      if (crc32(body) !== want)
        throw new MigrationError(`migration stream frame ${this.frames + 1}: checksum mismatch`);
      out.push({ type: body[0] as FrameType, payload: body.slice(1) });
      this.frames++;
      at += 8 + len;
    }
    this.buf = b.slice(at);
    return out;
  }

  /** The stream ended: an error if it ended inside the header or a frame. */
  get partial(): boolean {
    return this.buf.length > 0;
  }
}

/**
 * A batch of pages: u32 round, u32 count, count frame words (bit 31: the page is all zeros and
 * has no data), then the data of the pages that have some.
 */
export function encodePages(round: number, frames: number[], ram: Uint8Array, zero: boolean[]): Uint8Array {
  const dataPages = zero.filter((z) => !z).length;
  const out = new Uint8Array(8 + frames.length * 4 + dataPages * PAGE);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, round);
  dv.setUint32(4, frames.length);
  let data = 8 + frames.length * 4;
  frames.forEach((f, i) => {
    dv.setUint32(8 + i * 4, zero[i] ? (f | 0x8000_0000) >>> 0 : f);
    if (!zero[i]) {
      out.set(ram.subarray(f * PAGE, (f + 1) * PAGE), data);
      data += PAGE;
    }
  });
  return out;
}

/** Writes a page batch into `ram`, after checking every frame number and the length. */
export function applyPages(payload: Uint8Array, ram: Uint8Array): { round: number; pages: number } {
  if (payload.length < 8) throw new MigrationError("a page batch shorter than its header");
  const dv = new DataView(payload.buffer, payload.byteOffset, payload.length);
  const round = dv.getUint32(0);
  const count = dv.getUint32(4);
  if (payload.length < 8 + count * 4) throw new MigrationError("a page batch shorter than its frame list");
  let dataPages = 0;
  for (let i = 0; i < count; i++) {
    const w = dv.getUint32(8 + i * 4);
    const f = w & 0x7fff_ffff;
    if ((f + 1) * PAGE > ram.length) throw new MigrationError(`page ${f} is outside this VM's RAM`);
    if ((w & 0x8000_0000) === 0) dataPages++;
  }
  if (payload.length !== 8 + count * 4 + dataPages * PAGE) throw new MigrationError("a page batch of the wrong length");
  let data = 8 + count * 4;
  for (let i = 0; i < count; i++) {
    const w = dv.getUint32(8 + i * 4);
    const f = w & 0x7fff_ffff;
    if (w & 0x8000_0000) ram.fill(0, f * PAGE, (f + 1) * PAGE);
    else {
      ram.set(payload.subarray(data, data + PAGE), f * PAGE);
      data += PAGE;
    }
  }
  return { round, pages: count };
}
