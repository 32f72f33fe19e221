// The VMM's EPT-violation handler, run synchronously in the core (KVM's two-dimensional page
// fault): builds the EPT mapping of one guest-physical page from the VMM's memory map (PHYSMAP),
// allocating the intermediate tables it lacks. RAM, write-tracked RAM and ROM map to their host
// page with all rights (the bare machine already drops ROM writes and reports tracked ones in
// physical.ts); device memory and open bus get a misconfigured leaf.

import {
  PHYS_MMIO,
  PHYS_NONE,
  S_EPT_POOL_FLUSHES,
  S_VMCS_EPTP,
} from "../generated/layout";
import {
  EPT_MEMTYPE_WB,
  EPT_MISCONFIG_LEAF,
  EPT_RWX,
  EPTP_ACCESSED_DIRTY,
  EPTP_MEMTYPE_WB,
  EPTP_WALK_LENGTH_4,
  eptIndex,
} from "./ept-format";
import { eptHarvestDirty } from "./ept-dirty";
import { eptAllocTable, eptPoolClear } from "./ept-pool";
import { physEntry } from "./physical";
import { tlbFlush } from "./tlb";

/** The leaf the VMM's memory map calls for at `gpa`. */
export function eptLeafFor(gpa: u32): u32 {
  const pe = physEntry(gpa);
  const kind = pe & 0xf;
  if (kind == PHYS_MMIO || kind == PHYS_NONE) return EPT_MISCONFIG_LEAF;
  return (pe & ~0xfff) | EPT_MEMTYPE_WB | EPT_RWX;
}

/** Empties the pool and points EPTP at a new, empty PML4 (write-back, four levels, A/D on). */
export function eptNewRoot(): void {
  eptPoolClear();
  const pml4 = eptAllocTable();
  store<u64>(S_VMCS_EPTP, <u64>(pml4 | EPTP_MEMTYPE_WB | EPTP_WALK_LENGTH_4 | EPTP_ACCESSED_DIRTY));
}

/** Maps `gpa`'s page; false when the pool ran out of tables on the way. */
function mapPage(gpa: u32): bool {
  let table = (<u32>load<u64>(S_VMCS_EPTP)) & ~0xfff;
  if (table == 0) return false;
  for (let level: u32 = 0; level < 3; level++) {
    const p = table + (level == 0 ? 0 : eptIndex(gpa, level) << 3);
    let e = load<u32>(p);
    if ((e & EPT_RWX) == 0) {
      const t = eptAllocTable();
      if (t == 0) return false;
      e = t | EPT_RWX;
      store<u64>(p, <u64>e);
    }
    table = e & ~0xfff;
  }
  store<u64>(table + (eptIndex(gpa, 3) << 3), <u64>eptLeafFor(gpa));
  return true;
}

/**
 * Handles an EPT violation at `gpa`. A pool that runs out is rebuilt from an empty root (the
 * dirty flags saved first, every cached translation flushed); an empty pool always has the
 * three tables one page needs.
 */
export function eptFaultIn(gpa: u32): void {
  if (mapPage(gpa)) return;
  eptHarvestDirty();
  eptNewRoot();
  store<u32>(S_EPT_POOL_FLUSHES, load<u32>(S_EPT_POOL_FLUSHES) + 1);
  tlbFlush(false);
  mapPage(gpa);
}
