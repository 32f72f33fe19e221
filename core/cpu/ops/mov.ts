// Data movement: MOV in all its forms, MOVZX/MOVSX, LEA, XCHG, XADD, CMPXCHG, CMPXCHG8B,
// CBW/CWD, LAHF/SAHF, XLAT, SALC, segment register moves and far-pointer loads, BOUND.

import { S_INT_SHADOW } from "../../generated/layout";
import {
  read16,
  read32,
  read8,
  rmwBegin,
  rmwRead16,
  rmwRead32,
  rmwRead8,
  rmwWrite16,
  rmwWrite32,
  rmwWrite8,
  write16,
  write32,
  write8,
} from "../../mmu/access";
import {
  addrsize32,
  dataSeg,
  dispatchOpcodeLow,
  eaSeg,
  effectiveAddress,
  fetch16,
  fetch32,
  fetch8,
  modrm,
} from "../decode";
import { faulted, raise, ud, VEC_BR } from "../fault";
import { getCF, getEflags, OP_ADD, OP_SUB, setFlagBits, setFlagsArith } from "../flags";
import { loadSegment } from "../protected/segments";
import {
  CS,
  EAX,
  EBX,
  ECX,
  EDX,
  FLAG_ZF,
  reg16,
  reg32,
  reg8,
  segSel,
  setReg16,
  setReg32,
  setReg8,
  SS,
} from "../state";
import { readEb, readEd, readEw } from "./alu-core";

// ---- MOV -----------------------------------------------------------------------------------

export function MOV_EbGb(): void {
  const v = reg8((modrm >> 3) & 7);
  if (modrm >= 0xc0) {
    setReg8(modrm & 7, v);
    return;
  }
  const a = effectiveAddress();
  if (faulted) return;
  write8(eaSeg, a, v);
}
export function MOV_EvGv_16(): void {
  const v = reg16((modrm >> 3) & 7);
  if (modrm >= 0xc0) {
    setReg16(modrm & 7, v);
    return;
  }
  const a = effectiveAddress();
  if (faulted) return;
  write16(eaSeg, a, v);
}
export function MOV_EvGv_32(): void {
  const v = reg32((modrm >> 3) & 7);
  if (modrm >= 0xc0) {
    setReg32(modrm & 7, v);
    return;
  }
  const a = effectiveAddress();
  if (faulted) return;
  write32(eaSeg, a, v);
}
export function MOV_GbEb(): void {
  const v = readEb();
  if (faulted) return;
  setReg8((modrm >> 3) & 7, v);
}
export function MOV_GvEv_16(): void {
  const v = readEw();
  if (faulted) return;
  setReg16((modrm >> 3) & 7, v);
}
export function MOV_GvEv_32(): void {
  const v = readEd();
  if (faulted) return;
  setReg32((modrm >> 3) & 7, v);
}
export function MOV_EbIb(): void {
  if (modrm >= 0xc0) {
    const v = fetch8();
    if (faulted) return;
    setReg8(modrm & 7, v);
    return;
  }
  const a = effectiveAddress();
  if (faulted) return;
  const v = fetch8();
  if (faulted) return;
  write8(eaSeg, a, v);
}
export function MOV_EvIz_16(): void {
  if (modrm >= 0xc0) {
    const v = fetch16();
    if (faulted) return;
    setReg16(modrm & 7, v);
    return;
  }
  const a = effectiveAddress();
  if (faulted) return;
  const v = fetch16();
  if (faulted) return;
  write16(eaSeg, a, v);
}
export function MOV_EvIz_32(): void {
  if (modrm >= 0xc0) {
    const v = fetch32();
    if (faulted) return;
    setReg32(modrm & 7, v);
    return;
  }
  const a = effectiveAddress();
  if (faulted) return;
  const v = fetch32();
  if (faulted) return;
  write32(eaSeg, a, v);
}
export function MOV_Zb_Ib(): void {
  const v = fetch8();
  if (faulted) return;
  setReg8(dispatchOpcodeLow(), v);
}
export function MOV_Zv_Iv_16(): void {
  const v = fetch16();
  if (faulted) return;
  setReg16(dispatchOpcodeLow(), v);
}
export function MOV_Zv_Iv_32(): void {
  const v = fetch32();
  if (faulted) return;
  setReg32(dispatchOpcodeLow(), v);
}

/** The moffs operand: an address-size offset in the instruction, DS unless overridden. */
@inline function moffs(): u32 {
  return addrsize32 ? fetch32() : fetch16();
}
export function MOV_ALOb(): void {
  const a = moffs();
  if (faulted) return;
  const v = read8(dataSeg(), a);
  if (faulted) return;
  setReg8(EAX, v);
}
export function MOV_AXOv_16(): void {
  const a = moffs();
  if (faulted) return;
  const v = read16(dataSeg(), a);
  if (faulted) return;
  setReg16(EAX, v);
}
export function MOV_AXOv_32(): void {
  const a = moffs();
  if (faulted) return;
  const v = read32(dataSeg(), a);
  if (faulted) return;
  setReg32(EAX, v);
}
export function MOV_ObAL(): void {
  const a = moffs();
  if (faulted) return;
  write8(dataSeg(), a, reg8(EAX));
}
export function MOV_OvAX_16(): void {
  const a = moffs();
  if (faulted) return;
  write16(dataSeg(), a, reg16(EAX));
}
export function MOV_OvAX_32(): void {
  const a = moffs();
  if (faulted) return;
  write32(dataSeg(), a, reg32(EAX));
}

// ---- MOVZX / MOVSX / LEA ------------------------------------------------------------------------

export function MOVZX_GvEb_16(): void {
  const v = readEb();
  if (faulted) return;
  setReg16((modrm >> 3) & 7, v);
}
export function MOVZX_GvEb_32(): void {
  const v = readEb();
  if (faulted) return;
  setReg32((modrm >> 3) & 7, v);
}
export function MOVZX_GvEw_16(): void {
  const v = readEw();
  if (faulted) return;
  setReg16((modrm >> 3) & 7, v);
}
export function MOVZX_GvEw_32(): void {
  const v = readEw();
  if (faulted) return;
  setReg32((modrm >> 3) & 7, v);
}
export function MOVSX_GvEb_16(): void {
  const v = readEb();
  if (faulted) return;
  setReg16((modrm >> 3) & 7, <u32>(<i32>(<i8>v)));
}
export function MOVSX_GvEb_32(): void {
  const v = readEb();
  if (faulted) return;
  setReg32((modrm >> 3) & 7, <u32>(<i32>(<i8>v)));
}
export function MOVSX_GvEw_16(): void {
  const v = readEw();
  if (faulted) return;
  setReg16((modrm >> 3) & 7, v);
}
export function MOVSX_GvEw_32(): void {
  const v = readEw();
  if (faulted) return;
  setReg32((modrm >> 3) & 7, <u32>(<i32>(<i16>v)));
}
export function LEA_GvM_16(): void {
  const a = effectiveAddress();
  if (faulted) return;
  setReg16((modrm >> 3) & 7, a);
}
export function LEA_GvM_32(): void {
  const a = effectiveAddress();
  if (faulted) return;
  setReg32((modrm >> 3) & 7, a);
}

// ---- XCHG / XADD / CMPXCHG -------------------------------------------------------------------

export function XCHG_EbGb(): void {
  const g = (modrm >> 3) & 7;
  if (modrm >= 0xc0) {
    const r = modrm & 7;
    const t = reg8(r);
    setReg8(r, reg8(g));
    setReg8(g, t);
    return;
  }
  const a = effectiveAddress();
  if (faulted || !rmwBegin(eaSeg, a, 1)) return;
  const t = rmwRead8();
  rmwWrite8(reg8(g));
  setReg8(g, t);
}
export function XCHG_EvGv_16(): void {
  const g = (modrm >> 3) & 7;
  if (modrm >= 0xc0) {
    const r = modrm & 7;
    const t = reg16(r);
    setReg16(r, reg16(g));
    setReg16(g, t);
    return;
  }
  const a = effectiveAddress();
  if (faulted || !rmwBegin(eaSeg, a, 2)) return;
  const t = rmwRead16();
  rmwWrite16(reg16(g));
  setReg16(g, t);
}
export function XCHG_EvGv_32(): void {
  const g = (modrm >> 3) & 7;
  if (modrm >= 0xc0) {
    const r = modrm & 7;
    const t = reg32(r);
    setReg32(r, reg32(g));
    setReg32(g, t);
    return;
  }
  const a = effectiveAddress();
  if (faulted || !rmwBegin(eaSeg, a, 4)) return;
  const t = rmwRead32();
  rmwWrite32(reg32(g));
  setReg32(g, t);
}
export function XCHG_Zv_eAX_16(): void {
  const r = dispatchOpcodeLow();
  const t = reg16(r);
  setReg16(r, reg16(EAX));
  setReg16(EAX, t);
}
export function XCHG_Zv_eAX_32(): void {
  const r = dispatchOpcodeLow();
  const t = reg32(r);
  setReg32(r, reg32(EAX));
  setReg32(EAX, t);
}

export function XADD_EbGb(): void {
  const g = (modrm >> 3) & 7;
  const s = reg8(g);
  if (modrm >= 0xc0) {
    const r = modrm & 7;
    const d = reg8(r);
    const sum = (d + s) & 0xff;
    setFlagsArith(OP_ADD, d, s, sum, 8);
    setReg8(g, d);
    setReg8(r, sum);
    return;
  }
  const a = effectiveAddress();
  if (faulted || !rmwBegin(eaSeg, a, 1)) return;
  const d = rmwRead8();
  const sum = (d + s) & 0xff;
  rmwWrite8(sum);
  setFlagsArith(OP_ADD, d, s, sum, 8);
  setReg8(g, d);
}
export function XADD_EvGv_16(): void {
  const g = (modrm >> 3) & 7;
  const s = reg16(g);
  if (modrm >= 0xc0) {
    const r = modrm & 7;
    const d = reg16(r);
    const sum = (d + s) & 0xffff;
    setFlagsArith(OP_ADD, d, s, sum, 16);
    setReg16(g, d);
    setReg16(r, sum);
    return;
  }
  const a = effectiveAddress();
  if (faulted || !rmwBegin(eaSeg, a, 2)) return;
  const d = rmwRead16();
  const sum = (d + s) & 0xffff;
  rmwWrite16(sum);
  setFlagsArith(OP_ADD, d, s, sum, 16);
  setReg16(g, d);
}
export function XADD_EvGv_32(): void {
  const g = (modrm >> 3) & 7;
  const s = reg32(g);
  if (modrm >= 0xc0) {
    const r = modrm & 7;
    const d = reg32(r);
    const sum = d + s;
    setFlagsArith(OP_ADD, d, s, sum, 32);
    setReg32(g, d);
    setReg32(r, sum);
    return;
  }
  const a = effectiveAddress();
  if (faulted || !rmwBegin(eaSeg, a, 4)) return;
  const d = rmwRead32();
  const sum = d + s;
  rmwWrite32(sum);
  setFlagsArith(OP_ADD, d, s, sum, 32);
  setReg32(g, d);
}

/**
 * CMPXCHG: compares the accumulator with the destination; equal -> destination = source, else
 * accumulator = destination. A memory destination is always written (SDM: "the destination
 * operand is written back if the comparison fails").
 */
export function CMPXCHG_EbGb(): void {
  const s = reg8((modrm >> 3) & 7);
  const acc = reg8(EAX);
  if (modrm >= 0xc0) {
    const r = modrm & 7;
    const d = reg8(r);
    setFlagsArith(OP_SUB, acc, d, (acc - d) & 0xff, 8);
    if (acc == d) setReg8(r, s);
    else setReg8(EAX, d);
    return;
  }
  const a = effectiveAddress();
  if (faulted || !rmwBegin(eaSeg, a, 1)) return;
  const d = rmwRead8();
  rmwWrite8(acc == d ? s : d);
  setFlagsArith(OP_SUB, acc, d, (acc - d) & 0xff, 8);
  if (acc != d) setReg8(EAX, d);
}
export function CMPXCHG_EvGv_16(): void {
  const s = reg16((modrm >> 3) & 7);
  const acc = reg16(EAX);
  if (modrm >= 0xc0) {
    const r = modrm & 7;
    const d = reg16(r);
    setFlagsArith(OP_SUB, acc, d, (acc - d) & 0xffff, 16);
    if (acc == d) setReg16(r, s);
    else setReg16(EAX, d);
    return;
  }
  const a = effectiveAddress();
  if (faulted || !rmwBegin(eaSeg, a, 2)) return;
  const d = rmwRead16();
  rmwWrite16(acc == d ? s : d);
  setFlagsArith(OP_SUB, acc, d, (acc - d) & 0xffff, 16);
  if (acc != d) setReg16(EAX, d);
}
export function CMPXCHG_EvGv_32(): void {
  const s = reg32((modrm >> 3) & 7);
  const acc = reg32(EAX);
  if (modrm >= 0xc0) {
    const r = modrm & 7;
    const d = reg32(r);
    setFlagsArith(OP_SUB, acc, d, acc - d, 32);
    if (acc == d) setReg32(r, s);
    else setReg32(EAX, d);
    return;
  }
  const a = effectiveAddress();
  if (faulted || !rmwBegin(eaSeg, a, 4)) return;
  const d = rmwRead32();
  rmwWrite32(acc == d ? s : d);
  setFlagsArith(OP_SUB, acc, d, acc - d, 32);
  if (acc != d) setReg32(EAX, d);
}

/** CMPXCHG8B m64: EDX:EAX vs m64; equal -> m64 = ECX:EBX, else EDX:EAX = m64. ZF only. */
export function CMPXCHG8B_Mq(): void {
  const a = effectiveAddress();
  if (faulted) return;
  const seg = eaSeg;
  // Check both halves for writing first (low half first, as the fault order and CR2 show),
  // so a fault leaves memory and registers unchanged.
  if (!rmwBegin(seg, a, 4)) return;
  const lo = rmwRead32();
  if (!rmwBegin(seg, a + 4, 4)) return;
  const hi = rmwRead32();
  const equal = lo == reg32(EAX) && hi == reg32(EDX);
  if (equal) {
    rmwWrite32(reg32(ECX));
    write32(seg, a, reg32(EBX));
  } else {
    rmwWrite32(hi);
    write32(seg, a, lo);
    setReg32(EAX, lo);
    setReg32(EDX, hi);
  }
  setFlagBits(FLAG_ZF, equal ? FLAG_ZF : 0);
}

// ---- accumulator conversions, flags to AH, table lookup --------------------------------------

export function CBW_16(): void {
  setReg16(EAX, <u32>(<i32>(<i8>reg8(EAX))));
}
export function CBW_32(): void {
  setReg32(EAX, <u32>(<i32>(<i16>reg16(EAX))));
}
export function CWD_16(): void {
  setReg16(EDX, (reg16(EAX) & 0x8000) != 0 ? 0xffff : 0);
}
export function CWD_32(): void {
  setReg32(EDX, (reg32(EAX) & 0x80000000) != 0 ? 0xffffffff : 0);
}
export function LAHF(): void {
  setReg8(4, (getEflags() & 0xd5) | 2);
}
export function SAHF(): void {
  setFlagBits(0xd5, reg8(4));
}
export function XLAT(): void {
  const a = (addrsize32 ? reg32(EBX) : reg16(EBX)) + reg8(EAX);
  const v = read8(dataSeg(), addrsize32 ? a : a & 0xffff);
  if (faulted) return;
  setReg8(EAX, v);
}
/** SALC (D6): AL = CF ? 0xFF : 0. Undocumented but executed by every P6. */
export function SALC(): void {
  setReg8(EAX, getCF() ? 0xff : 0);
}

// ---- segment registers ------------------------------------------------------------------------

/** MOV Ev, Sw: a register destination gets the selector zero-extended (32-bit operand). */
export function MOV_EvSw_16(): void {
  const s = (modrm >> 3) & 7;
  if (s > 5) {
    ud();
    return;
  }
  if (modrm >= 0xc0) {
    setReg16(modrm & 7, segSel(s));
    return;
  }
  const a = effectiveAddress();
  if (faulted) return;
  write16(eaSeg, a, segSel(s));
}
export function MOV_EvSw_32(): void {
  const s = (modrm >> 3) & 7;
  if (s > 5) {
    ud();
    return;
  }
  if (modrm >= 0xc0) {
    setReg32(modrm & 7, segSel(s));
    return;
  }
  const a = effectiveAddress();
  if (faulted) return;
  write16(eaSeg, a, segSel(s));
}

/** MOV Sw, Ew: CS is not a valid destination (#UD); loading SS holds interrupts for one instruction. */
export function MOV_SwEw(): void {
  const s = (modrm >> 3) & 7;
  if (s == CS || s > 5) {
    ud();
    return;
  }
  const v = readEw();
  if (faulted) return;
  loadSegment(s, v);
  if (faulted) return;
  if (s == SS) store<u32>(S_INT_SHADOW, 1);
}

/** LDS/LES/LFS/LGS/LSS: offset then selector from memory. */
@inline function loadFarPointer(seg: u32, is32: bool): void {
  const a = effectiveAddress();
  if (faulted) return;
  const off = is32 ? read32(eaSeg, a) : read16(eaSeg, a);
  if (faulted) return;
  const sel = read16(eaSeg, a + (is32 ? 4 : 2));
  if (faulted) return;
  loadSegment(seg, sel);
  if (faulted) return;
  const g = (modrm >> 3) & 7;
  if (is32) setReg32(g, off);
  else setReg16(g, off);
}
export function LES_GvMp_16(): void {
  loadFarPointer(0, false);
}
export function LES_GvMp_32(): void {
  loadFarPointer(0, true);
}
export function LDS_GvMp_16(): void {
  loadFarPointer(3, false);
}
export function LDS_GvMp_32(): void {
  loadFarPointer(3, true);
}
export function LSS_GvMp_16(): void {
  loadFarPointer(2, false);
}
export function LSS_GvMp_32(): void {
  loadFarPointer(2, true);
}
export function LFS_GvMp_16(): void {
  loadFarPointer(4, false);
}
export function LFS_GvMp_32(): void {
  loadFarPointer(4, true);
}
export function LGS_GvMp_16(): void {
  loadFarPointer(5, false);
}
export function LGS_GvMp_32(): void {
  loadFarPointer(5, true);
}

/** BOUND: #BR when the signed index is outside [lower, upper] read from memory. */
export function BOUND_GvMa_16(): void {
  const a = effectiveAddress();
  if (faulted) return;
  const lo = <i32>(<i16>read16(eaSeg, a));
  if (faulted) return;
  const hi = <i32>(<i16>read16(eaSeg, a + 2));
  if (faulted) return;
  const i = <i32>(<i16>reg16((modrm >> 3) & 7));
  if (i < lo || i > hi) raise(VEC_BR, -1);
}
export function BOUND_GvMa_32(): void {
  const a = effectiveAddress();
  if (faulted) return;
  const lo = <i32>read32(eaSeg, a);
  if (faulted) return;
  const hi = <i32>read32(eaSeg, a + 4);
  if (faulted) return;
  const i = <i32>reg32((modrm >> 3) & 7);
  if (i < lo || i > hi) raise(VEC_BR, -1);
}

