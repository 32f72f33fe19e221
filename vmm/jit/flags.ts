// The arithmetic flags of compiled code, kept in wasm locals until something needs them.
//
// The interpreter records flags lazily in the state block (core/cpu/flags.ts: an operation, its
// operands and result) and computes a flag only when something reads it. Compiled code goes one
// step further: an inline flag-writing instruction leaves its operands and result in the locals
// XA/XB/XR (and XC) and only records, at compile time, which operation made them ("pending").
// A Jcc, SETcc or CMOVcc computes its condition from those locals; the state block is brought up
// to date ("flushed") only where something outside the block could read it: an exit, a call
// into the interpreter, a call of one of the core's routines. Most flag results are overwritten
// by the next instruction before anything reads them, and those now cost nothing.
//
// A flush writes exactly what the interpreter would have written for the same instruction, so
// the state block never shows that flags were held back: the lazy record for ADD/SUB/logic and
// INC/DEC, the computed bits for shifts and IMUL (which the interpreter computes eagerly).

import * as L from "../generated/layout.js";
import { FN_CARRY, FN_SHIFT } from "./functions.js";
import { type Code, Op } from "./wasm.js";

// Locals holding the pending operation's operands and result (emit.ts allocates them).
export const XA = 15;
export const XB = 16;
export const XR = 17;
/** INC/DEC: the carry they keep; IMUL: the overflow (CF = OF). */
export const XC = 18;
/** A deferred shift's operand and count (emit.ts allocates them after NEXT). */
export const XS = 20;
export const XN = 21;

const FLAG_CF = 0x1;
const FLAGS_ARITH = 0x8d5;
/** The interpreter's lazy operations (core/cpu/flags.ts OP_*). */
export const LAZY = { ADD: 0, ADC: 1, SUB: 2, SBB: 3, LOGIC: 4, INC: 5, DEC: 6 } as const;
// What each pending kind records (ADC and SBB: ADD and SUB + the carry in, see flushPending).
const LAZY_OP = {
  add: LAZY.ADD,
  adc: LAZY.ADD,
  sub: LAZY.SUB,
  sbb: LAZY.SUB,
  logic: LAZY.LOGIC,
  inc: LAZY.INC,
  dec: LAZY.DEC,
} as const;

/**
 * The flags of the last inline flag-writing instruction, not yet in the state block. `bits`:
 * an 8- or 16-bit operation, whose XA, XB and XR hold values of that width (32 when absent).
 */
export type Pending =
  | { kind: "add" | "sub"; bits?: Narrow } // XA op XB = XR
  | { kind: "adc" | "sbb"; bits?: Narrow } // XA op XB op XC = XR, XC the carry in (0 or 1)
  | { kind: "logic"; bits?: Narrow } // AND/OR/XOR/TEST: XR
  // XA +/- 1 = XR, the kept carry in XC, or (carryInState) the state block's CF, not read yet:
  // the state block keeps the flags from before the INC/DEC until they are flushed, and after a
  // flush its CF is the kept carry, so the module's carryHelper gives it whenever it is needed.
  | { kind: "inc" | "dec"; carryInState?: boolean; bits?: Narrow }
  // XA shifted by count (1..31; below the width at 8 and 16 bits) = XR
  | { kind: "shl" | "shr" | "sar"; count: number; bits?: Narrow }
  | { kind: "imul" } // XR the low half, XC the overflow
  // A shift or rotate whose result was computed inline and whose flags are the core's shift()
  // of XS by XN (op: its jitShift code), applied over `base` (the flags before it) only when
  // flushed. Rotates keep SF, ZF, AF and PF and a count in CL may be zero, so there is no
  // cheap formula; mostly nothing reads them (MD5's ROL, SHA-256's ROR are followed by an ADD),
  // and a fault, an exit or a reader flushes them exactly as the interpreter would have left them.
  | { kind: "deferred"; op: number; base: Pending | null }
  // BT/BTS/BTR/BTC: CF = XS (0 or 1), the other flags those of `base` (or of the state block).
  | { kind: "carry"; base: Pending | null };

/** The operand widths below 32 bits that ALU operations keep pending. */
export type Narrow = 8 | 16;

/** The operation's width in bits. */
function bits(p: Pending): number {
  return ("bits" in p && p.bits) || 32;
}
/** Pushes bit `bits(p) - 1` of the value on the stack (0 or 1). */
function topBit(c: Code, p: Pending): void {
  if (bits(p) === 32) c.const(31).op(Op.i32ShrU);
  else
    c.const(bits(p) - 1)
      .op(Op.i32ShrU)
      .const(1)
      .op(Op.i32And);
}

/** Pushes the carry flag (0 or 1) of pending flags `p`. */
function carry(c: Code, p: Pending): void {
  switch (p.kind) {
    case "add":
      c.get(XR).get(XA).op(Op.i32LtU);
      return;
    case "sub":
      c.get(XA).get(XB).op(Op.i32LtU);
      return;
    case "adc":
      // With a carry in, r = a + b + 1 carried when r <= a (as core/cpu/flags.ts lazyCF).
      c.get(XR).get(XA).op(Op.i32LeU).get(XR).get(XA).op(Op.i32LtU).get(XC).op(Op.select);
      return;
    case "sbb":
      c.get(XA).get(XB).op(Op.i32LeU).get(XA).get(XB).op(Op.i32LtU).get(XC).op(Op.select);
      return;
    case "logic":
      c.const(0);
      return;
    case "shl":
      c.get(XA)
        .const(bits(p) - p.count)
        .op(Op.i32ShrU)
        .const(1)
        .op(Op.i32And);
      return;
    case "shr":
    case "sar":
      // Bit count-1 of the source is the last bit shifted out (SAR too, for counts up to 31).
      c.get(XA)
        .const(p.count - 1)
        .op(Op.i32ShrU)
        .const(1)
        .op(Op.i32And);
      return;
    case "carry":
      c.get(XS);
      return;
    default:
      keptCarry(c, p);
  }
}

/** Pushes the carry INC/DEC (or IMUL's overflow) leave: XC, or the state block's CF. */
function keptCarry(c: Code, p: Pending): void {
  if ((p.kind === "inc" || p.kind === "dec") && p.carryInState) c.call(FN_CARRY);
  else c.get(XC);
}

/** Pushes the overflow flag (0 or 1) of pending flags `p`. */
function overflow(c: Code, p: Pending): void {
  switch (p.kind) {
    case "add":
    case "adc":
      c.get(XA).get(XR).op(Op.i32Xor).get(XB).get(XR).op(Op.i32Xor).op(Op.i32And);
      topBit(c, p);
      return;
    case "sub":
    case "sbb":
      c.get(XA).get(XB).op(Op.i32Xor).get(XA).get(XR).op(Op.i32Xor).op(Op.i32And);
      topBit(c, p);
      return;
    case "inc": // the result is the smallest negative number
      c.get(XR)
        .const((1 << (bits(p) - 1)) | 0)
        .op(Op.i32Eq);
      return;
    case "dec": // the operand was
      c.get(XA)
        .const((1 << (bits(p) - 1)) | 0)
        .op(Op.i32Eq);
      return;
    case "shl":
      topBit(c.get(XR), p);
      carry(c, p);
      c.op(Op.i32Xor);
      return;
    case "shr":
      // As the interpreter: the top two bits of the result (MSB of the source for a count of 1).
      topBit(c.get(XR), p);
      c.get(XR)
        .const(bits(p) - 2)
        .op(Op.i32ShrU)
        .const(1)
        .op(Op.i32And)
        .op(Op.i32Xor);
      return;
    case "imul":
      c.get(XC);
      return;
    default: // logic, sar
      c.const(0);
  }
}

const zero = (c: Code) => c.get(XR).op(Op.i32Eqz);
const sign = (c: Code, p: Pending) => topBit(c.get(XR), p);
const parity = (c: Code) => c.get(XR).const(0xff).op(Op.i32And).op(Op.i32Popcnt).const(1).op(Op.i32And).op(Op.i32Eqz);

/**
 * Pushes condition code `cc` (the low nibble of Jcc/SETcc/CMOVcc: 1 when it holds) from `p`
 * (not "deferred": those are flushed before they are read).
 */
export function pendingCondition(c: Code, p: Pending, cc: number): void {
  if (p.kind === "deferred" || (p.kind === "carry" && cc >> 1 !== 1))
    throw new Error(`jit: condition ${cc} of ${p.kind} flags`);
  const base = cc >> 1;
  // (For a byte or word CMP only the unsigned and equality forms read XA and XB directly.)
  if (p.kind === "sub" && base !== 5 && (bits(p) === 32 || base < 4)) {
    // The comparison itself: CMP a, b and then JB is a < b unsigned, and so on.
    switch (base) {
      case 0:
        overflow(c, p);
        break;
      case 1:
        c.get(XA).get(XB).op(Op.i32LtU);
        break;
      case 2:
        zero(c);
        break;
      case 3:
        c.get(XA).get(XB).op(Op.i32LeU);
        break;
      case 4:
        c.get(XR).const(0).op(Op.i32LtS);
        break;
      case 6:
        c.get(XA).get(XB).op(Op.i32LtS);
        break;
      default:
        c.get(XA).get(XB).op(Op.i32LeS);
        break;
    }
  } else {
    switch (base) {
      case 0:
        overflow(c, p);
        break;
      case 1:
        carry(c, p);
        break;
      case 2:
        zero(c);
        break;
      case 3:
        carry(c, p);
        zero(c);
        c.op(Op.i32Or);
        break;
      case 4:
        sign(c, p);
        break;
      case 5:
        parity(c);
        break;
      case 6:
        sign(c, p);
        overflow(c, p);
        c.op(Op.i32Xor);
        break;
      default:
        zero(c);
        sign(c, p);
        overflow(c, p);
        c.op(Op.i32Xor).op(Op.i32Or);
        break;
    }
  }
  if (cc & 1) c.op(Op.i32Eqz);
}

/** Pushes the carry `p` leaves (for INC/DEC, which keep it; not "deferred" flags). */
export function pendingCarry(c: Code, p: Pending): void {
  if (p.kind === "deferred") throw new Error("jit: the carry of deferred flags");
  carry(c, p);
}

function storeLocal(c: Code, addr: number, local: number): void {
  c.const(addr).get(local).store(Op.i32Store);
}
function storeConst(c: Code, addr: number, v: number): void {
  c.const(addr).const(v).store(Op.i32Store);
}

/** Writes pending flags `p` to the state block as the interpreter would have written them. */
export function flushPending(c: Code, p: Pending): void {
  switch (p.kind) {
    case "deferred":
      if (p.base) flushPending(c, p.base);
      c.const(p.op).get(XS).get(XN).call(FN_SHIFT).op(Op.drop);
      return;
    case "carry":
      // The other flags as they were (lazy or not), CF current: as the core's setFlagBits.
      if (p.base) flushPending(c, p.base);
      c.const(L.S_FLAGS_LAZY).loadAt(L.S_FLAGS_LAZY).const(~FLAG_CF).op(Op.i32And).store(Op.i32Store);
      c.const(L.S_EFLAGS).loadAt(L.S_EFLAGS).const(~FLAG_CF).op(Op.i32And).get(XS).op(Op.i32Or).store(Op.i32Store);
      return;
    case "add":
    case "sub":
    case "adc":
    case "sbb":
      // ADC/SBB record ADD/SUB when the carry in was 0 (core/cpu/ops/alu-core.ts).
      if (p.kind === "adc" || p.kind === "sbb")
        c.const(L.S_LAZY_OP).get(XC).const(LAZY_OP[p.kind]).op(Op.i32Add).store(Op.i32Store);
      else storeConst(c, L.S_LAZY_OP, LAZY_OP[p.kind]);
      storeLocal(c, L.S_LAZY_SRC1, XA);
      storeLocal(c, L.S_LAZY_SRC2, XB);
      storeLocal(c, L.S_LAZY_RES, XR);
      storeConst(c, L.S_LAZY_SIZE, bits(p));
      storeConst(c, L.S_FLAGS_LAZY, FLAGS_ARITH);
      return;
    case "logic":
      storeConst(c, L.S_LAZY_OP, LAZY_OP.logic);
      storeLocal(c, L.S_LAZY_RES, XR);
      storeConst(c, L.S_LAZY_SIZE, bits(p));
      storeConst(c, L.S_FLAGS_LAZY, FLAGS_ARITH);
      return;
    case "inc":
    case "dec":
      c.const(L.S_EFLAGS);
      keptCarry(c, p); // (before the state block's EFLAGS is read: the routine may settle it)
      c.set(XC).loadAt(L.S_EFLAGS).const(~FLAG_CF).op(Op.i32And).get(XC).op(Op.i32Or).store(Op.i32Store);
      storeConst(c, L.S_LAZY_OP, LAZY_OP[p.kind]);
      storeLocal(c, L.S_LAZY_SRC1, XA);
      storeConst(c, L.S_LAZY_SRC2, 1);
      storeLocal(c, L.S_LAZY_RES, XR);
      storeConst(c, L.S_LAZY_SIZE, bits(p));
      storeConst(c, L.S_FLAGS_LAZY, FLAGS_ARITH & ~FLAG_CF);
      return;
    default:
      // Shifts and IMUL: every arithmetic flag computed (AF = 0), none lazy.
      c.const(L.S_EFLAGS).loadAt(L.S_EFLAGS).const(~FLAGS_ARITH).op(Op.i32And);
      zero(c);
      c.const(6).op(Op.i32Shl).op(Op.i32Or);
      sign(c, p);
      c.const(7).op(Op.i32Shl).op(Op.i32Or);
      parity(c);
      c.const(2).op(Op.i32Shl).op(Op.i32Or);
      carry(c, p);
      c.op(Op.i32Or);
      overflow(c, p);
      c.const(11).op(Op.i32Shl).op(Op.i32Or);
      c.store(Op.i32Store);
      storeConst(c, L.S_FLAGS_LAZY, 0);
  }
}

/**
 * Whether the locals of `p` can be read back from the state block after the interpreter ran the
 * same instruction (its slow path): the lazy kinds can, the computed ones cannot.
 */
export function reloadable(p: Pending): boolean {
  return ["add", "sub", "adc", "sbb", "logic", "inc", "dec"].includes(p.kind);
}

/** Reads the locals of (reloadable) `p` back from what the interpreter left in the state block. */
export function reloadPending(c: Code, p: Pending): void {
  const two = p.kind === "add" || p.kind === "sub" || p.kind === "adc" || p.kind === "sbb";
  // (The mask keeps XA..XR at the operation's width whatever the interpreter stored.)
  const load = (addr: number, local: number) => {
    c.loadAt(addr);
    if (bits(p) !== 32) c.const(bits(p) === 8 ? 0xff : 0xffff).op(Op.i32And);
    c.set(local);
  };
  if (p.kind !== "logic") load(L.S_LAZY_SRC1, XA);
  if (two) load(L.S_LAZY_SRC2, XB);
  load(L.S_LAZY_RES, XR);
  if (p.kind === "adc" || p.kind === "sbb") c.loadAt(L.S_LAZY_OP).const(1).op(Op.i32And).set(XC);
  if (p.kind === "inc" || p.kind === "dec") c.loadAt(L.S_EFLAGS).const(FLAG_CF).op(Op.i32And).set(XC);
}
