// The JIT's emitters for arithmetic: the ALU operations (ADD..CMP, TEST) at 8, 16 and 32 bits,
// IMUL, INC/DEC and DIV, their flags pending in locals as flags.ts keeps them.

import { type AluKind, type BlockEmitter, FA, FB, FR } from "./emit.js";
import { pendingCarry, XC, XR } from "./flags.js";
import type { Emitter } from "./forms.js";
import { Op } from "./wasm.js";

const INLINE_KIND: Record<string, AluKind> = {
  ADD: "add",
  OR: "or",
  ADC: "adc",
  SBB: "sbb",
  AND: "and",
  SUB: "sub",
  XOR: "xor",
  CMP: "cmp",
  TEST: "test",
};

/** FR = FA op FB on 8, 16 or 32 bits, its flags pending. */
export function aluOp(em: BlockEmitter, mnem: string, size: 1 | 2 | 4): void {
  em.alu(INLINE_KIND[mnem], size === 1 ? 8 : size === 2 ? 16 : 32);
}

const stores = (mnem: string) => mnem !== "CMP" && mnem !== "TEST";

/**
 * ALU forms: Ev,Gv  Gv,Ev  eAX,Iz  Ev,Iz  Ev,Ibs at 32 or (`size` 2) 16 bits, and their byte
 * forms (Eb,Gb  Gb,Eb  AL,Ib  Eb,Ib).
 */
export function aluForm(mnem: string, form: string, size: 1 | 2 | 4): Emitter {
  const mask = size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
  return (em, insn) => {
    const c = em.c;
    const getReg = (r: number) => (size === 4 ? em.getReg(r) : size === 2 ? em.getReg16(r) : em.getReg8(r));
    const setReg = (r: number) => {
      if (size === 4) {
        c.get(FR);
        em.setReg(r);
      } else if (size === 2) em.setReg16(r, FR);
      else em.setReg8(r, FR);
    };
    const src = () => {
      if (form === "EvGv" || form === "EbGb") getReg(insn.reg);
      else c.const(insn.imm[0] & mask);
      c.set(FB);
    };
    if (form === "AXIz" || form === "ALIb") {
      getReg(0);
      c.set(FA);
      src();
      aluOp(em, mnem, size);
      if (stores(mnem)) setReg(0);
    } else if (form === "GvEv" || form === "GbEb") {
      em.rm(insn, size, "r", () => {
        c.get(FA).set(FB);
        getReg(insn.reg);
        c.set(FA);
        aluOp(em, mnem, size);
        if (stores(mnem)) setReg(insn.reg);
      });
    } else {
      em.rm(insn, size, stores(mnem) ? "rw" : "r", () => {
        src();
        aluOp(em, mnem, size);
      });
    }
    em.retired();
    return true;
  };
}

/** IMUL Gv,Ev(,imm): the low half inline; CF = OF = the product does not fit in 32 bits. */
export function imulForm(imm: boolean): Emitter {
  return (em, insn) => {
    const c = em.c;
    em.rm(insn, 4, "r", () => {
      const other = () => (imm ? c.const(insn.imm[0]) : em.getReg(insn.reg));
      c.get(FA);
      other();
      c.op(Op.i32Mul).set(FR);
      c.get(FA).op(Op.i64ExtendI32s);
      other();
      c.op(Op.i64ExtendI32s).op(Op.i64Mul).const64(32).op(Op.i64ShrS).op(Op.i32WrapI64);
      c.get(FR).const(31).op(Op.i32ShrS).op(Op.i32Ne).set(XC);
      c.get(FR).set(XR);
      em.flags = { kind: "imul" };
      c.get(FR);
      em.setReg(insn.reg);
    });
    em.retired();
    return true;
  };
}

/**
 * INC/DEC at 32, 16 (`size` 2) or 8 bits: the carry they keep comes from the pending flags (or
 * the core, when none are). The narrow forms keep their flags pending at their width.
 */
export function incDec(inc: boolean, opcodeReg: boolean, size: 1 | 2 | 4 = 4): Emitter {
  return (em, insn) => {
    const c = em.c;
    const bits = size === 4 ? undefined : size === 2 ? 16 : 8;
    const body = () => {
      // The carry INC/DEC keep: from pending flags when there are some, else left in the state
      // block until something reads it (a loop's INC at the top of a basic block reads nothing).
      if (em.flags?.kind === "deferred") em.settleFlags();
      const prev = em.flags;
      const carryInState =
        prev === null || ((prev.kind === "inc" || prev.kind === "dec") && prev.carryInState === true);
      if (prev && !carryInState) pendingCarry(c, prev);
      if (!carryInState) c.set(XC);
      c.get(FA)
        .const(1)
        .op(inc ? Op.i32Add : Op.i32Sub);
      if (bits) c.const(bits === 16 ? 0xffff : 0xff).op(Op.i32And);
      c.set(FR);
      em.setFlags({ kind: inc ? "inc" : "dec", ...(carryInState && { carryInState }), ...(bits && { bits }) });
    };
    if (opcodeReg) {
      const r = insn.opcode & 7;
      if (size === 4) em.getReg(r);
      else em.getReg16(r);
      c.set(FA);
      body();
      if (size === 4) {
        c.get(FR);
        em.setReg(r);
      } else em.setReg16(r, FR);
    } else em.rm(insn, size, "rw", body);
    em.retired();
    return true;
  };
}

// DIV r/m32: EDX:EAX / the operand. A zero divisor or a quotient over 32 bits (EDX at least
// the divisor) raises #DE, which the interpreter delivers; the flags stay as they are.
export const divForm: Emitter = (em, insn) => {
  const c = em.c;
  const dividend = () => {
    em.getReg(2);
    c.op(Op.i64ExtendI32u).const64(32).op(Op.i64Shl);
    em.getReg(0);
    c.op(Op.i64ExtendI32u).op(Op.i64Or);
  };
  em.rm(insn, 4, "r", () => {
    c.get(FA).op(Op.i32Eqz);
    em.getReg(2);
    c.get(FA).op(Op.i32GeU).op(Op.i32Or).ifVoid();
    em.slowExit(insn);
    c.op(Op.end);
    dividend();
    c.get(FA).op(Op.i64ExtendI32u).op(Op.i64RemU).op(Op.i32WrapI64).set(FB);
    dividend();
    c.get(FA).op(Op.i64ExtendI32u).op(Op.i64DivU).op(Op.i32WrapI64);
    em.setReg(0);
    c.get(FB);
    em.setReg(2);
  });
  em.retired();
  return true;
};
