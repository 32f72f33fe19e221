// EPT (MMU_EPT): the second translation stage. Placeholder until the EPT walker lands: guest
// physical is host physical (the identity through PHYSMAP).

import { physRead32, physWrite32 } from "./physical";

/** Reads a guest paging-structure entry at a guest-physical address, through EPT. */
export function eptWalkRead(gpa: u32): u32 {
  return physRead32(gpa);
}
/** Writes back a guest paging-structure entry (accessed/dirty bits), through EPT. */
export function eptWalkWrite(gpa: u32, v: u32): void {
  physWrite32(gpa, v);
}
/** Translates the final guest-physical page of a TLB fill; returns it (identity here). */
export function eptFinal(gpa: u32, write: bool): u32 {
  return gpa;
}

/** Drops every EPT structure; `on`: build an empty PML4 for the VMM to fill on violations. */
export function eptReset(on: bool): void {}
