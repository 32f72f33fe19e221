// Dirty logging through EPT's dirty flags (for live migration's pre-copy rounds). A leaf's dirty
// bit is set by the first write through it; TLB entries built while it is clear refuse fast
// writes (tlb.ts), so that write takes the slow path and refills with write = true.
//
// Writes that do not go through EPT are marked here directly, as KVM marks its own writes and
// the host's (kvm_vcpu_mark_page_dirty): the core's physical writes (kvmclock, the pv page-table
// batches and shared page) through physical.ts, and the host's writes through hostWroteGuest.
// Only host code that writes Cpu.ram directly, bypassing Cpu.writePhysical, is not seen.
//
// HV_EPT_META: the pool word at +0 (ept-pool.ts), then two bitmaps with one bit per 4 KiB
// frame of the whole 4 GiB guest-physical space: PENDING collects dirty bits saved when the
// pool had to be rebuilt, LOG holds the result of the last collection for the host to read.

import { HV_EPT_META_BASE, S_VMCS_EPTP } from "../generated/layout";
import { EPT_DIRTY, EPT_RWX, eptMisconfigured } from "./ept-format";
import { tlbFlush } from "./tlb";

const BITMAP_BYTES: u32 = 0x20000;
const PENDING: u32 = HV_EPT_META_BASE + 0x1000;
const LOG: u32 = PENDING + BITMAP_BYTES;

/** Host address of the dirty bitmap the last eptCollectDirty wrote (bit g = guest frame g). */
export function eptDirtyLog(): u32 {
  return LOG;
}

@inline function setBit(bitmap: u32, gfn: u32): void {
  const p = bitmap + (gfn >>> 3);
  store<u8>(p, load<u8>(p) | (<u8>1 << <u8>(gfn & 7)));
}

/** A write to guest-physical `gpa` that did not go through an EPT leaf. */
export function eptMarkDirty(gpa: u32): void {
  setBit(PENDING, gpa >>> 12);
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
        setBit(PENDING, (i << 18) | (j << 9) | k);
      }
    }
  }
}

/** Forgets every dirty frame (a new VM, or EPT turned on or off). */
export function eptDirtyClear(): void {
  memory.fill(PENDING, 0, BITMAP_BYTES << 1);
}

/**
 * The frames written since the last collection: writes them to the LOG bitmap, clears the
 * leaves' dirty flags (and the TLB, whose entries may allow fast writes), returns how many.
 */
export function eptCollectDirty(): u32 {
  eptHarvestDirty();
  memory.copy(LOG, PENDING, BITMAP_BYTES);
  memory.fill(PENDING, 0, BITMAP_BYTES);
  let n: u32 = 0;
  for (let off: u32 = 0; off < BITMAP_BYTES; off += 8) n += <u32>popcnt<u64>(load<u64>(LOG + off));
  tlbFlush(false);
  return n;
}
