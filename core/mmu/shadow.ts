// Shadow page tables (MMU_SHADOW), the classic VMware/KVM software MMU for a 2-level 32-bit guest.
// The hardware walk (shadowFill, reached from tlbFill with paging on) reads only the shadow tables
// of the current root. A miss there is a page fault the VMM sees first (under hvm a #PF VM exit):
// the VMM walks the guest's tables as hardware would (shadow-guest-walk.ts); if the guest
// translation faults it is a true fault reflected to the guest, otherwise a hidden fault that
// fills the shadow and resumes. Guest page directories and page tables that shadows were built
// from are write-tracked, and a write to one zaps the shadow entry it feeds. Bookkeeping and the
// pool are in shadow-pool.ts.

import { retiredSoFar } from "../cpu/rep";
import { trapMode } from "../cpu/state";
import {
  S_A20_MASK,
  S_CR,
  S_INSN_COUNT,
  S_SHADOW_CR3,
  S_SHADOW_ROOT_HITS,
  S_SHADOW_ROOT_MISSES,
  S_SHADOW_UNSHADOWED,
  S_VMX_EXITS,
  S_WALK_GUEST_REFS,
  S_WALK_TLB_MISSES,
  TLB_GLOBAL,
  TLB_NO_SUPER_WRITE,
  TLB_NO_USER_READ,
  TLB_NO_USER_WRITE,
} from "../generated/layout";
import { countEvent, KIND_EXIT, KIND_SHADOW_FAULT, KIND_TRAP, traceEvent, WHERE_CORE } from "../virt/events";
import { nonRoot } from "../virt/vmx";
import { SHADOW_FAULT_HIDDEN, SHADOW_FAULT_PT_WRITE, SHADOW_FAULT_TRUE } from "../generated/abi";
import {
  dropAllShadows,
  floodCount,
  freeRoot,
  NONE,
  newRoot,
  pageHost,
  pageLinks,
  pageOfHost,
  poolGeneration,
  pseChanged,
  ptForFrame,
  ptOfFrame,
  rootHost,
  rootPage,
  rootSlotOfFrame,
  setFloodCount,
  setRootPde,
  SPTE_D,
  SPTE_G,
  SPTE_P,
  SPTE_PS,
  SPTE_RW,
  SPTE_US,
  touchRoot,
  unshadowPt,
} from "./shadow-pool";
import { makeEntry, pageFault, permitted, tlbFlush, tlbInsert } from "./tlb";
import { frameOwners, TRACK_SHADOW_PD, TRACK_SHADOW_PT } from "./write-tracking";
import { guestWalk, walkFaultError, walkFlags, walkLarge, walkPde, walkPhys, walkPte } from "./shadow-guest-walk";

/** Exit qualification traced for a write to a tracked page table: the #PF error code W|P. */
const PT_WRITE_ERROR: u32 = 3;
/** Guest writes to a shadowed frame, without the VMM using that shadow, before it is dropped. */
const FLOOD_WRITES: u32 = 4;

// ---- the hardware walk ----------------------------------------------------------------------

/** TLB fill through the shadow tables; 0 after raising the guest's #PF. */
export function shadowFill(lin: u32, write: bool, user: bool): u32 {
  store<u64>(S_WALK_TLB_MISSES, load<u64>(S_WALK_TLB_MISSES) + 1);
  const root = load<u32>(S_SHADOW_CR3);
  let hwError: u32 = (write ? 2 : 0) | (user ? 4 : 0);
  if (root != 0) {
    store<u64>(S_WALK_GUEST_REFS, load<u64>(S_WALK_GUEST_REFS) + 1);
    const spde = load<u32>(root + ((lin >>> 22) << 2));
    if ((spde & SPTE_P) != 0) {
      let flags: u32 = 0;
      let gpa: u32 = 0;
      if ((spde & SPTE_PS) != 0) {
        flags = spde;
        gpa = (spde & 0xffc00000) | (lin & 0x3ff000);
      } else {
        store<u64>(S_WALK_GUEST_REFS, load<u64>(S_WALK_GUEST_REFS) + 1);
        const spte = load<u32>((spde & ~0xfff) + (((lin >>> 12) & 0x3ff) << 2));
        if ((spte & SPTE_P) != 0) {
          flags = (spte & ~(SPTE_RW | SPTE_US)) | (spte & spde & (SPTE_RW | SPTE_US));
          gpa = spte & ~0xfff;
        }
      }
      if ((flags & SPTE_P) != 0) {
        // Writes need the dirty bit in the shadow too, so the first one reaches the VMM.
        if (permitted(flags, write, user, load<u32>(S_CR)) && (!write || (flags & SPTE_D) != 0)) {
          return insertTranslation(lin, gpa, flags);
        }
        hwError |= 1;
      }
    }
  }
  return shadowPageFault(lin, write, user, hwError);
}

/** Installs the TLB entry for a leaf's rights, as the native walk builds it. */
function insertTranslation(lin: u32, gpa: u32, flags: u32): u32 {
  let bits: u32 = 0;
  if ((flags & SPTE_US) == 0) bits |= TLB_NO_USER_READ | TLB_NO_USER_WRITE;
  if ((flags & SPTE_RW) == 0) {
    bits |= TLB_NO_USER_WRITE;
    if ((load<u32>(S_CR) & 0x10000) != 0) bits |= TLB_NO_SUPER_WRITE;
  }
  if ((flags & SPTE_D) == 0) bits |= TLB_NO_USER_WRITE | TLB_NO_SUPER_WRITE;
  if ((flags & SPTE_G) != 0 && (load<u32>(S_CR + 16) & 0x80) != 0) bits |= TLB_GLOBAL;
  const e = makeEntry(gpa & load<u32>(S_A20_MASK), bits);
  tlbInsert(lin, e);
  return e;
}

// ---- the VMM's page-fault handler -----------------------------------------------------------

function shadowPageFault(lin: u32, write: bool, user: bool, hwError: u32): u32 {
  if (!guestWalk(lin, write, user)) {
    countEvent(KIND_SHADOW_FAULT, SHADOW_FAULT_TRUE, WHERE_CORE);
    // Reflected to the guest; under hvm the exception bitmap counts the #PF exit when raised.
    pageFault(lin, walkFaultError);
    return 0;
  }
  countEvent(KIND_SHADOW_FAULT, SHADOW_FAULT_HIDDEN, WHERE_CORE);
  if (nonRoot()) {
    store<u64>(S_VMX_EXITS, load<u64>(S_VMX_EXITS) + 1);
    traceEvent(KIND_EXIT, 0, WHERE_CORE, hwError, 0);
  }
  fillShadow(lin);
  return insertTranslation(lin, walkPhys, walkFlags);
}

/** The current root, built if there is none yet; 0 when the guest directory is not RAM. */
function currentRoot(): u32 {
  let root = load<u32>(S_SHADOW_CR3);
  if (root == 0) root = switchRoot(load<u32>(S_CR + 12) >>> 12);
  return root;
}

/** Caches the translation the guest walk just made in the shadow tables. */
function fillShadow(lin: u32): void {
  const pdi = lin >>> 22;
  let root = currentRoot();
  if (root == 0) return;
  if (walkLarge) {
    setRootPde(root, pdi, (walkPhys & 0xffc00000) | (walkFlags & (SPTE_P | SPTE_RW | SPTE_US | SPTE_D | SPTE_G)) | SPTE_PS);
    return;
  }
  const gen = poolGeneration;
  const pt = ptForFrame(walkPde >>> 12);
  if (pt == NONE) return;
  if (gen != poolGeneration) {
    // The pool ran out and every shadow went, the root too; the new page table survived.
    root = currentRoot();
    if (root == 0) return;
  }
  setFloodCount(pt, 0);
  const ptHost = pageHost(pt);
  const linkWanted = ptHost | SPTE_P | (walkPde & (SPTE_RW | SPTE_US));
  if (load<u32>(root + (pdi << 2)) != linkWanted) setRootPde(root, pdi, linkWanted);
  // The PTE's own rights; the root's link carries the PDE's.
  store<u32>(
    ptHost + (((lin >>> 12) & 0x3ff) << 2),
    (walkPte & ~0xfff) | (walkPte & (SPTE_P | SPTE_RW | SPTE_US | SPTE_D | SPTE_G)),
  );
}

// ---- address-space switches ------------------------------------------------------------------

/** Makes the root for guest page directory `gfn` current; returns its host address or 0. */
function switchRoot(gfn: u32): u32 {
  let slot = rootSlotOfFrame(gfn);
  if (slot != NONE) {
    store<u32>(S_SHADOW_ROOT_HITS, load<u32>(S_SHADOW_ROOT_HITS) + 1);
  } else {
    store<u32>(S_SHADOW_ROOT_MISSES, load<u32>(S_SHADOW_ROOT_MISSES) + 1);
    slot = newRoot(gfn);
    if (slot == NONE) {
      store<u32>(S_SHADOW_CR3, 0);
      return 0;
    }
  }
  touchRoot(slot);
  setFloodCount(rootPage(slot), 0);
  const host = rootHost(slot);
  store<u32>(S_SHADOW_CR3, host);
  return host;
}

/** CR3 was loaded: the MMU walks the shadow root of that guest page directory from now on. */
export function shadowNewCr3(v: u32): void {
  switchRoot(v >>> 12);
}

/** INVLPG: drops the shadow entry of `lin` in the current root (its TLB entry goes separately). */
export function shadowInvlpg(lin: u32): void {
  const root = load<u32>(S_SHADOW_CR3);
  if (root == 0) return;
  const pdi = lin >>> 22;
  const spde = load<u32>(root + (pdi << 2));
  if ((spde & SPTE_P) == 0) return;
  if ((spde & SPTE_PS) != 0) setRootPde(root, pdi, 0);
  else store<u32>((spde & ~0xfff) + (((lin >>> 12) & 0x3ff) << 2), 0);
}

/**
 * CR0.PG/WP/PE or CR4.PSE/PGE changed. Shadow entries hold the guest's own RW/US/D/G bits and
 * the walk applies CR0.WP and CR4.PGE when it builds a TLB entry, so only CR4.PSE, which decides
 * whether a guest PDE is a 4 MiB page or points at a page table, invalidates them. (Linux toggles
 * CR4.PGE to flush global pages; dropping every shadow each time would rebuild them for nothing.)
 */
export function shadowControlChange(): void {
  if (pseChanged()) dropAllShadows();
}

// ---- coherence: writes to tracked guest page tables ------------------------------------------

// One guest instruction writing one entry counts once, however many stores it takes (an RMW of
// a PTE through the byte-wise slow path stores 4 times).
let lastWriteStamp: u64 = 0xffffffffffffffff;
let lastWriteEntry: u32 = 0xffffffff;

/** A write reached a guest frame the shadow MMU tracks (after it was stored). */
export function shadowTrackedWrite(gpa: u32): void {
  const gfn = gpa >>> 12;
  const owners = frameOwners(gfn);
  const first = (gpa & 0xfff) >>> 2;
  // A misaligned store may reach the next entry too.
  const last = (gpa & 3) != 0 && first < 1023 ? first + 1 : first;
  const stamp = load<u64>(S_INSN_COUNT) + <u64>retiredSoFar();
  const entry = gpa & ~3;
  const fresh = stamp != lastWriteStamp || entry != lastWriteEntry;
  lastWriteStamp = stamp;
  lastWriteEntry = entry;
  let zapped = false;
  if ((owners & TRACK_SHADOW_PT) != 0) {
    const pt = ptOfFrame(gfn);
    if (pt != NONE) {
      const host = pageHost(pt);
      for (let i = first; i <= last; i++) {
        const p = host + (i << 2);
        if (load<u32>(p) != 0) {
          store<u32>(p, 0);
          zapped = true;
        }
      }
      if (fresh && pageLinks(pt) == 0) {
        // No cached root reaches it, yet the guest keeps writing it: most likely it is no longer
        // a page table (freed and reused), so stop shadowing it. A linked one stays traced,
        // however often it is written, as the VMM cannot tell a live page table's updates apart.
        const n = floodCount(pt) + 1;
        setFloodCount(pt, n);
        if (n >= FLOOD_WRITES) {
          store<u32>(S_SHADOW_UNSHADOWED, load<u32>(S_SHADOW_UNSHADOWED) + 1);
          unshadowPt(pt);
          zapped = false; // unshadowPt flushed the TLB
        }
      }
    }
  }
  if ((owners & TRACK_SHADOW_PD) != 0) {
    const slot = rootSlotOfFrame(gfn);
    if (slot != NONE) {
      const root = rootHost(slot);
      for (let i = first; i <= last; i++) {
        if (load<u32>(root + (i << 2)) != 0) {
          setRootPde(root, i, 0);
          zapped = true;
        }
      }
      if (fresh && root != load<u32>(S_SHADOW_CR3)) {
        const page = pageOfHost(root);
        const n = floodCount(page) + 1;
        setFloodCount(page, n);
        if (n >= FLOOD_WRITES) {
          store<u32>(S_SHADOW_UNSHADOWED, load<u32>(S_SHADOW_UNSHADOWED) + 1);
          freeRoot(slot);
          zapped = false;
        }
      }
    }
  }
  // A TLB entry may have come from the zapped entry (under any root, if it was global).
  if (zapped) tlbFlush(false);
  if (!fresh) return;
  countEvent(KIND_SHADOW_FAULT, SHADOW_FAULT_PT_WRITE, WHERE_CORE);
  // How the write reached the VMM is the crossing that is priced: KVM and a classic trap VMM
  // write-protect shadowed page tables, so the write was a #PF exit or a #PF trap, then
  // emulated; under bt the translated store is a callout (counted by the translator).
  if (nonRoot()) {
    store<u64>(S_VMX_EXITS, load<u64>(S_VMX_EXITS) + 1);
    traceEvent(KIND_EXIT, 0, WHERE_CORE, PT_WRITE_ERROR, gpa);
  } else if (trapMode()) {
    traceEvent(KIND_TRAP, 14, WHERE_CORE, PT_WRITE_ERROR, gpa);
  }
}

/** Drops every shadow table (the VM was (re)configured). */
export function shadowReset(): void {
  dropAllShadows();
}
