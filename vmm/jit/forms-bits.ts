// The JIT's emitters for the shift group (SHL/SHR/SAR, ROL/ROR, RCL/RCR at 32, 16 and 8 bits) and
// the bit tests (BT/BTS/BTR/BTC): the forms whose flags are not a plain lazy record (a rotate
// keeps four of them, a bit test five), kept pending in the ways flags.ts describes.

import type { Insn } from "./decode.js";
import { type BlockEmitter, FA, FB, FR } from "./emit.js";
import { XN, XS } from "./flags.js";
import type { Emitter } from "./forms.js";
import { FN_SHIFT } from "./functions.js";
import { Op } from "./wasm.js";

const SHIFT_KINDS: Record<number, "shl" | "shr" | "sar"> = { 4: "shl", 5: "shr", 6: "shl", 7: "sar" };
const SHIFT_OPS = { shl: Op.i32Shl, shr: Op.i32ShrU, sar: Op.i32ShrS };
/** ModRM.reg of the group's operations as wasm operators when their flags are not needed (no RCL/RCR). */
const RESULT_OPS: Record<number, number> = {
  0: Op.i32Rotl,
  1: Op.i32Rotr,
  4: Op.i32Shl,
  5: Op.i32ShrU,
  6: Op.i32Shl,
  7: Op.i32ShrS,
};

/**
 * Shift group (C1 /r Ib, D1 /r, D3 /r CL). SHL/SHR/SAR by a constant count run inline with their
 * flags pending. ROL/ROR and counts in CL compute their result inline and their flags only when
 * something can see them (liveness.ts: never; flags.ts "deferred": at the next flush, by the
 * core's shift()). RCL/RCR, which read CF, use the core's shift().
 */
export function shiftForm(count: "Ib" | "1" | "CL"): Emitter {
  return (em, insn) => {
    const n = count === "Ib" ? insn.imm[0] & 0x1f : 1;
    const kind = SHIFT_KINDS[insn.reg];
    em.rm(insn, 4, "rw", () => {
      if (count !== "CL" && n !== 0 && kind) {
        em.c.get(FA).const(n).op(SHIFT_OPS[kind]).set(FR);
        em.setFlags({ kind, count: n });
        return;
      }
      const op = RESULT_OPS[insn.reg];
      if (op === undefined) {
        coreShift(em, insn, count, 32); // RCL, RCR: they read CF
        return;
      }
      if (count !== "CL" && n === 0) {
        em.c.get(FA).set(FR); // nothing changes, the flags neither
        return;
      }
      // The result inline (wasm masks the count to 5 bits as x86 does); the flags not at all
      // where no one sees them, else deferred to the core's shift() at the next flush.
      if (count === "CL") {
        em.getReg(1);
        em.c.const(0xff).op(Op.i32And).set(FB);
      } else em.c.const(n).set(FB);
      em.c.get(FA).get(FB).op(op).set(FR);
      if (em.flagsDead) return; // the pending flags are replaced before anything can read them
      em.deferShift(insn.reg, count !== "CL", () => {
        em.c.get(FA).set(XS).get(FB).set(XN);
      });
    });
    em.retired();
    return true;
  };
}

/** FR = the core's shift() of FA (its flags set) by the form's count, at `size` bits. */
function coreShift(em: BlockEmitter, insn: Insn, count: "Ib" | "1" | "CL", size: 8 | 16 | 32): void {
  em.settleFlags();
  em.c.const(insn.reg | (size === 32 ? 0 : size << 8)).get(FA);
  if (count === "Ib") em.c.const(insn.imm[0] & 0xff);
  else if (count === "1") em.c.const(1);
  else {
    em.getReg(1);
    em.c.const(0xff).op(Op.i32And);
  }
  em.c.call(FN_SHIFT).set(FR);
}

/**
 * The 16-bit (`bits` 16) and byte shift groups: SHL/SHR/SAR by a constant count below the width
 * inline with their flags pending at that width, ROL/ROR by a constant with their flags deferred;
 * RCL/RCR, counts in CL and larger shift counts by the core's shift().
 */
export function narrowShiftForm(bits: 8 | 16, count: "Ib" | "1" | "CL"): Emitter {
  const mask = bits === 16 ? 0xffff : 0xff;
  return (em, insn) => {
    const n = count === "Ib" ? insn.imm[0] & 0x1f : 1;
    const kind = SHIFT_KINDS[insn.reg];
    em.rm(insn, bits === 16 ? 2 : 1, "rw", () => {
      const c = em.c;
      if ((insn.reg === 0 || insn.reg === 1) && count !== "CL") {
        // ROL/ROR r/m by a constant (a byte swap is ROL AX, 8): the result inline, the flags
        // deferred (no change at all for a count of 0; a multiple of the width changes only them).
        const k = n & (bits - 1);
        if (k === 0) c.get(FA).set(FR);
        else {
          const [up, down] = insn.reg === 0 ? [k, bits - k] : [bits - k, k];
          c.get(FA).const(up).op(Op.i32Shl).get(FA).const(down).op(Op.i32ShrU).op(Op.i32Or);
          c.const(mask).op(Op.i32And).set(FR);
        }
        if (n !== 0 && !em.flagsDead)
          em.deferShift(insn.reg | (bits << 8), true, () => c.get(FA).set(XS).const(n).set(XN));
        return;
      }
      if (count === "CL" || n === 0 || n >= bits || !kind) {
        coreShift(em, insn, count, bits);
        return;
      }
      c.get(FA);
      if (kind === "sar")
        c.const(32 - bits)
          .op(Op.i32Shl)
          .const(32 - bits + n);
      else c.const(n);
      c.op(SHIFT_OPS[kind]).const(mask).op(Op.i32And).set(FR);
      em.setFlags({ kind, count: n, bits });
    });
    em.retired();
    return true;
  };
}

/**
 * BT/BTS/BTR/BTC Ev, Ib (the bit number modulo 32) or Ev, Gv with a register operand (a memory
 * operand with a register bit number reaches outside the operand: the interpreter's): CF = the
 * bit, the other flags kept (pending as "carry"); `modify` sets (or), clears (and with the
 * inverted mask) or flips (xor) it, null for BT.
 */
export function bitTestForm(bitFrom: "imm" | "reg", modify: number | null): Emitter {
  return (em, insn) => {
    if (bitFrom === "reg" && insn.mem) return false;
    const c = em.c;
    // FB = the bit number (mod 32)
    const bitNumber = () => {
      if (bitFrom === "imm") c.const(insn.imm[0] & 31);
      else {
        em.getReg(insn.reg);
        c.const(31).op(Op.i32And);
      }
    };
    em.rm(insn, 4, modify === null ? "r" : "rw", () => {
      bitNumber();
      c.set(FB);
      em.setCarry(() => c.get(FA).get(FB).op(Op.i32ShrU).const(1).op(Op.i32And));
      if (modify === null) return;
      c.get(FA).const(1).get(FB).op(Op.i32Shl);
      if (modify === Op.i32And) c.const(-1).op(Op.i32Xor);
      c.op(modify).set(FR);
    });
    em.retired();
    return true;
  };
}
