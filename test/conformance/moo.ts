// Reader for SingleStepTests MOO files (format v1.0/v1.1, dbalsom/moo doc/moo_format_v1.md):
// a sequence of chunks [4-byte ASCII id][u32 LE length][payload]. Unknown chunks are skipped by
// their length, at every level.

import { gunzipSync } from "node:zlib";

/** Register order of a `REGS`/`RMSK` chunk (16-bit register file), bit 0 first. */
export const REGS16_NAMES = [
  "ax",
  "bx",
  "cx",
  "dx",
  "cs",
  "ss",
  "ds",
  "es",
  "sp",
  "bp",
  "si",
  "di",
  "ip",
  "flags",
] as const;
/** Register order of a `RG32`/`RM32` chunk (386 register file), bit 0 first. */
export const REGS32_NAMES = [
  "cr0",
  "cr3",
  "eax",
  "ebx",
  "ecx",
  "edx",
  "esi",
  "edi",
  "ebp",
  "esp",
  "cs",
  "ds",
  "es",
  "fs",
  "gs",
  "ss",
  "eip",
  "eflags",
  "dr6",
  "dr7",
] as const;

/** One state snapshot (`INIT` or `FINA`). `regs` holds only the registers the chunk lists. */
export interface MooState {
  /** 16 for a `REGS` chunk, 32 for `RG32`, 0 when the state had no register chunk. */
  regWidth: 0 | 16 | 32;
  regs: Record<string, number>;
  /** Per-test register masks (`RMSK`/`RM32` inside the state): compare (value & mask). */
  regMasks: Record<string, number>;
  /** [physical address, byte] pairs. */
  ram: [number, number][];
  queue: number[];
}

export interface MooTest {
  index: number;
  name: string;
  bytes: Uint8Array;
  initial: MooState;
  final: MooState;
  /** Set when the instruction raised an exception: the vector and where FLAGS was pushed. */
  exception: { vector: number; flagAddress: number } | null;
  hash: string;
}

export interface MooMeta {
  setVersion: string;
  cpuType: number;
  opcode: number;
  mnemonic: string;
  testCount: number;
  seed: bigint;
  cpuMode: number;
}

export interface MooFile {
  version: string;
  /** Header test count (a truncated file patches this). */
  testCount: number;
  /** CPU id: "8088", "8086", "C286", "386E", ... (trimmed). */
  cpu: string;
  meta: MooMeta | null;
  /** File-wide register masks (top-level `RMSK`/`RM32`), if any. */
  regMasks: Record<string, number>;
  tests: MooTest[];
}

interface Chunk {
  id: string;
  start: number;
  end: number;
}

function* chunks(buf: Uint8Array, view: DataView, start: number, end: number): Generator<Chunk> {
  let p = start;
  while (p + 8 <= end) {
    const id = String.fromCharCode(buf[p], buf[p + 1], buf[p + 2], buf[p + 3]);
    const len = view.getUint32(p + 4, true);
    const s = p + 8;
    const e = s + len;
    if (e > end) throw new Error(`MOO: chunk "${id}" at ${p} runs past its container (${e} > ${end})`);
    yield { id, start: s, end: e };
    p = e;
  }
}

function readRegs(view: DataView, c: Chunk, width: 16 | 32, out: Record<string, number>): void {
  const names: readonly string[] = width === 16 ? REGS16_NAMES : REGS32_NAMES;
  const step = width / 8;
  const mask = width === 16 ? view.getUint16(c.start, true) : view.getUint32(c.start, true);
  let p = c.start + step;
  for (let i = 0; i < names.length; i++) {
    if (((mask >>> i) & 1) === 0) continue;
    if (p + step > c.end) throw new Error("MOO: register chunk shorter than its bitmask says");
    out[names[i]] = width === 16 ? view.getUint16(p, true) : view.getUint32(p, true);
    p += step;
  }
}

function readState(buf: Uint8Array, view: DataView, c: Chunk): MooState {
  const st: MooState = { regWidth: 0, regs: {}, regMasks: {}, ram: [], queue: [] };
  for (const s of chunks(buf, view, c.start, c.end)) {
    switch (s.id) {
      case "REGS":
        st.regWidth = 16;
        readRegs(view, s, 16, st.regs);
        break;
      case "RG32":
        st.regWidth = 32;
        readRegs(view, s, 32, st.regs);
        break;
      case "RMSK":
        readRegs(view, s, 16, st.regMasks);
        break;
      case "RM32":
        readRegs(view, s, 32, st.regMasks);
        break;
      case "RAM ": {
        const n = view.getUint32(s.start, true);
        if (s.start + 4 + n * 5 > s.end) throw new Error("MOO: RAM chunk shorter than its count");
        for (let i = 0; i < n; i++) {
          const q = s.start + 4 + i * 5;
          st.ram.push([view.getUint32(q, true), buf[q + 4]]);
        }
        break;
      }
      case "QUEU": {
        const n = view.getUint32(s.start, true);
        st.queue = Array.from(buf.subarray(s.start + 4, Math.min(s.end, s.start + 4 + n)));
        break;
      }
      default:
        break; // EA32 and anything newer: not needed for register/memory comparison
    }
  }
  return st;
}

const ascii = (b: Uint8Array) => String.fromCharCode(...b);

function readTest(buf: Uint8Array, view: DataView, c: Chunk): MooTest {
  const t: MooTest = {
    index: view.getUint32(c.start, true),
    name: "",
    bytes: new Uint8Array(0),
    initial: { regWidth: 0, regs: {}, regMasks: {}, ram: [], queue: [] },
    final: { regWidth: 0, regs: {}, regMasks: {}, ram: [], queue: [] },
    exception: null,
    hash: "",
  };
  for (const s of chunks(buf, view, c.start + 4, c.end)) {
    switch (s.id) {
      case "NAME": {
        const n = view.getUint32(s.start, true);
        t.name = ascii(buf.subarray(s.start + 4, Math.min(s.end, s.start + 4 + n)));
        break;
      }
      case "BYTS": {
        const n = view.getUint32(s.start, true);
        t.bytes = buf.slice(s.start + 4, Math.min(s.end, s.start + 4 + n));
        break;
      }
      case "INIT":
        t.initial = readState(buf, view, s);
        break;
      case "FINA":
        t.final = readState(buf, view, s);
        break;
      case "EXCP":
        t.exception = { vector: buf[s.start], flagAddress: view.getUint32(s.start + 1, true) };
        break;
      case "HASH":
        t.hash = Array.from(buf.subarray(s.start, s.end), (b) => b.toString(16).padStart(2, "0")).join("");
        break;
      case "IDX ":
        t.index = view.getUint32(s.start, true);
        break;
      default:
        break; // CYCL and unknown chunks
    }
  }
  return t;
}

/** Parses a MOO image (already decompressed, or gzipped: detected by the gzip magic). */
export function parseMoo(input: Uint8Array): MooFile {
  const buf = input.length >= 2 && input[0] === 0x1f && input[1] === 0x8b ? new Uint8Array(gunzipSync(input)) : input;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const file: MooFile = { version: "", testCount: 0, cpu: "", meta: null, regMasks: {}, tests: [] };
  let sawHeader = false;
  for (const c of chunks(buf, view, 0, buf.length)) {
    switch (c.id) {
      case "MOO ":
        sawHeader = true;
        file.version = `${buf[c.start]}.${buf[c.start + 1]}`;
        file.testCount = view.getUint32(c.start + 4, true);
        file.cpu = c.end - c.start >= 12 ? ascii(buf.subarray(c.start + 8, c.start + 12)).trim() : "";
        break;
      case "META":
        file.meta = {
          setVersion: `${buf[c.start]}.${buf[c.start + 1]}`,
          cpuType: buf[c.start + 2],
          opcode: view.getUint32(c.start + 3, true),
          mnemonic: ascii(buf.subarray(c.start + 7, c.start + 15)).trim(),
          testCount: view.getUint32(c.start + 15, true),
          seed: view.getBigUint64(c.start + 19, true),
          cpuMode: c.end - c.start > 27 ? buf[c.start + 27] : 0,
        };
        break;
      case "RMSK":
        readRegs(view, c, 16, file.regMasks);
        break;
      case "RM32":
        readRegs(view, c, 32, file.regMasks);
        break;
      case "TEST":
        file.tests.push(readTest(buf, view, c));
        break;
      default:
        break;
    }
  }
  if (!sawHeader) throw new Error('MOO: no "MOO " header chunk');
  return file;
}
