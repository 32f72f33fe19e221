// Where the hypervisor's memory virtualization meets the MMU: the architectural events that
// shadow page tables must follow (CR0/CR3/CR4 loads, INVLPG) and writes to write-tracked guest
// frames (shadowed page tables, translated code). The bare machine (MMU_DIRECT) passes through.

import { MMU_SHADOW, S_MMU_MODE } from "../generated/layout";
import { shadowControlChange, shadowInvlpg, shadowNewCr3 } from "./shadow";

@inline function shadowOn(): bool {
  return load<u32>(S_MMU_MODE) == MMU_SHADOW;
}

/** INVLPG reached the MMU (after any VM exit it caused was handled). */
export function invlpgHook(lin: u32): void {
  if (shadowOn()) shadowInvlpg(lin);
}

/** CR3 was loaded with `v` (the guest's page directory). */
export function cr3Hook(v: u32): void {
  if (shadowOn()) shadowNewCr3(v);
}

/** CR0.PG/WP/PE or CR4.PSE/PGE changed: translations may all differ. */
export function pagingModeHook(): void {
  if (shadowOn()) shadowControlChange();
}
