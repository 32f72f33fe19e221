// The functions a compiled block's module holds besides the block itself (functions.ts FN_SAVE,
// FN_CHAIN, FN_CARRY, FN_ICHAIN): what the block calls often enough that a call into the core
// would cost more, small enough to compile with every block.

import * as L from "../generated/layout.js";
import { LINK_BYTES } from "./emit.js";
import { LAZY } from "./flags.js";
import { FN_CHAIN, FN_LINK } from "./functions.js";
import { Code, Op } from "./wasm.js";

/**
 * FN_ICHAIN's body (params: cell, target): `cell` and the next one are an indirect branch's
 * inline cache. The next cell's first word holds the target the link was made for; another
 * target replaces it and marks the link stale (a kill generation no block has), so FN_CHAIN
 * links it anew through the core (FN_LINK) before following it.
 */
export function indirectChainHelper(): Code {
  const CELL = 0;
  const TARGET = 1;
  const c = new Code();
  c.get(CELL).load(Op.i32Load, LINK_BYTES).get(TARGET).op(Op.i32Ne).ifVoid();
  c.get(CELL).get(TARGET).store(Op.i32Store, LINK_BYTES);
  c.get(CELL).const(-1).store(Op.i32Store, 4);
  c.op(Op.end);
  c.get(CELL).get(TARGET).const(1).call(FN_CHAIN);
  return c;
}

/**
 * FN_CARRY's body (no parameters; locals m, a, b, r): CF from the state block, as the core's
 * getCF() and lazyCF() (core/cpu/flags.ts) compute it: EFLAGS.CF unless FLAGS_LAZY says CF is
 * lazy, then from the recorded operation at its size. A direct call inside the module instead of
 * the core's condition routine.
 */
export function carryHelper(): Code {
  const [M, A, B, R] = [0, 1, 2, 3];
  const c = new Code();
  c.loadAt(L.S_FLAGS_LAZY).const(1).op(Op.i32And).op(Op.i32Eqz).ifVoid();
  c.loadAt(L.S_EFLAGS).const(1).op(Op.i32And).op(Op.return);
  c.op(Op.end);
  // m = size == 32 ? ~0 : (1 << size) - 1
  c.const(-1).const(1).loadAt(L.S_LAZY_SIZE).op(Op.i32Shl).const(1).op(Op.i32Sub);
  c.loadAt(L.S_LAZY_SIZE).const(32).op(Op.i32Eq).op(Op.select).set(M);
  c.loadAt(L.S_LAZY_SRC1).get(M).op(Op.i32And).set(A);
  c.loadAt(L.S_LAZY_SRC2).get(M).op(Op.i32And).set(B);
  c.loadAt(L.S_LAZY_RES).get(M).op(Op.i32And).set(R);
  const op = (n: number) => c.loadAt(L.S_LAZY_OP).const(n).op(Op.i32Eq).ifVoid();
  op(LAZY.SUB);
  c.get(A).get(B).op(Op.i32LtU).op(Op.return);
  c.op(Op.end);
  op(LAZY.ADD);
  c.get(R).get(A).op(Op.i32LtU).op(Op.return);
  c.op(Op.end);
  // ADC: with a carry in (r - a - b nonzero at the size), r <= a; else r < a. SBB likewise.
  op(LAZY.ADC);
  c.get(R).get(A).op(Op.i32LeU).get(R).get(A).op(Op.i32LtU);
  c.get(R).get(A).op(Op.i32Sub).get(B).op(Op.i32Sub).get(M).op(Op.i32And).op(Op.select).op(Op.return);
  c.op(Op.end);
  op(LAZY.SBB);
  c.get(A).get(B).op(Op.i32LeU).get(A).get(B).op(Op.i32LtU);
  c.get(A).get(B).op(Op.i32Sub).get(R).op(Op.i32Sub).get(M).op(Op.i32And).op(Op.select).op(Op.return);
  c.op(Op.end);
  c.const(0);
  return c;
}

/** FN_SAVE's body: its parameters are the registers in `written`, in that order. */
export function saveHelper(written: Iterable<number>): Code {
  const c = new Code();
  let i = 0;
  for (const r of written)
    c.const(L.S_REGS + r * 4)
      .get(i++)
      .store(Op.i32Store);
  return c;
}

/**
 * FN_CHAIN's body (params: cell, target, otherPage; locals TE, V). The link cell is
 * [table index, S_JIT_KILLS when made, host page, entry count]. Nothing can have made an event
 * pending since the run loop's entry (only instructions the interpreter runs can, and jitStep
 * stops the block then), so the link's checks are the lookup's: the block still alive (the kill
 * generation), the page still mapped there (for a target outside the leaving block's page), the
 * budget, no breakpoint armed. A stale or empty cell goes to the core (FN_LINK). The answer is
 * the table index of the block to run next (counted as chained), or 0 for the run loop. (A wasm
 * tail call would need the module to import the core's table, and V8 keeps every instance that
 * imports a table alive with it: memory and the cost of table writes grew with every compile.)
 */
export function chainHelper(): Code {
  const CELL = 0;
  const TARGET = 1;
  const OTHER_PAGE = 2;
  const TE_ = 3;
  const V_ = 4;
  const c = new Code();
  c.blockVoid();
  c.get(CELL).load(Op.i32Load, 4).loadAt(L.S_JIT_KILLS).op(Op.i32Ne).op(Op.brIf).u32(0);
  c.loadAt(L.S_RUN_LIMIT).loadAt(L.S_RUN_RETIRED).op(Op.i32Sub).get(CELL).load(Op.i32Load, 12).op(Op.i32LtS);
  c.op(Op.brIf).u32(0);
  c.loadAt(L.S_DEBUG_ARMED).op(Op.brIf).u32(0);
  c.get(OTHER_PAGE).ifVoid();
  c.loadAt(L.S_SEG_BASE + 4)
    .get(TARGET)
    .op(Op.i32Add);
  c.const(12).op(Op.i32ShrU).const(2).op(Op.i32Shl).const(L.TLB_BASE).op(Op.i32Add).load(Op.i32Load).tee(TE_);
  c.const(~0xfff).op(Op.i32And).get(CELL).load(Op.i32Load, 8).op(Op.i32Ne).op(Op.brIf).u32(1);
  c.get(TE_).loadAt(L.S_TLB_READ_MASK).op(Op.i32And).const(L.TLB_VALID).op(Op.i32Ne).op(Op.brIf).u32(1);
  c.op(Op.end);
  c.get(CELL).load(Op.i32Load).tee(V_).op(Op.i32Eqz).op(Op.brIf).u32(0);
  countChained(c);
  c.get(V_).op(Op.return);
  c.op(Op.end);
  c.get(CELL).get(TARGET).call(FN_LINK).tee(V_).ifVoid();
  countChained(c);
  c.op(Op.end);
  c.get(V_);
  return c;
}

function countChained(c: Code): void {
  c.const(L.S_JIT_CHAINED).const(L.S_JIT_CHAINED).load(Op.i64Load).const64(1).op(Op.i64Add).store(Op.i64Store);
}
