// Linear-to-physical translation: a direct-mapped TLB with one entry per linear page, filled by
// the two-level page walk (4 KiB and 4 MiB pages), with accessed/dirty updates and #PF.
//
// A TLB entry is the host address of the page ORed with TLB_* bits. Entries with TLB_SLOW hold
// the guest-physical page instead (device memory or open bus): accesses go through physical.ts.

import { faulted, raise, VEC_PF } from "../cpu/fault";
import {
  PHYS_MMIO,
  PHYS_NONE,
  RAM_BASE,
  PHYS_RAM,
  S_A20_MASK,
  S_CPL,
  S_CR,
  S_TLB_COUNT,
  S_TLB_READ_MASK,
  S_TLB_WRITE_MASK,
  TLB_BASE,
  TLB_GLOBAL,
  TLB_LIST_BASE,
  TLB_LIST_BYTES,
  TLB_NO_SUPER_WRITE,
  TLB_NO_USER_READ,
  TLB_NO_USER_WRITE,
  TLB_SLOW,
  TLB_VALID,
  PHYS_TRACKED,
  TLB_WRITE_PHYS_SUPER,
  TLB_WRITE_PHYS_USER,
} from "../generated/layout";
import { hostToPhysical, physEntry } from "./physical";
import { EPT_HOST_DEVICE, EPT_HOST_DIRTY, EPT_HOST_NO_FAST_WRITE, eptBeginWalk, eptFinal, eptWalkRead, eptWalkWrite } from "./ept";
import { shadowFill } from "./shadow";
import { trapAreaEntry, trapMode, trapOwnsLinear } from "../virt/trap";
import {
  DEBUG_ARMED_DATA,
  MMU_EPT,
  MMU_SHADOW,
  S_DEBUG_ARMED,
  S_MMU_MODE,
  S_WALK_GUEST_REFS,
  S_WALK_TLB_MISSES,
} from "../generated/layout";
import { physRead32, physWrite32 } from "./physical";
import { PDE_PS, PTE_A, PTE_D, PTE_G, PTE_P, PTE_RW, PTE_US } from "./pte";

const TLB_LIST_MAX: u32 = TLB_LIST_BYTES >>> 2;

/** Incremented on every flush so cached code-fetch pointers know to revalidate. */
export let tlbGeneration: u32 = 0;

@inline export function tlbSlot(lin: u32): u32 {
  return TLB_BASE + ((lin >>> 12) << 2);
}

/**
 * Recomputes the fast-path masks after a CPL, CR0.WP, alignment-check or data-breakpoint
 * change. Zero masks send every access to the slow path (core/mmu/access.ts), which checks
 * alignment and data breakpoints.
 */
export function updateTlbMasks(forceSlow: bool): void {
  if (forceSlow || (load<u32>(S_DEBUG_ARMED) & DEBUG_ARMED_DATA) != 0) {
    store<u32>(S_TLB_READ_MASK, 0);
    store<u32>(S_TLB_WRITE_MASK, 0);
    return;
  }
  const user = load<u32>(S_CPL) == 3;
  store<u32>(S_TLB_READ_MASK, TLB_VALID | TLB_SLOW | (user ? TLB_NO_USER_READ : 0));
  store<u32>(S_TLB_WRITE_MASK, TLB_VALID | TLB_SLOW | (user ? TLB_NO_USER_WRITE : TLB_NO_SUPER_WRITE));
}

/** Drops every entry, or every non-global entry when `keepGlobal`. */
export function tlbFlush(keepGlobal: bool): void {
  const n = load<u32>(S_TLB_COUNT);
  let kept: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const vpn = load<u32>(TLB_LIST_BASE + (i << 2));
    const slot = TLB_BASE + (vpn << 2);
    const e = load<u32>(slot);
    if (keepGlobal && (e & TLB_GLOBAL) != 0) {
      store<u32>(TLB_LIST_BASE + (kept << 2), vpn);
      kept++;
    } else {
      store<u32>(slot, 0);
    }
  }
  store<u32>(S_TLB_COUNT, kept);
  tlbGeneration++;
}

/**
 * A frame just became write-tracked: the live entries that map host page `host` refuse fast
 * writes from now on, exactly as a refill would build them (makeEntry's tracked-RAM case), so
 * permitted writes go on through physical.ts without a new page walk. Unlike a flush this
 * leaves every other entry, and the walk and exit counters, as they were: compiling code (which
 * tracks the code's frame) changes nothing a guest or a counter can see.
 */
export function tlbWriteProtectHost(host: u32): void {
  const n = load<u32>(S_TLB_COUNT);
  for (let i: u32 = 0; i < n; i++) {
    const slot = TLB_BASE + (load<u32>(TLB_LIST_BASE + (i << 2)) << 2);
    const e = load<u32>(slot);
    if ((e & TLB_VALID) == 0 || (e & TLB_SLOW) != 0 || (e & ~0xfff) != host) continue;
    store<u32>(slot, writeProtected(e));
  }
}

/** Takes fast writes away from entry `e` (valid, RAM), keeping which writes its tables allow. */
@inline function writeProtected(e: u32): u32 {
  if ((e & TLB_NO_USER_WRITE) == 0) e |= TLB_WRITE_PHYS_USER;
  if ((e & TLB_NO_SUPER_WRITE) == 0) e |= TLB_WRITE_PHYS_SUPER;
  return e | TLB_NO_USER_WRITE | TLB_NO_SUPER_WRITE;
}

/**
 * The guest-physical kind of a live entry's page when it is guest RAM (guest RAM is mapped at
 * RAM_BASE + its guest-physical address), or 0xffffffff (device memory, ROM, the trap VMM's area).
 */
@inline function ramKind(e: u32): u32 {
  if ((e & TLB_VALID) == 0 || (e & TLB_SLOW) != 0 || (e & ~0xfff) < RAM_BASE) return 0xffffffff;
  return physEntry((e & ~0xfff) - RAM_BASE) & 0xf;
}

/**
 * Many frames just became write-tracked (the dirty log protecting what it collected): one pass
 * over the live entries takes fast writes away from those that map a tracked frame, as
 * tlbWriteProtectHost does for one frame, without a flush or a page walk.
 */
export function tlbWriteProtectTracked(): void {
  const n = load<u32>(S_TLB_COUNT);
  for (let i: u32 = 0; i < n; i++) {
    const slot = TLB_BASE + (load<u32>(TLB_LIST_BASE + (i << 2)) << 2);
    const e = load<u32>(slot);
    if ((e & (TLB_NO_USER_WRITE | TLB_NO_SUPER_WRITE)) == (TLB_NO_USER_WRITE | TLB_NO_SUPER_WRITE)) continue;
    if (ramKind(e) == PHYS_TRACKED) store<u32>(slot, writeProtected(e));
  }
}

/**
 * Entry `e` of linear `lin` sends permitted writes through physical.ts (TLB_WRITE_PHYS_*): if
 * it is still the entry there and its frame is plain RAM again, it gets the fast writes its
 * tables allow, as a refill would build it. Returns the entry to use for the access. (The write that
 * went through physical.ts may have flushed the TLB or refilled the slot, as a write to a
 * shadowed page table does: writing a stale entry back would also leave it off the TLB's list,
 * so no later flush would drop it.)
 */
export function tlbReopenWrite(lin: u32, e: u32): u32 {
  const slot = tlbSlot(lin);
  if (load<u32>(slot) != e) return e;
  if ((e & (TLB_WRITE_PHYS_USER | TLB_WRITE_PHYS_SUPER)) == 0 || ramKind(e) != PHYS_RAM) return e;
  let r = e & ~(TLB_WRITE_PHYS_USER | TLB_WRITE_PHYS_SUPER);
  if ((e & TLB_WRITE_PHYS_USER) != 0) r &= ~TLB_NO_USER_WRITE;
  if ((e & TLB_WRITE_PHYS_SUPER) != 0) r &= ~TLB_NO_SUPER_WRITE;
  store<u32>(slot, r);
  return r;
}

/** Every live entry whose frame is plain RAM again gets its fast writes back (tlbReopenWrite). */
export function tlbReopenUntracked(): void {
  const n = load<u32>(S_TLB_COUNT);
  for (let i: u32 = 0; i < n; i++) {
    const vpn = load<u32>(TLB_LIST_BASE + (i << 2));
    tlbReopenWrite(vpn << 12, load<u32>(TLB_BASE + (vpn << 2)));
  }
}

/** INVLPG: drops the entry of one linear page. */
export function tlbInvalidatePage(lin: u32): void {
  store<u32>(tlbSlot(lin), 0);
  tlbGeneration++;
}

export function tlbInsert(lin: u32, entry: u32): void {
  const slot = tlbSlot(lin);
  if (load<u32>(slot) == 0) {
    let n = load<u32>(S_TLB_COUNT);
    if (n >= TLB_LIST_MAX) {
      tlbFlush(false);
      n = 0;
    }
    store<u32>(TLB_LIST_BASE + (n << 2), lin >>> 12);
    store<u32>(S_TLB_COUNT, n + 1);
  }
  store<u32>(slot, entry);
}

/** Builds the TLB entry for a guest-physical page with the given permission bits. */
export function makeEntry(phys: u32, bits: u32): u32 {
  const pe = physEntry(phys);
  const kind = pe & 0xf;
  if (kind == PHYS_MMIO || kind == PHYS_NONE) return (phys & ~0xfff) | bits | TLB_VALID | TLB_SLOW;
  // ROM and write-tracked RAM: reads and fetches stay fast; every write takes access.ts's slow
  // path, which sends it to physical.ts (ROM drops it, tracking sees it). For tracked RAM the
  // entry also says which writes the page tables allow, so those need no refill.
  if (kind == PHYS_TRACKED) {
    if ((bits & TLB_NO_USER_WRITE) == 0) bits |= TLB_WRITE_PHYS_USER;
    if ((bits & TLB_NO_SUPER_WRITE) == 0) bits |= TLB_WRITE_PHYS_SUPER;
  }
  if (kind != PHYS_RAM) bits |= TLB_NO_USER_WRITE | TLB_NO_SUPER_WRITE;
  return (pe & ~0xfff) | bits | TLB_VALID;
}

/** makeEntry under EPT: the host page is the EPT leaf's (ept.ts); device pages stay slow. */
function eptEntry(gpa: u32, bits: u32, write: bool): u32 {
  const r = eptFinal(gpa, write);
  if ((r & EPT_HOST_DEVICE) != 0) return (gpa & ~0xfff) | bits | TLB_VALID | TLB_SLOW;
  // Until the EPT leaf's dirty flag is set, writes take the slow path so that the refill sets it.
  if ((r & (EPT_HOST_DIRTY | EPT_HOST_NO_FAST_WRITE)) != EPT_HOST_DIRTY) {
    // A dirty leaf over write-tracked RAM: permitted writes go on through physical.ts without a
    // refill, as makeEntry's tracked-RAM case (tracking must not add page walks: the JIT tracks
    // the frames it compiled code from).
    if ((r & EPT_HOST_DIRTY) != 0 && (r & ~0xfff) >= RAM_BASE) {
      if ((bits & TLB_NO_USER_WRITE) == 0) bits |= TLB_WRITE_PHYS_USER;
      if ((bits & TLB_NO_SUPER_WRITE) == 0) bits |= TLB_WRITE_PHYS_SUPER;
    }
    bits |= TLB_NO_USER_WRITE | TLB_NO_SUPER_WRITE;
  }
  return (r & ~0xfff) | bits | TLB_VALID;
}

/**
 * Translates `lin` for an access and installs the TLB entry. `user` is an access made at CPL 3
 * (not an implicit supervisor access such as a descriptor-table read). Returns the entry, or 0
 * after raising #PF. The entry may still refuse the access on the fast path (ROM, MMIO, tracked
 * pages): callers then use the physical slow path.
 */
export function tlbFill(lin: u32, write: bool, user: bool): u32 {
  if (trapMode() && trapOwnsLinear(lin)) return trapAreaEntry(lin, write, user); // the trap VMM's tables
  const cr0 = load<u32>(S_CR);
  const mmu = load<u32>(S_MMU_MODE);
  if ((cr0 & 0x80000000) == 0) {
    const phys = lin & load<u32>(S_A20_MASK);
    if (mmu == MMU_EPT) eptBeginWalk(lin);
    const e = mmu == MMU_EPT ? eptEntry(phys, 0, write) : makeEntry(phys, 0);
    tlbInsert(lin, e);
    return e;
  }
  if (mmu == MMU_SHADOW) return shadowFill(lin, write, user);
  if (mmu == MMU_EPT) eptBeginWalk(lin);
  store<u64>(S_WALK_TLB_MISSES, load<u64>(S_WALK_TLB_MISSES) + 1);
  const cr3 = load<u32>(S_CR + 12);
  const cr4 = load<u32>(S_CR + 16);
  const pdeAddr = (cr3 & 0xfffff000) | ((lin >>> 22) << 2);
  const pde = walkRead(pdeAddr, mmu);
  const errBase: u32 = (write ? 2 : 0) | (user ? 4 : 0);
  if ((pde & PTE_P) == 0) {
    pageFault(lin, errBase);
    return 0;
  }
  let phys: u32;
  let flags: u32;
  let global = false;
  if ((pde & PDE_PS) != 0 && (cr4 & 0x10) != 0) {
    // 4 MiB page
    flags = pde;
    if (!permitted(flags, write, user, cr0)) {
      pageFault(lin, errBase | 1);
      return 0;
    }
    let upd = pde | PTE_A;
    if (write) upd |= PTE_D;
    if (upd != pde) walkWrite(pdeAddr, upd, mmu);
    flags = upd;
    phys = (pde & 0xffc00000) | (lin & 0x3ff000);
    global = (pde & PTE_G) != 0 && (cr4 & 0x80) != 0;
  } else {
    const pteAddr = (pde & 0xfffff000) | (((lin >>> 12) & 0x3ff) << 2);
    const pte = walkRead(pteAddr, mmu);
    if ((pte & PTE_P) == 0) {
      pageFault(lin, errBase);
      return 0;
    }
    // Effective rights are the stricter of the two levels.
    flags = (pte & ~(PTE_RW | PTE_US)) | (pte & pde & (PTE_RW | PTE_US));
    if (!permitted(flags, write, user, cr0)) {
      pageFault(lin, errBase | 1);
      return 0;
    }
    if ((pde & PTE_A) == 0) walkWrite(pdeAddr, pde | PTE_A, mmu);
    let upd = pte | PTE_A;
    if (write) upd |= PTE_D;
    if (upd != pte) walkWrite(pteAddr, upd, mmu);
    flags = (upd & ~(PTE_RW | PTE_US)) | (flags & (PTE_RW | PTE_US));
    phys = pte & 0xfffff000;
    global = (pte & PTE_G) != 0 && (cr4 & 0x80) != 0;
  }
  let bits: u32 = 0;
  const wp = (cr0 & 0x10000) != 0;
  if ((flags & PTE_US) == 0) bits |= TLB_NO_USER_READ | TLB_NO_USER_WRITE;
  if ((flags & PTE_RW) == 0) {
    bits |= TLB_NO_USER_WRITE;
    if (wp) bits |= TLB_NO_SUPER_WRITE;
  }
  // Until the dirty bit is set, writes take the slow path so that it gets set.
  if ((flags & PTE_D) == 0) bits |= TLB_NO_USER_WRITE | TLB_NO_SUPER_WRITE;
  if (global) bits |= TLB_GLOBAL;
  const gpa = phys & load<u32>(S_A20_MASK);
  const e = mmu == MMU_EPT ? eptEntry(gpa, bits, write) : makeEntry(gpa, bits);
  tlbInsert(lin, e);
  return e;
}

/** A paging-structure read of the walk: counted; through EPT when it is on. */
@inline function walkRead(gpa: u32, mmu: u32): u32 {
  store<u64>(S_WALK_GUEST_REFS, load<u64>(S_WALK_GUEST_REFS) + 1);
  return mmu == MMU_EPT ? eptWalkRead(gpa) : physRead32(gpa);
}

@inline function walkWrite(gpa: u32, v: u32, mmu: u32): void {
  if (mmu == MMU_EPT) eptWalkWrite(gpa, v);
  else physWrite32(gpa, v);
}

@inline export function permitted(flags: u32, write: bool, user: bool, cr0: u32): bool {
  if (user) {
    if ((flags & PTE_US) == 0) return false;
    if (write && (flags & PTE_RW) == 0) return false;
    return true;
  }
  if (write && (flags & PTE_RW) == 0 && (cr0 & 0x10000) != 0) return false;
  return true;
}

export function pageFault(lin: u32, err: u32): void {
  store<u32>(S_CR + 8, lin); // CR2
  raise(VEC_PF, <i32>err);
}

/**
 * Guest-physical address of a linear address for an access, or 0xFFFFFFFF after #PF.
 * Used by slow paths (page-crossing, device memory) and by the host's debugger views.
 */
export function linearToPhysical(lin: u32, write: bool, user: bool): u32 {
  let e = load<u32>(tlbSlot(lin));
  const need: u32 = write ? (user ? TLB_NO_USER_WRITE : TLB_NO_SUPER_WRITE) : user ? TLB_NO_USER_READ : 0;
  if ((e & TLB_VALID) == 0 || (e & need) != 0) {
    e = tlbFill(lin, write, user);
    if (faulted) return 0xffffffff;
  }
  return entryToPhysical(e) | (lin & 0xfff);
}

/** The guest-physical page of a TLB entry. */
export function entryToPhysical(e: u32): u32 {
  if ((e & TLB_SLOW) != 0) return e & ~0xfff;
  return hostToPhysical(e & ~0xfff);
}

