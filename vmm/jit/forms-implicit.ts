// The JIT's emitters for forms whose memory operand is implicit or a bare offset: LODS, STOS
// and SCAS without REP, and MOV AL/EAX to and from a memory offset.

import * as L from "../generated/layout.js";
import { FA, FB, HOST, SEG_DS, SEG_ES } from "./emit.js";
import type { Emitter } from "./forms.js";
import { aluOp } from "./forms-arith.js";
import { Op } from "./wasm.js";

/**
 * LODS, STOS and SCAS without REP (32-bit addresses): the access at DS:ESI (another segment by
 * prefix) or ES:EDI, then ESI or EDI moved by the size, down when DF is set (read at run time).
 * Linux's strcmp is a LODSB/SCASB loop.
 */
export function stringForm(op: "lods" | "stos" | "scas", size: 1 | 4): Emitter {
  return (em, insn) => {
    const c = em.c;
    const src = op === "lods";
    const index = src ? 6 : 7;
    const m = {
      seg: src && insn.seg >= 0 ? insn.seg : src ? SEG_DS : SEG_ES,
      base: index,
      index: -1,
      scale: 0,
      disp: 0,
    };
    em.withMemory(insn, m, size, op === "stos", () => {
      if (op === "stos") {
        c.get(HOST);
        if (size === 4) em.getReg(0);
        else em.getReg8(0);
        c.store(size === 4 ? Op.i32Store : Op.i32Store8);
      } else if (op === "lods") {
        c.get(HOST).load(size === 4 ? Op.i32Load : Op.i32Load8u);
        if (size === 4) em.setReg(0);
        else {
          c.set(FA);
          em.setReg8(0, FA);
        }
      } else {
        if (size === 4) em.getReg(0);
        else em.getReg8(0);
        c.set(FA);
        c.get(HOST)
          .load(size === 4 ? Op.i32Load : Op.i32Load8u)
          .set(FB);
        aluOp(em, "CMP", size);
      }
      // ESI/EDI + size, or - size under DF (EFLAGS bit 10).
      em.getReg(index);
      c.const(size)
        .loadAt(L.S_EFLAGS)
        .const(size === 4 ? 7 : 9)
        .op(Op.i32ShrU)
        .const(size * 2)
        .op(Op.i32And)
        .op(Op.i32Sub)
        .op(Op.i32Add);
      em.setReg(index);
    });
    em.retired();
    return true;
  };
}

/** MOV AL/EAX from (`store` false) or to a memory offset, `size` 1 or 4 bytes. */
export function moffsForm(size: 1 | 4, store: boolean): Emitter {
  return (em, insn) => {
    const m = insn.mem;
    if (!m) return false;
    const c = em.c;
    em.withMemory(insn, m, size, store, () => {
      if (store) {
        c.get(HOST);
        em.getReg(0);
        c.store(size === 4 ? Op.i32Store : Op.i32Store8);
      } else if (size === 4) {
        c.get(HOST).load(Op.i32Load);
        em.setReg(0);
      } else {
        c.get(HOST).load(Op.i32Load8u).set(FA);
        em.setReg8(0, FA);
      }
    });
    em.retired();
    return true;
  };
}
