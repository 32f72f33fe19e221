// Code generation for one block: guest instructions in, a WebAssembly function body out.
//
// The guest's registers live in wasm locals for the whole block (loaded once at entry, stored at
// every exit and before any call into the interpreter). An instruction with an emitter runs
// inline: its memory accesses take the TLB fast path and fall back to the interpreter's routine
// for the whole instruction when the segment check, the TLB or the page end says no, so faults,
// device memory and write-tracked pages behave exactly as interpreted. An instruction without
// an emitter always runs through the interpreter (core/jit/enter.ts jitStep), so every form is
// covered. Flags stay in locals until something outside the block could read them (flags.ts).
//
// Instruction counting: inline instructions are counted at compile time, kept in a local (the
// budget left) across the region's basic blocks, and written to RUN_RETIRED before every call
// into the interpreter and at every exit, so devices always see the exact virtual time and
// run(budget) retires exactly its budget.

import * as L from "../generated/layout.js";
import type { Insn, MemOperand } from "./decode.js";
import {
  flushPending,
  type Narrow,
  type Pending,
  pendingCondition,
  reloadable,
  reloadPending,
  XA,
  XB,
  XC,
  XR,
  XS,
} from "./flags.js";
import { FN_CALLOUT, FN_CARRY, FN_CHAIN, FN_COND, FN_ICHAIN, FN_INDIRECT, FN_SAVE, FN_STEP } from "./functions.js";
import { Code, Op } from "./wasm.js";

/** Written registers from which storing them calls FN_SAVE rather than storing inline. */
const SAVE_CALL_FROM = 3;

/** core/jit/blocks.ts LINKS_PER_BLOCK and LINK_BYTES. */
export const LINKS_PER_BLOCK = 8;
export const LINK_BYTES = 16;

/**
 * Chain links for a region (core/jit/enter.ts jitLink): its block number (which cells are its
 * own) and where it starts (which targets are in its page).
 */
export interface ChainSpec {
  block: number;
  entryEip: number;
  pageOffset: number;
}

// Locals: the eight registers, then scratch.
export const EA = 8;
export const HOST = 9;
const TE = 10;
export const V = 11;
export const FA = 12;
export const FB = 13;
export const FR = 14;
// 15..18: the pending flags' locals (flags.ts XA, XB, XR, XC).
/** The basic block the region's dispatch goes to next (compiler.ts). */
export const NEXT = 19;
// 20, 21: a deferred shift's operand and count (flags.ts XS, XN).
/**
 * The budget left: RUN_LIMIT minus the instructions retired so far. Transfers between the
 * region's basic blocks count in this local only; RUN_RETIRED is brought up to date from it at
 * every exit and before every call into the core (addRetired).
 */
const LEFT = 22;
/**
 * The TLB permission masks (S_TLB_READ_MASK, S_TLB_WRITE_MASK): they change with CPL and CR0.WP,
 * which only an instruction the core runs can change, so they are read at entry and after each.
 */
const RMASK = 23;
const WMASK = 24;
export const LOCALS = 25;

export const SEG_ES = 0;
export const SEG_SS = 2;
export const SEG_DS = 3;

/** The basic blocks of a compiled region by start address: their index and instruction count. */
export type RegionMap = Map<number, { index: number; count: number }>;

export type AluKind = "add" | "adc" | "sub" | "sbb" | "cmp" | "and" | "test" | "or" | "xor";

export class BlockEmitter {
  readonly c = new Code();
  /**
   * ES, SS and DS are flat (the block was compiled with BLOCK_FLAT, and jitStep ends it when a
   * segment changes): their accesses need no segment check and no base.
   */
  flatData = false;
  /** Registers set since track() began (the slow path reloads only those), or null. */
  private writeLog: Set<number> | null = null;
  /** Inline instructions retired since RUN_RETIRED was last brought up to date. */
  pending = 0;
  /** Flags an inline instruction produced that the state block does not have yet (flags.ts). */
  flags: Pending | null = null;
  /**
   * The flags the instruction being emitted leaves are never observed (liveness.ts): a rotate
   * or a shift by CL may then skip computing them.
   */
  flagsDead = false;
  /** Instructions emitted inline / through the interpreter (stats). */
  inline = 0;
  interpreted = 0;

  /** Control depth of the region's dispatch loop from the current position. */
  depth = 0;
  /** The basic block laid out after the one being emitted (-1: none): a transfer may fall into it. */
  layoutNext = -1;
  /** The depth at the top level of the basic block being emitted. */
  private bbDepth = 0;

  constructor(
    private readonly used: Set<number>,
    private readonly written: Set<number>,
    private readonly region: RegionMap,
    readonly ss32: boolean,
    /** Pass 1 only records which registers the block touches. */
    private readonly record: { used: Set<number>; written: Set<number> } | null,
    /**
     * The bt mode's guest-kernel code: the callout code (core/bt/compiled.ts) of each
     * instruction the interpreter runs, 0 for a plain step. Null outside the bt kernel.
     */
    readonly calloutOf: ((insn: Insn) => number) | null = null,
    private readonly chain: ChainSpec | null = null,
  ) {}

  /** The link cell of each constant target the region leaves for. */
  private readonly links = new Map<number, number>();
  /** Link cells given out (at most LINKS_PER_BLOCK): the constant targets' and the inline caches'. */
  private cellsUsed = 0;

  // ---- registers ------------------------------------------------------------------------------

  useReg(r: number): void {
    this.record?.used.add(r);
  }
  getReg(r: number): void {
    this.useReg(r);
    this.c.get(r);
  }
  /** Sets register `r` from the value on the stack. */
  setReg(r: number): void {
    this.record?.used.add(r);
    this.record?.written.add(r);
    this.writeLog?.add(r);
    this.c.set(r);
  }

  /**
   * The registers `fast` sets. An inline instruction's slow path reloads only those after the
   * interpreter ran it: the interpreter either completes the same instruction (the same
   * registers change) or leaves the block (a fault, an exit), where nothing is reloaded.
   */
  track(fast: () => void): Set<number> {
    const outer = this.writeLog;
    const log = new Set<number>();
    this.writeLog = log;
    try {
      fast();
    } finally {
      this.writeLog = outer;
    }
    for (const r of log) outer?.add(r);
    return log;
  }
  getReg8(r: number): void {
    this.getReg(r & 3);
    if (r >= 4) this.c.const(8).op(Op.i32ShrU);
    this.c.const(0xff).op(Op.i32And);
  }
  /** Sets 8-bit register `r` (AL..BH) from local `from`. */
  setReg8(r: number, from: number): void {
    const shift = r >= 4 ? 8 : 0;
    this.getReg(r & 3);
    this.c.const(~(0xff << shift)).op(Op.i32And);
    this.c.get(from).const(0xff).op(Op.i32And);
    if (shift) this.c.const(shift).op(Op.i32Shl);
    this.c.op(Op.i32Or);
    this.setReg(r & 3);
  }

  getReg16(r: number): void {
    this.getReg(r);
    this.c.const(0xffff).op(Op.i32And);
  }
  /** Sets 16-bit register `r` (AX..DI) from local `from`: the upper half stays. */
  setReg16(r: number, from: number): void {
    this.getReg(r);
    this.c.const(0xffff0000).op(Op.i32And);
    this.c.get(from).const(0xffff).op(Op.i32And).op(Op.i32Or);
    this.setReg(r);
  }

  loadRegs(only?: Set<number>): void {
    for (const r of only ?? this.used)
      this.c
        .const(L.S_REGS + r * 4)
        .load(Op.i32Load)
        .set(r);
  }
  storeRegs(): void {
    if (this.written.size >= SAVE_CALL_FROM) {
      for (const r of this.written) this.c.get(r);
      this.c.call(FN_SAVE);
      return;
    }
    for (const r of this.written)
      this.c
        .const(L.S_REGS + r * 4)
        .get(r)
        .store(Op.i32Store);
  }
  /**
   * RUN_RETIRED = the count so far (from LEFT: transfers inside the region leave it behind)
   * plus `n`; LEFT follows. Emitted even for 0, since RUN_RETIRED may lag on this path.
   */
  addRetired(n: number): void {
    const c = this.c;
    c.const(L.S_RUN_RETIRED).loadAt(L.S_RUN_LIMIT).get(LEFT).op(Op.i32Sub);
    if (n !== 0) c.const(n).op(Op.i32Add);
    c.store(Op.i32Store);
    if (n !== 0) c.get(LEFT).const(n).op(Op.i32Sub).set(LEFT);
  }

  /**
   * LEFT and the TLB masks from the state block (at entry, and after the core ran an
   * instruction).
   */
  loadLeft(): void {
    this.c.loadAt(L.S_RUN_LIMIT).loadAt(L.S_RUN_RETIRED).op(Op.i32Sub).set(LEFT);
    this.c.loadAt(L.S_TLB_READ_MASK).set(RMASK).loadAt(L.S_TLB_WRITE_MASK).set(WMASK);
  }

  /**
   * Leaves the block with EIP = the value `target()` pushes (an indirect branch), `extra` more
   * instructions retired: through an inline cache (two link cells: the last target and its
   * chain link) straight into the target's block when it is the same as last time, else back to
   * the run loop.
   */
  exitWith(target: () => void, extra: number): void {
    const c = this.c;
    this.storeRegs();
    this.flushFlags();
    this.addRetired(this.pending + extra);
    target();
    c.set(TE);
    c.const(L.S_EIP).get(TE).store(Op.i32Store);
    // (Not in the bt mode's kernel code, where the translator's own lookup of an indirect
    // target is a counted callout: those go back to the run loop, as interpreted.)
    const cell = this.chain && !this.calloutOf ? this.newCells(2) : -1;
    if (cell < 0) {
      this.ret();
      return;
    }
    c.const(cell).get(TE).call(FN_ICHAIN).op(Op.return);
  }

  /** The first of `n` unused link cells of this block, or -1 when it has not that many left. */
  private newCells(n: number): number {
    const ch = this.chain;
    if (!ch || this.cellsUsed + n > LINKS_PER_BLOCK) return -1;
    const cell = L.HV_JIT_LINKS_BASE + (ch.block * LINKS_PER_BLOCK + this.cellsUsed) * LINK_BYTES;
    this.cellsUsed += n;
    return cell;
  }

  /**
   * Leaves the block for the constant EIP `target`, `extra` more instructions retired: straight
   * into the target's compiled block through a chain link (the core's trampoline) when the link is good,
   * the block fits in the budget and no breakpoint is armed; else back to the run loop.
   */
  exitTo(target: number, extra: number): void {
    this.storeRegs();
    this.flushFlags();
    this.addRetired(this.pending + extra);
    this.c.const(L.S_EIP).const(target).store(Op.i32Store);
    if (!this.chainTo(target)) this.ret();
  }

  /**
   * Emits the return of FN_CHAIN's answer for `target` and its link cell (the next block's table
   * index, or 0 for the run loop); false, nothing emitted, when chaining is off or the block has
   * no cell left.
   */
  private chainTo(target: number): boolean {
    const ch = this.chain;
    if (!ch) return false;
    let cell = this.links.get(target);
    if (cell === undefined) {
      cell = this.newCells(1);
      if (cell < 0) return false;
      this.links.set(target, cell);
    }
    const offset = ch.pageOffset + ((target - ch.entryEip) | 0);
    const samePage = offset >= 0 && offset < 0x1000;
    this.c
      .const(cell)
      .const(target)
      .const(samePage ? 0 : 1)
      .call(FN_CHAIN)
      .op(Op.return);
    return true;
  }

  /** Leaves the block for the run loop (the function's answer 0: no block to chain to). */
  ret(): void {
    this.c.const(0).op(Op.return);
  }

  /**
   * A basic block starts: it is entered with the flags and the count in the state block, `depth`
   * labels inside the dispatch loop, with `layoutNext` after it.
   */
  beginBasicBlock(depth: number, layoutNext: number): void {
    this.flags = null;
    this.pending = 0;
    this.depth = this.bbDepth = depth;
    this.layoutNext = layoutNext;
  }

  /**
   * On at `eip` (the next instruction's), `extra` more instructions retired: the basic block ran
   * to its end, or a Jcc was not taken.
   */
  fallOut(eip: number, extra = 0): void {
    if (!this.toRegion(eip, extra)) this.exitTo(eip, extra);
  }

  /**
   * The instruction through the interpreter. `ends`: it is the block's last (its successor is
   * not known here). Otherwise the block goes on when the interpreter says so.
   */
  interpret(insn: Insn, ends: boolean): void {
    this.interpreted++;
    this.callStep(insn);
    this.pending = 0;
    if (ends) {
      this.c.op(Op.drop);
      this.ret();
      return;
    }
    this.c.ifVoid();
    this.ret();
    this.c.op(Op.end);
    this.loadRegs();
    this.loadLeft();
    // The interpreter read the flushed flags and left its own in the state block.
    this.flags = null;
  }

  /**
   * The slow path inside an inline instruction's `else`: the interpreter runs the whole
   * instruction; the count is put back so both paths leave it as the fast one does.
   */
  slowPath(insn: Insn, written?: Set<number>): void {
    this.callStep(insn);
    this.c.ifVoid();
    this.ret();
    this.c.op(Op.end);
    this.loadLeft();
    this.addRetired(-(this.pending + 1));
    this.loadRegs(written);
  }

  // ---- memory ---------------------------------------------------------------------------------

  ea(m: MemOperand): void {
    const c = this.c;
    if (m.base >= 0) this.getReg(m.base);
    else c.const(0);
    if (m.index >= 0) {
      this.getReg(m.index);
      if (m.scale) c.const(m.scale).op(Op.i32Shl);
      c.op(Op.i32Add);
    }
    if (m.disp) c.const(m.disp).op(Op.i32Add);
  }

  /**
   * Pushes the fast-path condition for a `size`-byte access at seg:offset (offset in local EA)
   * and leaves the host address in local HOST: the segment check of the interpreter
   * (core/mmu/access.ts segRead/segWrite) and a TLB hit that allows the access and stays in
   * the page.
   */
  accessOk(seg: number, size: number, write: boolean): void {
    const c = this.c;
    if (this.flatData && (seg === SEG_ES || seg === SEG_SS || seg === SEG_DS)) {
      // A flat segment: every offset passes and the linear address is the offset.
      this.tlbAccess(size, write, EA);
      return;
    }
    const lo = (write ? L.S_SEG_WLO : L.S_SEG_RLO) + seg * 4;
    const hi = (write ? L.S_SEG_WHI : L.S_SEG_RHI) + seg * 4;
    // lo <= off
    c.get(EA).loadAt(lo).op(Op.i32GeU);
    // off <= hi - (size - 1)
    c.get(EA)
      .loadAt(hi)
      .const(size - 1)
      .op(Op.i32Sub)
      .op(Op.i32LeU)
      .op(Op.i32And);
    // hi >= lo + (size - 1)
    if (size > 1)
      c.loadAt(hi)
        .loadAt(lo)
        .const(size - 1)
        .op(Op.i32Add)
        .op(Op.i32GeU)
        .op(Op.i32And);
    // lin = base + off; te = TLB[lin >> 12]
    c.loadAt(L.S_SEG_BASE + seg * 4)
      .get(EA)
      .op(Op.i32Add)
      .set(HOST);
    this.tlbAccess(size, write, HOST);
    c.op(Op.i32And);
  }

  /**
   * Pushes whether the TLB allows a `size`-byte access at the linear address in local `lin`
   * inside its page, and leaves the host address in local HOST.
   */
  private tlbAccess(size: number, write: boolean, lin: number): void {
    const c = this.c;
    c.get(lin);
    this.tlbEntryTee();
    c.get(write ? WMASK : RMASK)
      .op(Op.i32And)
      .const(L.TLB_VALID)
      .op(Op.i32Eq);
    if (size > 1)
      c.get(lin)
        .const(0xfff)
        .op(Op.i32And)
        .const(0x1000 - size)
        .op(Op.i32LeU)
        .op(Op.i32And);
    // host = (te & ~0xfff) + (lin & 0xfff)
    c.get(TE).const(~0xfff).op(Op.i32And).get(lin).const(0xfff).op(Op.i32And).op(Op.i32Add).set(HOST);
  }

  /** The TLB entry of the linear address on the stack, left on the stack and in local TE. */
  private tlbEntryTee(): void {
    this.c.const(12).op(Op.i32ShrU).const(2).op(Op.i32Shl).const(L.TLB_BASE).op(Op.i32Add).load(Op.i32Load).tee(TE);
  }

  loadOp(size: number, signed = false): number {
    if (size === 4) return Op.i32Load;
    if (size === 2) return signed ? Op.i32Load16s : Op.i32Load16u;
    return signed ? Op.i32Load8s : Op.i32Load8u;
  }

  /**
   * An inline instruction with one memory operand: `fast` runs with the operand's host address
   * in HOST; the interpreter runs the instruction otherwise.
   */
  withMemory(insn: Insn, m: MemOperand, size: number, write: boolean, fast: () => void, ends = false): void {
    this.ea(m);
    this.c.set(EA);
    this.accessOk(m.seg, size, write);
    this.c.ifVoid();
    const before = this.flags;
    const written = this.track(fast);
    let after = this.flags;
    // Both paths must leave the same flag state. Flags the interpreter's path cannot rebuild in
    // the locals are flushed on the fast path instead.
    if (after !== null && after !== before && !reloadable(after)) {
      this.flushFlags();
      after = null;
    }
    this.c.op(Op.else);
    this.flags = before;
    if (ends) this.slowExit(insn);
    else this.slowPath(insn, written);
    // The interpreter left the same lazy record in the state block: read the locals back.
    if (after !== null && after !== before) reloadPending(this.c, after);
    this.c.op(Op.end);
    this.flags = after;
  }

  /** Stack push of local `from` (32-bit stack): ESP - 4, checked like any write. */
  push(insn: Insn, from: number, then: () => void = () => {}): void {
    const c = this.c;
    this.getReg(4);
    c.const(4).op(Op.i32Sub).set(EA);
    this.accessOk(SEG_SS, 4, true);
    c.ifVoid();
    const written = this.track(() => {
      c.get(HOST).get(from).store(Op.i32Store);
      c.get(EA);
      this.setReg(4);
      then();
    });
    c.op(Op.else);
    this.slowPath(insn, written);
    c.op(Op.end);
  }

  // ---- flags ----------------------------------------------------------------------------------

  /**
   * The flags of an inline instruction become `p`: its operands and result (FA, FB, FR) are
   * copied to the pending locals; nothing is written to the state block yet.
   */
  setFlags(p: Pending): void {
    const c = this.c;
    if (p.kind !== "logic") c.get(FA).set(XA);
    if (p.kind === "add" || p.kind === "sub" || p.kind === "adc" || p.kind === "sbb") c.get(FB).set(XB);
    c.get(FR).set(XR);
    this.flags = p;
  }

  /** Writes pending flags to the state block on this path only (an exit or a call follows). */
  flushFlags(): void {
    if (this.flags) flushPending(this.c, this.flags);
  }

  /** Writes pending flags to the state block for the rest of the block (before a core routine). */
  settleFlags(): void {
    this.flushFlags();
    this.flags = null;
  }

  /**
   * FR = FA op FB, its flags pending, on `bits` bits (FA and FB hold values of that width and FR
   * is masked to it). ADC and SBB add or subtract the carry flag too.
   */
  alu(kind: AluKind, bits: Narrow | 32 = 32): void {
    const c = this.c;
    if (kind === "adc" || kind === "sbb") {
      // The carry in (from the pending flags, or the core's), before they are replaced.
      this.condition(2);
      c.set(XC);
      c.get(FA)
        .get(FB)
        .op(kind === "adc" ? Op.i32Add : Op.i32Sub);
      c.get(XC).op(kind === "adc" ? Op.i32Add : Op.i32Sub);
    } else {
      c.get(FA).get(FB);
      if (kind === "add") c.op(Op.i32Add);
      else if (kind === "sub" || kind === "cmp") c.op(Op.i32Sub);
      else if (kind === "and" || kind === "test") c.op(Op.i32And);
      else if (kind === "or") c.op(Op.i32Or);
      else c.op(Op.i32Xor);
    }
    if (bits !== 32) c.const(bits === 8 ? 0xff : 0xffff).op(Op.i32And);
    c.set(FR);
    const pending =
      kind === "cmp" ? "sub" : kind === "add" || kind === "sub" || kind === "adc" || kind === "sbb" ? kind : "logic";
    this.setFlags(bits !== 32 ? { kind: pending, bits } : { kind: pending });
  }

  /**
   * The flags of a shift or rotate whose result was computed inline become the core's shift()
   * of the operand and count, deferred until a flush (flags.ts "deferred"). `operands` stores
   * them in XS and XN. `replacesCarry`: the count is a nonzero constant, so CF and OF come from
   * this operation alone and an earlier deferred one's need never be computed.
   */
  deferShift(op: number, replacesCarry: boolean, operands: () => void): void {
    let base = this.flags;
    if (base?.kind === "deferred") {
      // Its XS and XN are about to be overwritten.
      if (replacesCarry) base = base.base;
      else {
        this.settleFlags();
        base = null;
      }
    }
    operands();
    this.flags = { kind: "deferred", op, base };
  }

  /**
   * CF becomes the 0 or 1 `bit` stores in XS, the other flags stay (BT and its forms).
   */
  setCarry(bit: () => void): void {
    let base = this.flags;
    if (base?.kind === "deferred") {
      this.settleFlags(); // its XS is about to be overwritten
      base = null;
    } else if (base?.kind === "carry") base = base.base;
    bit();
    this.c.set(XS);
    this.flags = { kind: "carry", base };
  }

  /** Pushes condition `cc` (1 when it holds): from the pending flags, else the core's routine. */
  condition(cc: number): void {
    const k = this.flags?.kind;
    if (k === "deferred" || (k === "carry" && cc >> 1 !== 1)) this.settleFlags();
    if (this.flags) pendingCondition(this.c, this.flags, cc);
    else if (cc >> 1 === 1) {
      // B/AE, the carry alone (loops that branch on it, ADC/SBB): the module's own helper.
      this.c.call(FN_CARRY);
      if (cc & 1) this.c.op(Op.i32Eqz);
    } else this.c.const(cc).call(FN_COND);
  }

  // ---- control flow ---------------------------------------------------------------------------

  /**
   * A near transfer to the constant `target` (the branch is the basic block's last instruction):
   * inside the region when it has the target, else out of the block; a target past the CS limit
   * is left to the interpreter (#GP).
   */
  jumpTo(insn: Insn, target: number): void {
    if (this.toRegion(target, 1)) return;
    const c = this.c;
    c.const(target)
      .loadAt(L.S_SEG_LIMIT + 4)
      .op(Op.i32GtU)
      .ifVoid();
    this.slowExit(insn);
    c.op(Op.end);
    this.exitTo(target, 1);
  }

  /**
   * Goes on at `target`'s basic block inside this function, `extra` more instructions retired,
   * if the region has it (false, nothing emitted, if not). The basic block starts with the flags
   * and the count in the state block, and runs only when all of it fits in the budget: run()
   * retires exactly its budget. (Every address of the region passed the CS limit check at entry.)
   */
  private toRegion(target: number, extra: number): boolean {
    const bb = this.region.get(target);
    if (bb === undefined) return false;
    const c = this.c;
    this.flushFlags();
    const n = this.pending + extra;
    if (n !== 0) c.get(LEFT).const(n).op(Op.i32Sub).set(LEFT);
    c.get(LEFT).const(bb.count).op(Op.i32LtS).ifVoid();
    this.addRetired(0);
    this.storeRegs();
    c.const(L.S_EIP).const(target).store(Op.i32Store);
    this.ret();
    c.op(Op.end);
    if (this.depth === this.bbDepth && bb.index === this.layoutNext) return true;
    c.const(bb.index).set(NEXT).op(Op.br).u32(this.depth);
    return true;
  }

  /** The interpreter runs this (last) instruction and the block ends. */
  slowExit(insn: Insn): void {
    this.callStep(insn);
    this.c.op(Op.drop);
    this.ret();
  }

  /**
   * Memory up to date (registers, the count), then jitStep for `insn` (in bt kernel code, a
   * sensitive instruction or an indirect branch goes through its callout); its answer on the stack.
   */
  private callStep(insn: Insn): void {
    this.storeRegs();
    this.flushFlags();
    this.addRetired(this.pending);
    const code = this.calloutOf?.(insn) ?? 0;
    if (code !== 0) this.c.const(code);
    this.c
      .const(insn.eip)
      .const((insn.eip + insn.len) | 0)
      .call(code !== 0 ? FN_CALLOUT : FN_STEP);
  }

  /** In bt kernel code: an inline indirect branch is about to leave the region. */
  noteIndirect(): void {
    if (this.calloutOf) this.c.call(FN_INDIRECT);
  }

  // ---- operands -------------------------------------------------------------------------------

  /**
   * The ModRM r/m operand of `size` bytes (4 or 1): "r" loads it into FA before `body`; "w"
   * stores FR after it; "rw" both. A memory operand takes the fast path or the interpreter.
   */
  rm(insn: Insn, size: 1 | 2 | 4, mode: "r" | "w" | "rw", body: () => void, ends = false): void {
    const c = this.c;
    const reads = mode !== "w";
    const writes = mode !== "r";
    if (insn.mem) {
      this.withMemory(
        insn,
        insn.mem,
        size,
        writes,
        () => {
          if (reads) c.get(HOST).load(this.loadOp(size)).set(FA);
          body();
          if (writes)
            c.get(HOST)
              .get(FR)
              .store(size === 4 ? Op.i32Store : size === 2 ? Op.i32Store16 : Op.i32Store8);
        },
        ends,
      );
      return;
    }
    if (reads) {
      if (size === 4) this.getReg(insn.rm);
      else if (size === 2) this.getReg16(insn.rm);
      else this.getReg8(insn.rm);
      c.set(FA);
    }
    body();
    if (writes) {
      if (size === 4) {
        c.get(FR);
        this.setReg(insn.rm);
      } else if (size === 2) this.setReg16(insn.rm, FR);
      else this.setReg8(insn.rm, FR);
    }
  }

  /** Brings RUN_RETIRED up to date with the inline instructions before this point. */
  syncRetired(): void {
    this.addRetired(this.pending);
    this.pending = 0;
  }

  /** One more inline instruction retired (at run time, when control gets past it). */
  retired(): void {
    this.inline++;
    this.pending++;
  }
}
