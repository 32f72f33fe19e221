// The eight classic ALU operations (ADD OR ADC SBB AND SUB XOR CMP, in opcode order) and the
// operand shapes they come in. Inlined into each routine so the operation switch folds away.

import { effectiveAddress, eaSeg, fetch16, fetch32, fetch8, modrm } from "../decode";
import { faulted } from "../fault";
import { getCF, OP_ADC, OP_ADD, OP_SBB, OP_SUB, setFlagsArith, setFlagsLogic } from "../flags";
import { read16, read32, read8, rmwBegin, rmwRead16, rmwRead32, rmwRead8, rmwWrite16, rmwWrite32, rmwWrite8 } from "../../mmu/access";
import { reg16, reg32, reg8, setReg16, setReg32, setReg8 } from "../state";

export const ALU_ADD: u32 = 0;
export const ALU_OR: u32 = 1;
export const ALU_ADC: u32 = 2;
export const ALU_SBB: u32 = 3;
export const ALU_AND: u32 = 4;
export const ALU_SUB: u32 = 5;
export const ALU_XOR: u32 = 6;
export const ALU_CMP: u32 = 7;
/** Not an opcode-order operation: AND without storing (TEST). */
export const ALU_TEST: u32 = 8;

/** Computes `a op b` on `size` bits, sets the flags, returns the result (masked). */
@inline export function alu(op: u32, a: u32, b: u32, size: u32): u32 {
  const m: u32 = size == 32 ? 0xffffffff : (<u32>1 << size) - 1;
  let r: u32;
  switch (op) {
    case ALU_ADD:
      r = (a + b) & m;
      setFlagsArith(OP_ADD, a, b, r, size);
      return r;
    case ALU_OR:
      r = a | b;
      setFlagsLogic(r, size);
      return r;
    case ALU_ADC: {
      const c: u32 = getCF() ? 1 : 0;
      r = (a + b + c) & m;
      setFlagsArith(c != 0 ? OP_ADC : OP_ADD, a, b, r, size);
      return r;
    }
    case ALU_SBB: {
      const c: u32 = getCF() ? 1 : 0;
      r = (a - b - c) & m;
      setFlagsArith(c != 0 ? OP_SBB : OP_SUB, a, b, r, size);
      return r;
    }
    case ALU_AND:
    case ALU_TEST:
      r = a & b;
      setFlagsLogic(r, size);
      return r;
    case ALU_XOR:
      r = a ^ b;
      setFlagsLogic(r, size);
      return r;
    default:
      r = (a - b) & m;
      setFlagsArith(OP_SUB, a, b, r, size);
      return r;
  }
}

@inline function writes(op: u32): bool {
  return op != ALU_CMP && op != ALU_TEST;
}

/** op Eb, <src> */
@inline export function aluEb(op: u32, src: u32): void {
  if (modrm >= 0xc0) {
    const r = modrm & 7;
    const res = alu(op, reg8(r), src, 8);
    if (writes(op)) setReg8(r, res);
    return;
  }
  const off = effectiveAddress();
  if (faulted) return;
  aluMem8(op, off, src);
}

@inline function aluMem8(op: u32, off: u32, src: u32): void {
  if (!writes(op)) {
    const d = read8(eaSeg, off);
    if (faulted) return;
    alu(op, d, src, 8);
    return;
  }
  if (!rmwBegin(eaSeg, off, 1)) return;
  rmwWrite8(alu(op, rmwRead8(), src, 8));
}

/** op Ew, <src> */
@inline export function aluEw(op: u32, src: u32): void {
  if (modrm >= 0xc0) {
    const r = modrm & 7;
    const res = alu(op, reg16(r), src, 16);
    if (writes(op)) setReg16(r, res);
    return;
  }
  const off = effectiveAddress();
  if (faulted) return;
  if (!writes(op)) {
    const d = read16(eaSeg, off);
    if (faulted) return;
    alu(op, d, src, 16);
    return;
  }
  if (!rmwBegin(eaSeg, off, 2)) return;
  rmwWrite16(alu(op, rmwRead16(), src, 16));
}

/** op Ed, <src> */
@inline export function aluEd(op: u32, src: u32): void {
  if (modrm >= 0xc0) {
    const r = modrm & 7;
    const res = alu(op, reg32(r), src, 32);
    if (writes(op)) setReg32(r, res);
    return;
  }
  const off = effectiveAddress();
  if (faulted) return;
  if (!writes(op)) {
    const d = read32(eaSeg, off);
    if (faulted) return;
    alu(op, d, src, 32);
    return;
  }
  if (!rmwBegin(eaSeg, off, 4)) return;
  rmwWrite32(alu(op, rmwRead32(), src, 32));
}

/** Reads the ModRM r/m operand (register or memory) of 8/16/32 bits; 0 after a fault. */
@inline export function readEb(): u32 {
  if (modrm >= 0xc0) return reg8(modrm & 7);
  const off = effectiveAddress();
  if (faulted) return 0;
  return read8(eaSeg, off);
}
@inline export function readEw(): u32 {
  if (modrm >= 0xc0) return reg16(modrm & 7);
  const off = effectiveAddress();
  if (faulted) return 0;
  return read16(eaSeg, off);
}
@inline export function readEd(): u32 {
  if (modrm >= 0xc0) return reg32(modrm & 7);
  const off = effectiveAddress();
  if (faulted) return 0;
  return read32(eaSeg, off);
}

/** op Gb, Eb */
@inline export function aluGbEb(op: u32): void {
  const src = readEb();
  if (faulted) return;
  const r = (modrm >> 3) & 7;
  const res = alu(op, reg8(r), src, 8);
  if (writes(op)) setReg8(r, res);
}
@inline export function aluGwEw(op: u32): void {
  const src = readEw();
  if (faulted) return;
  const r = (modrm >> 3) & 7;
  const res = alu(op, reg16(r), src, 16);
  if (writes(op)) setReg16(r, res);
}
@inline export function aluGdEd(op: u32): void {
  const src = readEd();
  if (faulted) return;
  const r = (modrm >> 3) & 7;
  const res = alu(op, reg32(r), src, 32);
  if (writes(op)) setReg32(r, res);
}

/** op Eb, Gb (the r/m operand is decoded before the register is read: same thing here). */
@inline export function aluEbGb(op: u32): void {
  aluEb(op, reg8((modrm >> 3) & 7));
}
@inline export function aluEwGw(op: u32): void {
  aluEw(op, reg16((modrm >> 3) & 7));
}
@inline export function aluEdGd(op: u32): void {
  aluEd(op, reg32((modrm >> 3) & 7));
}

/** op AL, Ib / op AX, Iw / op EAX, Id */
@inline export function aluAL(op: u32): void {
  const imm = fetch8();
  if (faulted) return;
  const res = alu(op, reg8(0), imm, 8);
  if (writes(op)) setReg8(0, res);
}
@inline export function aluAX(op: u32): void {
  const imm = fetch16();
  if (faulted) return;
  const res = alu(op, reg16(0), imm, 16);
  if (writes(op)) setReg16(0, res);
}
@inline export function aluEAX(op: u32): void {
  const imm = fetch32();
  if (faulted) return;
  const res = alu(op, reg32(0), imm, 32);
  if (writes(op)) setReg32(0, res);
}

/**
 * op E, imm: the displacement bytes come before the immediate, so the effective address is
 * decoded first and the immediate fetched after it.
 */
@inline export function aluEbIb(op: u32): void {
  if (modrm >= 0xc0) {
    const imm = fetch8();
    if (faulted) return;
    aluEb(op, imm);
    return;
  }
  const off = effectiveAddress();
  if (faulted) return;
  const imm = fetch8();
  if (faulted) return;
  aluMem8(op, off, imm);
}

@inline export function aluEwImm(op: u32, signExtendByte: bool): void {
  let off: u32 = 0;
  if (modrm < 0xc0) {
    off = effectiveAddress();
    if (faulted) return;
  }
  const imm: u32 = signExtendByte ? <u32>(<i32>(<i8>fetch8())) & 0xffff : fetch16();
  if (faulted) return;
  if (modrm >= 0xc0) {
    const r = modrm & 7;
    const res = alu(op, reg16(r), imm, 16);
    if (writes(op)) setReg16(r, res);
    return;
  }
  if (!writes(op)) {
    const d = read16(eaSeg, off);
    if (faulted) return;
    alu(op, d, imm, 16);
    return;
  }
  if (!rmwBegin(eaSeg, off, 2)) return;
  rmwWrite16(alu(op, rmwRead16(), imm, 16));
}

@inline export function aluEdImm(op: u32, signExtendByte: bool): void {
  let off: u32 = 0;
  if (modrm < 0xc0) {
    off = effectiveAddress();
    if (faulted) return;
  }
  const imm: u32 = signExtendByte ? <u32>(<i32>(<i8>fetch8())) : fetch32();
  if (faulted) return;
  if (modrm >= 0xc0) {
    const r = modrm & 7;
    const res = alu(op, reg32(r), imm, 32);
    if (writes(op)) setReg32(r, res);
    return;
  }
  if (!writes(op)) {
    const d = read32(eaSeg, off);
    if (faulted) return;
    alu(op, d, imm, 32);
    return;
  }
  if (!rmwBegin(eaSeg, off, 4)) return;
  rmwWrite32(alu(op, rmwRead32(), imm, 32));
}
