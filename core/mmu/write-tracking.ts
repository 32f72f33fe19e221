// Write tracking of guest frames: the shadow MMU tracks the guest's page-table pages, the
// binary translator and the JIT the pages they translated code from, and the dirty log
// (dirty-log.ts) every RAM frame not yet logged while a migration logs. A tracked frame is PHYS_TRACKED in
// PHYSMAP, so TLB entries never allow fast writes to it and every write reaches physical.ts,
// which calls trackedWrite after storing. HV_FRAME holds one word of owner bits per frame.

import {
  HV_FRAME_BASE,
  HV_FRAME_BYTES,
  MMU_EPT,
  PHYS_RAM,
  PHYS_TRACKED,
  PHYSMAP_BASE,
  S_MMU_MODE,
} from "../generated/layout";
import { markDirty } from "./dirty-bitmap";
import { eptMarkDirty } from "./ept-dirty";
import { shadowTrackedWrite } from "./shadow";
import { tlbFlush, tlbWriteProtectHost } from "./tlb";

/** Owner bits of a frame's tracking word. */
export const TRACK_SHADOW_PT: u32 = 1;
export const TRACK_SHADOW_PD: u32 = 2;
export const TRACK_BT: u32 = 4;
export const TRACK_JIT: u32 = 8;
/** Not written since the dirty log last collected it: the first write logs the frame. */
export const TRACK_MIGRATE: u32 = 16;

const FRAMES: u32 = HV_FRAME_BYTES >>> 2;

function noCodeWrite(gpa: u32, size: u32): void {}
// The translators live above the MMU (docs/architecture.md, floors): each registers what to do
// when a write reaches a frame it translated code from (core/bt/invalidate.ts,
// core/jit/blocks.ts). One indirect call per write to such a frame; nothing on other writes.
let btTrackedWrite: (gpa: u32, size: u32) => void = noCodeWrite;
let jitTrackedWrite: (gpa: u32, size: u32) => void = noCodeWrite;
export function onBtCodeWrite(hook: (gpa: u32, size: u32) => void): void {
  btTrackedWrite = hook;
}
export function onJitCodeWrite(hook: (gpa: u32, size: u32) => void): void {
  jitTrackedWrite = hook;
}

@inline export function frameOwners(gfn: u32): u32 {
  return gfn < FRAMES ? load<u32>(HV_FRAME_BASE + (gfn << 2)) : 0;
}

/** Adds an owner; the frame becomes tracked (false if it is not RAM this table covers). */
export function trackFrame(gfn: u32, owner: u32): bool {
  if (gfn >= FRAMES) return false;
  const pm = PHYSMAP_BASE + (gfn << 2);
  const e = load<u32>(pm);
  const kind = e & 0xf;
  if (kind != PHYS_RAM && kind != PHYS_TRACKED) return false;
  const p = HV_FRAME_BASE + (gfn << 2);
  store<u32>(p, load<u32>(p) | owner);
  if (kind == PHYS_RAM) {
    store<u32>(pm, (e & ~0xf) | PHYS_TRACKED);
    // Existing TLB entries may allow fast writes to the frame. The JIT compiles at moments that
    // depend on how run() was sliced, so it must not disturb the TLB (or the walk counters): its
    // frames only lose fast writes.
    if (owner == TRACK_JIT) tlbWriteProtectHost(e & ~0xfff);
    else tlbFlush(false);
  }
  return true;
}

/**
 * Adds an owner without touching the TLB: the caller takes fast writes away from the entries
 * that map the frame (tlbWriteProtectTracked) after tracking a batch. A frame that is not RAM
 * now keeps the owner, so RAM mapped there later is tracked (mapPhysical).
 */
export function protectFrame(gfn: u32, owner: u32): void {
  if (gfn >= FRAMES) return;
  const p = HV_FRAME_BASE + (gfn << 2);
  store<u32>(p, load<u32>(p) | owner);
  const pm = PHYSMAP_BASE + (gfn << 2);
  const e = load<u32>(pm);
  if ((e & 0xf) == PHYS_RAM) store<u32>(pm, (e & ~0xf) | PHYS_TRACKED);
}

/** The dirty log's first write to a frame since it was collected: logged, and no longer tracked for it. */
@inline function logWrite(gfn: u32, owners: u32): void {
  if ((owners & TRACK_MIGRATE) != 0) {
    markDirty(gfn);
    untrackFrame(gfn, TRACK_MIGRATE);
  }
}

/** Removes an owner; with none left the frame is plain RAM again. */
export function untrackFrame(gfn: u32, owner: u32): void {
  if (gfn >= FRAMES) return;
  const p = HV_FRAME_BASE + (gfn << 2);
  const left = load<u32>(p) & ~owner;
  store<u32>(p, left);
  if (left == 0) {
    const pm = PHYSMAP_BASE + (gfn << 2);
    const e = load<u32>(pm);
    if ((e & 0xf) == PHYS_TRACKED) store<u32>(pm, (e & ~0xf) | PHYS_RAM);
  }
}

/**
 * The VMM itself stored `size` bytes at `gpa` (the shadow MMU's walk setting the guest's
 * accessed and dirty bits): the shadow stays, since the VMM made the change it knows about, but
 * translated code in those bytes is stale, as native execution would fetch the new bytes.
 */
export function vmmWroteGuest(gpa: u32, size: u32): void {
  const owners = frameOwners(gpa >>> 12);
  if ((owners & TRACK_BT) != 0) btTrackedWrite(gpa, size);
  if ((owners & TRACK_JIT) != 0) jitTrackedWrite(gpa, size);
  logWrite(gpa >>> 12, owners);
}

/**
 * The host wrote [gpa, gpa + len) of guest RAM directly (a loader, DMA): tracked frames in the
 * range are told as if the guest had written them, so no shadow entry or translation stays stale.
 */
export function hostWrote(gpa: u32, len: u32): void {
  let a = gpa;
  const ept = load<u32>(S_MMU_MODE) == MMU_EPT;
  const end = gpa + len;
  while (a < end && a >= gpa) {
    const pageEnd = (a | 0xfff) + 1;
    const n = (pageEnd == 0 || pageEnd > end ? end : pageEnd) - a;
    if (ept) eptMarkDirty(a);
    const owners = frameOwners(a >>> 12);
    if ((owners & TRACK_BT) != 0) btTrackedWrite(a, n);
    if ((owners & TRACK_JIT) != 0) jitTrackedWrite(a, n);
    if ((owners & (TRACK_SHADOW_PT | TRACK_SHADOW_PD)) != 0) {
      for (let e = a & ~3; e < a + n; e += 4) shadowTrackedWrite(e);
    }
    logWrite(a >>> 12, owners);
    if (pageEnd == 0) break;
    a = pageEnd;
  }
}

/** A guest write of `size` bytes at `gpa` reached a tracked frame (after it was stored). */
export function trackedWrite(gpa: u32, size: u32): void {
  const owners = frameOwners(gpa >>> 12);
  if ((owners & (TRACK_SHADOW_PT | TRACK_SHADOW_PD)) != 0) shadowTrackedWrite(gpa);
  if ((owners & TRACK_BT) != 0) btTrackedWrite(gpa, size);
  if ((owners & TRACK_JIT) != 0) jitTrackedWrite(gpa, size);
  logWrite(gpa >>> 12, owners);
}
