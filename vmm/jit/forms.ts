// The JIT's emitters, keyed by the interpreter routine's name at its operand size (the names the
// instruction table gives: core/isa/table.mjs, sizedHandler). A form without an entry here runs
// through the interpreter's routine from compiled code (BlockEmitter.interpret), so coverage is
// complete whatever this table holds; an entry only makes the form faster. Only 32-bit operand
// and address sizes are inlined; everything else is left to the interpreter.

import * as L from "../generated/layout.js";
import type { Insn } from "./decode.js";
import { type BlockEmitter, EA, FA, FB, FR, HOST, SEG_SS, V } from "./emit.js";
import { aluForm, divForm, imulForm, incDec } from "./forms-arith.js";
import { bitTestForm, narrowShiftForm, shiftForm } from "./forms-bits.js";
import { moffsForm, stringForm } from "./forms-implicit.js";
import { FN_RDTSC } from "./functions.js";
import { Op } from "./wasm.js";

/** Emits `insn`; `last`: it ends the block. False when it emitted nothing (the form is left to the interpreter). */
export type Emitter = (em: BlockEmitter, insn: Insn, last: boolean) => boolean;

const FLAG_DF = 0x400;
/** The eight ALU operations in opcode order (ADD OR ADC SBB AND SUB XOR CMP). */
const ALU_NAMES = ["ADD", "OR", "ADC", "SBB", "AND", "SUB", "XOR", "CMP"];
/** A near transfer to the value in local V (JMP/CALL r/m, RET): the block's last instruction. */
function exitToV(em: BlockEmitter, insn: Insn): void {
  const c = em.c;
  c.get(V)
    .loadAt(L.S_SEG_LIMIT + 4)
    .op(Op.i32LeU)
    .ifVoid();
  em.noteIndirect();
  em.exitWith(() => c.get(V), 1);
  c.op(Op.end);
  em.slowExit(insn);
}

/**
 * A form that is one r/m operand of `size` bytes and a body (mode as BlockEmitter.rm): the body
 * reads FA and/or sets FR.
 */
function rmForm(size: 1 | 2 | 4, mode: "r" | "w" | "rw", body: (em: BlockEmitter, insn: Insn) => void): Emitter {
  return (em, insn) => {
    em.rm(insn, size, mode, () => body(em, insn));
    em.retired();
    return true;
  };
}

/**
 * POP into local V from the 32-bit stack at register `top` (ESP; EBP for LEAVE), ESP = top + 4;
 * `then` runs on the fast path after that. The caller closes the `if` with the slow path.
 */
function popToV(em: BlockEmitter, top: number, then: () => void): void {
  const c = em.c;
  em.getReg(top);
  c.set(EA);
  em.accessOk(SEG_SS, 4, false);
  c.ifVoid();
  c.get(HOST).load(Op.i32Load).set(V);
  em.getReg(top);
  c.const(4).op(Op.i32Add);
  em.setReg(4);
  then();
}

const EMITTERS: Record<string, Emitter> = {
  // NOP Ev computes no address and touches no memory (SDM vol. 2B "NOP").
  NOP_Ev: (em) => {
    em.retired();
    return true;
  },
  RDTSC: (em, insn, last) => {
    // The core reads the TSC (the instructions before this one counted) unless CR4.TSD or RDTSC
    // exiting says the interpreter must run it. (Its table entry names a bt callout, so the
    // region's path ends after it: the code goes on at the next instruction from here.)
    const c = em.c;
    em.syncRetired();
    c.call(FN_RDTSC).ifVoid();
    c.loadAt(L.S_REGS);
    em.setReg(0);
    c.loadAt(L.S_REGS + 8);
    em.setReg(2);
    c.op(Op.else);
    em.slowPath(insn, new Set([0, 2]));
    c.op(Op.end);
    em.retired();
    if (last) em.fallOut((insn.eip + insn.len) | 0);
    return true;
  },
  NOP: (em) => {
    em.retired();
    return true;
  },
  MOV_Zv_Iv_32: (em, insn) => {
    em.c.const(insn.imm[0]);
    em.setReg(insn.opcode & 7);
    em.retired();
    return true;
  },
  MOV_Zb_Ib: (em, insn) => {
    em.c.const(insn.imm[0] & 0xff).set(FR);
    em.setReg8(insn.opcode & 7, FR);
    em.retired();
    return true;
  },
  MOV_EvGv_32: rmForm(4, "w", (em, insn) => {
    em.getReg(insn.reg);
    em.c.set(FR);
  }),
  MOV_EvIz_32: rmForm(4, "w", (em, insn) => em.c.const(insn.imm[0]).set(FR)),
  MOV_GvEv_32: rmForm(4, "r", (em, insn) => {
    em.c.get(FA);
    em.setReg(insn.reg);
  }),
  MOV_EbGb: rmForm(1, "w", (em, insn) => {
    em.getReg8(insn.reg);
    em.c.set(FR);
  }),
  MOV_EbIb: rmForm(1, "w", (em, insn) => em.c.const(insn.imm[0] & 0xff).set(FR)),
  // MOV between AL/EAX and a memory offset (A0-A3; decode.ts makes the offset a MemOperand).
  MOV_AXOv_32: moffsForm(4, false),
  MOV_OvAX_32: moffsForm(4, true),
  MOV_ALOb: moffsForm(1, false),
  LODSB: stringForm("lods", 1),
  LODS_Zv_32: stringForm("lods", 4),
  STOSB: stringForm("stos", 1),
  STOS_Zv_32: stringForm("stos", 4),
  SCASB: stringForm("scas", 1),
  SCAS_Zv_32: stringForm("scas", 4),
  MOV_ObAL: moffsForm(1, true),
  BT_EvIb_32: bitTestForm("imm", null),
  BTS_EvIb_32: bitTestForm("imm", Op.i32Or),
  BTR_EvIb_32: bitTestForm("imm", Op.i32And),
  BTC_EvIb_32: bitTestForm("imm", Op.i32Xor),
  BT_EvGv_32: bitTestForm("reg", null),
  BTS_EvGv_32: bitTestForm("reg", Op.i32Or),
  BTR_EvGv_32: bitTestForm("reg", Op.i32And),
  BTC_EvGv_32: bitTestForm("reg", Op.i32Xor),
  BSWAP_Zd: (em, insn) => {
    // Bytes 3 and 1 rotated down into 0 and 2, bytes 2 and 0 rotated up into 1 and 3.
    const r = insn.opcode & 7;
    em.getReg(r);
    em.c.const(0xff00ff00).op(Op.i32And).const(8).op(Op.i32Rotl);
    em.getReg(r);
    em.c.const(0x00ff00ff).op(Op.i32And).const(8).op(Op.i32Rotr).op(Op.i32Or);
    em.setReg(r);
    em.retired();
    return true;
  },
  MOV_GbEb: rmForm(1, "r", (em, insn) => em.setReg8(insn.reg, FA)),
  // 16-bit moves and zero/sign extensions: Linux's inflate and string code run on them.
  MOV_EvGv_16: rmForm(2, "w", (em, insn) => {
    em.getReg(insn.reg);
    em.c.set(FR);
  }),
  MOV_GvEv_16: rmForm(2, "r", (em, insn) => em.setReg16(insn.reg, FA)),
  MOV_EvIz_16: rmForm(2, "w", (em, insn) => em.c.const(insn.imm[0] & 0xffff).set(FR)),
  MOVZX_GvEb_32: rmForm(1, "r", (em, insn) => {
    em.c.get(FA);
    em.setReg(insn.reg);
  }),
  MOVZX_GvEw_32: rmForm(2, "r", (em, insn) => {
    em.c.get(FA);
    em.setReg(insn.reg);
  }),
  MOVSX_GvEb_32: rmForm(1, "r", (em, insn) => {
    em.c.get(FA).op(Op.i32Extend8s);
    em.setReg(insn.reg);
  }),
  MOVSX_GvEw_32: rmForm(2, "r", (em, insn) => {
    em.c.get(FA).op(Op.i32Extend16s);
    em.setReg(insn.reg);
  }),
  LEA_GvM_32: (em, insn) => {
    if (!insn.mem) return false;
    em.ea(insn.mem);
    em.setReg(insn.reg);
    em.retired();
    return true;
  },
  NOT_Ev_32: rmForm(4, "rw", (em) => em.c.get(FA).const(-1).op(Op.i32Xor).set(FR)),
  NEG_Ev_32: rmForm(4, "rw", (em) => {
    em.c.get(FA).set(FB).const(0).set(FA);
    em.c.get(FA).get(FB).op(Op.i32Sub).set(FR);
    em.setFlags({ kind: "sub" });
  }),
  INC_Zv_32: incDec(true, true),
  DEC_Zv_32: incDec(false, true),
  INC_Ev_32: incDec(true, false),
  DEC_Ev_32: incDec(false, false),
  INC_Zv_16: incDec(true, true, 2),
  DEC_Zv_16: incDec(false, true, 2),
  INC_Ev_16: incDec(true, false, 2),
  DEC_Ev_16: incDec(false, false, 2),
  INC_Eb: incDec(true, false, 1),
  DEC_Eb: incDec(false, false, 1),
  DIV_Ev_32: divForm,
  IMUL_GvEv_32: imulForm(false),
  IMUL_GvEvIz_32: imulForm(true),
  IMUL_GvEvIbs_32: imulForm(true),
  CMOVCC_GvEv_32: (em, insn) => {
    // The condition first: loading the operand reuses the locals a fused condition reads.
    em.condition(insn.opcode & 15);
    em.c.set(V);
    em.rm(insn, 4, "r", () => {
      em.c.get(V).ifVoid().get(FA);
      em.setReg(insn.reg);
      em.c.op(Op.end);
    });
    em.retired();
    return true;
  },
  SETCC_Eb: rmForm(1, "w", (em, insn) => {
    em.condition(insn.opcode & 15);
    em.c.set(FR);
  }),
  XCHG_EvGv_32: (em, insn) => {
    if (insn.mem) return false; // a locked bus cycle: the interpreter's
    em.getReg(insn.rm);
    em.c.set(FA);
    em.getReg(insn.reg);
    em.setReg(insn.rm);
    em.c.get(FA);
    em.setReg(insn.reg);
    em.retired();
    return true;
  },
  XCHG_Zv_eAX_32: (em, insn) => {
    const r = insn.opcode & 7;
    em.getReg(r);
    em.c.set(FA);
    em.getReg(0);
    em.setReg(r);
    em.c.get(FA);
    em.setReg(0);
    em.retired();
    return true;
  },
  CBW_32: (em) => {
    em.getReg(0);
    em.c.op(Op.i32Extend16s);
    em.setReg(0);
    em.retired();
    return true;
  },
  CWD_32: (em) => {
    em.getReg(0);
    em.c.const(31).op(Op.i32ShrS);
    em.setReg(2);
    em.retired();
    return true;
  },
  CLD: (em) => {
    em.c.const(L.S_EFLAGS).loadAt(L.S_EFLAGS).const(~FLAG_DF).op(Op.i32And).store(Op.i32Store);
    em.retired();
    return true;
  },
  STD: (em) => {
    em.c.const(L.S_EFLAGS).loadAt(L.S_EFLAGS).const(FLAG_DF).op(Op.i32Or).store(Op.i32Store);
    em.retired();
    return true;
  },
  PUSH_Zv_32: (em, insn) => push(em, insn, () => em.getReg(insn.opcode & 7)),
  // PUSH r/m: the operand is read first (its fault comes before the push's), then pushed.
  PUSH_Ev_32: (em, insn) => {
    if (!em.ss32) return false;
    em.rm(insn, 4, "r", () => {
      em.c.get(FA).set(V);
      em.push(insn, V);
    });
    em.retired();
    return true;
  },
  PUSH_Iz_32: (em, insn) => push(em, insn, () => em.c.const(insn.imm[0])),
  PUSH_Ibs_32: (em, insn) => push(em, insn, () => em.c.const(insn.imm[0])),
  POP_Zv_32: (em, insn) => {
    if (!em.ss32) return false;
    const written = em.track(() =>
      popToV(em, 4, () => {
        em.c.get(V);
        em.setReg(insn.opcode & 7);
      }),
    );
    em.c.op(Op.else);
    em.slowPath(insn, written);
    em.c.op(Op.end);
    em.retired();
    return true;
  },
  LEAVE_32: (em, insn) => {
    if (!em.ss32) return false;
    // ESP = EBP, then POP EBP; the interpreter does both when the read cannot be made here.
    const c = em.c;
    const written = em.track(() =>
      popToV(em, 5, () => {
        c.get(V);
        em.setReg(5);
      }),
    );
    c.op(Op.else);
    em.slowPath(insn, written);
    c.op(Op.end);
    em.retired();
    return true;
  },
  JMP_Jb: (em, insn) => {
    em.inline++;
    em.jumpTo(insn, (insn.eip + insn.len + insn.imm[0]) | 0);
    return true;
  },
  JMP_Jz_32: (em, insn, last) => EMITTERS.JMP_Jb(em, insn, last),
  JCC_Jb: (em, insn) => {
    em.inline++;
    const next = (insn.eip + insn.len) | 0;
    em.condition(insn.opcode & 15);
    em.c.ifVoid();
    em.depth++;
    em.jumpTo(insn, (next + insn.imm[0]) | 0);
    em.depth--;
    em.c.op(Op.end);
    // Not taken: on at the next instruction (its fetch, not the Jcc, faults past the CS limit).
    em.fallOut(next, 1);
    return true;
  },
  JCC_Jz_32: (em, insn, last) => EMITTERS.JCC_Jb(em, insn, last),
  CALL_Jz_32: (em, insn) => {
    if (!em.ss32) return false;
    em.inline++;
    const c = em.c;
    const next = (insn.eip + insn.len) | 0;
    const target = (next + insn.imm[0]) | 0;
    c.const(target)
      .loadAt(L.S_SEG_LIMIT + 4)
      .op(Op.i32GtU)
      .ifVoid();
    em.slowExit(insn);
    c.op(Op.end);
    c.const(next).set(V);
    em.push(insn, V);
    em.exitTo(target, 1);
    return true;
  },
  RETN_32: (em, insn) => {
    if (!em.ss32) return false;
    em.inline++;
    const c = em.c;
    em.getReg(4);
    c.set(EA);
    em.accessOk(SEG_SS, 4, false);
    c.ifVoid();
    c.get(HOST).load(Op.i32Load).set(V);
    c.get(V)
      .loadAt(L.S_SEG_LIMIT + 4)
      .op(Op.i32LeU)
      .ifVoid();
    em.getReg(4);
    c.const(4).op(Op.i32Add);
    em.setReg(4);
    em.noteIndirect();
    em.exitWith(() => c.get(V), 1);
    c.op(Op.end);
    c.op(Op.end);
    em.slowExit(insn);
    return true;
  },
  JMP_Ev_32: (em, insn) => {
    em.inline++;
    em.rm(insn, 4, "r", () => em.c.get(FA).set(V), true);
    exitToV(em, insn);
    return true;
  },
  CALL_Ev_32: (em, insn) => {
    if (!em.ss32) return false;
    em.inline++;
    const c = em.c;
    // The target is read first (its fault comes before the push's), then the return address pushed.
    em.rm(
      insn,
      4,
      "r",
      () => {
        c.get(FA).set(FB);
        c.get(FB)
          .loadAt(L.S_SEG_LIMIT + 4)
          .op(Op.i32LeU)
          .ifVoid();
        c.const((insn.eip + insn.len) | 0).set(V);
        em.push(insn, V);
        em.noteIndirect();
        em.exitWith(() => c.get(FB), 1);
        c.op(Op.end);
      },
      true,
    );
    em.slowExit(insn);
    return true;
  },
};

function push(em: BlockEmitter, insn: Insn, value: () => void): boolean {
  if (!em.ss32) return false;
  value();
  em.c.set(V);
  em.push(insn, V);
  em.retired();
  return true;
}

for (const m of [...ALU_NAMES, "TEST"]) {
  for (const form of ["EvGv", "GvEv", "AXIz", "EvIz", "EvIbs"]) {
    EMITTERS[`${m}_${form}_32`] = aluForm(m, form, 4);
    EMITTERS[`${m}_${form}_16`] = aluForm(m, form, 2);
  }
  for (const form of ["EbGb", "GbEb", "ALIb", "EbIb"]) EMITTERS[`${m}_${form}`] = aluForm(m, form, 1);
}
for (const m of ["ROL", "ROR", "RCL", "RCR", "SHL", "SHR", "SAR"]) {
  EMITTERS[`${m}_EvIb_32`] = shiftForm("Ib");
  EMITTERS[`${m}_Ev1_32`] = shiftForm("1");
  EMITTERS[`${m}_EvCL_32`] = shiftForm("CL");
  EMITTERS[`${m}_EvIb_16`] = narrowShiftForm(16, "Ib");
  EMITTERS[`${m}_Ev1_16`] = narrowShiftForm(16, "1");
  EMITTERS[`${m}_EvCL_16`] = narrowShiftForm(16, "CL");
  EMITTERS[`${m}_EbIb`] = narrowShiftForm(8, "Ib");
  EMITTERS[`${m}_Eb1`] = narrowShiftForm(8, "1");
  EMITTERS[`${m}_EbCL`] = narrowShiftForm(8, "CL");
}

/** JIT_DISABLE=FORM,FORM (Node) leaves those forms to the interpreter: for bisecting a JIT bug. */
const DISABLED = new Set((globalThis.process?.env?.JIT_DISABLE ?? "").split(",").filter(Boolean));

/** Whether `insn` gets inline code (its form has an emitter and its sizes are 32-bit). */
function inlinable(insn: Insn): boolean {
  // 16-bit operand size only for the forms whose emitters say so (their handlers end in _16).
  if (!insn.addrsize32 || insn.lock) return false;
  // F3 90 is PAUSE, a NOP to this CPU (spin-wait loops run on it); other REPs are the core's.
  if (insn.rep && !(insn.handler === "NOP" && insn.rep === 0xf3)) return false;
  if (!insn.opsize32 && !insn.handler.endsWith("_16") && !SIZE_FREE.has(insn.handler)) return false;
  if (insn.mem && insn.mem.base === -2) return false;
  return EMITTERS[insn.handler] !== undefined && !DISABLED.has(insn.handler);
}

/** Emitters whose form the operand size does not change (66 90 is a NOP, 66 0F 31 an RDTSC). */
const SIZE_FREE = new Set(["NOP", "NOP_Ev", "RDTSC"]);

/** Emits `insn` inline when its form has an emitter; false (nothing emitted) otherwise. */
export function emitInline(em: BlockEmitter, insn: Insn, last: boolean): boolean {
  return inlinable(insn) && EMITTERS[insn.handler](em, insn, last);
}

/**
 * A direct JMP or Jcc with inline code: its kind and target. The region compiler follows both
 * (compiler.ts); any other branch ends the region's path.
 */
export function inlineBranch(insn: Insn): { jcc: boolean; target: number } | null {
  const jcc = insn.handler === "JCC_Jb" || insn.handler === "JCC_Jz_32";
  if (!jcc && insn.handler !== "JMP_Jb" && insn.handler !== "JMP_Jz_32") return null;
  if (!inlinable(insn)) return null;
  return { jcc, target: (insn.eip + insn.len + insn.imm[0]) | 0 };
}

/** Forms with an emitter (for the stats and the tests). */
export const inlineForms: readonly string[] = Object.keys(EMITTERS);
