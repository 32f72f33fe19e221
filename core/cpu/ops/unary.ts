// INC, DEC, NOT, NEG on registers and memory.

import { rmwBegin, rmwRead16, rmwRead32, rmwRead8, rmwWrite16, rmwWrite32, rmwWrite8 } from "../../mmu/access";
import { dispatchOpcodeLow, eaSeg, effectiveAddress, modrm } from "../decode";
import { faulted } from "../fault";
import { OP_DEC, OP_INC, OP_SUB, setFlagsArith, setFlagsIncDec } from "../flags";
import { reg16, reg32, reg8, setReg16, setReg32, setReg8 } from "../state";

const U_INC: u32 = 0;
const U_DEC: u32 = 1;
const U_NOT: u32 = 2;
const U_NEG: u32 = 3;

@inline function unary(op: u32, v: u32, size: u32): u32 {
  const m: u32 = size == 32 ? 0xffffffff : (<u32>1 << size) - 1;
  let r: u32;
  switch (op) {
    case U_INC:
      r = (v + 1) & m;
      setFlagsIncDec(OP_INC, v, r, size);
      return r;
    case U_DEC:
      r = (v - 1) & m;
      setFlagsIncDec(OP_DEC, v, r, size);
      return r;
    case U_NOT:
      return ~v & m;
    default:
      r = (0 - v) & m;
      setFlagsArith(OP_SUB, 0, v, r, size);
      return r;
  }
}

@inline function unaryEb(op: u32): void {
  if (modrm >= 0xc0) {
    setReg8(modrm & 7, unary(op, reg8(modrm & 7), 8));
    return;
  }
  const off = effectiveAddress();
  if (faulted || !rmwBegin(eaSeg, off, 1)) return;
  rmwWrite8(unary(op, rmwRead8(), 8));
}
@inline function unaryEw(op: u32): void {
  if (modrm >= 0xc0) {
    setReg16(modrm & 7, unary(op, reg16(modrm & 7), 16));
    return;
  }
  const off = effectiveAddress();
  if (faulted || !rmwBegin(eaSeg, off, 2)) return;
  rmwWrite16(unary(op, rmwRead16(), 16));
}
@inline function unaryEd(op: u32): void {
  if (modrm >= 0xc0) {
    setReg32(modrm & 7, unary(op, reg32(modrm & 7), 32));
    return;
  }
  const off = effectiveAddress();
  if (faulted || !rmwBegin(eaSeg, off, 4)) return;
  rmwWrite32(unary(op, rmwRead32(), 32));
}

export function INC_Eb(): void {
  unaryEb(U_INC);
}
export function DEC_Eb(): void {
  unaryEb(U_DEC);
}
export function NOT_Eb(): void {
  unaryEb(U_NOT);
}
export function NEG_Eb(): void {
  unaryEb(U_NEG);
}
export function INC_Ev_16(): void {
  unaryEw(U_INC);
}
export function DEC_Ev_16(): void {
  unaryEw(U_DEC);
}
export function NOT_Ev_16(): void {
  unaryEw(U_NOT);
}
export function NEG_Ev_16(): void {
  unaryEw(U_NEG);
}
export function INC_Ev_32(): void {
  unaryEd(U_INC);
}
export function DEC_Ev_32(): void {
  unaryEd(U_DEC);
}
export function NOT_Ev_32(): void {
  unaryEd(U_NOT);
}
export function NEG_Ev_32(): void {
  unaryEd(U_NEG);
}

/** 40+r / 48+r: the register is in the low three bits of the opcode. */
export function INC_Zv_16(): void {
  const r = dispatchOpcodeLow();
  setReg16(r, unary(U_INC, reg16(r), 16));
}
export function INC_Zv_32(): void {
  const r = dispatchOpcodeLow();
  setReg32(r, unary(U_INC, reg32(r), 32));
}
export function DEC_Zv_16(): void {
  const r = dispatchOpcodeLow();
  setReg16(r, unary(U_DEC, reg16(r), 16));
}
export function DEC_Zv_32(): void {
  const r = dispatchOpcodeLow();
  setReg32(r, unary(U_DEC, reg32(r), 32));
}
