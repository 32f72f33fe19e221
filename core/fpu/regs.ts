// The x87 register file, stack, tag word, status and control words (SDM vol. 1, 8.1).
// Registers live in the state block (S_FPU_ST) in physical order R0-R7: a u64 significand, then
// sign|exponent in the low 16 bits of the next u64. The full tag word is kept up to date on
// every register write (valid 00, zero 01, special 10, empty 11; SDM vol. 1, 8.1.7).

import { S_FPU_CW, S_FPU_ST, S_FPU_SW, S_FPU_TAG, S_FPU_TOP } from "../generated/layout";
import { FE_IE, FE_SF, INDEF_M } from "./float80";

export const SW_ES: u32 = 0x80;
export const SW_C0: u32 = 0x100;
export const SW_C1: u32 = 0x200;
export const SW_C2: u32 = 0x400;
export const SW_C3: u32 = 0x4000;
export const SW_B: u32 = 0x8000;
export const SW_CC: u32 = SW_C0 | SW_C1 | SW_C2 | SW_C3;

export const TAG_VALID: u32 = 0;
export const TAG_ZERO: u32 = 1;
export const TAG_SPECIAL: u32 = 2;
export const TAG_EMPTY: u32 = 3;

@inline export function cw(): u32 {
  return load<u32>(S_FPU_CW) & 0xffff;
}
@inline export function swRaw(): u32 {
  return load<u32>(S_FPU_SW);
}
@inline export function setSwRaw(v: u32): void {
  store<u32>(S_FPU_SW, v & 0xc7ff);
}
@inline export function top(): u32 {
  return load<u32>(S_FPU_TOP) & 7;
}
@inline export function setTop(t: u32): void {
  store<u32>(S_FPU_TOP, t & 7);
}
/** The status word as software sees it: TOP in bits 11-13. */
@inline export function statusWord(): u32 {
  return (swRaw() & 0xc7ff) | (top() << 11);
}
export function setStatusWord(v: u32): void {
  setSwRaw(v);
  setTop((v >> 11) & 7);
}
/** Sets C0-C3 (bits given in SW_C* positions) leaving the rest. */
@inline export function setCC(bits: u32): void {
  setSwRaw((swRaw() & ~SW_CC) | (bits & SW_CC));
}
@inline export function setC1(on: bool): void {
  setSwRaw(on ? swRaw() | SW_C1 : swRaw() & ~SW_C1);
}

@inline export function tagWord(): u32 {
  return load<u32>(S_FPU_TAG) & 0xffff;
}
@inline export function setTagWord(v: u32): void {
  store<u32>(S_FPU_TAG, v & 0xffff);
}
@inline export function physTag(p: u32): u32 {
  return (tagWord() >> (p << 1)) & 3;
}
@inline export function setPhysTag(p: u32, t: u32): void {
  setTagWord((tagWord() & ~(<u32>3 << (p << 1))) | (t << (p << 1)));
}
@inline export function phys(i: u32): u32 {
  return (top() + i) & 7;
}
@inline export function isEmpty(i: u32): bool {
  return physTag(phys(i)) == TAG_EMPTY;
}

/** Tag a value would get (SDM vol. 1, 8.1.7). */
export function tagFor(se: u32, m: u64): u32 {
  const e = se & 0x7fff;
  if (e == 0x7fff) return TAG_SPECIAL;
  if (e == 0) return m == 0 ? TAG_ZERO : TAG_SPECIAL;
  return (m >> 63) != 0 ? TAG_VALID : TAG_SPECIAL;
}

// ---- register contents -------------------------------------------------------------------------

@inline export function physM(p: u32): u64 {
  return load<u64>(S_FPU_ST + (p << 4));
}
@inline export function physSE(p: u32): u32 {
  return <u32>load<u16>(S_FPU_ST + (p << 4) + 8);
}
/** Writes a physical register without touching its tag. */
@inline export function setPhysRaw(p: u32, se: u32, m: u64): void {
  store<u64>(S_FPU_ST + (p << 4), m);
  store<u64>(S_FPU_ST + (p << 4) + 8, <u64>(se & 0xffff));
}
@inline export function stM(i: u32): u64 {
  return physM(phys(i));
}
@inline export function stSE(i: u32): u32 {
  return physSE(phys(i));
}
@inline export function stS(i: u32): u32 {
  return stSE(i) >> 15;
}
@inline export function stE(i: u32): i32 {
  return <i32>(stSE(i) & 0x7fff);
}
/** Writes ST(i) and its tag. */
export function setST(i: u32, s: u32, e: i32, m: u64): void {
  const p = phys(i);
  const se = (s << 15) | (<u32>e & 0x7fff);
  setPhysRaw(p, se, m);
  setPhysTag(p, tagFor(se, m));
}
/** Copies ST(j) into ST(i). */
export function copyST(i: u32, j: u32): void {
  setST(i, stS(j), stE(j), stM(j));
}

/** Marks ST(0) empty and increments TOP. */
export function pop(): void {
  setPhysTag(phys(0), TAG_EMPTY);
  setTop(top() + 1);
}
/** Decrements TOP and writes the new ST(0). The caller checked for overflow. */
export function push(s: u32, e: i32, m: u64): void {
  setTop(top() - 1);
  setST(0, s, e, m);
}

// ---- exceptions ----------------------------------------------------------------------------------

/**
 * Records exception flags in the status word; an unmasked one sets ES and B (SDM vol. 1, 8.1.3.7).
 * Returns true when one of them is unmasked (the instruction must not store its result for
 * IE/DE/ZE; SDM vol. 1, 4.9.2).
 */
export function signal(flags: u32): bool {
  if (flags == 0) return false;
  let sw = swRaw() | (flags & 0x7f);
  const unmasked = (flags & ~cw() & 0x3f) != 0;
  if (unmasked) sw |= SW_ES | SW_B;
  setSwRaw(sw);
  return unmasked;
}
@inline export function masked(flag: u32): bool {
  return (cw() & flag) != 0;
}

/** Stack underflow (an empty source or destination): IE+SF, C1 = 0. True when IE is masked. */
export function stackUnderflow(): bool {
  setC1(false);
  signal(FE_IE | FE_SF);
  return masked(FE_IE);
}
/** Stack overflow (push onto a full register): IE+SF, C1 = 1. True when IE is masked. */
export function stackOverflow(): bool {
  signal(FE_IE | FE_SF);
  setC1(true);
  return masked(FE_IE);
}
/** Masked underflow response: ST(i) becomes the real indefinite. */
export function setIndefiniteST(i: u32): void {
  setST(i, 1, 0x7fff, INDEF_M);
}
/** Pushes, with the overflow check: false (nothing pushed) when the stack is full and IE unmasked. */
export function pushChecked(s: u32, e: i32, m: u64): void {
  if (!isEmpty(7)) {
    if (stackOverflow()) push(1, 0x7fff, INDEF_M);
    return;
  }
  push(s, e, m);
}
