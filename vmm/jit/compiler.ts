// The host half of the JIT: the core asks (core/host.ts jitCompile) for the hot code at an EIP
// to be compiled; this decodes the guest bytes straight from the core's memory, emits one
// WebAssembly function for the block, compiles and instantiates it against the core's memory
// and callbacks, and puts it into the core's function table at the block's slot. Synchronous
// compilation is allowed in Node and in a browser Worker at these sizes (a few KiB).

import { decodeInsn, type Insn } from "./decode.js";
import { BlockEmitter, LOCALS } from "./emit.js";
import { continuesPast, emitInline } from "./forms.js";
import { encodeModule, I32 } from "./wasm.js";

/** Instructions per block at most (a block also ends at a branch, a sensitive instruction or the page end). */
const MAX_INSNS = 64;
/** Blocks the core keeps at once (core/jit/blocks.ts MAX_BLOCKS): the table slots reserved. */
export const JIT_SLOTS = 4096;
const BLOCK_CS32 = 2;
const BLOCK_SS32 = 4;

export interface JitCoreExports {
  table: WebAssembly.Table;
  jitStep(eip: number, next: number): number;
  jitCondition(cc: number): number;
  jitIncDecFlags(op: number, a: number, res: number): void;
  jitShift(op: number, v: number, count: number): number;
  jitImul(a: number, b: number): number;
  jitAlu(op: number, a: number, b: number, size: number): number;
  jitFlush(): void;
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
    const cs32 = (flags & BLOCK_CS32) !== 0;
    const insns: Insn[] = [];
    let off = 0;
    let ends = false;
    while (insns.length < MAX_INSNS && !ends) {
      const insn = decodeInsn(bytes, off, (eip + off) | 0, cs32);
      if (!insn) break;
      insns.push(insn);
      off += insn.len;
      ends = endsBlock(insn);
    }
    if (insns.length === 0) return 0;
    const endEip = (eip + off) | 0;
    const ss32 = (flags & BLOCK_SS32) !== 0;
    // Pass 1 finds the registers the block touches; pass 2 emits with them.
    const record = { used: new Set<number>(), written: new Set<number>() };
    this.emitBody(insns, ends, endEip, eip, ss32, record.used, record.written, record);
    const em = this.emitBody(insns, ends, endEip, eip, ss32, record.used, record.written, null);
    const wasm = encodeModule({
      types: [
        { params: [], results: [] },
        { params: [I32, I32], results: [I32] },
        { params: [I32], results: [I32] },
        { params: [I32, I32, I32], results: [] },
        { params: [I32, I32, I32], results: [I32] },
        { params: [I32, I32, I32, I32], results: [I32] },
      ],
      // In the order of emit.ts FN_*.
      imports: [
        { name: "step", type: 1 },
        { name: "cond", type: 2 },
        { name: "incdec", type: 3 },
        { name: "shift", type: 4 },
        { name: "imul", type: 1 },
        { name: "alu", type: 5 },
      ],
      func: { type: 0, locals: LOCALS, body: em.c },
    });
    const module = new WebAssembly.Module(wasm as Uint8Array<ArrayBuffer>);
    const instance = new WebAssembly.Instance(module, {
      e: {
        m: this.memory,
        step: this.core.jitStep,
        cond: this.core.jitCondition,
        incdec: this.core.jitIncDecFlags,
        shift: this.core.jitShift,
        imul: this.core.jitImul,
        alu: this.core.jitAlu,
      },
    });
    this.core.table.set(this.tableBase + block, instance.exports.f as WebAssembly.ExportValue);
    this.liveBytes += wasm.length - this.slotBytes[block];
    this.slotBytes[block] = wasm.length;
    this.stats.blocksCompiled++;
    this.stats.guestInstructions += insns.length;
    this.stats.inlineInstructions += em.inline;
    this.stats.wasmBytes += wasm.length;
    return insns.length | (off << 16);
  }

  private emitBody(
    insns: Insn[],
    ends: boolean,
    endEip: number,
    startEip: number,
    ss32: boolean,
    used: Set<number>,
    written: Set<number>,
    record: { used: Set<number>; written: Set<number> } | null,
  ): BlockEmitter {
    const em = new BlockEmitter(used, written, startEip, insns.length, ss32, record);
    em.loadRegs();
    em.c.loopVoid();
    insns.forEach((insn, i) => {
      const last = i === insns.length - 1 && ends;
      if (!emitInline(em, insn, last)) em.interpret(insn, last);
    });
    if (!ends) em.fallOut(endEip);
    em.c.op(0x0b); // end of the loop
    return em;
  }
}

/**
 * Whether the block ends after `insn`: control flow (but a Jcc with inline code, whose taken
 * side leaves), a sensitive instruction, a REP string.
 */
function endsBlock(insn: Insn): boolean {
  const bt = insn.entry.bt;
  if (bt.flow === "jcc" && bt.callout === null && continuesPast(insn)) return false;
  if (bt.flow !== "none" || bt.callout !== null) return true;
  if (insn.rep !== 0 && /^(MOVS|CMPS|STOS|LODS|SCAS|INS|OUTS)/.test(insn.entry.mnem)) return true;
  return false;
}
