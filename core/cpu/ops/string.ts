// String instructions with REP/REPE/REPNE: MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS.
// Each iteration commits its register updates, so a fault in iteration k restarts at k, and a
// REP instruction runs in chunks bounded by the run's budget (core/cpu/rep.ts).

import { ioExits, ioQualification, vmExit } from "../../virt/vmx";
import {
  S_EFLAGS,
  S_INTR,
  S_SEG_BASE,
  S_SEG_RHI,
  S_SEG_RLO,
  S_SEG_WHI,
  S_SEG_WLO,
  S_STOP_REQUEST,
  S_TLB_READ_MASK,
  S_TLB_WRITE_MASK,
  TLB_BASE,
  TLB_VALID,
} from "../../generated/layout";
import { hostIoRead, hostIoWrite } from "../../host";
import { read16, read32, read8, write16, write32, write8 } from "../../mmu/access";
import { addrsize32, dataSeg, insnEip, repPrefix, setNextEip } from "../decode";
import { faulted, gp } from "../fault";
import { getZF, OP_SUB, setFlagsArith } from "../flags";
import { ioPermitted } from "../protected/io-permission";
import { countRepIterations, repAllowance, setRepProgress } from "../rep";
import { EAX, ECX, EDI, EDX, ES, ESI, FLAG_DF, reg16, reg32, reg8, setReg16, setReg32, setReg8 } from "../state";
import { EXIT_IO_INSTRUCTION } from "../../generated/abi";

@inline function index(r: u32): u32 {
  return addrsize32 ? reg32(r) : reg16(r);
}
@inline function step(size: u32): u32 {
  return (load<u32>(S_EFLAGS) & FLAG_DF) != 0 ? <u32>-<i32>size : size;
}
@inline function advance(r: u32, delta: u32): void {
  if (addrsize32) setReg32(r, reg32(r) + delta);
  else setReg16(r, (reg16(r) + delta) & 0xffff);
}
@inline function count(): u32 {
  return addrsize32 ? reg32(ECX) : reg16(ECX);
}
@inline function setCount(c: u32): void {
  if (addrsize32) setReg32(ECX, c);
  else setReg16(ECX, c & 0xffff);
}

@inline function segBaseOf(seg: u32): u32 {
  return load<u32>(S_SEG_BASE + (seg << 2));
}

/** The offsets [off, off+bytes) are all inside the segment's read or write window. */
@inline function segmentCovers(seg: u32, off: u32, bytes: u32, write: bool): bool {
  const lo = load<u32>((write ? S_SEG_WLO : S_SEG_RLO) + (seg << 2));
  const hi = load<u32>((write ? S_SEG_WHI : S_SEG_RHI) + (seg << 2));
  return off >= lo && off <= hi && hi - off >= bytes - 1;
}

/** Host address of a linear address whose TLB entry allows the fast path, else 0. */
@inline function fastHost(lin: u32, write: bool): u32 {
  const e = load<u32>(TLB_BASE + ((lin >>> 12) << 2));
  if ((e & load<u32>(write ? S_TLB_WRITE_MASK : S_TLB_READ_MASK)) != TLB_VALID) return 0;
  return (e & ~0xfff) + (lin & 0xfff);
}

@inline function readSized(seg: u32, off: u32, size: u32): u32 {
  return size == 1 ? read8(seg, off) : size == 2 ? read16(seg, off) : read32(seg, off);
}
@inline function writeSized(seg: u32, off: u32, size: u32, v: u32): void {
  if (size == 1) write8(seg, off, v);
  else if (size == 2) write16(seg, off, v);
  else write32(seg, off, v);
}
@inline function accumulator(size: u32): u32 {
  return size == 1 ? reg8(EAX) : size == 2 ? reg16(EAX) : reg32(EAX);
}
@inline function setAccumulator(size: u32, v: u32): void {
  if (size == 1) setReg8(EAX, v);
  else if (size == 2) setReg16(EAX, v);
  else setReg32(EAX, v);
}

/**
 * REP MOVS/STOS forward over plain RAM: copies a whole run inside a page pair at once, at most
 * `limit` elements. Returns the number of elements done (0: take the element-by-element path).
 * Overlapping forward copies with the destination above the source are left to the element
 * loop, whose byte-replicating semantics memory.copy would not reproduce.
 */
function bulkRun(srcSeg: u32, size: u32, limit: u32, isStore: bool): u32 {
  if (limit < 4 || (load<u32>(S_EFLAGS) & FLAG_DF) != 0) return 0;
  const di = index(EDI);
  const si = isStore ? 0 : index(ESI);
  // Elements until the end of the current pages (linear), at most the limit.
  let n = limit;
  const dLin = segBaseOf(ES) + di;
  const roomD: u32 = (0x1000 - (dLin & 0xfff)) / size;
  if (roomD < n) n = roomD;
  let sLin: u32 = 0;
  if (!isStore) {
    sLin = segBaseOf(srcSeg) + si;
    const roomS: u32 = (0x1000 - (sLin & 0xfff)) / size;
    if (roomS < n) n = roomS;
  }
  if (n < 2) return 0;
  const bytes = n * size;
  // The whole run must lie inside the segment windows without wrapping the offset.
  if (!addrsize32 && (di + bytes > 0x10000 || (!isStore && si + bytes > 0x10000))) return 0;
  if (!segmentCovers(ES, di, bytes, true) || (!isStore && !segmentCovers(srcSeg, si, bytes, false))) return 0;
  const dHost = fastHost(dLin, true);
  if (dHost == 0) return 0;
  if (isStore) {
    const v = accumulator(size);
    if (size == 1) memory.fill(dHost, <u8>v, bytes);
    else {
      for (let i: u32 = 0; i < bytes; i += size) {
        if (size == 2) store<u16>(dHost + i, <u16>v);
        else store<u32>(dHost + i, v);
      }
    }
  } else {
    const sHost = fastHost(sLin, false);
    if (sHost == 0) return 0;
    if (dHost > sHost && dHost < sHost + bytes) return 0;
    memory.copy(dHost, sHost, bytes);
    advance(ESI, bytes);
  }
  advance(EDI, bytes);
  setCount(count() - n);
  return n;
}

// Each routine runs its element once, or under a REP prefix up to ECX/CX times in chunks
// (core/cpu/rep.ts): the count is committed after every element, so a fault restarts where it
// stopped, and a chunk ends early when a device raised an interrupt or asked run() to stop, so
// the event is taken between iterations as on hardware.

/** Iterations a REP instruction with count `c` may run in this step. */
@inline function chunkOf(c: u32): u32 {
  const a = repAllowance();
  return c < a ? c : a;
}

/** Interrupt lines (INTR and NMI, adjacent words) as they were when the chunk began. */
@inline function pendingEvents(): u64 {
  return load<u64>(S_INTR);
}

/** A device raised an interrupt line or the host asked run() to stop during the chunk. */
@inline function eventArrived(before: u64): bool {
  return load<u64>(S_INTR) != before || load<u32>(S_STOP_REQUEST) != 0;
}

/** Ends a chunk of `done` iterations; the instruction stays at its EIP while `more` remain. */
@inline function endChunk(done: u32, more: bool): void {
  countRepIterations(done);
  if (more) setNextEip(insnEip);
}

@inline function movs(size: u32): void {
  const src = dataSeg();
  const d = step(size);
  if (repPrefix == 0) {
    const v = readSized(src, index(ESI), size);
    if (faulted) return;
    writeSized(ES, index(EDI), size, v);
    if (faulted) return;
    advance(ESI, d);
    advance(EDI, d);
    return;
  }
  const c = count();
  if (c == 0) return;
  const limit = chunkOf(c);
  const events = pendingEvents();
  let done: u32 = 0;
  while (done < limit) {
    const n = bulkRun(src, size, limit - done, false);
    if (n != 0) {
      done += n;
      continue;
    }
    setRepProgress(done);
    const v = readSized(src, index(ESI), size);
    if (faulted) break;
    writeSized(ES, index(EDI), size, v);
    if (faulted) break;
    advance(ESI, d);
    advance(EDI, d);
    setCount(count() - 1);
    done++;
    if (eventArrived(events)) break;
  }
  endChunk(done, !faulted && count() != 0);
}

@inline function stos(size: u32): void {
  const d = step(size);
  const v = accumulator(size);
  if (repPrefix == 0) {
    writeSized(ES, index(EDI), size, v);
    if (faulted) return;
    advance(EDI, d);
    return;
  }
  const c = count();
  if (c == 0) return;
  const limit = chunkOf(c);
  const events = pendingEvents();
  let done: u32 = 0;
  while (done < limit) {
    const n = bulkRun(ES, size, limit - done, true);
    if (n != 0) {
      done += n;
      continue;
    }
    setRepProgress(done);
    writeSized(ES, index(EDI), size, v);
    if (faulted) break;
    advance(EDI, d);
    setCount(count() - 1);
    done++;
    if (eventArrived(events)) break;
  }
  endChunk(done, !faulted && count() != 0);
}

@inline function lods(size: u32): void {
  const src = dataSeg();
  const d = step(size);
  const rep = repPrefix != 0;
  const c: u32 = rep ? count() : 1;
  if (c == 0) return;
  const limit = rep ? chunkOf(c) : 1;
  const events = pendingEvents();
  let done: u32 = 0;
  while (done < limit) {
    setRepProgress(done);
    const v = readSized(src, index(ESI), size);
    if (faulted) break;
    setAccumulator(size, v);
    advance(ESI, d);
    done++;
    if (!rep) return;
    setCount(c - done);
    if (eventArrived(events)) break;
  }
  endChunk(done, !faulted && c != done);
}

/** CMPS: [ESI] - [EDI]; REPE stops when ZF = 0, REPNE when ZF = 1. */
@inline function cmps(size: u32): void {
  const src = dataSeg();
  const d = step(size);
  const m: u32 = size == 4 ? 0xffffffff : (<u32>1 << (size << 3)) - 1;
  const rep = repPrefix != 0;
  const c: u32 = rep ? count() : 1;
  if (c == 0) return;
  const limit = rep ? chunkOf(c) : 1;
  const events = pendingEvents();
  let done: u32 = 0;
  while (done < limit) {
    setRepProgress(done);
    const a = readSized(src, index(ESI), size);
    if (faulted) break;
    const b = readSized(ES, index(EDI), size);
    if (faulted) break;
    setFlagsArith(OP_SUB, a, b, (a - b) & m, size << 3);
    advance(ESI, d);
    advance(EDI, d);
    done++;
    if (!rep) return;
    setCount(c - done);
    if ((repPrefix == 0xf3) != getZF()) {
      countRepIterations(done);
      return;
    }
    if (eventArrived(events)) break;
  }
  endChunk(done, !faulted && c != done);
}

/** SCAS: accumulator - [EDI], with the same REPE/REPNE rule. */
@inline function scas(size: u32): void {
  const d = step(size);
  const m: u32 = size == 4 ? 0xffffffff : (<u32>1 << (size << 3)) - 1;
  const a = accumulator(size);
  const rep = repPrefix != 0;
  const c: u32 = rep ? count() : 1;
  if (c == 0) return;
  const limit = rep ? chunkOf(c) : 1;
  const events = pendingEvents();
  let done: u32 = 0;
  while (done < limit) {
    setRepProgress(done);
    const b = readSized(ES, index(EDI), size);
    if (faulted) break;
    setFlagsArith(OP_SUB, a, b, (a - b) & m, size << 3);
    advance(EDI, d);
    done++;
    if (!rep) return;
    setCount(c - done);
    if ((repPrefix == 0xf3) != getZF()) {
      countRepIterations(done);
      return;
    }
    if (eventArrived(events)) break;
  }
  endChunk(done, !faulted && c != done);
}

/** INS: port DX to ES:[EDI]. The destination is checked before the port is read. */
@inline function ins(size: u32): void {
  const port = reg16(EDX);
  if (!ioPermitted(port, size)) {
    gp(0);
    return;
  }
  if (ioExits(port, size)) {
    vmExit(EXIT_IO_INSTRUCTION, ioQualification(port, size, true, true, repPrefix != 0, false));
    return;
  }
  const d = step(size);
  const rep = repPrefix != 0;
  const c: u32 = rep ? count() : 1;
  if (c == 0) return;
  const limit = rep ? chunkOf(c) : 1;
  const events = pendingEvents();
  let done: u32 = 0;
  while (done < limit) {
    setRepProgress(done);
    // Probe the destination so a fault does not consume device data.
    writeSized(ES, index(EDI), size, 0);
    if (faulted) break;
    writeSized(ES, index(EDI), size, hostIoRead(port, size));
    advance(EDI, d);
    done++;
    if (!rep) return;
    setCount(c - done);
    if (eventArrived(events)) break;
  }
  endChunk(done, !faulted && c != done);
}

@inline function outs(size: u32): void {
  const port = reg16(EDX);
  if (!ioPermitted(port, size)) {
    gp(0);
    return;
  }
  if (ioExits(port, size)) {
    vmExit(EXIT_IO_INSTRUCTION, ioQualification(port, size, false, true, repPrefix != 0, false));
    return;
  }
  const src = dataSeg();
  const d = step(size);
  const rep = repPrefix != 0;
  const c: u32 = rep ? count() : 1;
  if (c == 0) return;
  const limit = rep ? chunkOf(c) : 1;
  const events = pendingEvents();
  let done: u32 = 0;
  while (done < limit) {
    setRepProgress(done);
    const v = readSized(src, index(ESI), size);
    if (faulted) break;
    hostIoWrite(port, size, v);
    advance(ESI, d);
    done++;
    if (!rep) return;
    setCount(c - done);
    if (eventArrived(events)) break;
  }
  endChunk(done, !faulted && c != done);
}

export function MOVSB(): void {
  movs(1);
}
export function MOVS_Zv_16(): void {
  movs(2);
}
export function MOVS_Zv_32(): void {
  movs(4);
}
export function STOSB(): void {
  stos(1);
}
export function STOS_Zv_16(): void {
  stos(2);
}
export function STOS_Zv_32(): void {
  stos(4);
}
export function LODSB(): void {
  lods(1);
}
export function LODS_Zv_16(): void {
  lods(2);
}
export function LODS_Zv_32(): void {
  lods(4);
}
export function CMPSB(): void {
  cmps(1);
}
export function CMPS_Zv_16(): void {
  cmps(2);
}
export function CMPS_Zv_32(): void {
  cmps(4);
}
export function SCASB(): void {
  scas(1);
}
export function SCAS_Zv_16(): void {
  scas(2);
}
export function SCAS_Zv_32(): void {
  scas(4);
}
export function INSB(): void {
  ins(1);
}
export function INS_Zv_16(): void {
  ins(2);
}
export function INS_Zv_32(): void {
  ins(4);
}
export function OUTSB(): void {
  outs(1);
}
export function OUTS_Zv_16(): void {
  outs(2);
}
export function OUTS_Zv_32(): void {
  outs(4);
}
