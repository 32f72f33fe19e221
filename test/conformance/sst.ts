// SingleStepTests runner (MOO files, real mode): 80286 (`REGS`) and 80386 (`RG32`) suites.
//
// Each test is "instruction + HLT": the CPU is put in real mode with the initial registers and
// RAM, run until it halts, and the final registers and RAM are compared with the capture
// (FINA holds only what changed; everything else must equal INIT). Undefined flags are masked
// with the suite's metadata.json (`flags-mask` per opcode and per ModRM.reg for groups).

import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { Cpu, type CpuOptions, REG, SEG } from "../../vmm/cpu.js";
import { decode16 } from "./decode16.js";
import { type Exclusion, exclusionFor, type Outcome } from "./exclusions.js";
import { type MooFile, type MooTest, parseMoo } from "./moo.js";
import { type FileResult, hex, newResult, record, type TestFailure } from "./results.js";

/** Guest RAM for real-mode tests: 1 MiB + 64 KiB is all real mode can address; round up. */
export const SST_RAM_BYTES = 2 << 20;
/** Bytes real mode can reach with A20 open (FFFF:FFFF = 0x10FFEF): cleared after a failure. */
const REAL_REACH = 0x110000;
/** Instructions allowed before a test must have reached its HLT. */
const BUDGET = 10_000;

/** The 16-bit register file of a `REGS` chunk, as the emulator holds it. */
const R16: Record<string, (cpu: Cpu) => number> = {
  ax: (c) => c.reg(REG.EAX) & 0xffff,
  bx: (c) => c.reg(REG.EBX) & 0xffff,
  cx: (c) => c.reg(REG.ECX) & 0xffff,
  dx: (c) => c.reg(REG.EDX) & 0xffff,
  cs: (c) => c.segment(SEG.CS).selector & 0xffff,
  ss: (c) => c.segment(SEG.SS).selector & 0xffff,
  ds: (c) => c.segment(SEG.DS).selector & 0xffff,
  es: (c) => c.segment(SEG.ES).selector & 0xffff,
  sp: (c) => c.reg(REG.ESP) & 0xffff,
  bp: (c) => c.reg(REG.EBP) & 0xffff,
  si: (c) => c.reg(REG.ESI) & 0xffff,
  di: (c) => c.reg(REG.EDI) & 0xffff,
  ip: (c) => c.eip & 0xffff,
  flags: (c) => c.eflags & 0xffff,
};
const GPR16: Record<string, number> = {
  ax: REG.EAX,
  bx: REG.EBX,
  cx: REG.ECX,
  dx: REG.EDX,
  sp: REG.ESP,
  bp: REG.EBP,
  si: REG.ESI,
  di: REG.EDI,
};
const GPR32: Record<string, number> = {
  eax: REG.EAX,
  ebx: REG.EBX,
  ecx: REG.ECX,
  edx: REG.EDX,
  esp: REG.ESP,
  ebp: REG.EBP,
  esi: REG.ESI,
  edi: REG.EDI,
};
const SREG: Record<string, number> = { cs: SEG.CS, ss: SEG.SS, ds: SEG.DS, es: SEG.ES, fs: SEG.FS, gs: SEG.GS };
/** 386 registers the comparison ignores: CR0/CR3/DR6/DR7 carry random upper bits and no real-mode meaning here. */
const IGNORED32 = new Set(["cr0", "cr3", "dr6", "dr7"]);
/** 386 captures: only EFLAGS bits 0-17 are meaningful (the rest are random). */
const EFLAGS386_COMPARE = 0x3ffff;

/** SingleStepTests metadata.json: `opcodes[OP]` with `flags-mask`, or `reg[N]` for group opcodes. */
interface SstOpcodeMeta {
  status?: string;
  "flags-mask"?: number;
  reg?: Record<string, SstOpcodeMeta>;
}
export interface SstMetadata {
  cpu?: string;
  opcodes: Record<string, SstOpcodeMeta>;
}

const metadataCache = new Map<string, SstMetadata | null>();

/** metadata.json next to a MOO file, if there is one. */
export function metadataFor(file: string): SstMetadata | null {
  const path = join(dirname(file), "metadata.json");
  if (!metadataCache.has(path)) {
    metadataCache.set(path, existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as SstMetadata) : null);
  }
  return metadataCache.get(path) ?? null;
}

/** File stem: "F6.6" for ".../F6.6.MOO.gz". */
export function mooStem(file: string): string {
  return basename(file).replace(/\.moo(\.gz)?$/i, "");
}

/** The flags that are defined for an opcode file ("F6.6" -> opcodes.F6.reg.6), 0xFFFF if unknown. */
export function flagsMaskFor(meta: SstMetadata | null, stem: string): number {
  if (!meta) return 0xffff;
  const [op, reg] = stem.toUpperCase().split(".");
  let entry = meta.opcodes[op];
  if (entry && reg !== undefined && entry.reg) entry = entry.reg[reg];
  return entry?.["flags-mask"] ?? 0xffff;
}

/** One real-mode machine reused across tests (a fresh instance per test would be far slower). */
export class SstRunner {
  private readonly cpu: Cpu;
  private readonly touched: number[] = [];

  private constructor(cpu: Cpu) {
    this.cpu = cpu;
  }

  /** `options` picks the engine (the JIT forced to compile from the first execution, say). */
  static async create(module: WebAssembly.Module, options: CpuOptions = {}): Promise<SstRunner> {
    return new SstRunner(await Cpu.create(module, SST_RAM_BYTES, {}, options));
  }

  /** Runs every test of a MOO file (path or already-parsed) and returns the counts. */
  runFile(file: string, parsed?: MooFile): FileResult {
    let moo: MooFile;
    try {
      moo = parsed ?? parseMoo(new Uint8Array(readFileSync(file)));
    } catch (e) {
      const res = newResult(file, `?:${mooStem(file)}`);
      res.error = `cannot read: ${(e as Error).message}`;
      return res;
    }
    const stem = mooStem(file);
    const key = `${moo.cpu}:${stem.toUpperCase()}`;
    const res = newResult(file, key);
    const meta = metadataFor(file);
    const fileFlagsMask = flagsMaskFor(meta, stem);
    for (const t of moo.tests) {
      const failure = this.runTest(moo, t, fileFlagsMask);
      if (!failure) {
        record(res, null, null);
        continue;
      }
      record(res, failure, this.explain(moo, key, t, failure, fileFlagsMask, new Set()));
    }
    return res;
  }

  /**
   * The exclusion reason that explains a failure, or null. When the exclusion supplies a variant
   * of the test without the rule's trigger, the variant must pass (or be explained in turn by
   * another rule: a test can hit two rules, like LOCK POPF): otherwise the failure stands, with
   * the variant's differences added to the diff.
   */
  private explain(
    moo: MooFile,
    key: string,
    t: MooTest,
    failure: TestFailure & { outcome: Outcome },
    fileFlagsMask: number,
    used: Set<Exclusion>,
  ): string | null {
    const ex = exclusionFor(key, t, failure.outcome, used);
    if (!ex) return null;
    const variant = ex.variant?.(t);
    if (!variant) return ex.reason;
    const again = this.runTest(moo, variant, fileFlagsMask);
    if (!again) return ex.reason;
    const also = this.explain(moo, key, variant, again, fileFlagsMask, new Set([...used, ex]));
    if (also) return `${ex.reason}; and ${also}`;
    failure.diff = [`the excluded rule's variant [${bytesHex(variant.bytes)}] fails too:`, ...again.diff];
    return null;
  }

  /** Loads a test's initial state; returns a message when the test cannot be set up. */
  private setup(t: MooTest): string | null {
    const cpu = this.cpu;
    const wide = t.initial.regWidth === 32;
    const init = t.initial.regs;
    cpu.reset();
    // Real mode, A20 open (the 286 drives 24 address lines; FFFF:xxxx reaches above 1 MiB).
    cpu.setA20(true);
    cpu.setIdtr(0, 0x3ff);
    if (wide) {
      for (const [n, r] of Object.entries(GPR32)) cpu.setReg(r, init[n] ?? 0);
      for (const [n, s] of Object.entries(SREG)) cpu.setRealSegment(s, (init[n] ?? 0) & 0xffff);
      cpu.eip = init.eip ?? 0;
      // VM (bit 17) would leave real mode and bits 18+ are random: load bits 0-16, bit 1 set.
      cpu.eflags = ((init.eflags ?? 0) & 0x1_7fd5) | 2;
    } else {
      for (const [n, r] of Object.entries(GPR16)) cpu.setReg(r, init[n] ?? 0);
      for (const n of ["cs", "ss", "ds", "es"]) cpu.setRealSegment(SREG[n], init[n] ?? 0);
      cpu.setRealSegment(SEG.FS, 0);
      cpu.setRealSegment(SEG.GS, 0);
      cpu.eip = init.ip ?? 0;
      // The capture loads FLAGS through LOADALL: IOPL/NT/bit 15 hold junk there. Bit 1 is always 1.
      cpu.eflags = ((init.flags ?? 0) & 0x0fd5) | 2;
    }
    const ram = cpu.ram;
    for (const [addr, v] of t.initial.ram) {
      if (addr >= ram.length) return `initial RAM address ${hex(addr)} is beyond the harness RAM`;
      ram[addr] = v;
      this.touched.push(addr);
    }
    for (const [addr] of t.final.ram) if (addr < ram.length) this.touched.push(addr);

    return null;
  }

  /** Runs one test; null when it passes. */
  runTest(moo: MooFile, t: MooTest, fileFlagsMask: number): (TestFailure & { outcome: Outcome }) | null {
    const cpu = this.cpu;
    const wide = t.initial.regWidth === 32;
    const diff: string[] = [];
    let flagsDiff = 0;
    const differs = new Set<string>();
    const fail = (msg: string) => ({
      index: t.index,
      name: t.name,
      bytes: bytesHex(t.bytes),
      diff: [msg],
      outcome: { firstException: null, flagsDiff: 0, differs: new Set(["setup"]) },
    });
    const flagsMask = fileFlagsMask & ~undefinedForCount(t);
    const init = t.initial.regs;
    if (wide && ((init.cr0 ?? 0) & 1) !== 0)
      return fail("initial CR0.PE is set: only real-mode captures are supported");

    const bad = this.setup(t);
    if (bad) return fail(bad);
    const ram = cpu.ram;

    let reason = cpu.run(BUDGET);
    if (reason === "budget") reason = cpu.run(BUDGET);
    if (reason !== "halt") {
      diff.push(`run ended with "${reason}" instead of "halt" at ${hex(cpu.eip)}`);
      differs.add("run");
    }

    // Registers: FINA lists the changed ones; the rest must keep their INIT value.
    const fin = t.final.regs;
    const fileMasks = moo.regMasks;
    const testMasks = t.final.regMasks;
    if (wide) {
      for (const name of Object.keys(init)) {
        if (IGNORED32.has(name)) continue;
        const want = fin[name] ?? init[name];
        let got: number;
        let mask = 0xffffffff;
        if (name in GPR32) got = cpu.reg(GPR32[name]);
        else if (name in SREG) {
          got = cpu.segment(SREG[name]).selector;
          mask = 0xffff;
        } else if (name === "eip") got = cpu.eip;
        else if (name === "eflags") {
          got = cpu.eflags;
          mask = EFLAGS386_COMPARE & flagsMask32(flagsMask);
        } else continue;
        mask &= (fileMasks[name] ?? 0xffffffff) & (testMasks[name] ?? 0xffffffff);
        if (((got ^ want) & mask) !== 0) {
          diff.push(regDiff(name, want, got, mask, 8));
          differs.add(name);
          if (name === "eflags") flagsDiff = (got ^ want) & mask;
        }
      }
    } else {
      for (const name of Object.keys(R16)) {
        if (!(name in init)) continue;
        const want = fin[name] ?? init[name];
        const got = R16[name](cpu);
        let mask = (fileMasks[name] ?? 0xffff) & (testMasks[name] ?? 0xffff);
        if (name === "flags") mask &= flagsMask;
        if (((got ^ want) & mask) !== 0) {
          diff.push(regDiff(name, want, got, mask, 4));
          differs.add(name);
          if (name === "flags") flagsDiff = (got ^ want) & mask;
        }
      }
    }

    // Memory: FINA's bytes, and every INIT byte FINA does not list must be unchanged. The FLAGS
    // image an exception pushed is compared under the same mask as FLAGS.
    const expected = new Map<number, number>();
    for (const [a, v] of t.initial.ram) expected.set(a, v);
    for (const [a, v] of t.final.ram) expected.set(a, v);
    const fm = wide ? EFLAGS386_COMPARE & flagsMask32(flagsMask) : flagsMask;
    const byteMask = new Map<number, number>();
    if (t.exception) {
      // The pushed FLAGS sit at SS:SP+4 of the handler's stack (IP, CS, FLAGS). The capture's
      // EXCP address is that rounded down to even when SP is odd, so compute it.
      const ss = (fin.ss ?? init.ss ?? 0) & 0xffff;
      const sp = (fin.sp ?? fin.esp ?? init.sp ?? init.esp ?? 0) & 0xffff;
      const at = ss * 16 + ((sp + 4) & 0xffff);
      const at1 = ss * 16 + ((sp + 5) & 0xffff);
      byteMask.set(at, fm & 0xff);
      byteMask.set(at1, (fm >>> 8) & 0xff);
    }
    const addrs = [...expected.keys()].sort((a, b) => a - b);
    for (const a of addrs) {
      const want = expected.get(a)!;
      const got = a < ram.length ? ram[a] : -1;
      const m = byteMask.get(a) ?? 0xff;
      if (((got ^ want) & m) !== 0) {
        diff.push(`ram[${hex(a, 5)}]: expected ${hex(want, 2)}, got ${hex(got & 0xff, 2)}`);
        differs.add("ram");
      }
    }

    // Clean up for the next test: the bytes this test named, or all reachable RAM after a failure
    // (the CPU may have written somewhere the capture did not list).
    if (diff.length === 0) {
      for (const a of this.touched) ram[a] = 0;
      this.touched.length = 0;
      return null;
    }
    ram.fill(0, 0, REAL_REACH);
    this.touched.length = 0;
    const first = this.diagnose(t);
    if (first.message) diff.unshift(first.message);
    const outcome: Outcome = { firstException: first.vector, flagsDiff, differs };
    return { index: t.index, name: t.name, bytes: bytesHex(t.bytes), diff, outcome };
  }
  /**
   * Diagnosis of a failure: runs the test again with exceptions stopping the CPU and names the
   * first exception raised when the capture does not expect it (usually #UD for an opcode the
   * core does not implement yet).
   */
  private diagnose(t: MooTest): { vector: number | null; message: string | null } {
    const cpu = this.cpu;
    if (this.setup(t)) return { vector: null, message: null };
    cpu.stopOnException = true;
    const reason = cpu.run(BUDGET);
    let msg: string | null = null;
    let vector: number | null = null;
    if (reason === "exception") {
      const e = cpu.lastException;
      vector = e.vector;
      if (!t.exception || t.exception.vector !== e.vector) {
        const cs = cpu.segment(SEG.CS).selector;
        msg = `first exception: ${VECTOR_NAMES[e.vector] ?? "vector"} (${e.vector}) at ${hex(cs, 4)}:${hex(e.eip, 4)}`;
        msg += t.exception ? `, the capture raised vector ${t.exception.vector}` : ", the capture raised none";
      }
    } else if (t.exception && reason === "halt") {
      msg = `no exception raised, the capture raised vector ${t.exception.vector}`;
    }
    cpu.stopOnException = false;
    cpu.ram.fill(0, 0, REAL_REACH);
    this.touched.length = 0;
    return { vector, message: msg };
  }
}

const VECTOR_NAMES: Record<number, string> = {
  0: "#DE",
  1: "#DB",
  3: "#BP",
  4: "#OF",
  5: "#BR",
  6: "#UD",
  7: "#NM",
  8: "#DF",
  10: "#TS",
  11: "#NP",
  12: "#SS",
  13: "#GP",
  14: "#PF",
  16: "#MF",
  17: "#AC",
};

/**
 * Flags the SDM leaves undefined for this test's operands where the 286 metadata defines them:
 * OF after a shift or rotate by an immediate count other than 1 (SDM vol. 2, SAL/SHL/SHR/SAR and
 * RCL/RCR/ROL/ROR: "the OF flag is affected only for single-bit shifts/rotates... otherwise
 * undefined"). The CL forms (D2/D3) are already masked by the metadata.
 */
function undefinedForCount(t: MooTest): number {
  if (t.initial.regWidth !== 16) return 0;
  const d = decode16(t.bytes);
  if (d.opcode !== 0xc0 && d.opcode !== 0xc1) return 0;
  const count = (t.bytes[d.immOffset] ?? 1) & 0x1f;
  return count > 1 ? 0x800 : 0;
}

/** A 16-bit metadata mask applied to 32-bit EFLAGS (bits above 15 always compared). */
function flagsMask32(m16: number): number {
  return (0xffff0000 | m16) >>> 0;
}

function regDiff(name: string, want: number, got: number, mask: number, digits: number): string {
  const full = digits === 4 ? 0xffff : 0xffffffff;
  const m = (mask & full) >>> 0 === full ? "" : ` (mask ${hex(mask, digits)})`;
  return `${name}: expected ${hex(want, digits)}, got ${hex(got, digits)}${m}`;
}

export const bytesHex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(" ");
