// The shadow MMU's memory: 4 KiB shadow tables in the SHADOW pool and their bookkeeping in
// HV_SHADOW_META. A shadow table is either a root (the shadow of one guest page directory, what
// S_SHADOW_CR3 points at) or a page table (the shadow of one guest page table, shared by every
// root whose guest PDEs point at that guest frame: the walk ANDs PDE and PTE rights, so sharing
// is exact). Every frame a shadow was built from is write-tracked, so a guest write to it reaches
// shadowTrackedWrite; dropping a shadow untracks its frame. When the pool runs out every shadow
// is dropped (counted) and rebuilt lazily: the pool never overflows.

import {
  HV_FRAME_BYTES,
  HV_SHADOW_FRAMES_BASE,
  HV_SHADOW_FRAMES_BYTES,
  HV_SHADOW_META_BASE,
  HV_SHADOW_META_BYTES,
  PHYS_RAM,
  PHYS_TRACKED,
  PHYSMAP_BASE,
  S_CR,
  S_SHADOW_CR3,
  S_SHADOW_PAGES,
  S_SHADOW_POOL_FLUSHES,
  SHADOW_BASE,
  SHADOW_BYTES,
} from "../generated/layout";
import { tlbFlush } from "./tlb";
import { TRACK_SHADOW_PD, TRACK_SHADOW_PT, trackFrame, untrackFrame } from "./write-tracking";

export const POOL_PAGES: u32 = SHADOW_BYTES >>> 12;
/** Guest frames write tracking covers; a page table outside them cannot be kept coherent. */
const FRAMES: u32 = HV_FRAME_BYTES >>> 2;
/** Roots kept for context switches back to a recent address space. */
export const ROOT_SLOTS: u32 = 16;
/** No pool page / no root slot. */
export const NONE: u32 = 0xffffffff;

export const KIND_FREE: u32 = 0;
export const KIND_ROOT: u32 = 1;
export const KIND_PT: u32 = 2;

// Shadow entries keep the x86 bit positions; the frame field of a root's non-large entry is the
// host address of a shadow page table, every other frame field is a guest-physical frame.
export const SPTE_P: u32 = 0x1;
export const SPTE_RW: u32 = 0x2;
export const SPTE_US: u32 = 0x4;
export const SPTE_D: u32 = 0x40;
export const SPTE_PS: u32 = 0x80;
export const SPTE_G: u32 = 0x100;

/** u16 per guest frame (HV_SHADOW_FRAMES): pool page + 1 of the shadow page table built from it (0: none). */
const PT_OF_FRAME: u32 = HV_SHADOW_FRAMES_BASE;
// HV_SHADOW_META layout.
/** Per pool page: the guest frame it shadows, its kind, shadow PDEs linking it, flood counter. */
const PAGE_FRAME: u32 = HV_SHADOW_META_BASE;
const PAGE_KIND: u32 = PAGE_FRAME + (POOL_PAGES << 2);
const PAGE_LINKS: u32 = PAGE_KIND + (POOL_PAGES << 2);
const PAGE_WRITES: u32 = PAGE_LINKS + (POOL_PAGES << 2);
/** Stack of freed pool pages (pages never used yet come from the bump index). */
const FREE_STACK: u32 = PAGE_WRITES + (POOL_PAGES << 2);
/** Root cache: pool page + 1 (0: empty slot), guest frame, last use (LRU clock). */
const ROOT_PAGE: u32 = FREE_STACK + (POOL_PAGES << 2);
const ROOT_FRAME: u32 = ROOT_PAGE + (ROOT_SLOTS << 2);
const ROOT_USE: u32 = ROOT_FRAME + (ROOT_SLOTS << 2);
const FREE_COUNT: u32 = ROOT_USE + (ROOT_SLOTS << 2);
const BUMP: u32 = FREE_COUNT + 4;
const CLOCK: u32 = BUMP + 4;
/** CR4.PSE the shadows were built under (it decides what a guest PDE with PS set means). */
const BUILT_PSE: u32 = CLOCK + 4;
// Both tables must stay inside their regions: the per-frame table once followed the page table
// in HV_SHADOW_META and, when the frame table grew to 4 GiB, ran into HV_TRAP (a saved region,
// and the trap VMM's GDT), so a restore brought back a stale root cache.
// @ts-ignore: AssemblyScript's compile-time assertion
assert(BUILT_PSE + 4 <= HV_SHADOW_META_BASE + HV_SHADOW_META_BYTES && FRAMES << 1 <= HV_SHADOW_FRAMES_BYTES);

/** Bumped whenever every shadow is dropped, so a caller holding a root learns it is gone. */
export let poolGeneration: u32 = 0;

@inline export function pageHost(page: u32): u32 {
  return SHADOW_BASE + (page << 12);
}
@inline export function pageOfHost(host: u32): u32 {
  return (host - SHADOW_BASE) >>> 12;
}
@inline export function pageFrame(page: u32): u32 {
  return load<u32>(PAGE_FRAME + (page << 2));
}

/** Guest-write counter of a shadow table since the VMM last used it (write-flood detection). */
@inline export function floodCount(page: u32): u32 {
  return load<u32>(PAGE_WRITES + (page << 2));
}
@inline export function setFloodCount(page: u32, n: u32): void {
  store<u32>(PAGE_WRITES + (page << 2), n);
}

/** Shadow PDEs (in cached roots) that point at a shadow page table. */
@inline export function pageLinks(page: u32): u32 {
  return load<u32>(PAGE_LINKS + (page << 2));
}

/** Whether write tracking can watch guest frame `gfn` (RAM it covers), as a shadow needs. */
function trackable(gfn: u32): bool {
  if (gfn >= FRAMES) return false;
  const kind = load<u32>(PHYSMAP_BASE + (gfn << 2)) & 0xf;
  return kind == PHYS_RAM || kind == PHYS_TRACKED;
}

/** A new zeroed pool page; when none is left every shadow is dropped first (counted). */
function allocPage(kind: u32, gfn: u32): u32 {
  let page: u32;
  let free = load<u32>(FREE_COUNT);
  let bump = load<u32>(BUMP);
  if (free == 0 && bump >= POOL_PAGES) {
    store<u32>(S_SHADOW_POOL_FLUSHES, load<u32>(S_SHADOW_POOL_FLUSHES) + 1);
    dropAllShadows();
    free = 0;
    bump = 0;
  }
  if (free > 0) {
    free--;
    page = load<u32>(FREE_STACK + (free << 2));
    store<u32>(FREE_COUNT, free);
  } else {
    page = bump;
    store<u32>(BUMP, bump + 1);
  }
  memory.fill(pageHost(page), 0, 4096);
  store<u32>(PAGE_KIND + (page << 2), kind);
  store<u32>(PAGE_FRAME + (page << 2), gfn);
  store<u32>(PAGE_LINKS + (page << 2), 0);
  store<u32>(PAGE_WRITES + (page << 2), 0);
  publishPagesInUse();
  return page;
}

function freePage(page: u32): void {
  store<u32>(PAGE_KIND + (page << 2), KIND_FREE);
  const free = load<u32>(FREE_COUNT);
  store<u32>(FREE_STACK + (free << 2), page);
  store<u32>(FREE_COUNT, free + 1);
  publishPagesInUse();
}

/** Mirrors the pages in use into the state block for the host (a CPU reset zeroes that copy). */
function publishPagesInUse(): void {
  store<u32>(S_SHADOW_PAGES, load<u32>(BUMP) - load<u32>(FREE_COUNT));
}

// ---- shadow page tables ---------------------------------------------------------------------

/** The pool page of the shadow page table built from guest frame `gfn`, or NONE. */
export function ptOfFrame(gfn: u32): u32 {
  if (gfn >= FRAMES) return NONE;
  const v = <u32>load<u16>(PT_OF_FRAME + (gfn << 1));
  return v == 0 ? NONE : v - 1;
}

/**
 * The shadow page table for guest frame `gfn`, built empty (and the frame tracked) if there is
 * none; NONE when the frame cannot be tracked (not RAM), so no shadow of it can stay coherent.
 * May drop every shadow when the pool is full: callers check poolGeneration.
 */
export function ptForFrame(gfn: u32): u32 {
  const have = ptOfFrame(gfn);
  if (have != NONE) return have;
  if (!trackable(gfn)) return NONE;
  const page = allocPage(KIND_PT, gfn);
  trackFrame(gfn, TRACK_SHADOW_PT);
  store<u16>(PT_OF_FRAME + (gfn << 1), <u16>(page + 1));
  return page;
}

/** Writes a root's PDE, keeping the link counts of the shadow page tables it points at. */
export function setRootPde(root: u32, index: u32, v: u32): void {
  const p = root + (index << 2);
  const old = load<u32>(p);
  if ((old & (SPTE_P | SPTE_PS)) == SPTE_P) {
    const q = PAGE_LINKS + (pageOfHost(old & ~0xfff) << 2);
    const n = load<u32>(q);
    store<u32>(q, n > 0 ? n - 1 : 0);
  }
  if ((v & (SPTE_P | SPTE_PS)) == SPTE_P) {
    const q = PAGE_LINKS + (pageOfHost(v & ~0xfff) << 2);
    store<u32>(q, load<u32>(q) + 1);
  }
  store<u32>(p, v);
}

/** Drops one shadow page table: unlinks it from every root, untracks its frame, frees it. */
export function unshadowPt(page: u32): void {
  const host = pageHost(page);
  for (let s: u32 = 0; s < ROOT_SLOTS && load<u32>(PAGE_LINKS + (page << 2)) > 0; s++) {
    const rp = load<u32>(ROOT_PAGE + (s << 2));
    if (rp == 0) continue;
    const root = pageHost(rp - 1);
    for (let i: u32 = 0; i < 1024; i++) {
      const e = load<u32>(root + (i << 2));
      if ((e & (SPTE_P | SPTE_PS)) == SPTE_P && (e & ~0xfff) == host) setRootPde(root, i, 0);
    }
  }
  const gfn = pageFrame(page);
  store<u16>(PT_OF_FRAME + (gfn << 1), 0);
  untrackFrame(gfn, TRACK_SHADOW_PT);
  freePage(page);
  // TLB entries may have come from its entries, under any root (global pages survive CR3 loads).
  tlbFlush(false);
}

// ---- roots ----------------------------------------------------------------------------------

/** The root-cache slot holding guest page directory `gfn`, or NONE. */
export function rootSlotOfFrame(gfn: u32): u32 {
  for (let s: u32 = 0; s < ROOT_SLOTS; s++) {
    if (load<u32>(ROOT_PAGE + (s << 2)) != 0 && load<u32>(ROOT_FRAME + (s << 2)) == gfn) return s;
  }
  return NONE;
}

@inline export function rootHost(slot: u32): u32 {
  return pageHost(load<u32>(ROOT_PAGE + (slot << 2)) - 1);
}
@inline export function rootPage(slot: u32): u32 {
  return load<u32>(ROOT_PAGE + (slot << 2)) - 1;
}

/** Marks a root as just used (the LRU victim is the slot used longest ago). */
export function touchRoot(slot: u32): void {
  const c = load<u32>(CLOCK) + 1;
  store<u32>(CLOCK, c);
  store<u32>(ROOT_USE + (slot << 2), c);
}

/** Drops one root: unlinks its page tables (they stay cached), untracks its frame, frees it. */
export function freeRoot(slot: u32): void {
  const page = rootPage(slot);
  const root = pageHost(page);
  for (let i: u32 = 0; i < 1024; i++) if (load<u32>(root + (i << 2)) != 0) setRootPde(root, i, 0);
  untrackFrame(load<u32>(ROOT_FRAME + (slot << 2)), TRACK_SHADOW_PD);
  store<u32>(ROOT_PAGE + (slot << 2), 0);
  freePage(page);
  if (load<u32>(S_SHADOW_CR3) == root) store<u32>(S_SHADOW_CR3, 0);
  tlbFlush(false);
}

/**
 * Builds an empty root for guest page directory `gfn` in a free slot, evicting the least
 * recently used root if all are taken. Returns the slot, or NONE if the frame cannot be tracked.
 */
export function newRoot(gfn: u32): u32 {
  if (!trackable(gfn)) return NONE;
  let slot: u32 = NONE;
  let oldest: u32 = 0xffffffff;
  let victim: u32 = 0;
  for (let s: u32 = 0; s < ROOT_SLOTS; s++) {
    if (load<u32>(ROOT_PAGE + (s << 2)) == 0) {
      slot = s;
      break;
    }
    const use = load<u32>(ROOT_USE + (s << 2));
    if (use < oldest) {
      oldest = use;
      victim = s;
    }
  }
  if (slot == NONE) {
    freeRoot(victim);
    slot = victim;
  }
  const page = allocPage(KIND_ROOT, gfn);
  trackFrame(gfn, TRACK_SHADOW_PD);
  store<u32>(ROOT_PAGE + (slot << 2), page + 1);
  store<u32>(ROOT_FRAME + (slot << 2), gfn);
  touchRoot(slot);
  return slot;
}

// ---- everything -----------------------------------------------------------------------------

/** Drops every shadow table and untracks every frame they were built from. */
export function dropAllShadows(): void {
  const bump = load<u32>(BUMP);
  for (let page: u32 = 0; page < bump; page++) {
    const kind = load<u32>(PAGE_KIND + (page << 2));
    if (kind == KIND_FREE) continue;
    const gfn = pageFrame(page);
    if (kind == KIND_PT) {
      store<u16>(PT_OF_FRAME + (gfn << 1), 0);
      untrackFrame(gfn, TRACK_SHADOW_PT);
    } else {
      untrackFrame(gfn, TRACK_SHADOW_PD);
    }
    store<u32>(PAGE_KIND + (page << 2), KIND_FREE);
  }
  for (let s: u32 = 0; s < ROOT_SLOTS; s++) store<u32>(ROOT_PAGE + (s << 2), 0);
  store<u32>(FREE_COUNT, 0);
  store<u32>(BUMP, 0);
  store<u32>(S_SHADOW_PAGES, 0);
  store<u32>(S_SHADOW_CR3, 0);
  store<u32>(BUILT_PSE, load<u32>(S_CR + 16) & 0x10);
  poolGeneration++;
  tlbFlush(false);
}

/** Whether CR4.PSE differs from the one the shadows were built under. */
export function pseChanged(): bool {
  return (load<u32>(S_CR + 16) & 0x10) != load<u32>(BUILT_PSE);
}
