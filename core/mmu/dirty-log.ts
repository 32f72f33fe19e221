// The machine's dirty-page log, for live migration's pre-copy rounds, in every MMU mode: which
// guest frames were written since the log was last collected, whoever wrote them (the CPU through
// the interpreter, compiled code or translated code, the core's own writes, device DMA and the
// host's loaders).
//
// HV_DIRTY_LOG holds two bitmaps with one bit per 4 KiB frame of the 4 GiB guest-physical space:
// PENDING fills as frames are written, LOG is what the last collection moved out of it for the
// host to read. Two ways fill PENDING:
// - Under EPT (hvm, pv) the leaves' dirty flags (ept-dirty.ts), always on, as hardware does.
// - Elsewhere (native, trap, bt, hvm with shadow or direct paging) write protection through
//   write tracking, on only while the host logs (dirtyLogStart to dirtyLogStop), as KVM logs
//   without PML: every RAM frame not yet in PENDING is tracked with TRACK_MIGRATE, so no TLB
//   entry allows a fast write to it and its first write reaches physical.ts, which marks the
//   frame and drops TRACK_MIGRATE (write-tracking.ts). The TLB entry that took that write gets
//   its fast writes back on the next one (access.ts, tlbReopenWrite), so a page the guest keeps
//   writing costs one slow write per round. Collecting protects the frames it moves out again
//   and takes fast writes away from the TLB entries that map them.
//
// The invariant while logging: every RAM frame is in PENDING or tracked with TRACK_MIGRATE.

import { HV_DIRTY_LOG_BASE, MMU_EPT, S_MMU_MODE, S_RAM_SIZE } from "../generated/layout";
import { DIRTY_BITMAP_BYTES, DIRTY_LOG, DIRTY_PENDING } from "./dirty-bitmap";
import { eptDirtyClear, eptHarvestDirty } from "./ept-dirty";
import { tlbFlush, tlbReopenUntracked, tlbWriteProtectTracked } from "./tlb";
import { protectFrame, TRACK_MIGRATE, untrackFrame } from "./write-tracking";

/** Write protection for the log is on (never under EPT, whose dirty flags log by themselves). */
export let dirtyLogging: bool = false;

/** Host address of the bitmap the last dirtyLogCollect wrote (bit g = guest frame g). */
export function dirtyLogAddress(): u32 {
  return DIRTY_LOG;
}

@inline function ramFrames(): u32 {
  return load<u32>(S_RAM_SIZE) >>> 12;
}

/**
 * Starts logging with an empty log: from now on every write sets its frame's bit. Under EPT the
 * leaves' dirty flags are cleared (they log anyway); elsewhere every RAM frame is write-protected.
 */
export function dirtyLogStart(): void {
  if (load<u32>(S_MMU_MODE) == MMU_EPT) {
    dirtyLogging = false;
    eptHarvestDirty();
    eptDirtyClear();
    tlbFlush(false);
    return;
  }
  memory.fill(HV_DIRTY_LOG_BASE, 0, DIRTY_BITMAP_BYTES << 1);
  const n = ramFrames();
  for (let gfn: u32 = 0; gfn < n; gfn++) protectFrame(gfn, TRACK_MIGRATE);
  tlbWriteProtectTracked();
  dirtyLogging = true;
}

/** Ends write protection for the log (the TLB entries it slowed get their fast writes back). */
export function dirtyLogStop(): void {
  if (!dirtyLogging) return;
  dirtyLogging = false;
  const n = ramFrames();
  for (let gfn: u32 = 0; gfn < n; gfn++) untrackFrame(gfn, TRACK_MIGRATE);
  tlbReopenUntracked();
}

/**
 * The frames written since the last collection (or the start): moves them to LOG for the host
 * (bit g = guest frame g), empties PENDING, protects those frames again; returns how many.
 * Under EPT this is the EPT log's collection, whether or not dirtyLogStart was called.
 */
export function dirtyLogCollect(): u32 {
  const ept = load<u32>(S_MMU_MODE) == MMU_EPT;
  if (ept) eptHarvestDirty();
  memory.copy(DIRTY_LOG, DIRTY_PENDING, DIRTY_BITMAP_BYTES);
  memory.fill(DIRTY_PENDING, 0, DIRTY_BITMAP_BYTES);
  let n: u32 = 0;
  for (let off: u32 = 0; off < DIRTY_BITMAP_BYTES; off += 8) {
    let bits = load<u64>(DIRTY_LOG + off);
    if (bits == 0) continue;
    n += <u32>popcnt<u64>(bits);
    if (!dirtyLogging) continue;
    const base = off << 3;
    while (bits != 0) {
      protectFrame(base + <u32>ctz<u64>(bits), TRACK_MIGRATE);
      bits &= bits - 1;
    }
  }
  // The leaves' dirty flags were cleared, so every TLB entry may allow writes it must not.
  if (ept) tlbFlush(false);
  else if (dirtyLogging && n != 0) tlbWriteProtectTracked();
  return n;
}
