// Changes of processor mode and control state, kept in one place because each one has knock-on
// effects: the TLB fast-path masks, the cached code page, alignment checking, segment windows.
// Effects that live on a higher floor (docs/architecture.md) are registered hooks: the trap VMM's
// reaction to CR0 loads is installed by setVirtualization (core/virt/setup.ts).

import { cr3Hook, pagingModeHook } from "../mmu/mmu-hooks";
import { S_CPL, S_CR, S_EFLAGS, S_FLAGS_LAZY, S_MODE } from "../generated/layout";
import { setAlignmentCheck } from "../mmu/access";
import { tlbFlush, updateTlbMasks } from "../mmu/tlb";
import { invalidateFetch } from "./decode";
import { getEflags } from "./flags";
import {
  CR0_AM,
  CR0_PE,
  CR0_PG,
  CR0_WP,
  CR4_PGE,
  CR4_PSE,
  FLAG_AC,
  FLAG_VM,
  onCodeSegmentChange,
  updateSegmentWindows,
} from "./state";

// The decoder's fetch window moves with CS (core/cpu/state.ts calls this on every CS load).
onCodeSegmentChange(invalidateFetch);

/** No reaction to a CR0 load (every mode but trap). */
export function noCr0Hook(): void {}

let cr0Written: () => void = noCr0Hook;
/** Sets what runs after every CR0 load, once the new CR0 and mode are in place. */
export function onCr0Written(hook: () => void): void {
  cr0Written = hook;
}

@inline export function cr0(): u32 {
  return load<u32>(S_CR);
}
@inline export function cr2(): u32 {
  return load<u32>(S_CR + 8);
}
@inline export function cr3(): u32 {
  return load<u32>(S_CR + 12);
}
@inline export function cr4(): u32 {
  return load<u32>(S_CR + 16);
}

/** Re-derives everything that depends on CPL, CR0.AM/WP and EFLAGS.AC. */
export function refreshAccessMode(): void {
  const ac = (load<u32>(S_CR) & CR0_AM) != 0 && (load<u32>(S_EFLAGS) & FLAG_AC) != 0 && load<u32>(S_CPL) == 3;
  setAlignmentCheck(ac);
  updateTlbMasks(ac);
  invalidateFetch();
}

export function setCpl(v: u32): void {
  store<u32>(S_CPL, v);
  refreshAccessMode();
}

/** Recomputes MODE from CR0.PE and EFLAGS.VM and the segment windows that depend on it. */
export function updateMode(): void {
  const pe = (load<u32>(S_CR) & CR0_PE) != 0;
  const vm = (load<u32>(S_EFLAGS) & FLAG_VM) != 0;
  const m: u32 = !pe ? 0 : vm ? 2 : 1;
  if (m != load<u32>(S_MODE)) {
    store<u32>(S_MODE, m);
    for (let s: u32 = 0; s < 6; s++) updateSegmentWindows(s);
    if (m == 2) store<u32>(S_CPL, 3);
    else if (m == 0) store<u32>(S_CPL, 0);
  }
  refreshAccessMode();
}

export function setCr0(v: u32): void {
  const old = load<u32>(S_CR);
  v |= 0x10; // ET is hard-wired to 1 on P6
  store<u32>(S_CR, v);
  if (((old ^ v) & (CR0_PG | CR0_WP | CR0_PE)) != 0) {
    tlbFlush(false);
    pagingModeHook();
  }
  updateMode();
  cr0Written();
}

export function setCr3(v: u32): void {
  store<u32>(S_CR + 12, v);
  tlbFlush((load<u32>(S_CR + 16) & CR4_PGE) != 0);
  cr3Hook(v);
}

export function setCr4(v: u32): void {
  const old = load<u32>(S_CR + 16);
  store<u32>(S_CR + 16, v);
  if (((old ^ v) & (CR4_PGE | CR4_PSE)) != 0) {
    tlbFlush(false);
    pagingModeHook();
  }
}

/**
 * Writes EFLAGS bits selected by `mask` (the caller applies the privilege rules for IF, IOPL,
 * VM...). All flags become current. Bit 1 is always 1; bits 3, 5 and 15 always 0.
 */
export function writeEflags(v: u32, mask: u32): void {
  const old = getEflags();
  const nv = ((old & ~mask) | (v & mask) | 2) & 0x3f7fd7;
  store<u32>(S_EFLAGS, nv);
  store<u32>(S_FLAGS_LAZY, 0);
  if (((old ^ nv) & FLAG_VM) != 0) updateMode();
  else if (((old ^ nv) & FLAG_AC) != 0) refreshAccessMode();
}

