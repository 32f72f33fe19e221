// The JIT's bookkeeping: which guest code has been compiled to WebAssembly, found by its linear
// address, and listed per guest frame so that a write to the frame finds the blocks it makes
// stale. The compiled functions themselves live in the host's function table, at
// JIT_TABLE_BASE + the block's number; this file knows only their numbers.
//
// HV_JIT_META holds, in order: the block records, the lookup hash (linear address -> block),
// the heat counters beside it, the per-frame chains (by frame number modulo FRAME_BUCKETS) and
// the stack of free block numbers.

import {
  HV_JIT_LINKS_BASE,
  HV_JIT_META_BASE,
  RAM_BASE,
  S_JIT_COMPILED,
  S_JIT_EVICTED,
  S_JIT_INVALIDATED,
  S_JIT_KILLS,
  S_JIT_LIVE,
} from "../generated/layout";
import { onJitCodeWrite, TRACK_JIT, trackFrame, untrackFrame } from "../mmu/write-tracking";

/** Blocks alive at once at most (a full store evicts one block per compile). */
export const MAX_BLOCKS: u32 = 4096;
const HASH_SLOTS: u32 = 16384;
const FRAME_BUCKETS: u32 = 4096;

const RECORD: u32 = 32;
const BLOCKS: u32 = HV_JIT_META_BASE;
const HASH: u32 = BLOCKS + MAX_BLOCKS * RECORD; // [lin, block + 1] per slot
const HEAT: u32 = HASH + HASH_SLOTS * 8; // [lin, misses] per slot
const BUCKETS: u32 = HEAT + HASH_SLOTS * 8; // block + 1 heading each chain
const FREE: u32 = BUCKETS + FRAME_BUCKETS * 4; // stack of free block numbers

// A block record.
const R_LIN: u32 = 0;
const R_HOST: u32 = 4; // host address of the code page
const R_FLAGS: u32 = 8; // BLOCK_*
const R_COUNT: u32 = 12; // instructions
const R_SPAN: u32 = 16; // page offset of the first byte | byte length << 16
const R_GFN: u32 = 20; // guest frame, or NO_FRAME (ROM)
const R_NEXT: u32 = 24; // next block + 1 in its frame chain
const R_SLOT: u32 = 28; // its hash slot

export const BLOCK_LIVE: u32 = 1;
/** Decoded with 32-bit default operand and address size (CS.D). */
export const BLOCK_CS32: u32 = 2;
/** Compiled for a 32-bit stack (SS.B): PUSH/POP use ESP. */
export const BLOCK_SS32: u32 = 4;
/** The bt mode's guest-kernel code: sensitive instructions are callouts (core/bt/compiled.ts). */
export const BLOCK_BT_KERNEL: u32 = 8;
/**
 * Compiled while ES, SS and DS were flat (SEG_FLAT): their accesses skip the segment checks.
 * Only an instruction the interpreter runs can change a segment, and jitStep then stops the block.
 */
export const BLOCK_FLAT: u32 = 16;
/** What a block assumes of the CPU's modes: a block runs only where they are as compiled. */
export const BLOCK_MODE: u32 = BLOCK_CS32 | BLOCK_SS32 | BLOCK_FLAT;
const NO_FRAME: u32 = 0xffffffff;

/** Chain-link cells per block (HV_JIT_LINKS; vmm/jit/emit.ts emits their use). */
export const LINKS_PER_BLOCK: u32 = 8;
export const LINK_BYTES: u32 = 16;
/** A block's first link cell. */
@inline export function blockLinks(b: u32): u32 {
  return HV_JIT_LINKS_BASE + b * LINKS_PER_BLOCK * LINK_BYTES;
}
/** The block whose link cell `cell` is. */
@inline export function linkOwner(cell: u32): u32 {
  return (cell - HV_JIT_LINKS_BASE) / (LINKS_PER_BLOCK * LINK_BYTES);
}

let freeCount: u32 = 0;

/**
 * Blocks dropped ever: the block executing stops when it changes, and a chain link made under an
 * older count is stale (compiled code compares it in memory, S_JIT_KILLS).
 */
@inline export function jitKills(): u32 {
  return load<u32>(S_JIT_KILLS);
}
@inline function killed(): void {
  store<u32>(S_JIT_KILLS, load<u32>(S_JIT_KILLS) + 1);
}

@inline export function hashSlot(lin: u32): u32 {
  return (lin * 0x9e3779b1) >>> 18;
}
/**
 * The slot of the pair (hashSlot(lin), and its neighbour ^ 1) whose block is for `lin`, or
 * hashSlot(lin) when neither's is: two ways, so that two hot addresses sharing a slot do not
 * evict each other's blocks on every compile.
 */
@inline export function lookupSlot(lin: u32): u32 {
  const s = hashSlot(lin);
  if (slotLin(s) == lin && slotBlock(s) != 0) return s;
  const t = s ^ 1;
  if (slotLin(t) == lin && slotBlock(t) != 0) return t;
  return s;
}
/** Where a new block for `lin` goes: over an older one for `lin`, else a free way, else either. */
function commitSlot(lin: u32): u32 {
  const s = hashSlot(lin);
  const t = s ^ 1;
  if (slotBlock(s) != 0 && slotLin(s) == lin) return s;
  if (slotBlock(t) != 0 && slotLin(t) == lin) return t;
  if (slotBlock(s) == 0) return s;
  if (slotBlock(t) == 0) return t;
  // Both ways taken by other addresses: the count of compiles picks one (no clock to go by;
  // whichever is dropped compiles again once it is hot).
  return (load<u32>(S_JIT_COMPILED) & 1) != 0 ? t : s;
}
@inline export function slotLin(slot: u32): u32 {
  return load<u32>(HASH + (slot << 3));
}
/** The block in a hash slot + 1 (0: none). */
@inline export function slotBlock(slot: u32): u32 {
  return load<u32>(HASH + (slot << 3) + 4);
}
@inline function record(b: u32): u32 {
  return BLOCKS + b * RECORD;
}
@inline export function blockHost(b: u32): u32 {
  return load<u32>(record(b) + R_HOST);
}
@inline export function blockFlags(b: u32): u32 {
  return load<u32>(record(b) + R_FLAGS);
}
@inline export function blockCount(b: u32): u32 {
  return load<u32>(record(b) + R_COUNT);
}
@inline export function blockBytes(b: u32): u32 {
  return load<u32>(record(b) + R_SPAN) >>> 16;
}

/** The heat entry heatUp last counted in (heatBackOff's). */
let heatEntry: u32 = 0;

/**
 * One more miss at `lin` (hash slot `slot`); true when its heat reached `threshold` (and it
 * starts again). Two entries per slot pair (slot and slot ^ 1), each an address and its misses.
 * An address in neither wears the colder entry down by one miss and takes it over only once it
 * is worn out, as frequent-item counters do: a stream of cold addresses through a pair cannot
 * keep resetting a hot one (with replace-on-miss, kernel paths run once per fork never reached
 * the threshold: 59 M of the fork loop's 66 M interpreted instructions were such code), and
 * addresses that share a pair never add up to a compile of neither's code.
 */
@inline export function heatUp(slot: u32, lin: u32, threshold: u32): bool {
  const p0 = HEAT + (slot << 3);
  const p1 = HEAT + ((slot ^ 1) << 3);
  let p = p0;
  let h: i32 = 1;
  if (load<u32>(p0) == lin) h = load<i32>(p0 + 4) + 1;
  else if (load<u32>(p1) == lin) {
    p = p1;
    h = load<i32>(p1 + 4) + 1;
  } else {
    const h0 = load<i32>(p0 + 4);
    const h1 = load<i32>(p1 + 4);
    if (abs<i32>(h1) < abs<i32>(h0)) p = p1;
    const hp = load<i32>(p + 4);
    if (hp > 1) {
      store<i32>(p + 4, hp - 1);
      return false;
    }
    store<u32>(p, lin);
  }
  heatEntry = p;
  if (h >= <i32>threshold) {
    store<i32>(p + 4, 0);
    return true;
  }
  store<i32>(p + 4, h);
  return false;
}

/**
 * The code heatUp just found hot could not be compiled: try again only after 64 thresholds'
 * worth of misses.
 */
export function heatBackOff(threshold: u32): void {
  store<i32>(heatEntry + 4, -<i32>(threshold < 0x100000 ? threshold << 6 : 0x4000000));
}

/** Empties the store: no block, every number free, every frame untracked by the JIT. */
export function jitReset(): void {
  for (let b: u32 = 0; b < MAX_BLOCKS; b++) {
    const r = record(b);
    if ((load<u32>(r + R_FLAGS) & BLOCK_LIVE) != 0) {
      const gfn = load<u32>(r + R_GFN);
      if (gfn != NO_FRAME) untrackFrame(gfn, TRACK_JIT);
    }
    store<u32>(r + R_FLAGS, 0);
  }
  memory.fill(HASH, 0, HASH_SLOTS * 8);
  memory.fill(HEAT, 0, HASH_SLOTS * 8);
  memory.fill(BUCKETS, 0, FRAME_BUCKETS * 4);
  for (let i: u32 = 0; i < MAX_BLOCKS; i++) store<u32>(FREE + (i << 2), MAX_BLOCKS - 1 - i);
  freeCount = MAX_BLOCKS;
  store<u32>(S_JIT_LIVE, 0);
  killed();
}

/** The next block a full store evicts (round robin over the block numbers). */
let clockHand: u32 = 0;

/**
 * A free block number for a compile. When every number is in use, one block is evicted, in
 * round-robin order: emptying the whole store (v86's way) made a kernel boot recompile its
 * hot code over and over once its working set passed the store's size.
 */
export function allocateBlock(): u32 {
  if (freeCount == 0) {
    const victim = clockHand;
    clockHand = (clockHand + 1) & (MAX_BLOCKS - 1);
    killBlock(victim);
    store<u32>(S_JIT_EVICTED, load<u32>(S_JIT_EVICTED) + 1);
  }
  freeCount--;
  return load<u32>(FREE + (freeCount << 2));
}

/** Returns a number allocateBlock gave out that was not used (the compile failed). */
export function releaseBlock(b: u32): void {
  store<u32>(FREE + (freeCount << 2), b);
  freeCount++;
}

/** The guest frame of a host code page: a RAM frame, or NO_FRAME for ROM. */
@inline function frameOf(host: u32): u32 {
  return host >= RAM_BASE ? (host - RAM_BASE) >>> 12 : NO_FRAME;
}

/**
 * Records compiled block `b` for the code at `lin` (host page `host`) and makes it the one the
 * lookup finds there. Its frame becomes write-tracked. False (and `b` released) when the frame
 * cannot be tracked.
 */
export function commitBlock(b: u32, lin: u32, host: u32, flags: u32, count: u32, bytes: u32): bool {
  const gfn = frameOf(host);
  if (gfn != NO_FRAME && !trackFrame(gfn, TRACK_JIT)) {
    releaseBlock(b);
    return false;
  }
  const slot = commitSlot(lin);
  const old = slotBlock(slot);
  if (old != 0) killBlock(old - 1);
  const r = record(b);
  memory.fill(blockLinks(b), 0, LINKS_PER_BLOCK * LINK_BYTES); // links of the number's last block
  store<u32>(r + R_LIN, lin);
  store<u32>(r + R_HOST, host);
  store<u32>(r + R_FLAGS, flags | BLOCK_LIVE);
  store<u32>(r + R_COUNT, count);
  store<u32>(r + R_SPAN, (lin & 0xfff) | (bytes << 16));
  store<u32>(r + R_GFN, gfn);
  store<u32>(r + R_SLOT, slot);
  store<u32>(HASH + (slot << 3), lin);
  store<u32>(HASH + (slot << 3) + 4, b + 1);
  if (gfn != NO_FRAME) {
    const head = BUCKETS + ((gfn & (FRAME_BUCKETS - 1)) << 2);
    store<u32>(r + R_NEXT, load<u32>(head));
    store<u32>(head, b + 1);
  } else store<u32>(r + R_NEXT, 0);
  store<u32>(S_JIT_LIVE, load<u32>(S_JIT_LIVE) + 1);
  return true;
}

/** Drops block `b`: out of the lookup and its frame chain; its number is free again. */
function killBlock(b: u32): void {
  const r = record(b);
  const slot = load<u32>(r + R_SLOT);
  if (slotBlock(slot) == b + 1) store<u32>(HASH + (slot << 3) + 4, 0);
  const gfn = load<u32>(r + R_GFN);
  if (gfn != NO_FRAME) {
    // Unlink from the chain; untrack the frame when no block of it is left.
    let p = BUCKETS + ((gfn & (FRAME_BUCKETS - 1)) << 2);
    let others = false;
    let c = load<u32>(p);
    while (c != 0) {
      const cr = record(c - 1);
      if (c - 1 == b) store<u32>(p, load<u32>(cr + R_NEXT));
      else {
        if (load<u32>(cr + R_GFN) == gfn) others = true;
        p = cr + R_NEXT;
      }
      c = load<u32>(p);
    }
    if (!others) untrackFrame(gfn, TRACK_JIT);
  }
  store<u32>(r + R_FLAGS, 0);
  releaseBlock(b);
  store<u32>(S_JIT_LIVE, load<u32>(S_JIT_LIVE) - 1);
  killed();
}

/**
 * A write of `size` bytes at guest-physical `gpa` reached a frame holding compiled code (after
 * it was stored): the blocks whose bytes it overlaps are dropped.
 */
export function jitTrackedWrite(gpa: u32, size: u32): void {
  const gfn = gpa >>> 12;
  const lo = gpa & 0xfff;
  const hi = lo + size; // physical.ts splits writes at page boundaries
  let c = load<u32>(BUCKETS + ((gfn & (FRAME_BUCKETS - 1)) << 2));
  let killed: u32 = 0;
  while (c != 0) {
    const b = c - 1;
    const r = record(b);
    c = load<u32>(r + R_NEXT);
    if (load<u32>(r + R_GFN) != gfn) continue;
    const span = load<u32>(r + R_SPAN);
    const start = span & 0xfff;
    const end = start + (span >>> 16);
    if (lo < end && hi > start) {
      killBlock(b);
      killed++;
    }
  }
  if (killed != 0) store<u32>(S_JIT_INVALIDATED, load<u32>(S_JIT_INVALIDATED) + killed);
}

onJitCodeWrite(jitTrackedWrite);
