// The JIT's decoder: turns guest code bytes into instruction records, driven by the instruction
// table (core/isa/table.mjs), the same table the interpreter's dispatch is generated from. It
// only measures and names an instruction; what it does is the emitters' (emit.ts) or, for a form
// without an emitter, the interpreter's.

import { immediateBytes, sizedHandler, type TableEntry } from "../../core/isa/table.mjs";
import { byExact, byGroup, byOpcode } from "../isa/table-index.js";

/** A memory operand: seg:[base + index * scale + disp] (registers -1 when absent). */
export interface MemOperand {
  seg: number;
  base: number;
  index: number;
  scale: number;
  disp: number;
}

export interface Insn {
  eip: number;
  len: number;
  entry: TableEntry;
  /** The interpreter routine's name at this operand size (the emitters are keyed by it). */
  handler: string;
  opsize32: boolean;
  addrsize32: boolean;
  /** Segment override, or -1. */
  seg: number;
  rep: number;
  lock: boolean;
  opcode: number;
  /** ModRM fields (-1 when the instruction has none). */
  mod: number;
  reg: number;
  rm: number;
  mem: MemOperand | null;
  /** Immediate operands in order (sign-extended where the operand says so). */
  imm: number[];
}

const SEG_DS = 3;
const SEG_SS = 2;

const PREFIX_SEG: Record<number, number> = { 38: 0, 46: 1, 54: 2, 62: 3, 100: 4, 101: 5 };

/**
 * Decodes the instruction at `bytes[at]` (EIP `eip`) with the code segment's default size, or
 * returns null when it is not a valid form or does not fit in the bytes given.
 */
export function decodeInsn(bytes: Uint8Array, at: number, eip: number, cs32: boolean): Insn | null {
  const end = Math.min(bytes.length, at + 15);
  let i = at;
  let opsize32 = cs32;
  let addrsize32 = cs32;
  let seg = -1;
  let rep = 0;
  let lock = false;
  let b = 0;
  for (;;) {
    if (i >= end) return null;
    b = bytes[i++];
    if (b === 0x66) opsize32 = !cs32;
    else if (b === 0x67) addrsize32 = !cs32;
    else if (b in PREFIX_SEG) seg = PREFIX_SEG[b];
    else if (b === 0xf0) lock = true;
    else if (b === 0xf2 || b === 0xf3) rep = b;
    else break;
  }
  let map = 0;
  if (b === 0x0f) {
    if (i >= end) return null;
    b = bytes[i++];
    map = 1;
  }
  const key = (map << 8) | b;
  let entry = byOpcode.get(key);
  const group = byGroup.get(key);
  let mod = -1;
  let reg = -1;
  let rm = -1;
  let mem: MemOperand | null = null;
  if (entry?.modrm || group || entry === undefined) {
    if (!entry && !group) return null;
    if (i >= end) return null;
    const m = bytes[i++];
    mod = m >> 6;
    reg = (m >> 3) & 7;
    rm = m & 7;
    const exact = byExact.get((key << 8) | m);
    if (exact) entry = exact;
    else if (group) entry = group[reg];
    if (!entry) return null;
    if (mod !== 3) {
      const r = decodeMem(bytes, i, end, mod, rm, addrsize32);
      if (!r) return null;
      mem = r.mem;
      i = r.next;
      if (seg >= 0) mem.seg = seg;
    } else if (entry.memOnly) return null;
  }
  if (!entry) return null;
  const opBytes = opsize32 ? 4 : 2;
  const immLen = immediateBytes(entry, opBytes, addrsize32 ? 4 : 2);
  if (i + immLen > end) return null;
  const imm: number[] = [];
  for (const o of entry.operands ? entry.operands.split(",") : []) {
    if (o === "Ib") imm.push(bytes[i++]);
    else if (o === "Ibs" || o === "Jb") imm.push((bytes[i++] << 24) >> 24);
    else if (o === "Iw") {
      imm.push(bytes[i] | (bytes[i + 1] << 8));
      i += 2;
    } else if (o === "Iz" || o === "Iv" || o === "Jz") {
      if (opBytes === 4) {
        imm.push(bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24) | 0);
        i += 4;
      } else {
        imm.push(o === "Jz" ? ((bytes[i] | (bytes[i + 1] << 8)) << 16) >> 16 : bytes[i] | (bytes[i + 1] << 8));
        i += 2;
      }
    } else if (o === "Ob" || o === "Ov") {
      // MOV AL/eAX <-> moffs: a memory operand that is only a displacement (16-bit ones are
      // marked as the interpreter's, as for ModRM).
      if (addrsize32) {
        mem = { seg: seg >= 0 ? seg : SEG_DS, base: -1, index: -1, scale: 0, disp: le32(bytes, i) };
        i += 4;
      } else {
        mem = { seg: seg >= 0 ? seg : SEG_DS, base: -2, index: -1, scale: 0, disp: 0 };
        i += 2;
      }
    } else if (o === "Ap") {
      i += opBytes + 2;
    }
  }
  return {
    eip,
    len: i - at,
    entry,
    handler: sizedHandler(entry, opsize32 ? 32 : 16),
    opsize32,
    addrsize32,
    seg,
    rep,
    lock,
    opcode: b,
    mod,
    reg,
    rm,
    mem,
    imm,
  };
}

function le32(bytes: Uint8Array, i: number): number {
  return bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24) | 0;
}

/** The ModRM memory operand (SIB, displacement) starting at `bytes[i]`. */
function decodeMem(
  bytes: Uint8Array,
  i: number,
  end: number,
  mod: number,
  rm: number,
  a32: boolean,
): { mem: MemOperand; next: number } | null {
  if (!a32) {
    // 16-bit addressing: the JIT leaves these to the interpreter, but must know their length.
    let n = i;
    if (mod === 0 && rm === 6) n += 2;
    else if (mod === 1) n += 1;
    else if (mod === 2) n += 2;
    if (n > end) return null;
    return {
      mem: {
        seg: rm === 2 || rm === 3 || (rm === 6 && mod !== 0) ? SEG_SS : SEG_DS,
        base: -2,
        index: -1,
        scale: 0,
        disp: 0,
      },
      next: n,
    };
  }
  let base = rm;
  let index = -1;
  let scale = 0;
  let disp = 0;
  if (rm === 4) {
    if (i >= end) return null;
    const sib = bytes[i++];
    scale = sib >> 6;
    index = (sib >> 3) & 7;
    if (index === 4) index = -1;
    base = sib & 7;
    if (base === 5 && mod === 0) {
      base = -1;
      if (i + 4 > end) return null;
      disp = le32(bytes, i);
      i += 4;
    }
  } else if (rm === 5 && mod === 0) {
    base = -1;
    if (i + 4 > end) return null;
    disp = le32(bytes, i);
    i += 4;
  }
  if (mod === 1) {
    if (i + 1 > end) return null;
    disp = (bytes[i++] << 24) >> 24;
  } else if (mod === 2) {
    if (i + 4 > end) return null;
    disp = le32(bytes, i);
    i += 4;
  }
  const seg = base === 4 || base === 5 ? SEG_SS : SEG_DS;
  return { mem: { seg, base, index, scale, disp }, next: i };
}
