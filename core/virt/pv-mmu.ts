// PV_HC_MMU_UPDATE: batched page-table updates, as Xen's mmu_update (Barham et al. section 3.3.3).
// The guest queues {u32 pte_gpa; u32 value} pairs and hands them over in one hypercall instead
// of writing each PTE itself; the VMM checks the whole batch before it writes anything, so a
// bad entry leaves the page tables as they were, and flushes the TLB once for the batch.
//
// The batch is copied into the hypervisor's own memory (HV_PV) before it is checked: what is
// applied is exactly what was checked, even when an entry rewrites the list itself.

import {
  HV_PV_BASE,
  PHYS_RAM,
  PHYS_TRACKED,
  S_PV_MMU_BATCHES,
  S_PV_MMU_UPDATES,
  S_RAM_SIZE,
} from "../generated/layout";
import { physEntry, physRead32, physWrite32 } from "../mmu/physical";
import { tlbFlush } from "../mmu/tlb";
import { err } from "./pv-abi";
import { EFAULT, EINVAL, PV_MMU_BATCH_MAX } from "../generated/abi";

/**
 * Whether guest-physical [addr, addr + bytes) is RAM the VMM may read and write: plain or
 * write-tracked (under shadow paging a page-table page is tracked, and physWrite32 tells the
 * shadow MMU). `bytes` > 0.
 */
export function guestRamRange(addr: u32, bytes: u32): bool {
  const last = addr + bytes - 1;
  if (last < addr || last >= load<u32>(S_RAM_SIZE)) return false;
  for (let page = addr >>> 12; page <= last >>> 12; page++) {
    const kind = physEntry(page << 12) & 0xf;
    if (kind != PHYS_RAM && kind != PHYS_TRACKED) return false;
  }
  return true;
}

/** Applies `count` updates listed at guest-physical `list`; returns EAX: the count or -errno. */
export function pvMmuUpdate(list: u32, count: u32): u32 {
  if (count > PV_MMU_BATCH_MAX || (list & 3) != 0) return err(EINVAL);
  if (count == 0) return 0;
  if (!guestRamRange(list, count << 3)) return err(EFAULT);
  for (let i: u32 = 0; i < count; i++) {
    const pte = physRead32(list + (i << 3));
    if ((pte & 3) != 0) return err(EINVAL);
    if (!guestRamRange(pte, 4)) return err(EFAULT);
    store<u32>(HV_PV_BASE + (i << 3), pte);
    store<u32>(HV_PV_BASE + (i << 3) + 4, physRead32(list + (i << 3) + 4));
  }
  for (let i: u32 = 0; i < count; i++) {
    physWrite32(load<u32>(HV_PV_BASE + (i << 3)), load<u32>(HV_PV_BASE + (i << 3) + 4));
  }
  tlbFlush(false);
  store<u64>(S_PV_MMU_UPDATES, load<u64>(S_PV_MMU_UPDATES) + <u64>count);
  store<u64>(S_PV_MMU_BATCHES, load<u64>(S_PV_MMU_BATCHES) + 1);
  return count;
}
