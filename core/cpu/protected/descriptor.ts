// Reading segment and gate descriptors from the GDT or LDT (SDM vol. 3, 3.4.5 and 5.8).

import { S_GDTR_BASE, S_GDTR_LIMIT, S_SEG_BASE, S_SEG_LIMIT, S_SEG_VALID } from "../../generated/layout";
import { sysRead32, sysWrite8 } from "../../mmu/access";
import { faulted } from "../fault";
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

/** Sets the accessed bit of the descriptor last fetched (a locked write on real hardware). */
export function markAccessed(): void {
  if ((descHi & 0x100) == 0) {
    descHi |= 0x100;
    sysWrite8(descAddr + 5, (descHi >>> 8) & 0xff);
  }
}
