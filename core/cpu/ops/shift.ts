// Shift and rotate routines named by the instruction table (C0, C1, D0-D3, 0F A4/A5/AC/AD).

import { rmwBegin, rmwRead16, rmwRead32, rmwRead8, rmwWrite16, rmwWrite32, rmwWrite8 } from "../../mmu/access";
import { eaSeg, effectiveAddress, fetch8, modrm } from "../decode";
import { faulted } from "../fault";
import { ECX, reg16, reg32, reg8, setReg16, setReg32, setReg8 } from "../state";
import { SH_RCL, SH_RCR, SH_ROL, SH_ROR, SH_SAR, SH_SHL, SH_SHR, shift, shld, shrd } from "./shift-core";

// Count sources: an immediate byte fetched after the displacement, the constant 1, or CL.
const CNT_IB: u32 = 0;
const CNT_ONE: u32 = 1;
const CNT_CL: u32 = 2;

@inline function count(kind: u32): u32 {
  if (kind == CNT_IB) return fetch8();
  if (kind == CNT_ONE) return 1;
  return reg8(ECX);
}

@inline function shiftEb(op: u32, kind: u32): void {
  if (modrm >= 0xc0) {
    const c = count(kind);
    if (faulted) return;
    setReg8(modrm & 7, shift(op, reg8(modrm & 7), c, 8));
    return;
  }
  const off = effectiveAddress();
  if (faulted) return;
  const c = count(kind);
  if (faulted || !rmwBegin(eaSeg, off, 1)) return;
  rmwWrite8(shift(op, rmwRead8(), c, 8));
}

@inline function shiftEw(op: u32, kind: u32): void {
  if (modrm >= 0xc0) {
    const c = count(kind);
    if (faulted) return;
    setReg16(modrm & 7, shift(op, reg16(modrm & 7), c, 16));
    return;
  }
  const off = effectiveAddress();
  if (faulted) return;
  const c = count(kind);
  if (faulted || !rmwBegin(eaSeg, off, 2)) return;
  rmwWrite16(shift(op, rmwRead16(), c, 16));
}

@inline function shiftEd(op: u32, kind: u32): void {
  if (modrm >= 0xc0) {
    const c = count(kind);
    if (faulted) return;
    setReg32(modrm & 7, shift(op, reg32(modrm & 7), c, 32));
    return;
  }
  const off = effectiveAddress();
  if (faulted) return;
  const c = count(kind);
  if (faulted || !rmwBegin(eaSeg, off, 4)) return;
  rmwWrite32(shift(op, rmwRead32(), c, 32));
}

/** SHLD/SHRD Ev, Gv, Ib/CL */
@inline function doubleShiftEw(left: bool, kind: u32): void {
  const src = reg16((modrm >> 3) & 7);
  if (modrm >= 0xc0) {
    const c = count(kind);
    if (faulted) return;
    const r = modrm & 7;
    setReg16(r, left ? shld(reg16(r), src, c, 16) : shrd(reg16(r), src, c, 16));
    return;
  }
  const off = effectiveAddress();
  if (faulted) return;
  const c = count(kind);
  if (faulted || !rmwBegin(eaSeg, off, 2)) return;
  const d = rmwRead16();
  rmwWrite16(left ? shld(d, src, c, 16) : shrd(d, src, c, 16));
}

@inline function doubleShiftEd(left: bool, kind: u32): void {
  const src = reg32((modrm >> 3) & 7);
  if (modrm >= 0xc0) {
    const c = count(kind);
    if (faulted) return;
    const r = modrm & 7;
    setReg32(r, left ? shld(reg32(r), src, c, 32) : shrd(reg32(r), src, c, 32));
    return;
  }
  const off = effectiveAddress();
  if (faulted) return;
  const c = count(kind);
  if (faulted || !rmwBegin(eaSeg, off, 4)) return;
  const d = rmwRead32();
  rmwWrite32(left ? shld(d, src, c, 32) : shrd(d, src, c, 32));
}

export function ROL_EbIb(): void {
  shiftEb(SH_ROL, CNT_IB);
}
export function ROL_EvIb_16(): void {
  shiftEw(SH_ROL, CNT_IB);
}
export function ROL_EvIb_32(): void {
  shiftEd(SH_ROL, CNT_IB);
}
export function ROL_Eb1(): void {
  shiftEb(SH_ROL, CNT_ONE);
}
export function ROL_Ev1_16(): void {
  shiftEw(SH_ROL, CNT_ONE);
}
export function ROL_Ev1_32(): void {
  shiftEd(SH_ROL, CNT_ONE);
}
export function ROL_EbCL(): void {
  shiftEb(SH_ROL, CNT_CL);
}
export function ROL_EvCL_16(): void {
  shiftEw(SH_ROL, CNT_CL);
}
export function ROL_EvCL_32(): void {
  shiftEd(SH_ROL, CNT_CL);
}
export function ROR_EbIb(): void {
  shiftEb(SH_ROR, CNT_IB);
}
export function ROR_EvIb_16(): void {
  shiftEw(SH_ROR, CNT_IB);
}
export function ROR_EvIb_32(): void {
  shiftEd(SH_ROR, CNT_IB);
}
export function ROR_Eb1(): void {
  shiftEb(SH_ROR, CNT_ONE);
}
export function ROR_Ev1_16(): void {
  shiftEw(SH_ROR, CNT_ONE);
}
export function ROR_Ev1_32(): void {
  shiftEd(SH_ROR, CNT_ONE);
}
export function ROR_EbCL(): void {
  shiftEb(SH_ROR, CNT_CL);
}
export function ROR_EvCL_16(): void {
  shiftEw(SH_ROR, CNT_CL);
}
export function ROR_EvCL_32(): void {
  shiftEd(SH_ROR, CNT_CL);
}
export function RCL_EbIb(): void {
  shiftEb(SH_RCL, CNT_IB);
}
export function RCL_EvIb_16(): void {
  shiftEw(SH_RCL, CNT_IB);
}
export function RCL_EvIb_32(): void {
  shiftEd(SH_RCL, CNT_IB);
}
export function RCL_Eb1(): void {
  shiftEb(SH_RCL, CNT_ONE);
}
export function RCL_Ev1_16(): void {
  shiftEw(SH_RCL, CNT_ONE);
}
export function RCL_Ev1_32(): void {
  shiftEd(SH_RCL, CNT_ONE);
}
export function RCL_EbCL(): void {
  shiftEb(SH_RCL, CNT_CL);
}
export function RCL_EvCL_16(): void {
  shiftEw(SH_RCL, CNT_CL);
}
export function RCL_EvCL_32(): void {
  shiftEd(SH_RCL, CNT_CL);
}
export function RCR_EbIb(): void {
  shiftEb(SH_RCR, CNT_IB);
}
export function RCR_EvIb_16(): void {
  shiftEw(SH_RCR, CNT_IB);
}
export function RCR_EvIb_32(): void {
  shiftEd(SH_RCR, CNT_IB);
}
export function RCR_Eb1(): void {
  shiftEb(SH_RCR, CNT_ONE);
}
export function RCR_Ev1_16(): void {
  shiftEw(SH_RCR, CNT_ONE);
}
export function RCR_Ev1_32(): void {
  shiftEd(SH_RCR, CNT_ONE);
}
export function RCR_EbCL(): void {
  shiftEb(SH_RCR, CNT_CL);
}
export function RCR_EvCL_16(): void {
  shiftEw(SH_RCR, CNT_CL);
}
export function RCR_EvCL_32(): void {
  shiftEd(SH_RCR, CNT_CL);
}
export function SHL_EbIb(): void {
  shiftEb(SH_SHL, CNT_IB);
}
export function SHL_EvIb_16(): void {
  shiftEw(SH_SHL, CNT_IB);
}
export function SHL_EvIb_32(): void {
  shiftEd(SH_SHL, CNT_IB);
}
export function SHL_Eb1(): void {
  shiftEb(SH_SHL, CNT_ONE);
}
export function SHL_Ev1_16(): void {
  shiftEw(SH_SHL, CNT_ONE);
}
export function SHL_Ev1_32(): void {
  shiftEd(SH_SHL, CNT_ONE);
}
export function SHL_EbCL(): void {
  shiftEb(SH_SHL, CNT_CL);
}
export function SHL_EvCL_16(): void {
  shiftEw(SH_SHL, CNT_CL);
}
export function SHL_EvCL_32(): void {
  shiftEd(SH_SHL, CNT_CL);
}
export function SHR_EbIb(): void {
  shiftEb(SH_SHR, CNT_IB);
}
export function SHR_EvIb_16(): void {
  shiftEw(SH_SHR, CNT_IB);
}
export function SHR_EvIb_32(): void {
  shiftEd(SH_SHR, CNT_IB);
}
export function SHR_Eb1(): void {
  shiftEb(SH_SHR, CNT_ONE);
}
export function SHR_Ev1_16(): void {
  shiftEw(SH_SHR, CNT_ONE);
}
export function SHR_Ev1_32(): void {
  shiftEd(SH_SHR, CNT_ONE);
}
export function SHR_EbCL(): void {
  shiftEb(SH_SHR, CNT_CL);
}
export function SHR_EvCL_16(): void {
  shiftEw(SH_SHR, CNT_CL);
}
export function SHR_EvCL_32(): void {
  shiftEd(SH_SHR, CNT_CL);
}
export function SAR_EbIb(): void {
  shiftEb(SH_SAR, CNT_IB);
}
export function SAR_EvIb_16(): void {
  shiftEw(SH_SAR, CNT_IB);
}
export function SAR_EvIb_32(): void {
  shiftEd(SH_SAR, CNT_IB);
}
export function SAR_Eb1(): void {
  shiftEb(SH_SAR, CNT_ONE);
}
export function SAR_Ev1_16(): void {
  shiftEw(SH_SAR, CNT_ONE);
}
export function SAR_Ev1_32(): void {
  shiftEd(SH_SAR, CNT_ONE);
}
export function SAR_EbCL(): void {
  shiftEb(SH_SAR, CNT_CL);
}
export function SAR_EvCL_16(): void {
  shiftEw(SH_SAR, CNT_CL);
}
export function SAR_EvCL_32(): void {
  shiftEd(SH_SAR, CNT_CL);
}
export function SHLD_EvGvIb_16(): void {
  doubleShiftEw(true, CNT_IB);
}
export function SHLD_EvGvIb_32(): void {
  doubleShiftEd(true, CNT_IB);
}
export function SHLD_EvGvCL_16(): void {
  doubleShiftEw(true, CNT_CL);
}
export function SHLD_EvGvCL_32(): void {
  doubleShiftEd(true, CNT_CL);
}
export function SHRD_EvGvIb_16(): void {
  doubleShiftEw(false, CNT_IB);
}
export function SHRD_EvGvIb_32(): void {
  doubleShiftEd(false, CNT_IB);
}
export function SHRD_EvGvCL_16(): void {
  doubleShiftEw(false, CNT_CL);
}
export function SHRD_EvGvCL_32(): void {
  doubleShiftEd(false, CNT_CL);
}
