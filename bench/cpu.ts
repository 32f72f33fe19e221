// CPU benchmark: runs the guests in guests/bench/ with the JIT and on the interpreter alone,
// checks each checksum against bench/programs.ts, prints guest MIPS and writes bench/results/.
//
//   npm run bench:cpu [-- --quick] [--runs N] [--only int,mem] [--jit on|off|both] [--no-write]
//   CORE_WASM=build/x/core.wasm npm run bench:cpu     (a core built elsewhere)
//
// Exit status: 0 when every checksum matches, 1 otherwise (or when a guest faults).

import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import { Cpu, REG, SEG } from "../vmm/cpu.js";
import {
  type CommandLine,
  choiceOption,
  exitOnCommandLineError,
  integerOption,
  parseOrExit,
  stringOption,
} from "../vmm/node/command-line.js";
import { coreWasmPath, loadCoreModule } from "../vmm/node/load-core.js";
import { type BenchProgram, LOAD_ADDR, PROGRAMS, RAM_BYTES, STACK_TOP } from "./programs.js";

/** Instructions per run() call: large enough that the host call is noise, small enough to poll. */
const SLICE = 1_000_000;
/** A guest that has not halted after this many instructions is broken (loops forever). */
const MAX_INSTRUCTIONS = 5_000_000_000;

interface Options {
  quick: boolean;
  runs: number;
  only: string[] | null;
  write: boolean;
  engines: Engine[];
}

type Engine = "jit" | "interpreter";

const COMMAND_LINE: CommandLine = {
  program: "npm run bench:cpu --",
  options: {
    quick: { type: "boolean", help: "one run of each program, shorter runs" },
    runs: { type: "string", value: "N", help: "runs per program and engine (default 3; 1 with --quick)" },
    only: { type: "string", value: "int,mem,branch", help: "run only these programs" },
    jit: { type: "string", value: "on|off|both", help: "engines: the JIT, the interpreter, or both (default)" },
    "no-write": { type: "boolean", help: "do not write bench/results/" },
  },
};

function parseArgs(argv: string[]): Options {
  const p = parseOrExit(COMMAND_LINE, argv);
  try {
    const quick = p.values.quick === true;
    const jit = choiceOption(p, "jit", ["on", "off", "both"] as const, "both");
    return {
      quick,
      runs: integerOption(p, "runs", quick ? 1 : 3, 1, 1000),
      only: p.values.only === undefined ? null : stringOption(p, "only", "").split(",").filter(Boolean),
      write: p.values["no-write"] !== true,
      engines: jit === "on" ? ["jit"] : jit === "off" ? ["interpreter"] : ["jit", "interpreter"],
    };
  } catch (err) {
    exitOnCommandLineError(err);
  }
}

interface RunResult {
  eax: number;
  instructions: number;
  seconds: number;
  /** Process CPU time (user + system) over the run: less disturbed than wall time on a busy host. */
  cpuSeconds: number;
}

class GuestError extends Error {}

const repoRoot = fileURLToPath(new URL("..", import.meta.url));

function loadBinary(name: string): Uint8Array {
  return new Uint8Array(readFileSync(`${repoRoot}guests/bench/${name}.bin`));
}

/** Flat 32-bit protected mode at CPL 0, paging off: the state a boot loader would leave. */
async function setup(module: WebAssembly.Module, image: Uint8Array, param: number, engine: Engine): Promise<Cpu> {
  const cpu = await Cpu.create(module, RAM_BYTES, {}, { jit: engine === "jit" });
  cpu.setCr(0, cpu.cr(0) | 1);
  cpu.setSegment(SEG.CS, { selector: 0x08, base: 0, limit: 0xffffffff, attr: 0xc09b });
  for (const s of [SEG.DS, SEG.ES, SEG.SS, SEG.FS, SEG.GS]) {
    cpu.setSegment(s, { selector: 0x10, base: 0, limit: 0xffffffff, attr: 0xc093 });
  }
  cpu.cpl = 0;
  cpu.eflags = 0x2;
  cpu.writePhysical(LOAD_ADDR, image);
  cpu.eip = LOAD_ADDR;
  cpu.setReg(REG.ESP, STACK_TOP);
  cpu.setReg(REG.ECX, param);
  cpu.stopOnException = true;
  return cpu;
}

function hex(v: number): string {
  return `0x${(v >>> 0).toString(16).padStart(8, "0")}`;
}

async function runOnce(
  module: WebAssembly.Module,
  image: Uint8Array,
  param: number,
  engine: Engine,
): Promise<RunResult> {
  const cpu = await setup(module, image, param, engine);
  const before = cpu.instructions;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let reason: string;
  for (;;) {
    reason = cpu.run(SLICE);
    if (reason !== "budget") break;
    if (cpu.instructions - before > BigInt(MAX_INSTRUCTIONS)) break;
  }
  const t1 = performance.now();
  const c1 = process.cpuUsage(c0);
  const instructions = Number(cpu.instructions - before);
  if (reason !== "halt") {
    const e = cpu.lastException;
    const at = e.eip >>> 0;
    const bytes =
      at >= 0 && at + 8 <= cpu.ramBytes
        ? [...cpu.readPhysical(at, 8)].map((b) => b.toString(16).padStart(2, "0")).join(" ")
        : "?";
    const detail =
      reason === "exception"
        ? `exception ${e.vector}${e.error === null ? "" : ` (error ${e.error})`} at EIP ${hex(at)} [${bytes}]`
        : reason === "budget"
          ? `no HLT after ${instructions} instructions (EIP ${hex(cpu.eip)})`
          : `${reason} at EIP ${hex(cpu.eip)}`;
    throw new GuestError(detail);
  }
  return { eax: cpu.reg(REG.EAX), instructions, seconds: (t1 - t0) / 1000, cpuSeconds: (c1.user + c1.system) / 1e6 };
}

interface ProgramResult {
  name: string;
  engine: Engine;
  description: string;
  param: number;
  ok: boolean;
  error?: string;
  checksum?: string;
  expected: string;
  instructions?: number;
  seconds?: number;
  mips?: number;
  /** MIPS over the process CPU time of the best run (for comparing builds on a loaded host). */
  cpuMips?: number;
  runSeconds?: number[];
}

async function benchProgram(
  module: WebAssembly.Module,
  p: BenchProgram,
  o: Options,
  engine: Engine,
): Promise<ProgramResult> {
  const param = o.quick ? p.quickParam : p.param;
  const expected = p.expected(param) >>> 0;
  const base = { name: p.name, engine, description: p.description, param, expected: hex(expected) };
  const image = loadBinary(p.name);
  try {
    // Warm-up: lets V8's tiered wasm compiler (Liftoff, then TurboFan) finish with the core.
    const warmParam = o.quick ? p.quickParam : Math.max(1, Math.floor(p.param / 5));
    const warm = await runOnce(module, image, warmParam, engine);
    if (warm.eax >>> 0 !== p.expected(warmParam) >>> 0) {
      return { ...base, ok: false, checksum: hex(warm.eax), error: "wrong checksum in the warm-up run" };
    }
    const runs: RunResult[] = [];
    for (let i = 0; i < o.runs; i++) {
      const r = await runOnce(module, image, param, engine);
      if (r.eax >>> 0 !== expected) {
        return { ...base, ok: false, checksum: hex(r.eax), instructions: r.instructions, error: "wrong checksum" };
      }
      runs.push(r);
    }
    const best = runs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    return {
      ...base,
      ok: true,
      checksum: hex(best.eax),
      instructions: best.instructions,
      seconds: best.seconds,
      mips: best.instructions / best.seconds / 1e6,
      cpuMips: best.instructions / Math.max(best.cpuSeconds, 1e-9) / 1e6,
      runSeconds: runs.map((r) => r.seconds),
    };
  } catch (e) {
    if (e instanceof GuestError) return { ...base, ok: false, error: e.message };
    throw e;
  }
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

function gitCommit(): string | null {
  try {
    const head = readFileSync(`${repoRoot}.git/HEAD`, "utf8").trim();
    if (!head.startsWith("ref: ")) return head;
    return readFileSync(`${repoRoot}.git/${head.slice(5)}`, "utf8").trim();
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const programs = PROGRAMS.filter((p) => !o.only || o.only.includes(p.name));
  if (programs.length === 0) {
    console.error(`no program matches --only ${o.only?.join(",")}; have ${PROGRAMS.map((p) => p.name).join(", ")}`);
    process.exit(2);
  }
  const wasmPath = coreWasmPath();
  const module = loadCoreModule();
  const cpuModel = os.cpus()[0]?.model ?? "unknown";
  console.log(`core ${wasmPath}`);
  console.log(`host ${cpuModel} x${os.cpus().length}, node ${process.version}; best of ${o.runs} after a warm-up`);
  console.log("");
  console.log(
    `${pad("program", 8)} ${pad("engine", 11)} ${pad("param", 10, true)} ${pad("instructions", 14, true)} ${pad("seconds", 9, true)} ${pad("MIPS", 8, true)} ${pad("cpuMIPS", 8, true)}  checksum`,
  );
  const results: ProgramResult[] = [];
  for (const p of programs) {
    for (const engine of o.engines) {
      const r = await benchProgram(module, p, o, engine);
      results.push(r);
      if (r.ok) {
        console.log(
          `${pad(r.name, 8)} ${pad(engine, 11)} ${pad(String(r.param), 10, true)} ${pad(String(r.instructions), 14, true)} ${pad(r.seconds!.toFixed(3), 9, true)} ${pad(r.mips!.toFixed(1), 8, true)} ${pad(r.cpuMips!.toFixed(1), 8, true)}  ${r.checksum} ok`,
        );
      } else {
        console.log(
          `${pad(r.name, 8)} ${pad(engine, 11)} ${pad(String(r.param), 10, true)}  FAILED: ${r.error}${r.checksum ? ` (got ${r.checksum}, expected ${r.expected})` : ""}`,
        );
      }
    }
  }
  const ok = results.every((r) => r.ok);
  const date = new Date();
  const report = {
    date: date.toISOString(),
    quick: o.quick,
    runs: o.runs,
    slice: SLICE,
    ok,
    host: {
      cpu: cpuModel,
      cores: os.cpus().length,
      node: process.version,
      v8: process.versions.v8,
      platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    },
    core: {
      // Relative to the repository: a result file names no path of the machine it ran on.
      path: relative(repoRoot, wasmPath),
      sha256: createHash("sha256").update(readFileSync(wasmPath)).digest("hex"),
    },
    commit: gitCommit(),
    results,
  };
  if (o.write) {
    const dir = `${repoRoot}bench/results`;
    mkdirSync(dir, { recursive: true });
    const stamp = date
      .toISOString()
      .replace(/[:]/g, "")
      .replace(/\.\d+Z$/, "Z");
    const text = `${JSON.stringify(report, null, 2)}\n`;
    writeFileSync(`${dir}/cpu-${stamp}.json`, text);
    writeFileSync(`${dir}/latest.json`, text);
    console.log(`\nwrote bench/results/cpu-${stamp}.json and bench/results/latest.json`);
  }
  if (!ok) {
    console.error("\nbench:cpu: a guest failed or computed a wrong checksum; no figure above counts");
    process.exit(1);
  }
}

await main();
