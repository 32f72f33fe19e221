// Runner for the project's own x86-vectors/1 files (test/conformance/data/VECTORS.md):
// environment `pm32-flat-user`, a 32-bit Linux-like user process on paging.

import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { gunzipSync } from "node:zlib";
import { Cpu, type CpuOptions, REG, SEG } from "../../vmm/cpu.js";
import { type FileResult, hex, newResult, record, type TestFailure } from "./results.js";

export interface VectorTest {
  name: string;
  bytes: string;
  initial: { regs: Record<string, string | number> };
  final: { regs: Record<string, string | number>; ram?: unknown[] };
  exception: { vector: number; error_code?: number; cr2?: string | number } | null;
  flags_mask: string | number;
}
export interface VectorFile {
  format: string;
  env: string;
  source?: string;
  tests: VectorTest[];
}

export const CODE_LIN = 0x1000_0000;
export const DATA_LIN = 0x2000_0000;
export const DATA_BYTES = 0x1_0000;
const CODE_BYTES = 0x1000;

// Guest-physical layout of the harness (nothing of it is visible at CPL 3 except the two maps).
const PD_PHYS = 0x1000;
const PT_CODE_PHYS = 0x2000;
const PT_DATA_PHYS = 0x3000;
const CODE_PHYS = 0x4000;
const DATA_PHYS = 0x1_0000;
const RAM_BYTES = 0x4_0000;
/** PE | MP | ET | NE | WP | AM | PG: what a Linux process runs under. */
const CR0_USER = 0x8005_0033;
const PTE_USER_RW = 0x7; // present, writable, user
/** Linux's flat user selectors (GDT entries 4 and 5, RPL 3). */
const USER_CS = 0x23;
const USER_DS = 0x2b;
/** Linux/i386's TSS selector (GDT entry 16). */
const LINUX_TSS_SELECTOR = 0x80;
const CODE32_USER_ATTR = 0xc0fb; // G, D, P, DPL 3, code execute/read, accessed
const DATA32_USER_ATTR = 0xc0f3; // G, B, P, DPL 3, data read/write, accessed
/** Instructions a test may take before it must have reached its INT3 or faulted. */
const MAX_INSNS = 1_000_000;
const RF = 1 << 16;

const GPRS: [string, number][] = [
  ["eax", REG.EAX],
  ["ecx", REG.ECX],
  ["edx", REG.EDX],
  ["ebx", REG.EBX],
  ["esp", REG.ESP],
  ["ebp", REG.EBP],
  ["esi", REG.ESI],
  ["edi", REG.EDI],
];

/** Hex strings ("0x1f") or numbers, as u32. */
export function num(v: string | number | undefined): number {
  if (v === undefined) return 0;
  if (typeof v === "number") return v >>> 0;
  const s = v.trim().toLowerCase();
  return (s.startsWith("0x") ? Number.parseInt(s.slice(2), 16) : Number.parseInt(s, 16)) >>> 0;
}

/** A `final.ram` entry: [address, byte] or { addr|address, value|byte }. */
function ramEntry(e: unknown): [number, number] {
  if (Array.isArray(e)) return [num(e[0] as string | number), num(e[1] as string | number) & 0xff];
  const o = e as Record<string, string | number>;
  return [num(o.addr ?? o.address), num(o.value ?? o.byte) & 0xff];
}

export function parseVectors(input: Uint8Array): VectorFile {
  const buf = input.length >= 2 && input[0] === 0x1f && input[1] === 0x8b ? gunzipSync(input) : input;
  const f = JSON.parse(new TextDecoder().decode(buf)) as VectorFile;
  if (f.format !== "x86-vectors/1") throw new Error(`not an x86-vectors/1 file (format: ${String(f.format)})`);
  if (!Array.isArray(f.tests)) throw new Error("no tests array");
  return f;
}

/** The data page's initial content: byte(i) = (i * 7 + 3) mod 256. */
export const DATA_PATTERN = Uint8Array.from({ length: DATA_BYTES }, (_, i) => (i * 7 + 3) & 0xff);

export class VectorRunner {
  readonly cpu: Cpu;

  private constructor(cpu: Cpu) {
    this.cpu = cpu;
    const ram = cpu.ram;
    const dv = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
    ram.fill(0, 0, DATA_PHYS);
    // Page directory: the 4 MiB regions holding the code and data pages point to their tables.
    dv.setUint32(PD_PHYS + (CODE_LIN >>> 22) * 4, PT_CODE_PHYS | PTE_USER_RW, true);
    dv.setUint32(PD_PHYS + (DATA_LIN >>> 22) * 4, PT_DATA_PHYS | PTE_USER_RW, true);
    dv.setUint32(PT_CODE_PHYS + ((CODE_LIN >>> 12) & 0x3ff) * 4, CODE_PHYS | PTE_USER_RW, true);
    for (let i = 0; i < DATA_BYTES / 4096; i++) {
      dv.setUint32(PT_DATA_PHYS + (((DATA_LIN >>> 12) + i) & 0x3ff) * 4, (DATA_PHYS + i * 4096) | PTE_USER_RW, true);
    }
  }

  /** `options` picks the engine (the JIT forced to compile from the first execution, say). */
  static async create(module: WebAssembly.Module, options: CpuOptions = {}): Promise<VectorRunner> {
    return new VectorRunner(await Cpu.create(module, RAM_BYTES, {}, options));
  }

  runFile(file: string, parsed?: VectorFile): FileResult {
    const stem = basename(file).replace(/\.json(\.gz)?$/i, "");
    const res = newResult(file, `vectors:${stem}`);
    let vf: VectorFile;
    try {
      vf = parsed ?? parseVectors(new Uint8Array(readFileSync(file)));
    } catch (e) {
      res.error = `cannot read: ${(e as Error).message}`;
      return res;
    }
    if (vf.env !== "pm32-flat-user") {
      res.error = `unknown environment "${vf.env}" (this runner knows pm32-flat-user)`;
      return res;
    }
    vf.tests.forEach((t, i) => {
      record(res, this.runTest(t, i), null);
    });
    return res;
  }

  /** Puts the machine in the pm32-flat-user state of a test, ready to run. */
  private setup(t: VectorTest): void {
    const cpu = this.cpu;
    const ram = cpu.ram;
    cpu.reset();
    // Page tables keep their content between tests; the accessed/dirty bits the CPU set are harmless.
    cpu.setCr(4, 0);
    cpu.setCr(3, PD_PHYS);
    cpu.setCr(0, CR0_USER);
    cpu.setGdtr(0, 0);
    cpu.setIdtr(0, 0);
    const flat = (selector: number, attr: number) => ({ selector, base: 0, limit: 0xffffffff, attr });
    cpu.setSegment(SEG.CS, flat(USER_CS, CODE32_USER_ATTR));
    for (const s of [SEG.SS, SEG.DS, SEG.ES, SEG.FS, SEG.GS]) cpu.setSegment(s, flat(USER_DS, DATA32_USER_ATTR));
    // Task register: a busy 32-bit TSS too short to hold an I/O map base (limit < 0x67), so every
    // I/O permission check at CPL 3 fails with #GP(0) without reading memory, as under Linux
    // (whose TSS puts the map base beyond its limit). Nothing else of the TSS is used at CPL 3.
    cpu.setSegment(SEG.TR, { selector: LINUX_TSS_SELECTOR, base: 0, limit: 0x5f, attr: 0x8b });
    cpu.cpl = 3;
    cpu.fpuInit();
    const code = ram.subarray(CODE_PHYS, CODE_PHYS + CODE_BYTES);
    code.fill(0xcc);
    const bytes = hexBytes(t.bytes);
    code.set(bytes.subarray(0, CODE_BYTES));
    ram.set(DATA_PATTERN, DATA_PHYS);
    const r = t.initial.regs;
    for (const [name, idx] of GPRS) cpu.setReg(idx, num(r[name]));
    cpu.eip = r.eip !== undefined ? num(r.eip) : CODE_LIN;
    cpu.eflags = (num(r.eflags ?? "0x2") & ~RF) | 2;
    cpu.stopOnException = true;
  }

  runTest(t: VectorTest, index: number): TestFailure | null {
    const cpu = this.cpu;
    const diff: string[] = [];
    this.setup(t);
    let reason = cpu.run(10_000);
    for (let n = 10_000; reason === "budget" && n < MAX_INSNS; n += 100_000) reason = cpu.run(100_000);
    const fin = t.final.regs;
    if (reason !== "exception") {
      diff.push(`run ended with "${reason}" at ${hex(cpu.eip, 8)} (expected an INT3 or an exception)`);
    } else {
      const got = cpu.lastException;
      const want = t.exception;
      if (!want) {
        if (got.vector !== 3)
          diff.push(`exception: expected none, got vector ${got.vector}${errText(got.error)} at ${hex(got.eip, 8)}`);
        else if (got.eip !== num(fin.eip)) diff.push(`eip: expected ${hex(num(fin.eip), 8)}, got ${hex(got.eip, 8)}`);
      } else {
        if (got.vector !== want.vector) {
          diff.push(
            `exception: expected vector ${want.vector}${errText(want.error_code ?? null)}, got ${got.vector}${errText(got.error)} at ${hex(got.eip, 8)}`,
          );
        } else {
          if (want.error_code !== undefined && want.error_code !== null && got.error !== want.error_code) {
            diff.push(
              `error code: expected ${hex(want.error_code)}, got ${got.error === null ? "none" : hex(got.error)}`,
            );
          }
          if (want.cr2 !== undefined && want.cr2 !== null && cpu.cr(2) !== num(want.cr2)) {
            diff.push(`cr2: expected ${hex(num(want.cr2), 8)}, got ${hex(cpu.cr(2), 8)}`);
          }
        }
        // Faults leave EIP at the instruction, traps after it: the core's EIP is already so.
        if (cpu.eip !== num(fin.eip)) diff.push(`eip: expected ${hex(num(fin.eip), 8)}, got ${hex(cpu.eip, 8)}`);
      }
    }
    for (const [name, idx] of GPRS) {
      if (fin[name] === undefined) continue;
      const want = num(fin[name]);
      const got = cpu.reg(idx);
      if (got !== want) diff.push(`${name}: expected ${hex(want, 8)}, got ${hex(got, 8)}`);
    }
    if (fin.eflags !== undefined) {
      const mask = num(t.flags_mask) & ~RF;
      const want = num(fin.eflags);
      const got = cpu.eflags;
      if (((want ^ got) & mask) !== 0) {
        diff.push(
          `eflags: expected ${hex(want, 8)}, got ${hex(got, 8)} (mask ${hex(mask, 8)}, differ ${hex((want ^ got) & mask)})`,
        );
      }
    }
    // Data page: the bytes that differ from the pattern, ascending.
    const data = cpu.ram.subarray(DATA_PHYS, DATA_PHYS + DATA_BYTES);
    const gotRam = new Map<number, number>();
    // memcmp by 1 KiB blocks, then bytes only inside the blocks that differ.
    for (let b = 0; b < DATA_BYTES; b += 1024) {
      if (Buffer.compare(data.subarray(b, b + 1024), DATA_PATTERN.subarray(b, b + 1024)) === 0) continue;
      for (let i = b; i < b + 1024; i++) if (data[i] !== DATA_PATTERN[i]) gotRam.set(DATA_LIN + i, data[i]);
    }
    const wantRam = new Map<number, number>((t.final.ram ?? []).map(ramEntry));
    let ramDiffs = 0;
    for (const a of new Set([...wantRam.keys(), ...gotRam.keys()].sort((x, y) => x - y))) {
      const w = wantRam.get(a) ?? DATA_PATTERN[a - DATA_LIN];
      const g = gotRam.get(a) ?? DATA_PATTERN[a - DATA_LIN];
      if (w !== g && ramDiffs++ < 16) diff.push(`ram[${hex(a, 8)}]: expected ${hex(w, 2)}, got ${hex(g, 2)}`);
    }
    if (ramDiffs > 16) diff.push(`... ${ramDiffs - 16} more RAM differences`);
    return diff.length === 0 ? null : { index, name: t.name, bytes: t.bytes, diff };
  }
}

function errText(e: number | null): string {
  return e === null ? "" : ` (error ${hex(e)})`;
}

function hexBytes(s: string): Uint8Array {
  const clean = s.replace(/[^0-9a-f]/gi, "");
  const out = new Uint8Array(clean.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}
