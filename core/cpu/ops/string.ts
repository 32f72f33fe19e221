// String instructions with REP/REPE/REPNE: MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS.
// Each iteration commits its register updates, so a fault in iteration k restarts at k.

import { EXIT_IO, ioExits, ioQualification, vmExit } from "../../virt/vmx";
import {
  S_EFLAGS,
  S_SEG_BASE,
  S_SEG_RHI,
  S_SEG_RLO,
  S_SEG_WHI,
  S_SEG_WLO,
  S_TLB_READ_MASK,
  S_TLB_WRITE_MASK,
  TLB_BASE,
  TLB_VALID,
} from "../../generated/layout";
import { hostIoRead, hostIoWrite } from "../../host";
import { read16, read32, read8, write16, write32, write8 } from "../../mmu/access";
import { addrsize32, dataSeg, repPrefix } from "../decode";
import { faulted, gp } from "../fault";
import { getZF, OP_SUB, setFlagsArith } from "../flags";
import { ioPermitted } from "../protected/io-permission";
import { EAX, ECX, EDI, EDX, ES, ESI, FLAG_DF, reg16, reg32, reg8, setReg16, setReg32, setReg8 } from "../state";

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
 * REP MOVS/STOS forward over plain RAM: copies whole runs inside a page pair at once. Returns the
 * number of elements done (0: take the element-by-element path). Overlapping forward copies
 * with the destination above the source are left to the element loop, whose byte-replicating
 * semantics memory.copy would not reproduce.
 */
function bulkRun(srcSeg: u32, size: u32, c: u32, isStore: bool): u32 {
  if (c < 4 || (load<u32>(S_EFLAGS) & FLAG_DF) != 0) return 0;
  const di = index(EDI);
  const si = isStore ? 0 : index(ESI);
  // Elements until the end of the current pages (linear), at most c.
  let n = c;
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
  setCount(c - n);
  return n;
}

// Each routine runs its element once, or ECX/CX times under a REP prefix (committing the count
// after every element, so a fault restarts where it stopped).

@inline function movs(size: u32): void {
  const src = dataSeg();
  const d = step(size);
  const rep = repPrefix != 0;
  if (rep) {
    for (;;) {
      const c = count();
      if (c == 0) return;
      if (bulkRun(src, size, c, false) == 0) break;
    }
  }
  let c: u32 = rep ? count() : 1;
  while (c != 0) {
    const v = readSized(src, index(ESI), size);
    if (faulted) return;
    writeSized(ES, index(EDI), size, v);
    if (faulted) return;
    advance(ESI, d);
    advance(EDI, d);
    c--;
    if (rep) setCount(c);
  }
}

@inline function stos(size: u32): void {
  const d = step(size);
  const v = accumulator(size);
  const rep = repPrefix != 0;
  if (rep) {
    for (;;) {
      const c = count();
      if (c == 0) return;
      if (bulkRun(ES, size, c, true) == 0) break;
    }
  }
  let c: u32 = rep ? count() : 1;
  while (c != 0) {
    writeSized(ES, index(EDI), size, v);
    if (faulted) return;
    advance(EDI, d);
    c--;
    if (rep) setCount(c);
  }
}

@inline function lods(size: u32): void {
  const src = dataSeg();
  const d = step(size);
  const rep = repPrefix != 0;
  let c: u32 = rep ? count() : 1;
  while (c != 0) {
    const v = readSized(src, index(ESI), size);
    if (faulted) return;
    setAccumulator(size, v);
    advance(ESI, d);
    c--;
    if (rep) setCount(c);
  }
}

/** CMPS: [ESI] - [EDI]; REPE stops when ZF = 0, REPNE when ZF = 1. */
@inline function cmps(size: u32): void {
  const src = dataSeg();
  const d = step(size);
  const m: u32 = size == 4 ? 0xffffffff : (<u32>1 << (size << 3)) - 1;
  const rep = repPrefix != 0;
  let c: u32 = rep ? count() : 1;
  while (c != 0) {
    const a = readSized(src, index(ESI), size);
    if (faulted) return;
    const b = readSized(ES, index(EDI), size);
    if (faulted) return;
    setFlagsArith(OP_SUB, a, b, (a - b) & m, size << 3);
    advance(ESI, d);
    advance(EDI, d);
    c--;
    if (!rep) return;
    setCount(c);
    if ((repPrefix == 0xf3) != getZF()) return;
  }
}

/** SCAS: accumulator - [EDI], with the same REPE/REPNE rule. */
@inline function scas(size: u32): void {
  const d = step(size);
  const m: u32 = size == 4 ? 0xffffffff : (<u32>1 << (size << 3)) - 1;
  const a = accumulator(size);
  const rep = repPrefix != 0;
  let c: u32 = rep ? count() : 1;
  while (c != 0) {
    const b = readSized(ES, index(EDI), size);
    if (faulted) return;
    setFlagsArith(OP_SUB, a, b, (a - b) & m, size << 3);
    advance(EDI, d);
    c--;
    if (!rep) return;
    setCount(c);
    if ((repPrefix == 0xf3) != getZF()) return;
  }
}

/** INS: port DX to ES:[EDI]. The destination is checked before the port is read. */
@inline function ins(size: u32): void {
  const port = reg16(EDX);
  if (!ioPermitted(port, size)) {
    gp(0);
    return;
  }
  if (ioExits(port, size)) {
    vmExit(EXIT_IO, ioQualification(port, size, true, true, repPrefix != 0, false));
    return;
  }
  const d = step(size);
  let c: u32 = repPrefix == 0 ? 1 : count();
  while (c != 0) {
    // Probe the destination so a fault does not consume device data.
    writeSized(ES, index(EDI), size, 0);
    if (faulted) return;
    writeSized(ES, index(EDI), size, hostIoRead(port, size));
    advance(EDI, d);
    c--;
    if (repPrefix != 0) setCount(c);
  }
}

@inline function outs(size: u32): void {
  const port = reg16(EDX);
  if (!ioPermitted(port, size)) {
    gp(0);
    return;
  }
  if (ioExits(port, size)) {
    vmExit(EXIT_IO, ioQualification(port, size, false, true, repPrefix != 0, false));
    return;
  }
  const src = dataSeg();
  const d = step(size);
  let c: u32 = repPrefix == 0 ? 1 : count();
  while (c != 0) {
    const v = readSized(src, index(ESI), size);
    if (faulted) return;
    hostIoWrite(port, size, v);
    advance(ESI, d);
    c--;
    if (repPrefix != 0) setCount(c);
  }
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
