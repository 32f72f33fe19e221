// The x87 memory operand: reads and writes of 2 to 10 bytes at the decoded seg:offset. Writes
// wider than 4 bytes check the whole operand for writability first, so a fault changes nothing.

import { faulted } from "../cpu/fault";
import { read16, read32, rmwBegin, write16, write32 } from "../mmu/access";

export let mSeg: u32 = 0;
export let mOff: u32 = 0;

export function setOperand(seg: u32, off: u32): void {
  mSeg = seg;
  mOff = off;
}

@inline export function rd16(at: u32): u32 {
  return read16(mSeg, mOff + at);
}
@inline export function rd32(at: u32): u32 {
  return read32(mSeg, mOff + at);
}
export function rd64(at: u32): u64 {
  const lo = read32(mSeg, mOff + at);
  if (faulted) return 0;
  const hi = read32(mSeg, mOff + at + 4);
  return (<u64>lo) | ((<u64>hi) << 32);
}

/** Checks that `size` bytes at the operand (+at) can be written; false after a fault. */
export function probeWrite(at: u32, size: u32): bool {
  return rmwBegin(mSeg, mOff + at, size);
}
@inline export function wr16(at: u32, v: u32): void {
  write16(mSeg, mOff + at, v);
}
@inline export function wr32(at: u32, v: u32): void {
  write32(mSeg, mOff + at, v);
}
/** Writes 8 bytes (checked first). */
export function wr64(at: u32, v: u64): void {
  if (!probeWrite(at, 8)) return;
  write32(mSeg, mOff + at, <u32>v);
  write32(mSeg, mOff + at + 4, <u32>(v >> 32));
}
/** Writes 10 bytes: a u64 then a u16 (checked first). */
export function wr80(at: u32, lo: u64, hi: u32): void {
  if (!probeWrite(at, 10)) return;
  write32(mSeg, mOff + at, <u32>lo);
  write32(mSeg, mOff + at + 4, <u32>(lo >> 32));
  write16(mSeg, mOff + at + 8, hi);
}
