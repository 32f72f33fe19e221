// The translation cache: blocks of copied guest-kernel code in BT_CACHE, found by a hash of their
// linear address in HV_BT_META, and listed per guest frame so that a write to a frame finds the
// blocks translated from it.
//
// Blocks are bump-allocated and never freed one by one: an invalidated block is marked dead and
// unhooked from the hash table, and its memory is reused only when the whole cache is emptied
// (when it is full, or on reset). A chain link into a dead block is therefore safe to read; it is
// cut when next followed.

import {
  BT_CACHE_BASE,
  BT_CACHE_BYTES,
  HV_BT_META_BASE,
  HV_BT_META_BYTES,
  HV_BT_FRAMES_BASE,
  HV_BT_FRAMES_BYTES,
  HV_FRAME_BYTES,
  S_BT_CACHE_USED,
  S_BT_FLUSHES,
} from "../generated/layout";
import { TRACK_BT, trackFrame, untrackFrame } from "../mmu/write-tracking";

// Block header fields (byte offsets); the copied code follows the header.
export const B_LIN: u32 = 0; // linear address of the first byte
export const B_HOST: u32 = 4; // host address of the page holding the first byte
export const B_FLAGS: u32 = 8; // BF_* | flow << 4 | (callout + 1) << 8
export const B_COUNT: u32 = 12; // instructions
export const B_BYTES: u32 = 16; // bytes of code
export const B_HASH_NEXT: u32 = 20; // next block in the hash bucket
export const B_FRAME_NEXT: u32 = 24; // next block in the list of the first frame
export const B_FRAME_NEXT2: u32 = 28; // next block in the list of the second frame
export const B_HOST2: u32 = 32; // host page of the second frame (an instruction straddling pages)
export const B_SUCC0: u32 = 36; // linear address of the fall-through successor
export const B_LINK0: u32 = 40; // the block chained there, or 0
export const B_SUCC1: u32 = 44; // linear address of the direct branch target
export const B_LINK1: u32 = 48; // the block chained there, or 0
export const B_GFN: u32 = 52; // guest frame of the first byte, NO_FRAME for ROM
export const B_GFN2: u32 = 56; // guest frame of the second page, or NO_FRAME
export const B_CODE: u32 = 64;

export const BF_LIVE: u32 = 1;
export const BF_CS32: u32 = 2;
export const BF_TWO_PAGES: u32 = 4;
export const BF_SUCC0: u32 = 1 << 16;
export const BF_SUCC1: u32 = 1 << 17;

/** A frame nobody tracks: code in ROM (never written) has no list. */
export const NO_FRAME: u32 = 0xffffffff;

// HV_BT_META: hash buckets, then the frames that have a list (to untrack them all when the cache
// is emptied). HV_BT_FRAMES: one list head per guest frame (block | LISTED). The heads once
// followed the buckets in HV_BT_META and, for 4 GiB of frames, ran through HV_TRAP, HV_PV and
// HV_EPT_META, with the listed frames written into the ROM region.
const HASH_BITS: u32 = 14;
const HASH_BASE: u32 = HV_BT_META_BASE;
const HASH_BYTES: u32 = 4 << HASH_BITS;
const FRAMES: u32 = HV_FRAME_BYTES >>> 2;
const FRAME_HEADS: u32 = HV_BT_FRAMES_BASE;
const LISTED_BASE: u32 = HASH_BASE + HASH_BYTES;
const LISTED_MAX: u32 = (HV_BT_META_BASE + HV_BT_META_BYTES - LISTED_BASE) >>> 2;
const LISTED: u32 = 1;
// @ts-ignore: AssemblyScript's compile-time assertion
assert(FRAMES << 2 <= HV_BT_FRAMES_BYTES);

const CACHE_END: u32 = BT_CACHE_BASE + BT_CACHE_BYTES;
let top: u32 = BT_CACHE_BASE;
let listedCount: u32 = 0;
/** Incremented whenever the cache is emptied: block addresses from before are meaningless. */
export let cacheEpoch: u32 = 0;

@inline export function blockFlags(b: u32): u32 {
  return load<u32>(b + B_FLAGS);
}
@inline export function blockLive(b: u32): bool {
  return (load<u32>(b + B_FLAGS) & BF_LIVE) != 0;
}

@inline function bucket(lin: u32): u32 {
  return HASH_BASE + (((lin * 0x9e3779b1) >>> (32 - HASH_BITS)) << 2);
}

/** The live block for code at `lin` read through host page `host` with a CS of that size, or 0. */
export function cacheLookup(lin: u32, host: u32, cs32: bool): u32 {
  let b = load<u32>(bucket(lin));
  const want = cs32 ? BF_CS32 : 0;
  while (b != 0) {
    if (load<u32>(b + B_LIN) == lin && load<u32>(b + B_HOST) == host && (load<u32>(b + B_FLAGS) & BF_CS32) == want) {
      return b;
    }
    b = load<u32>(b + B_HASH_NEXT);
  }
  return 0;
}

/**
 * Room for a block of up to `bytes` at the top of the cache, emptying the whole cache first if it
 * is full. Returns the block's address; cacheCommit makes it permanent.
 */
export function cacheReserve(bytes: u32): u32 {
  if (top + bytes > CACHE_END || listedCount + 2 > LISTED_MAX) {
    cacheFlush();
    store<u32>(S_BT_FLUSHES, load<u32>(S_BT_FLUSHES) + 1);
  }
  return top;
}

/**
 * Tracks the frames a block was translated from (false if one cannot be tracked: then the code is
 * not translated, since a write to it would go unnoticed).
 */
export function cacheTrackFrames(gfn: u32, gfn2: u32): bool {
  if (gfn != NO_FRAME && !trackFrame(gfn, TRACK_BT)) return false;
  if (gfn2 != NO_FRAME && !trackFrame(gfn2, TRACK_BT)) return false;
  return true;
}

/** Publishes the block reserved at `b` (header filled in, `bytes` long): hash and frame lists. */
export function cacheCommit(b: u32, bytes: u32): void {
  top = (b + bytes + 7) & ~7;
  store<u32>(S_BT_CACHE_USED, top - BT_CACHE_BASE);
  const h = bucket(load<u32>(b + B_LIN));
  store<u32>(b + B_HASH_NEXT, load<u32>(h));
  store<u32>(h, b);
  const gfn = load<u32>(b + B_GFN);
  if (gfn != NO_FRAME) store<u32>(b + B_FRAME_NEXT, frameListPush(gfn, b));
  const gfn2 = load<u32>(b + B_GFN2);
  if (gfn2 != NO_FRAME) store<u32>(b + B_FRAME_NEXT2, frameListPush(gfn2, b));
}

/** Makes `b` the head of the frame's list; returns the previous head (the block's next). */
function frameListPush(gfn: u32, b: u32): u32 {
  const p = FRAME_HEADS + (gfn << 2);
  const head = load<u32>(p);
  if ((head & LISTED) == 0) {
    store<u32>(LISTED_BASE + (listedCount << 2), gfn);
    listedCount++;
  }
  store<u32>(p, b | LISTED);
  return head & ~LISTED;
}

/** First block of a frame's list (0 if none). */
@inline export function frameListHead(gfn: u32): u32 {
  return gfn < FRAMES ? load<u32>(FRAME_HEADS + (gfn << 2)) & ~LISTED : 0;
}

/** Replaces a frame's list (after invalidation removed some of its blocks). */
export function frameListSet(gfn: u32, first: u32): void {
  if (gfn < FRAMES) store<u32>(FRAME_HEADS + (gfn << 2), first | LISTED);
}

/** The next block after `b` in the list of frame `gfn`. */
@inline export function frameListNext(b: u32, gfn: u32): u32 {
  return load<u32>(b + (load<u32>(b + B_GFN) == gfn ? B_FRAME_NEXT : B_FRAME_NEXT2));
}
@inline export function frameListSetNext(b: u32, gfn: u32, next: u32): void {
  store<u32>(b + (load<u32>(b + B_GFN) == gfn ? B_FRAME_NEXT : B_FRAME_NEXT2), next);
}

/** Marks a block dead and unhooks it from the hash table (its frame lists drop it lazily). */
export function cacheKill(b: u32): void {
  const f = load<u32>(b + B_FLAGS);
  if ((f & BF_LIVE) == 0) return;
  store<u32>(b + B_FLAGS, f & ~BF_LIVE);
  const h = bucket(load<u32>(b + B_LIN));
  let p = h;
  let x = load<u32>(p);
  while (x != 0) {
    if (x == b) {
      store<u32>(p, load<u32>(b + B_HASH_NEXT));
      return;
    }
    p = x + B_HASH_NEXT;
    x = load<u32>(p);
  }
}

/** Empties the cache: every block, every frame list, every BT tracking of a frame. */
export function cacheFlush(): void {
  for (let i: u32 = 0; i < listedCount; i++) {
    const gfn = load<u32>(LISTED_BASE + (i << 2));
    store<u32>(FRAME_HEADS + (gfn << 2), 0);
    untrackFrame(gfn, TRACK_BT);
  }
  listedCount = 0;
  memory.fill(HASH_BASE, 0, HASH_BYTES);
  top = BT_CACHE_BASE;
  store<u32>(S_BT_CACHE_USED, 0);
  cacheEpoch++;
}
