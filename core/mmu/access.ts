// Guest memory accesses as instructions make them: segment checks (limit, rights), then the
// TLB fast path, then the slow path (page walk, page-crossing, device memory, ROM, alignment).
// Every routine that can fault records the fault (cpu/fault.ts) and returns 0; callers check
// `faulted` before changing any state.

import { faulted, gp, raise, ssFault, VEC_AC } from "../cpu/fault";
import { SS } from "../cpu/state";
import { ACCESS_READ, ACCESS_WRITE, watchAccess } from "./watch";
import {
  DEBUG_ARMED_DATA,
  RAM_BASE,
  S_CPL,
  S_DEBUG_ARMED,
  S_SEG_BASE,
  S_SEG_RHI,
  S_SEG_RLO,
  S_SEG_WHI,
  S_SEG_WLO,
  S_TLB_READ_MASK,
  S_TLB_WRITE_MASK,
  TLB_BASE,
  TLB_NO_SUPER_WRITE,
  TLB_NO_USER_READ,
  TLB_NO_USER_WRITE,
  TLB_SLOW,
  TLB_VALID,
  TLB_WRITE_PHYS_SUPER,
  TLB_WRITE_PHYS_USER,
} from "../generated/layout";
import { hostToPhysical, physRead16, physRead32, physRead8, physWrite16, physWrite32, physWrite8 } from "./physical";
import { dirtyLogging } from "./dirty-log";
import { tlbFill, tlbReopenWrite } from "./tlb";

/** Alignment checking is on (CR0.AM, EFLAGS.AC, CPL 3): every access takes the slow path. */
export let alignmentCheck: bool = false;
export function setAlignmentCheck(on: bool): void {
  alignmentCheck = on;
}

// ---- segment checks -----------------------------------------------------------------------

@inline function segFault(seg: u32): void {
  if (seg == SS) ssFault(0);
  else gp(0);
}

/** Linear address of a data read of `size` bytes at seg:off, or faults. */
@inline export function segRead(seg: u32, off: u32, size: u32): u32 {
  const lo = load<u32>(S_SEG_RLO + (seg << 2));
  const hi = load<u32>(S_SEG_RHI + (seg << 2));
  if (off < lo || off > hi - (size - 1) || hi < lo + (size - 1)) {
    segFault(seg);
    return 0;
  }
  return load<u32>(S_SEG_BASE + (seg << 2)) + off;
}

/** Linear address of a data write of `size` bytes at seg:off, or faults. */
@inline export function segWrite(seg: u32, off: u32, size: u32): u32 {
  const lo = load<u32>(S_SEG_WLO + (seg << 2));
  const hi = load<u32>(S_SEG_WHI + (seg << 2));
  if (off < lo || off > hi - (size - 1) || hi < lo + (size - 1)) {
    segFault(seg);
    return 0;
  }
  return load<u32>(S_SEG_BASE + (seg << 2)) + off;
}

// ---- linear accesses at the current privilege level ------------------------------------------

@inline export function readLin8(lin: u32): u32 {
  const e = load<u32>(TLB_BASE + ((lin >>> 12) << 2));
  if ((e & load<u32>(S_TLB_READ_MASK)) == TLB_VALID) return load<u8>((e & ~0xfff) + (lin & 0xfff));
  return readSlow(lin, 1, load<u32>(S_CPL) == 3);
}
@inline export function readLin16(lin: u32): u32 {
  const e = load<u32>(TLB_BASE + ((lin >>> 12) << 2));
  if ((e & load<u32>(S_TLB_READ_MASK)) == TLB_VALID && (lin & 0xfff) <= 0xffe) return load<u16>((e & ~0xfff) + (lin & 0xfff));
  return readSlow(lin, 2, load<u32>(S_CPL) == 3);
}
@inline export function readLin32(lin: u32): u32 {
  const e = load<u32>(TLB_BASE + ((lin >>> 12) << 2));
  if ((e & load<u32>(S_TLB_READ_MASK)) == TLB_VALID && (lin & 0xfff) <= 0xffc) return load<u32>((e & ~0xfff) + (lin & 0xfff));
  return readSlow(lin, 4, load<u32>(S_CPL) == 3);
}
@inline export function writeLin8(lin: u32, v: u32): void {
  const e = load<u32>(TLB_BASE + ((lin >>> 12) << 2));
  if ((e & load<u32>(S_TLB_WRITE_MASK)) == TLB_VALID) store<u8>((e & ~0xfff) + (lin & 0xfff), <u8>v);
  else writeSlow(lin, 1, v, load<u32>(S_CPL) == 3);
}
@inline export function writeLin16(lin: u32, v: u32): void {
  const e = load<u32>(TLB_BASE + ((lin >>> 12) << 2));
  if ((e & load<u32>(S_TLB_WRITE_MASK)) == TLB_VALID && (lin & 0xfff) <= 0xffe) store<u16>((e & ~0xfff) + (lin & 0xfff), <u16>v);
  else writeSlow(lin, 2, v, load<u32>(S_CPL) == 3);
}
@inline export function writeLin32(lin: u32, v: u32): void {
  const e = load<u32>(TLB_BASE + ((lin >>> 12) << 2));
  if ((e & load<u32>(S_TLB_WRITE_MASK)) == TLB_VALID && (lin & 0xfff) <= 0xffc) store<u32>((e & ~0xfff) + (lin & 0xfff), v);
  else writeSlow(lin, 4, v, load<u32>(S_CPL) == 3);
}

// ---- segment-relative accesses ----------------------------------------------------------------

@inline export function read8(seg: u32, off: u32): u32 {
  const lin = segRead(seg, off, 1);
  if (faulted) return 0;
  return readLin8(lin);
}
@inline export function read16(seg: u32, off: u32): u32 {
  const lin = segRead(seg, off, 2);
  if (faulted) return 0;
  return readLin16(lin);
}
@inline export function read32(seg: u32, off: u32): u32 {
  const lin = segRead(seg, off, 4);
  if (faulted) return 0;
  return readLin32(lin);
}
@inline export function write8(seg: u32, off: u32, v: u32): void {
  const lin = segWrite(seg, off, 1);
  if (faulted) return;
  writeLin8(lin, v);
}
@inline export function write16(seg: u32, off: u32, v: u32): void {
  const lin = segWrite(seg, off, 2);
  if (faulted) return;
  writeLin16(lin, v);
}
@inline export function write32(seg: u32, off: u32, v: u32): void {
  const lin = segWrite(seg, off, 4);
  if (faulted) return;
  writeLin32(lin, v);
}

// ---- supervisor (implicit) accesses: descriptor tables, TSS, interrupt frames at CPL 0 -----

export function sysRead8(lin: u32): u32 {
  return readSlow(lin, 1, false);
}
export function sysRead16(lin: u32): u32 {
  return readSlow(lin, 2, false);
}
export function sysRead32(lin: u32): u32 {
  return readSlow(lin, 4, false);
}
export function sysWrite8(lin: u32, v: u32): void {
  writeSlow(lin, 1, v, false);
}
export function sysWrite16(lin: u32, v: u32): void {
  writeSlow(lin, 2, v, false);
}
export function sysWrite32(lin: u32, v: u32): void {
  writeSlow(lin, 4, v, false);
}

// ---- slow paths ----------------------------------------------------------------------------

/** Entry for one page checked for the access; 0 after #PF. */
function entryFor(lin: u32, write: bool, user: bool): u32 {
  let e = load<u32>(TLB_BASE + ((lin >>> 12) << 2));
  const deny: u32 = write ? (user ? TLB_NO_USER_WRITE : TLB_NO_SUPER_WRITE) : user ? TLB_NO_USER_READ : 0;
  // A permitted write to write-tracked RAM is refused on the fast path only to reach physical.ts.
  const viaPhysical: u32 = write ? (user ? TLB_WRITE_PHYS_USER : TLB_WRITE_PHYS_SUPER) : 0;
  if ((e & TLB_VALID) == 0 || ((e & deny) != 0 && (e & viaPhysical) == 0)) {
    e = tlbFill(lin, write, user);
    if (faulted) return 0;
  }
  return e;
}

function entryRead8(e: u32, lin: u32): u32 {
  if ((e & TLB_SLOW) != 0) return physRead8((e & ~0xfff) | (lin & 0xfff));
  return load<u8>((e & ~0xfff) + (lin & 0xfff));
}

/**
 * An entry filled for a write that still refuses supervisor writes is ROM or write-tracked RAM
 * (a permitted write's fill sets the dirty bit, so nothing else is left): such writes go to
 * physical.ts, which drops them (ROM) or lets the tracker see them.
 */
@inline function writeNeedsPhysical(e: u32): bool {
  return (e & (TLB_SLOW | TLB_NO_SUPER_WRITE)) != 0;
}

/** The guest-physical address of `lin` in a slow or write-refusing RAM entry. */
@inline function entryPhysical(e: u32, lin: u32): u32 {
  const page = e & ~0xfff;
  return ((e & TLB_SLOW) != 0 ? page : hostToPhysical(page)) | (lin & 0xfff);
}

/**
 * A write-refusing entry whose host page is not guest RAM: ROM, or memory the trap VMM maps
 * read-only. The write is dropped (it has no guest-physical page to go to).
 */
@inline function writeDropped(e: u32): bool {
  return (e & TLB_SLOW) == 0 && (e & ~0xfff) < RAM_BASE;
}

function entryWrite8(e: u32, lin: u32, v: u32): void {
  if (writeDropped(e)) return;
  if (writeNeedsPhysical(e)) physWrite8(entryPhysical(e, lin), v);
  else store<u8>((e & ~0xfff) + (lin & 0xfff), <u8>v);
}

/**
 * Alignment an access of `size` bytes needs for #AC (SDM vol. 3, table 6-7): words 2, doublewords
 * and 48-bit pointers 4, quadwords and 80-bit reals 8, x87 environment/state images 4.
 */
@inline function alignmentOf(size: u32): u32 {
  if (size >= 8 && size <= 10) return 8;
  if (size >= 4) return 4;
  return size;
}

@inline function checkAlignment(lin: u32, size: u32, user: bool): bool {
  if (alignmentCheck && user && (lin & (alignmentOf(size) - 1)) != 0) {
    raise(VEC_AC, 0);
    return false;
  }
  return true;
}

/** Data breakpoints are armed (the TLB masks then send every access here). */
@inline function watching(): bool {
  return (load<u32>(S_DEBUG_ARMED) & DEBUG_ARMED_DATA) != 0;
}

export function readSlow(lin: u32, size: u32, user: bool): u32 {
  if (watching()) watchAccess(lin, size, ACCESS_READ);
  if (!checkAlignment(lin, size, user)) return 0;
  const e = entryFor(lin, false, user);
  if (faulted) return 0;
  const off = lin & 0xfff;
  if (off + size <= 0x1000) {
    if ((e & TLB_SLOW) != 0) {
      const phys = (e & ~0xfff) | off;
      return size == 1 ? physRead8(phys) : hostMmioReadSized(phys, size);
    }
    const host = (e & ~0xfff) + off;
    return size == 1 ? <u32>load<u8>(host) : size == 2 ? <u32>load<u16>(host) : load<u32>(host);
  }
  // Crosses a page: both pages must be present before any byte is read.
  const e2 = entryFor((lin + size - 1) & ~0xfff, false, user);
  if (faulted) return 0;
  let v: u32 = 0;
  for (let i: u32 = 0; i < size; i++) {
    const a = lin + i;
    const b = ((a ^ lin) & ~0xfff) == 0 ? entryRead8(e, a) : entryRead8(e2, a);
    v |= b << (i << 3);
  }
  return v;
}

/** Device memory and open bus, one sized access (devices see 16- and 32-bit accesses whole). */
function hostMmioReadSized(phys: u32, size: u32): u32 {
  return size == 2 ? physRead16(phys) : physRead32(phys);
}

export function writeSlow(lin: u32, size: u32, v: u32, user: bool): void {
  if (watching()) watchAccess(lin, size, ACCESS_WRITE);
  if (!checkAlignment(lin, size, user)) return;
  const e = entryFor(lin, true, user);
  if (faulted) return;
  const off = lin & 0xfff;
  if (off + size <= 0x1000) {
    if (writeDropped(e)) return;
    if (writeNeedsPhysical(e)) {
      const phys = entryPhysical(e, lin);
      if (size == 1) physWrite8(phys, v);
      else hostWriteSized(phys, size, v);
      // The dirty log has this frame now (it was write-protected for that): the next writes
      // through this entry may be fast again (dirty-log.ts).
      if (dirtyLogging) tlbReopenWrite(lin, e);
      return;
    }
    const host = (e & ~0xfff) + off;
    if (size == 1) store<u8>(host, <u8>v);
    else if (size == 2) store<u16>(host, <u16>v);
    else store<u32>(host, v);
    return;
  }
  const e2 = entryFor((lin + size - 1) & ~0xfff, true, user);
  if (faulted) return;
  for (let i: u32 = 0; i < size; i++) {
    const a = lin + i;
    const b = (v >>> (i << 3)) & 0xff;
    if (((a ^ lin) & ~0xfff) == 0) entryWrite8(e, a, b);
    else entryWrite8(e2, a, b);
  }
}

function hostWriteSized(phys: u32, size: u32, v: u32): void {
  if (size == 2) physWrite16(phys, v);
  else physWrite32(phys, v);
}

// ---- read-modify-write --------------------------------------------------------------------
// The destination is checked for writing before anything is read, so the instruction either
// faults having changed nothing or completes.

let rmwHost: u32 = 0; // host address when the operand is plain RAM in one page, else 0
let rmwLin: u32 = 0;
let rmwE1: u32 = 0;
let rmwE2: u32 = 0;

/** Prepares a read-modify-write of `size` bytes at seg:off. False after a fault. */
export function rmwBegin(seg: u32, off: u32, size: u32): bool {
  const lin = segWrite(seg, off, size);
  if (faulted) return false;
  return rmwBeginLinear(lin, size);
}

export function rmwBeginLinear(lin: u32, size: u32): bool {
  rmwLin = lin;
  const e = load<u32>(TLB_BASE + ((lin >>> 12) << 2));
  if ((e & load<u32>(S_TLB_WRITE_MASK)) == TLB_VALID && (lin & 0xfff) <= 0x1000 - size) {
    rmwHost = (e & ~0xfff) + (lin & 0xfff);
    return true;
  }
  if (watching()) watchAccess(lin, size, ACCESS_READ | ACCESS_WRITE);
  const user = load<u32>(S_CPL) == 3;
  if (!checkAlignment(lin, size, user)) return false;
  rmwE1 = entryFor(lin, true, user);
  if (faulted) return false;
  // A frame the dirty log already has (it is plain RAM again) takes direct writes.
  if (dirtyLogging) rmwE1 = tlbReopenWrite(lin, rmwE1);
  rmwE2 = entryFor((lin + size - 1) & ~0xfff, true, user);
  if (faulted) return false;
  rmwHost = 0;
  if (!writeNeedsPhysical(rmwE1) && (lin & 0xfff) <= 0x1000 - size) {
    // Plain RAM whose dirty bit was just set: direct access is fine.
    rmwHost = (rmwE1 & ~0xfff) + (lin & 0xfff);
  }
  return true;
}

function rmwReadBytes(size: u32): u32 {
  let v: u32 = 0;
  for (let i: u32 = 0; i < size; i++) {
    const a = rmwLin + i;
    const b = ((a ^ rmwLin) & ~0xfff) == 0 ? entryRead8(rmwE1, a) : entryRead8(rmwE2, a);
    v |= b << (i << 3);
  }
  return v;
}

function rmwWriteBytes(size: u32, v: u32): void {
  for (let i: u32 = 0; i < size; i++) {
    const a = rmwLin + i;
    const b = (v >>> (i << 3)) & 0xff;
    if (((a ^ rmwLin) & ~0xfff) == 0) entryWrite8(rmwE1, a, b);
    else entryWrite8(rmwE2, a, b);
  }
}

@inline export function rmwRead8(): u32 {
  return rmwHost != 0 ? <u32>load<u8>(rmwHost) : rmwReadBytes(1);
}
@inline export function rmwRead16(): u32 {
  return rmwHost != 0 ? <u32>load<u16>(rmwHost) : rmwReadBytes(2);
}
@inline export function rmwRead32(): u32 {
  return rmwHost != 0 ? load<u32>(rmwHost) : rmwReadBytes(4);
}
@inline export function rmwWrite8(v: u32): void {
  if (rmwHost != 0) store<u8>(rmwHost, <u8>v);
  else rmwWriteBytes(1, v);
}
@inline export function rmwWrite16(v: u32): void {
  if (rmwHost != 0) store<u16>(rmwHost, <u16>v);
  else rmwWriteBytes(2, v);
}
@inline export function rmwWrite32(v: u32): void {
  if (rmwHost != 0) store<u32>(rmwHost, v);
  else rmwWriteBytes(4, v);
}
