// What the JIT has done, for `info jit`, the benchmarks and the lab: the core's counters (blocks,
// entries, chained transfers, instructions run compiled, invalidations, evictions) and the compiler's (instructions
// compiled inline, wasm bytes, compile time).

import type { Cpu } from "../cpu.js";
import * as L from "../generated/layout.js";

export interface JitInfo {
  enabled: boolean;
  threshold: number;
  blocksCompiled: number;
  blocksLive: number;
  compileDeclined: number;
  /** Guest instructions per compiled block, on average. */
  instructionsPerBlock: number;
  /** Share of the compiled instructions that have inline code (the rest call the interpreter). */
  inlineShare: number;
  wasmBytes: number;
  liveCodeBytes: number;
  compileMs: number;
  worstCompileMs: number;
  entries: number;
  /** Transfers from compiled code straight into another block (chain links, no run loop). */
  chained: number;
  instructionsCompiled: number;
  /** Share of all retired instructions that ran in compiled code. */
  compiledShare: number;
  lookupMisses: number;
  invalidated: number;
  evicted: number;
}

export function jitInfo(cpu: Cpu): JitInfo {
  const s = cpu.jit?.stats;
  const u64 = (a: number) => cpu.u32(a) + cpu.u32(a + 4) * 2 ** 32;
  const compiled = u64(L.S_JIT_INSNS);
  const total = u64(L.S_INSN_COUNT);
  const blocks = s?.blocksCompiled ?? 0;
  return {
    enabled: cpu.jitEnabled,
    threshold: cpu.u32(L.S_JIT_THRESHOLD),
    blocksCompiled: blocks,
    blocksLive: cpu.u32(L.S_JIT_LIVE),
    compileDeclined: s?.compileDeclined ?? 0,
    instructionsPerBlock: blocks ? (s?.guestInstructions ?? 0) / blocks : 0,
    inlineShare: s?.guestInstructions ? s.inlineInstructions / s.guestInstructions : 0,
    wasmBytes: s?.wasmBytes ?? 0,
    liveCodeBytes: cpu.jit?.codeBytes ?? 0,
    compileMs: s?.compileMs ?? 0,
    worstCompileMs: s?.worstCompileMs ?? 0,
    entries: u64(L.S_JIT_ENTRIES),
    chained: u64(L.S_JIT_CHAINED),
    instructionsCompiled: compiled,
    compiledShare: total ? compiled / total : 0,
    lookupMisses: u64(L.S_JIT_LOOKUP_MISSES),
    invalidated: cpu.u32(L.S_JIT_INVALIDATED),
    evicted: cpu.u32(L.S_JIT_EVICTED),
  };
}

/** `info jit` text. */
export function formatJitInfo(j: JitInfo): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  return [
    `jit: ${j.enabled ? "on" : "off"} (compile after ${j.threshold} visits)`,
    `blocks compiled ${j.blocksCompiled}, live ${j.blocksLive}, declined ${j.compileDeclined}`,
    `guest instructions per block ${j.instructionsPerBlock.toFixed(1)}, with inline code ${pct(j.inlineShare)}`,
    `wasm ${(j.wasmBytes / 1024).toFixed(1)} KiB compiled, ${(j.liveCodeBytes / 1024).toFixed(1)} KiB live`,
    `compile time ${j.compileMs.toFixed(1)} ms, worst single compile ${j.worstCompileMs.toFixed(2)} ms`,
    `entries ${j.entries}, chained ${j.chained}, instructions run compiled ${j.instructionsCompiled} (${pct(j.compiledShare)} of all)`,
    `lookup misses ${j.lookupMisses}, invalidations ${j.invalidated}, evictions ${j.evicted}`,
  ].join("\n");
}
