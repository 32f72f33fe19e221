// Lazy arithmetic flags: the common ALU operations record their operands and result; the flags
// are computed only when something reads them. FLAGS_LAZY names the bits that are lazy; the
// other bits of EFLAGS are always current.

import { S_EFLAGS, S_FLAGS_LAZY, S_LAZY_OP, S_LAZY_RES, S_LAZY_SIZE, S_LAZY_SRC1, S_LAZY_SRC2 } from "../generated/layout";
import { FLAG_AF, FLAG_CF, FLAG_OF, FLAG_PF, FLAG_SF, FLAG_ZF, FLAGS_ARITH } from "./state";

export const OP_ADD: u32 = 0;
export const OP_ADC: u32 = 1;
export const OP_SUB: u32 = 2;
export const OP_SBB: u32 = 3;
export const OP_LOGIC: u32 = 4;
export const OP_INC: u32 = 5;
export const OP_DEC: u32 = 6;

@inline function sizeMask(size: u32): u32 {
  return size == 32 ? 0xffffffff : (<u32>1 << size) - 1;
}

/** ADD/ADC/SUB/SBB/CMP/NEG: all six arithmetic flags become lazy. */
@inline export function setFlagsArith(op: u32, a: u32, b: u32, res: u32, size: u32): void {
  store<u32>(S_LAZY_OP, op);
  store<u32>(S_LAZY_SRC1, a);
  store<u32>(S_LAZY_SRC2, b);
  store<u32>(S_LAZY_RES, res);
  store<u32>(S_LAZY_SIZE, size);
  store<u32>(S_FLAGS_LAZY, FLAGS_ARITH);
}

/** AND/OR/XOR/TEST: CF = OF = 0, AF = 0, SZP from the result. */
@inline export function setFlagsLogic(res: u32, size: u32): void {
  store<u32>(S_LAZY_OP, OP_LOGIC);
  store<u32>(S_LAZY_RES, res);
  store<u32>(S_LAZY_SIZE, size);
  store<u32>(S_FLAGS_LAZY, FLAGS_ARITH);
}

/** INC/DEC: CF is preserved, so it is made current before the rest become lazy. */
@inline export function setFlagsIncDec(op: u32, a: u32, res: u32, size: u32): void {
  const cf: u32 = getCF() ? 1 : 0;
  store<u32>(S_EFLAGS, (load<u32>(S_EFLAGS) & ~FLAG_CF) | cf);
  store<u32>(S_LAZY_OP, op);
  store<u32>(S_LAZY_SRC1, a);
  store<u32>(S_LAZY_SRC2, 1);
  store<u32>(S_LAZY_RES, res);
  store<u32>(S_LAZY_SIZE, size);
  store<u32>(S_FLAGS_LAZY, FLAGS_ARITH & ~FLAG_CF);
}

function lazyCF(): bool {
  const op = load<u32>(S_LAZY_OP);
  const m = sizeMask(load<u32>(S_LAZY_SIZE));
  const a = load<u32>(S_LAZY_SRC1) & m;
  const b = load<u32>(S_LAZY_SRC2) & m;
  const r = load<u32>(S_LAZY_RES) & m;
  switch (op) {
    case OP_ADD:
      return r < a;
    case OP_ADC:
      return ((r - a - b) & m) != 0 ? r <= a : r < a;
    case OP_SUB:
      return a < b;
    case OP_SBB:
      return ((a - b - r) & m) != 0 ? a <= b : a < b;
    default:
      return false;
  }
}

function lazyOF(): bool {
  const op = load<u32>(S_LAZY_OP);
  const size = load<u32>(S_LAZY_SIZE);
  const a = load<u32>(S_LAZY_SRC1);
  const b = load<u32>(S_LAZY_SRC2);
  const r = load<u32>(S_LAZY_RES);
  let x: u32 = 0;
  switch (op) {
    case OP_ADD:
    case OP_ADC:
    case OP_INC:
      x = (a ^ r) & (b ^ r);
      break;
    case OP_SUB:
    case OP_SBB:
    case OP_DEC:
      x = (a ^ b) & (a ^ r);
      break;
    default:
      return false;
  }
  return ((x >>> (size - 1)) & 1) != 0;
}

@inline function lazyAF(): bool {
  if (load<u32>(S_LAZY_OP) == OP_LOGIC) return false;
  return ((load<u32>(S_LAZY_SRC1) ^ load<u32>(S_LAZY_SRC2) ^ load<u32>(S_LAZY_RES)) & 0x10) != 0;
}
@inline function lazyZF(): bool {
  return (load<u32>(S_LAZY_RES) & sizeMask(load<u32>(S_LAZY_SIZE))) == 0;
}
@inline function lazySF(): bool {
  return ((load<u32>(S_LAZY_RES) >>> (load<u32>(S_LAZY_SIZE) - 1)) & 1) != 0;
}
@inline function lazyPF(): bool {
  return (popcnt<u32>(load<u32>(S_LAZY_RES) & 0xff) & 1) == 0;
}

@inline function isLazy(bit: u32): bool {
  return (load<u32>(S_FLAGS_LAZY) & bit) != 0;
}

export function getCF(): bool {
  return isLazy(FLAG_CF) ? lazyCF() : (load<u32>(S_EFLAGS) & FLAG_CF) != 0;
}
export function getOF(): bool {
  return isLazy(FLAG_OF) ? lazyOF() : (load<u32>(S_EFLAGS) & FLAG_OF) != 0;
}
export function getZF(): bool {
  return isLazy(FLAG_ZF) ? lazyZF() : (load<u32>(S_EFLAGS) & FLAG_ZF) != 0;
}
export function getSF(): bool {
  return isLazy(FLAG_SF) ? lazySF() : (load<u32>(S_EFLAGS) & FLAG_SF) != 0;
}
export function getPF(): bool {
  return isLazy(FLAG_PF) ? lazyPF() : (load<u32>(S_EFLAGS) & FLAG_PF) != 0;
}
export function getAF(): bool {
  return isLazy(FLAG_AF) ? lazyAF() : (load<u32>(S_EFLAGS) & FLAG_AF) != 0;
}

/** The whole EFLAGS register with the lazy bits computed (bit 1 always reads 1). */
export function getEflags(): u32 {
  let f = load<u32>(S_EFLAGS);
  const lazy = load<u32>(S_FLAGS_LAZY);
  if (lazy != 0) {
    f &= ~lazy;
    if ((lazy & FLAG_CF) != 0 && lazyCF()) f |= FLAG_CF;
    if ((lazy & FLAG_PF) != 0 && lazyPF()) f |= FLAG_PF;
    if ((lazy & FLAG_AF) != 0 && lazyAF()) f |= FLAG_AF;
    if ((lazy & FLAG_ZF) != 0 && lazyZF()) f |= FLAG_ZF;
    if ((lazy & FLAG_SF) != 0 && lazySF()) f |= FLAG_SF;
    if ((lazy & FLAG_OF) != 0 && lazyOF()) f |= FLAG_OF;
  }
  return f | 2;
}

/** Makes every flag current (no lazy bits left). */
export function materializeFlags(): void {
  if (load<u32>(S_FLAGS_LAZY) != 0) {
    store<u32>(S_EFLAGS, getEflags());
    store<u32>(S_FLAGS_LAZY, 0);
  }
}

/** Replaces the bits in `mask` with `bits` (all flags become current first). */
export function setFlagBits(mask: u32, bits: u32): void {
  materializeFlags();
  store<u32>(S_EFLAGS, (load<u32>(S_EFLAGS) & ~mask) | (bits & mask));
}

/** Sets the arithmetic flags from precomputed values; SZP from a result of `size` bits. */
export function setFlagsSZP(res: u32, size: u32, cf: bool, ovf: bool, af: bool): void {
  let f: u32 = 0;
  const m = sizeMask(size);
  if ((res & m) == 0) f |= FLAG_ZF;
  if (((res >>> (size - 1)) & 1) != 0) f |= FLAG_SF;
  if ((popcnt<u32>(res & 0xff) & 1) == 0) f |= FLAG_PF;
  if (cf) f |= FLAG_CF;
  if (ovf) f |= FLAG_OF;
  if (af) f |= FLAG_AF;
  store<u32>(S_EFLAGS, (load<u32>(S_EFLAGS) & ~FLAGS_ARITH) | f);
  store<u32>(S_FLAGS_LAZY, 0);
}

/** Evaluates condition code `cc` (the low nibble of Jcc/SETcc/CMOVcc). */
export function testCondition(cc: u32): bool {
  let r: bool;
  switch (cc >> 1) {
    case 0:
      r = getOF();
      break;
    case 1:
      r = getCF();
      break;
    case 2:
      r = getZF();
      break;
    case 3:
      r = getCF() || getZF();
      break;
    case 4:
      r = getSF();
      break;
    case 5:
      r = getPF();
      break;
    case 6:
      r = getSF() != getOF();
      break;
    default:
      r = getZF() || getSF() != getOF();
      break;
  }
  return (cc & 1) != 0 ? !r : r;
}
