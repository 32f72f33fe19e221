// Dirty logging through EPT's dirty flags (for live migration's pre-copy rounds). A leaf's dirty
// bit is set by the first write through it; TLB entries built while it is clear refuse fast
// writes (tlb.ts), so that write takes the slow path and refills with write = true.
//
// Writes that do not go through EPT are marked here directly, as KVM marks its own writes and
// the host's (kvm_vcpu_mark_page_dirty): the core's physical writes (kvmclock, the pv page-table
// batches and shared page) through physical.ts, and the host's writes through hostWroteGuest.
// Only host code that writes Cpu.ram directly, bypassing Cpu.writePhysical, is not seen.
//
// The bitmaps are the machine's dirty log (dirty-bitmap.ts, HV_DIRTY_LOG), which dirty-log.ts
// collects in every MMU mode: the dirty flags are harvested into PENDING when it collects and
// when the EPT pool has to be rebuilt.

import { S_VMCS_EPTP } from "../generated/layout";
import { DIRTY_BITMAP_BYTES, DIRTY_PENDING, markDirty } from "./dirty-bitmap";
import { EPT_DIRTY, EPT_RWX, eptMisconfigured } from "./ept-format";

/** A write to guest-physical `gpa` that did not go through an EPT leaf. */
export function eptMarkDirty(gpa: u32): void {
  markDirty(gpa >>> 12);
}

/** Moves every leaf's dirty flag into the PENDING bitmap. The caller flushes the TLB. */
export function eptHarvestDirty(): void {
  const pml4 = (<u32>load<u64>(S_VMCS_EPTP)) & ~0xfff;
  if (pml4 == 0) return;
  const pml4e = load<u32>(pml4);
  if ((pml4e & EPT_RWX) == 0) return;
  const pdpt = pml4e & ~0xfff;
  // A 32-bit guest-physical address uses PDPT entries 0-3 only.
  for (let i: u32 = 0; i < 4; i++) {
    const pdpte = load<u32>(pdpt + (i << 3));
    if ((pdpte & EPT_RWX) == 0) continue;
    const pd = pdpte & ~0xfff;
    for (let j: u32 = 0; j < 512; j++) {
      const pde = load<u32>(pd + (j << 3));
      if ((pde & EPT_RWX) == 0) continue;
      const pt = pde & ~0xfff;
      for (let k: u32 = 0; k < 512; k++) {
        const p = pt + (k << 3);
        const e = load<u32>(p);
        if ((e & EPT_DIRTY) == 0 || eptMisconfigured(e)) continue;
        store<u32>(p, e & ~EPT_DIRTY);
        markDirty((i << 18) | (j << 9) | k);
      }
    }
  }
}

/** Forgets every dirty frame (dirty-log.ts, when logging starts). */
export function eptDirtyClear(): void {
  memory.fill(DIRTY_PENDING, 0, DIRTY_BITMAP_BYTES << 1);
}
