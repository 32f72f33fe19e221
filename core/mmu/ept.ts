// EPT (MMU_EPT): the second translation stage. Every guest-physical address the MMU produces,
// the guest's own paging-structure entries included, is translated by a four-level walk of the
// EPT paging structures (ept-format.ts) that the VMM builds on EPT violations (ept-fault-in.ts).
// A TLB fill under EPT is therefore the two-dimensional walk: with 2-level guest paging and
// 4-level EPT, 2 guest references + 3 x 4 EPT references = 14 (SDM vol. 3C, 28.2; Bhargava et
// al., ASPLOS 2008); with a 4 MiB guest page, 1 + 2 x 4 = 9. Each EPT entry a fill reads with
// paging on is counted in WALK_NESTED_REFS.

import { nextEip } from "../cpu/decode";
import {
  PHYS_MMIO,
  PHYS_NONE,
  PHYS_RAM,
  S_CR,
  S_EPT_REMAPS,
  S_SEG_BASE,
  S_VMCS_EPTP,
  S_WALK_NESTED_REFS,
} from "../generated/layout";
import { eptViolationExit } from "./ept-exits";
import { eptHarvestDirty, eptMarkDirty } from "./ept-dirty";
import { eptFaultIn, eptNewRoot } from "./ept-fault-in";
import {
  EPT_ACCESS_FETCH,
  EPT_ACCESS_READ,
  EPT_ACCESS_WRITE,
  EPT_ACCESSED,
  EPT_DIRTY,
  EPT_RWX,
  EPTP_ACCESSED_DIRTY,
  eptIndex,
  eptMisconfigured,
} from "./ept-format";
import { eptPoolClear } from "./ept-pool";
import { physEntry, physRead32, physWrite32 } from "./physical";

// eptTranslate's result: the host page, ORed with these bits.
/** A misconfigured leaf: the host's device model answers (physical.ts, by guest-physical address). */
export const EPT_HOST_DEVICE: u32 = 1;
/** The leaf's dirty flag is set (or A/D flags are off): the TLB may allow fast writes. */
export const EPT_HOST_DIRTY: u32 = 2;
/** ROM or write-tracked RAM behind the leaf: writes keep taking the slow path. */
export const EPT_HOST_NO_FAST_WRITE: u32 = 4;
/** Internal: the walk met a not-present entry or lacked a permission; bits 3-5 hold the rights. */
const WALK_VIOLATION: u32 = 0x100;

// The TLB fill in progress: its linear address and kind of access (for the qualification), and
// whether its EPT references count. WALK_NESTED_REFS pairs with WALK_TLB_MISSES, which counts
// fills with paging on only; fills with paging off use EPT just as much but are not counted.
let walkLinear: u32 = 0;
let walkFetch: bool = false;
let walkCounted: bool = false;

/**
 * Called by tlbFill before it walks: remembers the linear address. The fill is an instruction
 * fetch when it is for the byte the decoder just asked for (tlbFill has no fetch flag; a data
 * read of that very byte would be reported as a fetch, a cosmetic error in the qualification).
 */
export function eptBeginWalk(lin: u32): void {
  walkLinear = lin;
  walkFetch = lin == load<u32>(S_SEG_BASE + 4) + nextEip - 1; // CS is segment 1
  walkCounted = (load<u32>(S_CR) & 0x80000000) != 0;
}

@inline function accessedDirtyOn(): bool {
  return ((<u32>load<u64>(S_VMCS_EPTP)) & EPTP_ACCESSED_DIRTY) != 0;
}

/**
 * One walk of the EPT for `access` (EPT_ACCESS_*) to `gpa`: the host page | EPT_HOST_* bits, or
 * WALK_VIOLATION | permissions << 3. Sets accessed flags on the way and the dirty flag on the
 * leaf for writes when EPTP enables them. A leaf that no longer matches the VMM's memory map
 * (a ROM or device window mapped after the page was faulted in) is zapped and reported not
 * present, as KVM zaps the EPT entries of a memory slot that changes.
 */
function walk(gpa: u32, access: u32, count: bool): u32 {
  const eptp = <u32>load<u64>(S_VMCS_EPTP);
  let table = eptp & ~0xfff;
  if (table == 0) return EPT_HOST_DEVICE; // EPT never built: nothing behind any address
  const ad = (eptp & EPTP_ACCESSED_DIRTY) != 0;
  let rights = EPT_RWX;
  let refs: u32 = 0;
  let result: u32 = 0;
  for (let level: u32 = 0; level < 4; level++) {
    const p = table + (level == 0 ? 0 : eptIndex(gpa, level) << 3);
    const e = load<u32>(p);
    refs++;
    if ((e & EPT_RWX) == 0) {
      result = WALK_VIOLATION;
      break;
    }
    if (level < 3) {
      if (ad && (e & EPT_ACCESSED) == 0) store<u32>(p, e | EPT_ACCESSED);
      rights &= e;
      table = e & ~0xfff;
      continue;
    }
    const pe = physEntry(gpa);
    const kind = pe & 0xf;
    const device = kind == PHYS_MMIO || kind == PHYS_NONE;
    if (device != eptMisconfigured(e) || (!device && (pe & ~0xfff) != (e & ~0xfff))) {
      // The leaf goes; a write it recorded must stay in the dirty log.
      if (!eptMisconfigured(e) && (e & EPT_DIRTY) != 0) eptMarkDirty(gpa);
      store<u64>(p, 0);
      store<u32>(S_EPT_REMAPS, load<u32>(S_EPT_REMAPS) + 1);
      result = WALK_VIOLATION;
      break;
    }
    if (device) {
      result = EPT_HOST_DEVICE;
      break;
    }
    rights &= e;
    if ((rights & (1 << access)) == 0) {
      result = WALK_VIOLATION | ((rights & EPT_RWX) << 3);
      break;
    }
    let dirty = !ad;
    if (ad) {
      let upd = e | EPT_ACCESSED;
      if (access == EPT_ACCESS_WRITE) upd |= EPT_DIRTY;
      if (upd != e) store<u32>(p, upd);
      dirty = (upd & EPT_DIRTY) != 0;
    }
    result = (e & ~0xfff) | (dirty ? EPT_HOST_DIRTY : 0) | (kind != PHYS_RAM ? EPT_HOST_NO_FAST_WRITE : 0);
    break;
  }
  if (count) store<u64>(S_WALK_NESTED_REFS, load<u64>(S_WALK_NESTED_REFS) + refs);
  return result;
}

/**
 * Translates `gpa` for `access` (EPT_ACCESS_*): the host page | EPT_HOST_* bits. A violation
 * exits to the VMM's handler, which maps the page, and the walk is made again (and counted
 * again: the restarted instruction walks again on hardware). `pagingStructure`: the access is
 * to a guest paging-structure entry of the walk for `linear`. `count`: add the EPT references
 * to WALK_NESTED_REFS (not for the write half of a guest A/D update, whose address the read
 * half already translated).
 */
export function eptTranslate(gpa: u32, access: u32, pagingStructure: bool, linear: u32, count: bool): u32 {
  let r = walk(gpa, access, count);
  if ((r & WALK_VIOLATION) == 0) return r;
  eptViolationExit(gpa, access, pagingStructure, linear, (r >>> 3) & 7);
  eptFaultIn(gpa);
  r = walk(gpa, access, count);
  // The handler just mapped the page, so this cannot repeat; the device path is the safe answer.
  return (r & WALK_VIOLATION) == 0 ? r : EPT_HOST_DEVICE;
}

/**
 * Kind of access of a guest paging-structure entry: with EPT A/D flags on, the processor treats
 * every such access as a write (SDM 28.2.3.2), so the walk sets the dirty flag of page-table pages.
 */
@inline function pagingStructureAccess(): u32 {
  return accessedDirtyOn() ? EPT_ACCESS_WRITE : EPT_ACCESS_READ;
}

/** Reads a guest paging-structure entry (4-byte aligned) at a guest-physical address, through EPT. */
export function eptWalkRead(gpa: u32): u32 {
  const r = eptTranslate(gpa, pagingStructureAccess(), true, walkLinear, walkCounted);
  if ((r & EPT_HOST_DEVICE) != 0) return physRead32(gpa);
  return load<u32>((r & ~0xfff) | (gpa & 0xfff));
}

/** Writes back a guest paging-structure entry (accessed/dirty bits), through EPT. */
export function eptWalkWrite(gpa: u32, v: u32): void {
  const r = eptTranslate(gpa, EPT_ACCESS_WRITE, true, walkLinear, false);
  // Devices, ROM (drops it) and tracked frames (reports it) keep the bare machine's behaviour.
  if ((r & (EPT_HOST_DEVICE | EPT_HOST_NO_FAST_WRITE)) != 0) physWrite32(gpa, v);
  else store<u32>((r & ~0xfff) | (gpa & 0xfff), v);
}

/**
 * Translates the final guest-physical page of a TLB fill: the host page | EPT_HOST_* bits the
 * TLB entry is built from.
 */
export function eptFinal(gpa: u32, write: bool): u32 {
  const access = write ? EPT_ACCESS_WRITE : walkFetch ? EPT_ACCESS_FETCH : EPT_ACCESS_READ;
  return eptTranslate(gpa, access, false, walkLinear, walkCounted);
}

/** Drops every EPT structure; `on`: build an empty PML4 for the VMM to fill on violations. */
export function eptReset(on: bool): void {
  // The dirty flags of the leaves about to go stay in the log: a guest that resets during a
  // migration's pre-copy must not lose the frames it wrote before (dirty-log.ts empties the log
  // when logging starts).
  eptHarvestDirty();
  eptPoolClear();
  if (on) eptNewRoot();
  else store<u64>(S_VMCS_EPTP, 0);
}

