// The JIT's differential check: the same guest in two machines, one running compiled code and
// one the interpreter alone, advanced by the same instruction counts and compared after each
// step. run(budget) stops both at exactly the same instruction boundary (a compiled block runs
// only when it fits the budget), so any difference in registers, flags, segments, control
// registers, crossing counters, device output or RAM is a JIT bug, reported where it first
// appears.

import type { Cpu } from "../cpu.js";
import { KIND_TRANSLATION } from "../generated/abi.js";
import * as L from "../generated/layout.js";
import type { Vm } from "../vm.js";

export interface LockstepOptions {
  /** Instructions to run in all. */
  instructions: number;
  /** Instructions between register comparisons (the smaller, the closer to the first bad block). */
  step?: number;
  /** Instructions between whole-RAM comparisons. */
  ramEvery?: number;
  /** Stop early (after a comparison) once this says so. */
  until?: () => boolean;
}

export interface Divergence {
  /** Instructions retired before the step in which they differed. */
  after: number;
  what: string;
  jit: string;
  interpreter: string;
}

export interface LockstepResult {
  instructions: number;
  steps: number;
  ramChecks: number;
  divergence: Divergence | null;
  /** Why the run ended early (the guest halted for good, shut down), or null. */
  ended: string | null;
}

const NAMES = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"];

/** The architectural state a block could change, as name -> value. */
export function cpuState(cpu: Cpu): Map<string, number | bigint> {
  const s = new Map<string, number | bigint>();
  for (const [i, n] of NAMES.entries()) s.set(n, cpu.reg(i) >>> 0);
  s.set("eip", cpu.eip >>> 0);
  s.set("eflags", cpu.eflags >>> 0);
  for (let i = 0; i < 6; i++) {
    const seg = cpu.segment(i);
    s.set(`seg${i}.sel`, seg.selector);
    s.set(`seg${i}.base`, seg.base >>> 0);
  }
  for (const n of [0, 2, 3, 4]) s.set(`cr${n}`, cpu.cr(n) >>> 0);
  s.set("cpl", cpu.cpl);
  s.set("instructions", cpu.instructions);
  s.set("halted", cpu.u32(L.S_HALTED));
  s.set("irqs", cpu.u32(L.S_IRQ_COUNT));
  s.set("exits", cpu.u32(L.S_VMX_EXITS));
  // Page walks are counted too (walkRef in the crossings): compiling must not add any.
  s.set("walk.tlbMisses", cpu.u32(L.S_WALK_TLB_MISSES));
  s.set("walk.guestRefs", cpu.u32(L.S_WALK_GUEST_REFS));
  s.set("walk.nestedRefs", cpu.u32(L.S_WALK_NESTED_REFS));
  return s;
}

/** The crossing counters (HV_EVENTS: kind x reason x where), which must match as well. */
function eventCounters(cpu: Cpu): Uint32Array {
  return new Uint32Array(cpu.memory.buffer, L.HV_EVENTS_BASE, L.HV_EVENTS_BYTES / 4);
}

function eventDifference(a: Cpu, b: Cpu): string | null {
  const x = eventCounters(a);
  const y = eventCounters(b);
  for (let i = 0; i < x.length; i++) {
    if (x[i] !== y[i]) {
      const where = i % 2;
      const reason = (i >> 1) % L.EVENT_REASONS;
      const kind = Math.floor((i >> 1) / L.EVENT_REASONS);
      // Translations count the translator's own work, whose unit differs by design: the cache
      // copies blocks of up to 12 instructions, the JIT compiles regions (bt kernel code).
      if (kind === KIND_TRANSLATION) continue;
      return `event counter kind ${kind} reason ${reason} where ${where}: ${x[i]} with the JIT, ${y[i]} without`;
    }
  }
  return null;
}

function firstDifference(a: Map<string, number | bigint>, b: Map<string, number | bigint>): string | null {
  for (const [k, v] of a) if (b.get(k) !== v) return k;
  return null;
}

function hex(v: number | bigint | undefined): string {
  return typeof v === "bigint" ? v.toString() : `0x${(v ?? 0).toString(16)}`;
}

/** First differing byte of two RAMs, or -1. */
function ramDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  const a32 = new Int32Array(a.buffer, a.byteOffset, n >> 2);
  const b32 = new Int32Array(b.buffer, b.byteOffset, n >> 2);
  for (let i = 0; i < a32.length; i++) {
    if (a32[i] !== b32[i]) {
      for (let j = i * 4; j < i * 4 + 4; j++) if (a[j] !== b[j]) return j;
    }
  }
  return a.length === b.length ? -1 : n;
}

/**
 * Runs `jit` (compiled code on) and `interp` (JIT off) side by side. Both must have been built
 * the same way from the same inputs.
 */
export function lockstep(jit: Vm, interp: Vm, opts: LockstepOptions): LockstepResult {
  const step = opts.step ?? 256;
  const ramEvery = opts.ramEvery ?? 1_000_000;
  let done = 0;
  let steps = 0;
  let ramChecks = 0;
  let sinceRam = 0;
  let ramOkAt = 0;
  while (done < opts.instructions) {
    const n = Math.min(step, opts.instructions - done);
    const sa = jit.run(n);
    const sb = interp.run(n);
    steps++;
    const a = cpuState(jit.cpu);
    const b = cpuState(interp.cpu);
    const stopA = JSON.stringify(sa);
    const stopB = JSON.stringify(sb);
    const field = stopA !== stopB ? "stop" : firstDifference(a, b);
    const events = field ? null : eventDifference(jit.cpu, interp.cpu);
    const differs = (divergence: Divergence): LockstepResult => ({
      instructions: done,
      steps,
      ramChecks,
      ended: null,
      divergence,
    });
    if (events) return differs({ after: done, what: "crossings", jit: events, interpreter: "" });
    if (field) {
      return differs({
        after: done,
        what: field,
        jit: field === "stop" ? stopA : hex(a.get(field)),
        interpreter: field === "stop" ? stopB : hex(b.get(field)),
      });
    }
    done += n;
    sinceRam += n;
    if (sinceRam >= ramEvery || done >= opts.instructions || sa.kind !== "limit") {
      sinceRam = 0;
      ramChecks++;
      const at = ramDifference(jit.cpu.ram, interp.cpu.ram);
      if (at < 0) ramOkAt = done;
      else {
        return differs({
          after: ramOkAt,
          what: `ram[0x${at.toString(16)}]`,
          jit: hex(jit.cpu.ram[at]),
          interpreter: hex(interp.cpu.ram[at]),
        });
      }
    }
    if (sa.kind !== "limit") return { instructions: done, steps, ramChecks, divergence: null, ended: sa.kind };
    if (opts.until?.()) break;
  }
  return { instructions: done, steps, ramChecks, divergence: null, ended: null };
}
