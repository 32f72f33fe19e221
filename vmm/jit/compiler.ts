// The host half of the JIT: the core asks (core/host.ts jitCompile) for the hot code at an EIP
// to be compiled; this decodes the guest bytes straight from the core's memory, emits one
// WebAssembly function for the block, compiles and instantiates it against the core's memory
// and callbacks, and puts it into the core's function table at the block's slot. Synchronous
// compilation is allowed in Node and in a browser Worker at these sizes (a few KiB).
//
// A block is a region: the basic blocks reachable from the hot address through direct JMPs and
// both sides of Jccs, forward in the same page (and back to the hot address itself). They
// become one function whose dispatch loop goes from basic block to basic block, so the loops
// and branches inside a page stay in compiled code with the registers in locals, instead of
// returning to the run loop at every taken branch.

import { CALLOUT_NAMES } from "../generated/abi.js";
import { decodeInsn, type Insn } from "./decode.js";
import { BlockEmitter, type ChainSpec, LOCALS, NEXT, type RegionMap } from "./emit.js";
import { emitInline, inlineBranch } from "./forms.js";
import { flagsDeadAfter } from "./liveness.js";
import { carryHelper, chainHelper, indirectChainHelper, saveHelper } from "./module-helpers.js";
import { encodeModule, I32, Op } from "./wasm.js";

/** Guest instructions per region at most (it also ends at the page end). */
const MAX_INSNS = 64;
/** Basic blocks per region at most. */
const MAX_BASIC_BLOCKS = 64;
/**
 * Compiled code leaves for a constant target straight into its block (through a chain link and
 * the core's trampoline); JIT_CHAIN=off (Node) turns it off.
 */
const CHAINING = globalThis.process?.env?.JIT_CHAIN !== "off";
/** Blocks the core keeps at once (core/jit/blocks.ts MAX_BLOCKS): the table slots reserved. */
export const JIT_SLOTS = 4096;
const BLOCK_CS32 = 2;
const BLOCK_SS32 = 4;
/** core/jit/blocks.ts BLOCK_FLAT: ES, SS and DS were flat when the block was compiled. */
const BLOCK_FLAT = 16;
/** core/jit/blocks.ts BLOCK_BT_KERNEL: the bt mode's kernel code, sensitive instructions as callouts. */
const BLOCK_BT_KERNEL = 8;
/** core/bt/compiled.ts JIT_CALLOUT_INDIRECT. */
const CALLOUT_INDIRECT = 0x100;

export interface JitCoreExports {
  table: WebAssembly.Table;
  jitStep(eip: number, next: number): number;
  jitCondition(cc: number): number;
  jitShift(op: number, v: number, count: number): number;
  jitRdtsc(): number;
  jitFlush(): void;
  btJitCallout(code: number, eip: number, next: number): number;
  btJitIndirect(): void;
  jitLink(cell: number, target: number): number;
}

export interface JitStats {
  blocksCompiled: number;
  compileDeclined: number;
  guestInstructions: number;
  inlineInstructions: number;
  wasmBytes: number;
  compileMs: number;
  worstCompileMs: number;
}

export class Jit {
  readonly stats: JitStats = {
    blocksCompiled: 0,
    compileDeclined: 0,
    guestInstructions: 0,
    inlineInstructions: 0,
    wasmBytes: 0,
    compileMs: 0,
    worstCompileMs: 0,
  };
  /** Wasm bytes of the block now in each slot (the core reuses slots; the sum is the live code). */
  private readonly slotBytes = new Uint32Array(JIT_SLOTS);
  private liveBytes = 0;
  readonly tableBase: number;

  constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly core: JitCoreExports,
  ) {
    this.tableBase = core.table.grow(JIT_SLOTS);
  }

  /** Bytes of compiled code the live slots hold. */
  get codeBytes(): number {
    return this.liveBytes;
  }

  /** core/host.ts jitCompile: returns instructions | bytes << 16, or 0. */
  compile(block: number, eip: number, code: number, avail: number, flags: number): number {
    const t0 = performance.now();
    let result = 0;
    try {
      result = this.compileBlock(block, eip >>> 0, code >>> 0, avail, flags);
    } catch (e) {
      // A bug in the emitter must not take the guest down: the code stays interpreted.
      if (e instanceof WebAssembly.CompileError || e instanceof WebAssembly.LinkError) result = 0;
      else throw e;
    }
    const ms = performance.now() - t0;
    this.stats.compileMs += ms;
    if (ms > this.stats.worstCompileMs) this.stats.worstCompileMs = ms;
    if (result === 0) this.stats.compileDeclined++;
    return result;
  }

  private compileBlock(block: number, eip: number, code: number, avail: number, flags: number): number {
    const bytes = new Uint8Array(this.memory.buffer, code, avail);
    const bbs = decodeRegion(bytes, eip, (flags & BLOCK_CS32) !== 0);
    if (bbs.length === 0) return 0;
    const ss32 = (flags & BLOCK_SS32) !== 0;
    const calloutOf = (flags & BLOCK_BT_KERNEL) !== 0 ? btCalloutCode : null;
    const chain: ChainSpec | null = CHAINING ? { block, entryEip: eip, pageOffset: code & 0xfff } : null;
    // Pass 1 finds the registers the block touches; pass 2 emits with them.
    const record = { used: new Set<number>(), written: new Set<number>() };
    const flat = (flags & BLOCK_FLAT) !== 0;
    this.emitBody(bbs, ss32, flat, record.used, record.written, record, calloutOf, chain);
    const em = this.emitBody(bbs, ss32, flat, record.used, record.written, null, calloutOf, chain);
    const insnCount = bbs.reduce((n, bb) => n + bb.insns.length, 0);
    let span = 0;
    for (const bb of bbs) for (const insn of bb.insns) span = Math.max(span, (insn.eip + insn.len - eip) | 0);
    const wasm = encodeModule({
      types: [
        { params: [], results: [I32] },
        { params: [I32, I32], results: [I32] },
        { params: [I32], results: [I32] },
        { params: [I32, I32, I32], results: [I32] },
        { params: [], results: [] },
        // FN_SAVE: the written registers.
        { params: [...record.written].map(() => I32), results: [] },
      ],
      // In the order of functions.ts FN_*.
      imports: [
        { name: "step", type: 1 },
        { name: "cond", type: 2 },
        { name: "shift", type: 3 },
        { name: "rdtsc", type: 0 },
        { name: "callout", type: 3 },
        { name: "indirect", type: 4 },
        { name: "link", type: 1 },
      ],
      func: { type: 0, locals: LOCALS, body: em.c },
      // A profile of the host shows the guest address a compiled function came from.
      name: `guest_${(eip >>> 0).toString(16).padStart(8, "0")}${calloutOf ? "_bt" : ""}`,
      helpers: [
        { type: 5, locals: 0, body: saveHelper(record.written) },
        { type: 3, locals: 2, body: chainHelper() },
        { type: 0, locals: 4, body: carryHelper() },
        { type: 1, locals: 0, body: indirectChainHelper() },
      ],
    });
    const module = new WebAssembly.Module(wasm as Uint8Array<ArrayBuffer>);
    const instance = new WebAssembly.Instance(module, {
      e: {
        m: this.memory,
        step: this.core.jitStep,
        cond: this.core.jitCondition,
        shift: this.core.jitShift,
        rdtsc: this.core.jitRdtsc,
        callout: this.core.btJitCallout,
        indirect: this.core.btJitIndirect,
        link: this.core.jitLink,
      },
    });
    this.core.table.set(this.tableBase + block, instance.exports.f as WebAssembly.ExportValue);
    this.liveBytes += wasm.length - this.slotBytes[block];
    this.slotBytes[block] = wasm.length;
    this.stats.blocksCompiled++;
    this.stats.guestInstructions += insnCount;
    this.stats.inlineInstructions += em.inline;
    this.stats.wasmBytes += wasm.length;
    // The core checks the entry basic block against the budget and the span against CS.limit
    // (and counts the region's instructions as translated in the bt mode's kernel code).
    return bbs[0].insns.length | (insnCount << 8) | (span << 16);
  }

  /**
   * The function body: the registers loaded, then a loop around a br_table on NEXT over one
   * nested block per basic block (basic block i's code follows the end of block i), so a
   * transfer to basic block j sets NEXT and branches to the loop, and the layout's successor
   * is reached by falling through.
   */
  private emitBody(
    bbs: BasicBlock[],
    ss32: boolean,
    flat: boolean,
    used: Set<number>,
    written: Set<number>,
    record: { used: Set<number>; written: Set<number> } | null,
    calloutOf: ((insn: Insn) => number) | null,
    chain: ChainSpec | null,
  ): BlockEmitter {
    const region: RegionMap = new Map(bbs.map((bb, index) => [bb.start, { index, count: bb.insns.length }]));
    const em = new BlockEmitter(used, written, region, ss32, record, calloutOf, chain);
    em.flatData = flat;
    const c = em.c;
    const k = bbs.length;
    em.loadRegs();
    em.loadLeft();
    c.loopVoid();
    for (let i = 0; i < k; i++) c.blockVoid();
    c.get(NEXT).op(Op.brTable).u32(k);
    for (let i = 0; i < k; i++) c.u32(i);
    c.u32(k - 1).op(Op.end);
    bbs.forEach((bb, i) => {
      em.beginBasicBlock(k - 1 - i, i + 1 < k ? i + 1 : -1);
      bb.insns.forEach((insn, j) => {
        const last = j === bb.insns.length - 1 && bb.exits;
        // In bt kernel code a sensitive instruction is never inline: it is its callout.
        const sensitive = calloutOf !== null && insn.entry.bt.callout !== null;
        em.flagsDead = flagsDeadAfter(bb.insns, j);
        if (sensitive || !emitInline(em, insn, last)) em.interpret(insn, last);
      });
      if (bb.next !== null) em.fallOut(bb.next);
      c.op(Op.end); // block i + 1, or the loop after the last basic block
    });
    c.op(Op.unreachable); // every path returns: the answer is the block to chain to, or 0
    return em;
  }
}

interface BasicBlock {
  start: number;
  insns: Insn[];
  /** Its last instruction leaves the block by itself (a branch the region does not follow, a sensitive instruction, REP). */
  exits: boolean;
  /** Where it falls through to when it ends without a branch (null: it ends with one). */
  next: number | null;
}

/**
 * The region at `eip`: the instructions reachable from it without leaving the page (`bytes`),
 * going forward or back to `eip` itself, cut into basic blocks in address order (the first is
 * the entry). A basic block starts at `eip`, at a branch target, after a Jcc and where decoding
 * ran into code already decoded; it ends at a branch, an instruction that ends the block, or
 * before the next start.
 */
function decodeRegion(bytes: Uint8Array, start: number, cs32: boolean): BasicBlock[] {
  // Addresses are signed 32-bit numbers throughout (as the decoder and the branch targets
  // compute them), so that kernel addresses above 2 GiB compare as they should.
  const eip = start | 0;
  const at = new Map<number, Insn>();
  const starts = new Set<number>([eip]);
  const inPage = (a: number) => ((a - eip) | 0) >= 0 && ((a - eip) | 0) < bytes.length;
  const work = [eip];
  while (work.length > 0 && at.size < MAX_INSNS && starts.size < MAX_BASIC_BLOCKS) {
    let a = work.pop() as number;
    while (at.size < MAX_INSNS) {
      if (at.has(a)) {
        starts.add(a);
        break;
      }
      if (!inPage(a)) break;
      const insn = decodeInsn(bytes, a - eip, a, cs32);
      if (!insn) break;
      at.set(a, insn);
      const next = (a + insn.len) | 0;
      const branch = inlineBranch(insn);
      if (branch && inPage(branch.target) && !starts.has(branch.target)) {
        starts.add(branch.target);
        work.push(branch.target);
      }
      if (branch?.jcc) starts.add(next);
      else if (branch || endsBlock(insn)) break;
      a = next;
    }
  }
  const bbs: BasicBlock[] = [];
  for (const first of [...starts].filter((s) => at.has(s)).sort((x, y) => ((x - eip) | 0) - ((y - eip) | 0))) {
    const bb: BasicBlock = { start: first, insns: [], exits: false, next: null };
    let a = first;
    for (;;) {
      const insn = at.get(a) as Insn;
      bb.insns.push(insn);
      a = (a + insn.len) | 0;
      if (inlineBranch(insn)) break;
      if (endsBlock(insn)) {
        bb.exits = true;
        break;
      }
      if (!at.has(a) || starts.has(a)) {
        bb.next = a;
        break;
      }
    }
    bbs.push(bb);
  }
  return bbs;
}

/**
 * Whether the block's path ends after `insn` (the region does not follow it): control flow other
 * than inline direct JMP/Jcc, a sensitive instruction, a REP string.
 */
function endsBlock(insn: Insn): boolean {
  const bt = insn.entry.bt;
  if (bt.flow !== "none" || bt.callout !== null) return true;
  if (insn.rep !== 0 && /^(MOVS|CMPS|STOS|LODS|SCAS|INS|OUTS)/.test(insn.entry.mnem)) return true;
  return false;
}

/**
 * The callout code of an instruction in the bt mode's kernel code (core/bt/compiled.ts): its
 * callout + 1 (the table names it, per ModRM.reg in a group), with CALLOUT_INDIRECT for an
 * indirect branch, whose successor the translator must look up. 0: a plain instruction.
 */
function btCalloutCode(insn: Insn): number {
  const bt = insn.entry.bt;
  const name = Array.isArray(bt.callout) ? bt.callout[insn.reg] : bt.callout;
  let code = 0;
  if (name !== null && name !== undefined) {
    const i = CALLOUT_NAMES.indexOf(name);
    if (i < 0) throw new Error(`jit: callout "${name}" is not a callout (core/layout/abi.mjs)`);
    code = i + 1;
  }
  return bt.flow === "indirect" ? code | CALLOUT_INDIRECT : code;
}
