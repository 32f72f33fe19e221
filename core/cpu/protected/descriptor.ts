// Reading segment and gate descriptors from the GDT or LDT (SDM vol. 3, 3.4.5 and 5.8).

import { S_GDTR_BASE, S_GDTR_LIMIT, S_SEG_BASE, S_SEG_LIMIT, S_SEG_VALID } from "../../generated/layout";
import { sysRead32, sysWrite8 } from "../../mmu/access";
import { faulted, npFault } from "../fault";
import { LDTR } from "../state";

/** The descriptor read by the last successful fetchDescriptor. */
export let descLo: u32 = 0;
export let descHi: u32 = 0;
/** Linear address of that descriptor (to set its accessed bit). */
export let descAddr: u32 = 0;

/**
 * Reads the descriptor a selector names. Returns false, raising nothing, when the selector is
 * beyond its table's limit (or the LDT is unusable); callers raise the fault their rule names.
 * A page fault while reading is raised and also returns false (check `faulted`).
 */
export function fetchDescriptor(sel: u32): bool {
  const index = sel & 0xfff8;
  let base: u32;
  let limit: u32;
  if ((sel & 4) != 0) {
    if (load<u32>(S_SEG_VALID + (LDTR << 2)) == 0) return false;
    base = load<u32>(S_SEG_BASE + (LDTR << 2));
    limit = load<u32>(S_SEG_LIMIT + (LDTR << 2));
  } else {
    base = load<u32>(S_GDTR_BASE);
    limit = load<u32>(S_GDTR_LIMIT);
  }
  if (index + 7 > limit) return false;
  descAddr = base + index;
  const lo = sysRead32(descAddr);
  const hi = sysRead32(descAddr + 4);
  if (faulted) return false;
  descLo = lo;
  descHi = hi;
  return true;
}

@inline export function descriptorBase(lo: u32, hi: u32): u32 {
  return (lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000);
}

/** Limit in bytes, with the granularity bit applied. */
@inline export function descriptorLimit(lo: u32, hi: u32): u32 {
  const raw = (lo & 0xffff) | (hi & 0xf0000);
  return (hi & 0x800000) != 0 ? (raw << 12) | 0xfff : raw;
}

/** Attributes in SEG_ATTR form: type/S/DPL/P at bits 0-7, AVL/L/DB/G at bits 12-15. */
@inline export function descriptorAttr(hi: u32): u32 {
  return (hi >>> 8) & 0xf0ff;
}

@inline export function descriptorDpl(hi: u32): u32 {
  return (hi >>> 13) & 3;
}

@inline export function descriptorPresent(hi: u32): bool {
  return (hi & 0x8000) != 0;
}

/** The descriptor is present, or #NP with the selector's index as the error code. */
export function presentOrNp(hi: u32, sel: u32): bool {
  if (descriptorPresent(hi)) return true;
  npFault(sel & 0xfffc);
  return false;
}

/** Sets the accessed bit of the descriptor last fetched (a locked write on real hardware). */
export function markAccessed(): void {
  if ((descHi & 0x100) == 0) {
    descHi |= 0x100;
    sysWrite8(descAddr + 5, (descHi >>> 8) & 0xff);
  }
}

// ---- classification (high dword of a descriptor; SDM vol. 3, 3.4.5.1 and 3.5) ---------------

/** Code or data segment (S=1). */
@inline export function descIsSegment(hi: u32): bool {
  return (hi & 0x1000) != 0;
}
@inline export function descIsCode(hi: u32): bool {
  return (hi & 0x1800) == 0x1800;
}
@inline export function descIsData(hi: u32): bool {
  return (hi & 0x1800) == 0x1000;
}
@inline export function descIsConforming(hi: u32): bool {
  return (hi & 0x1c00) == 0x1c00;
}
/** Code segment with the readable bit. */
@inline export function descIsReadableCode(hi: u32): bool {
  return (hi & 0x1a00) == 0x1a00;
}
/** Data segment with the writable bit. */
@inline export function descIsWritableData(hi: u32): bool {
  return (hi & 0x1a00) == 0x1200;
}
/** System descriptor type (bits 8-11 of the high dword); only meaningful when S=0. */
@inline export function descSystemType(hi: u32): u32 {
  return (hi >>> 8) & 0xf;
}

// System descriptor types (SDM vol. 3, table 3-2).
export const SYS_TSS16_AVAIL: u32 = 1;
export const SYS_LDT: u32 = 2;
export const SYS_TSS16_BUSY: u32 = 3;
export const SYS_CALL_GATE16: u32 = 4;
export const SYS_TASK_GATE: u32 = 5;
export const SYS_INT_GATE16: u32 = 6;
export const SYS_TRAP_GATE16: u32 = 7;
export const SYS_TSS32_AVAIL: u32 = 9;
export const SYS_TSS32_BUSY: u32 = 11;
export const SYS_CALL_GATE32: u32 = 12;
export const SYS_INT_GATE32: u32 = 14;
export const SYS_TRAP_GATE32: u32 = 15;

/** Gate descriptors: target selector, offset (32-bit form) and parameter count. */
@inline export function gateSelector(lo: u32): u32 {
  return lo >>> 16;
}
@inline export function gateOffset(lo: u32, hi: u32): u32 {
  return (lo & 0xffff) | (hi & 0xffff0000);
}
@inline export function gateParamCount(hi: u32): u32 {
  return hi & 0x1f;
}

/** Reads the descriptor at a linear address of a descriptor table (no limit check). */
export function fetchDescriptorAt(addr: u32): bool {
  const lo = sysRead32(addr);
  const hi = sysRead32(addr + 4);
  if (faulted) return false;
  descAddr = addr;
  descLo = lo;
  descHi = hi;
  return true;
}

/** Writes the type byte (bits 40-47) of the descriptor at `addr` (TSS busy bit changes). */
export function writeDescriptorTypeByte(addr: u32, hi: u32): void {
  sysWrite8(addr + 5, (hi >>> 8) & 0xff);
}
