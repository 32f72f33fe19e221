// Fuzz target "cpu": random and table-biased instruction streams in every CPU state (real mode,
// 16- and 32-bit protected mode, paged, ring 3, virtual-8086) under every virtualization mode.
//
// Two kinds of case:
//   - "compare": instructions of the comparable forms (no I/O, CPUID, MSRs, VMCALL) in 16-byte
//     slots, branches aimed at slot starts; native, bt, hvm (EPT and shadow) and pv must end in
//     the same architectural state, bit for bit. A case whose hypervisor runs show that a
//     mode-dependent instruction ran anyway (an I/O, CPUID, MSR or VMCALL exit: bytes the
//     program stored and then executed) is not compared, and is counted as such.
//   - "crash": raw random bytes mixed with every form, handlers that resume one byte on; every
//     mode, trap included, must merely stop normally (no host exception, no hang).
//
// A divergence is minimised to the first instruction count at which the states differ.

import * as L from "../../vmm/generated/layout.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { Kind } from "../../vmm/stats/events.js";
import type { MmuMode, VirtMode } from "../../vmm/virt/vmcs.js";
import { Vm } from "../../vmm/vm.js";
import { firstDifference, type StateSnapshot, snapshot } from "../compare.js";
import { ALL_FORMS, COMPARABLE_FORMS, randomInstruction } from "../encode.js";
import { CPU_STATES, code32, type EnvSpec, LAYOUT, SLOT, setUpGuest } from "../guest-env.js";
import { Rng } from "../rng.js";
import type { CaseOptions, CaseResult, FuzzTarget } from "../target.js";

export interface CpuCase {
  kind: "compare" | "crash";
  env: EnvSpec;
  /** The program's bytes, base64. */
  code: string;
  /** The data area's bytes come from this seed (kept short: 128 KiB of random bytes). */
  dataSeed: number;
  /** Instructions each run may retire. */
  budget: number;
}

interface Run {
  mode: VirtMode;
  mmu?: MmuMode;
}

const COMPARED_RUNS: Run[] = [
  { mode: "native" },
  { mode: "bt" },
  { mode: "hvm", mmu: "ept" },
  { mode: "hvm", mmu: "shadow" },
  { mode: "pv" },
];
const CRASH_RUNS: Run[] = [...COMPARED_RUNS, { mode: "trap" }];

/** Exit reasons of instructions whose results the hypervisor decides (CPUID, VMCALL, I/O, MSRs). */
const MODE_DEPENDENT_EXITS = [10, 18, 30, 31, 32];

let module: WebAssembly.Module | undefined;
const coreModule = () => {
  module ??= loadCoreModule();
  return module;
};

/** Bytes that decode to no I/O, CPUID, MSR or VMCALL on their own (no 0F, no E4-EF, 6C-6F). */
function safeDataByte(rng: Rng): number {
  for (;;) {
    const b = rng.int(0, 255);
    if (b !== 0x0f && !(b >= 0xe4 && b <= 0xe7) && !(b >= 0xec && b <= 0xef) && !(b >= 0x6c && b <= 0x6f)) return b;
  }
}

/** The data area of a case: random bytes, only "safe" ones for the compared kind. */
function dataArea(c: CpuCase): Uint8Array {
  const rng = new Rng(c.dataSeed);
  const data = new Uint8Array(LAYOUT.dataBytes);
  for (let i = 0; i < data.length; i++) data[i] = c.kind === "compare" ? safeDataByte(rng) : rng.int(0, 255);
  return data;
}

function randomRegister(rng: Rng, wide: boolean): number {
  const r = rng.int(0, 9);
  if (r < 4) return wide ? LAYOUT.data + rng.int(0, LAYOUT.dataBytes - 0x100) : rng.int(0, 0xff00);
  if (r < 6) return rng.int(0, 0x100);
  if (r < 7) return 0;
  if (r < 8) return 0xffffffff;
  return rng.u32();
}

function randomEnv(rng: Rng, kind: CpuCase["kind"]): EnvSpec {
  const state = rng.pick(CPU_STATES);
  const wide = code32(state);
  const pteEdits: [number, number][] = [];
  for (let n = rng.int(0, 12); n > 0; n--) {
    const page = rng.chance(0.7) ? rng.int(0x20, 0x3e) : rng.int(0x40, 0x3ff);
    // Not present, read-only, supervisor-only, or aliasing another frame (the code's, often).
    const frame = rng.chance(0.5) ? rng.int(0x10, 0x1f) : rng.int(0, 0x3ff);
    const flags = rng.pick([0x0, 0x5, 0x3, 0x7, 0x27, 0x67]);
    pteEdits.push([page, (frame << 12) | flags]);
  }
  const extraDescriptors: [number, number][] = [];
  for (let i = 0; i < 8; i++)
    extraDescriptors.push([rng.u32(), (rng.u32() & ~0x8000) | (rng.chance(0.7) ? 0x8000 : 0)]);
  const gateTypes = Array.from({ length: 256 }, () =>
    rng.chance(0.9) ? rng.pick([0xee, 0xef, 0x8e]) : rng.int(0, 255),
  );
  return {
    state,
    resume: kind === "compare" ? "slots" : "bytes",
    regs: Array.from({ length: 8 }, () => randomRegister(rng, wide)),
    flags: rng.u32(),
    iopl: rng.int(0, 3),
    paging: rng.chance(0.5),
    wp: rng.chance(0.5),
    pse: rng.chance(0.5),
    pge: rng.chance(0.3),
    vme: rng.chance(0.5),
    pteEdits,
    extraDescriptors,
    gateTypes,
  };
}

/** A program of `count` instructions (compare: in slots, branches aimed at slots). */
function randomProgram(rng: Rng, kind: CpuCase["kind"], wide: boolean, count: number): Uint8Array {
  if (kind === "compare") {
    const code = new Uint8Array(count * SLOT).fill(0x90);
    const branchTarget = (end: number, bytes: number) => {
      const reach = bytes === 1 ? 0x7f : bytes === 2 ? 0x7fff : count * SLOT;
      const lo = Math.max(0, Math.ceil((end - reach) / SLOT));
      const hi = Math.min(count - 1, Math.floor((end + reach - 1) / SLOT));
      return rng.int(lo, hi) * SLOT - end;
    };
    for (let i = 0; i < count; i++) {
      const insn = randomInstruction(rng, COMPARABLE_FORMS, { code32: wide, at: i * SLOT, branchTarget });
      code.set(insn.slice(0, 15), i * SLOT);
    }
    return code;
  }
  const bytes: number[] = [];
  while (bytes.length < count * 4) {
    if (rng.chance(0.2)) bytes.push(...rng.bytes(rng.int(1, 8)));
    else bytes.push(...randomInstruction(rng, ALL_FORMS, { code32: wide, at: bytes.length }));
  }
  return Uint8Array.from(bytes);
}

export function generateCpuCase(seed: number): CpuCase {
  const rng = new Rng(seed);
  const kind = rng.chance(0.6) ? "compare" : "crash";
  const env = randomEnv(rng, kind);
  const code = randomProgram(rng, kind, code32(env.state), rng.int(32, 1024));
  return {
    kind,
    env,
    code: Buffer.from(code).toString("base64"),
    dataSeed: rng.u32(),
    budget: rng.pick([2_000, 20_000, 100_000, 300_000]),
  };
}

interface RunResult {
  snap: StateSnapshot;
  /** The run executed something whose result the hypervisor decides. */
  modeDependent: boolean;
  /** Writes reached guest page tables the shadow MMU tracks (shadow runs only). */
  pageTableWrites: number;
  instructions: number;
}

function eventCount(vm: Vm, kind: number, reason: number): number {
  const at = L.HV_EVENTS_BASE + (kind * L.EVENT_REASONS + reason) * 8;
  return vm.cpu.u32(at) + vm.cpu.u32(at + 4);
}

/** KIND_SHADOW_FAULT reason 2: a write to a tracked guest page-table page. */
const SHADOW_PT_WRITE = 2;

async function runCase(c: CpuCase, run: Run, budget: number): Promise<RunResult> {
  const vm = await Vm.create({
    module: coreModule(),
    ramBytes: 4 << 20,
    mode: run.mode,
    mmu: run.mmu,
    wallClockSeconds: 0,
  });
  setUpGuest(vm.cpu, c.env, Buffer.from(c.code, "base64"), dataArea(c));
  const stop = vm.run(budget);
  let modeDependent = MODE_DEPENDENT_EXITS.some((r) => eventCount(vm, Kind.exit, r) > 0);
  for (let r = 0; r < L.EVENT_REASONS && !modeDependent; r++) modeDependent = eventCount(vm, Kind.hypercall, r) > 0;
  return {
    snap: snapshot(vm.cpu, stop.kind),
    modeDependent,
    pageTableWrites: eventCount(vm, Kind.shadowFault, SHADOW_PT_WRITE),
    instructions: vm.cpu.retired,
  };
}

function label(run: Run): string {
  return run.mmu ? `${run.mode}-${run.mmu}` : run.mode;
}

const usesShadow = (run: Run) => run.mode === "bt" || run.mode === "trap" || run.mmu === "shadow";

interface Comparison {
  instructions: number;
  /** Not comparable: a mode-dependent instruction ran. */
  excluded: boolean;
  /**
   * Not comparable: the program rewrote its live page tables without invalidating the TLB, and
   * only shadow-paged runs (which notice such writes sooner or later than a TLB that caches the
   * old entry) differ from native. The SDM leaves this open (vol. 3, 4.10.4: the processor may
   * use the stale translation or not), so each outcome is architectural.
   */
  staleTlb: boolean;
  diff: string | undefined;
}

/** Runs every mode of the case; the first divergence from native, or undefined. */
async function compareAt(c: CpuCase, runs: Run[], budget: number): Promise<Comparison> {
  let instructions = 0;
  let excluded = false;
  const results: RunResult[] = [];
  for (const run of runs) {
    const r = await runCase(c, run, budget);
    instructions += r.instructions;
    if (r.modeDependent) excluded = true;
    results.push(r);
  }
  if (c.kind !== "compare" || runs[0]?.mode !== "native")
    return { instructions, excluded, staleTlb: false, diff: undefined };
  const native = results[0]!.snap;
  let diff: string | undefined;
  let shadowOnly = true;
  let ptWrites = 0;
  runs.forEach((run, i) => {
    if (i === 0 || run.mode === "trap") return;
    const r = results[i]!;
    const d = firstDifference(native, r.snap);
    if (usesShadow(run)) ptWrites += r.pageTableWrites;
    else if (d) shadowOnly = false;
    if (d && !diff) diff = `${label(run)} differs from native: ${d}`;
  });
  const staleTlb = diff !== undefined && shadowOnly && ptWrites > 0;
  return { instructions, excluded, staleTlb, diff };
}

/** The smallest budget at which the modes already disagree (binary search). */
async function firstDivergence(c: CpuCase, runs: Run[]): Promise<number> {
  let lo = 0;
  let hi = c.budget;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    const r = await compareAt(c, runs, mid);
    if (r.diff && !r.excluded && !r.staleTlb) hi = mid;
    else lo = mid;
  }
  return hi;
}

/**
 * The runs a case makes under the modes asked for. Native comes first; without it (a --mode
 * list that leaves it out) a compared case only checks for crashes and hangs.
 */
function selectRuns(c: CpuCase, opts: CaseOptions): Run[] {
  return (c.kind === "compare" ? COMPARED_RUNS : CRASH_RUNS).filter((r) => opts.modes.includes(r.mode));
}

async function execute(c: CpuCase, opts: CaseOptions): Promise<CaseResult> {
  const runs = selectRuns(c, opts);
  let r: Comparison;
  try {
    r = await compareAt(c, runs, c.budget);
  } catch (err) {
    return { verdict: "crash", instructions: 0, detail: `host threw: ${String(err).split("\n")[0]}`, reproducer: c };
  }
  if (r.diff && !r.excluded && !r.staleTlb) {
    const budget = await firstDivergence(c, runs);
    const small = { ...c, budget };
    const at = await compareAt(small, runs, budget);
    return {
      verdict: "divergence",
      instructions: r.instructions,
      detail: `${at.diff ?? r.diff} (first at instruction ${budget}, ${c.env.state})`,
      reproducer: small,
    };
  }
  const detail = !r.diff
    ? ""
    : r.excluded
      ? "not compared: a mode-dependent instruction ran"
      : "not compared: page tables rewritten without invalidation (stale TLB)";
  return { verdict: "ok", instructions: r.instructions, detail };
}

export const cpuTarget: FuzzTarget = {
  name: "cpu",
  run: (seed, opts) => execute(generateCpuCase(seed), opts),
  replay: (reproducer, opts) => execute(reproducer as CpuCase, opts),
  generate: (seed) => generateCpuCase(seed),
};
