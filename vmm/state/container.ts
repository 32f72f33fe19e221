// The saved-VM file: a header, named sections, and a checksum over all of it. Every section is
// compressed with raw DEFLATE (the platform's CompressionStream, in Node 20 and in browsers
// alike, so a file saved in one restores in the other) and carries its own CRC-32, so a damaged
// file names the section that is damaged.
//
//   offset 0   "X86VMST\0"          magic
//          8   u32 version           FORMAT_VERSION
//         12   u32 section count
//         16   sections, each: u16 name length, name (UTF-8), u32 stored length,
//              u32 raw length, u32 CRC-32 of the raw bytes, stored bytes (deflate-raw)
//        end   u32 CRC-32 of every byte before it
//
// All numbers little-endian. A file is refused before anything is restored when the magic, the
// version, a length or a checksum is wrong.

import { crc32 } from "../../devices/crc32.js";

export const MAGIC = "X86VMST\0";
export const FORMAT_VERSION = 1;

/** A saved VM that cannot be read or does not fit the machine: nothing was changed. */
export class VmStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "VmStateError";
  }
}

async function pipe(data: Uint8Array, stream: CompressionStream | DecompressionStream): Promise<Uint8Array> {
  const out = new Response(new Blob([data as BlobPart]).stream().pipeThrough(stream));
  return new Uint8Array(await out.arrayBuffer());
}

/** A synchronous raw-DEFLATE codec a host may install (Node's zlib): the same bytes, no hand-offs. */
export interface SyncCodec {
  deflate(data: Uint8Array): Uint8Array;
  inflate(data: Uint8Array): Uint8Array;
}
let syncCodec: SyncCodec | undefined;

/**
 * Uses `codec` instead of the platform's streams: a stream passes each section through another
 * thread, and on a busy host each hand-off waits for a time slice, which a live migration's
 * downtime (a state of a few KiB) feels as hundreds of ms.
 */
export function installSyncCodec(codec: SyncCodec): void {
  syncCodec = codec;
}

export async function deflate(data: Uint8Array): Promise<Uint8Array> {
  return syncCodec ? syncCodec.deflate(data) : pipe(data, new CompressionStream("deflate-raw"));
}

export async function inflate(data: Uint8Array): Promise<Uint8Array> {
  return syncCodec ? syncCodec.inflate(data) : pipe(data, new DecompressionStream("deflate-raw"));
}

/** Writes the file from sections in order (names unique). */
export async function writeContainer(sections: Map<string, Uint8Array>): Promise<Uint8Array> {
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  const head = new Uint8Array(16);
  head.set(enc.encode(MAGIC), 0);
  const hv = new DataView(head.buffer);
  hv.setUint32(8, FORMAT_VERSION, true);
  hv.setUint32(12, sections.size, true);
  parts.push(head);
  for (const [name, raw] of sections) {
    const nameBytes = enc.encode(name);
    const stored = await deflate(raw);
    const sh = new Uint8Array(2 + nameBytes.length + 12);
    const dv = new DataView(sh.buffer);
    dv.setUint16(0, nameBytes.length, true);
    sh.set(nameBytes, 2);
    dv.setUint32(2 + nameBytes.length, stored.length, true);
    dv.setUint32(6 + nameBytes.length, raw.length, true);
    dv.setUint32(10 + nameBytes.length, crc32(raw), true);
    parts.push(sh, stored);
  }
  const trailer = new Uint8Array(4);
  const out = concat([...parts, trailer]);
  const at = out.length - 4;
  new DataView(out.buffer).setUint32(at, crc32(out.subarray(0, at)), true);
  return out;
}

/** The parts one after the other. */
export function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Reads and checks a file: its sections, decompressed and verified. */
export async function readContainer(file: Uint8Array): Promise<Map<string, Uint8Array>> {
  if (file.length < 20) throw new VmStateError(`not a saved VM: ${file.length} bytes is too short (truncated?)`);
  const magic = new TextDecoder().decode(file.subarray(0, 8));
  if (magic !== MAGIC) throw new VmStateError("not a saved VM: wrong magic (expected X86VMST)");
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const version = dv.getUint32(8, true);
  if (version !== FORMAT_VERSION) {
    throw new VmStateError(`saved VM format version ${version}; this build reads version ${FORMAT_VERSION}`);
  }
  const end = file.length - 4;
  const count = dv.getUint32(12, true);
  const headers: { name: string; at: number; stored: number; raw: number; crc: number }[] = [];
  let at = 16;
  const truncated = () => new VmStateError(`saved VM is truncated (${file.length} bytes; a section runs past the end)`);
  for (let i = 0; i < count; i++) {
    if (at + 2 > end) throw truncated();
    const nameLen = dv.getUint16(at, true);
    if (at + 2 + nameLen + 12 > end) throw truncated();
    const name = new TextDecoder().decode(file.subarray(at + 2, at + 2 + nameLen));
    const stored = dv.getUint32(at + 2 + nameLen, true);
    const raw = dv.getUint32(at + 6 + nameLen, true);
    const crc = dv.getUint32(at + 10 + nameLen, true);
    at += 14 + nameLen;
    if (at + stored > end) throw truncated();
    headers.push({ name, at, stored, raw, crc });
    at += stored;
  }
  if (at !== end) {
    throw at < end ? new VmStateError(`saved VM has ${end - at} unexpected bytes after its sections`) : truncated();
  }
  if (crc32(file.subarray(0, end)) !== dv.getUint32(end, true)) {
    throw new VmStateError("saved VM checksum mismatch: the file is damaged");
  }
  const sections = new Map<string, Uint8Array>();
  for (const h of headers) {
    let raw: Uint8Array;
    try {
      raw = await inflate(file.subarray(h.at, h.at + h.stored));
    } catch {
      throw new VmStateError(`saved VM section "${h.name}" does not decompress`);
    }
    if (raw.length !== h.raw || crc32(raw) !== h.crc) {
      throw new VmStateError(`saved VM section "${h.name}" is damaged (length or checksum)`);
    }
    if (sections.has(h.name)) throw new VmStateError(`saved VM has section "${h.name}" twice`);
    sections.set(h.name, raw);
  }
  return sections;
}
