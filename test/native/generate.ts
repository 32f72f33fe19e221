// Native differential test generator: random tests for every CPL-3 instruction form of the
// instruction table (core/isa/table.mjs, core/isa/x87.mjs), executed on the host CPU by
// test/native/runner.c and written as x86-vectors/1 files (environment pm32-flat-user, see
// test/conformance/data/VECTORS.md).
//
//   tsx test/native/generate.ts --runner build/native-runner/runner [--seed N] [--out DIR] [--scale F] [--keep]
//                               [--chains N] [--only GROUP,...]
//
// --scale multiplies the number of tests per form; --keep leaves the runner's input and output
// next to the runner (last-run.in, last-run.out) for debugging. --chains sets the number of x87
// chains (x87-chains.ts; default 1500 x scale) and --only keeps the named groups, e.g.
// `--only x87-chains --chains 40000 --seed 7 --out /tmp/c` for a long x87 search. test/native/corpus/README.md
// describes the corpus and every case that is left out.
//
// The inputs depend only on the seed; the outputs come from the host CPU. Flag masks come from
// the tables, never from the host. Vectors whose outcome is known to be host-specific (and that
// the tables do not describe as undefined) are not generated or are dropped; see README.md.

import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { gzipSync } from "node:zlib";
import { entries, isSized, type TableEntry, undefinedFlagsMask } from "../../core/isa/table.mjs";
import { undefinedStatusMask, x87Forms } from "../../core/isa/x87.mjs";
import {
  type CommandLine,
  exitOnCommandLineError,
  integerOption,
  numberOption,
  parseOrExit,
  stringOption,
} from "../../vmm/node/command-line.js";
import {
  absMem,
  DATA,
  F_AUX,
  F_ENV,
  F_OPND,
  F_RES,
  F_VALS,
  f80,
  f80FromNumber,
  le,
  movd,
  movw,
  storeBytes,
} from "./x87-bytes.js";
import { genX87Chain } from "./x87-chains.js";

// ---- table types ------------------------------------------------------------------------------

type Entry = TableEntry;

interface X87Form {
  esc: number;
  reg?: number;
  modrm?: number;
  modrmEnd?: number;
  mnem: string;
  operands: string;
  memBytes?: number;
  user: boolean;
  undef: string;
  stack: number;
  invalid: boolean;
  alias: boolean;
  eflags?: { mod: string; undef: string; reads?: string };
}

const ENTRIES: Entry[] = entries;
const X87 = x87Forms as unknown as X87Form[];

// ---- environment constants ----------------------------------------------------------------------

const CODE = 0x10000000;
const DATA_SIZE = 0x10000;
/** EFLAGS bits compared: bits 0-21 except RF (bit 16). Undefined status flags are removed per form. */
const ALL_FLAGS = 0x3effff;
const FLAG = { C: 0x1, P: 0x4, A: 0x10, Z: 0x40, S: 0x80, O: 0x800 } as const;
const EFL_BASE = 0x202; // bit 1 and IF (a Linux process always runs with IF=1)
const DF = 0x400;

const EAX = 0;
const ECX = 1;
const EDX = 2;
const EBX = 3;
const ESP = 4;
const EBP = 5;
const ESI = 6;
const EDI = 7;

const patternByte = (addr: number): number => (((addr - DATA) * 7 + 3) & 0xff) >>> 0;
function readPattern(addr: number, size: number): number {
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = v * 256 + patternByte(addr + i);
  return v >>> 0;
}
const hex = (v: number): string => `0x${(v >>> 0).toString(16)}`;

// ---- deterministic random numbers (xoshiro128**) ------------------------------------------------

class Rng {
  private s: Uint32Array;
  constructor(seed: number) {
    this.s = new Uint32Array(4);
    let x = seed >>> 0 || 1;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }
  u32(): number {
    const s = this.s;
    const r = Math.imul(((Math.imul(s[1], 5) << 7) | (Math.imul(s[1], 5) >>> 25)) >>> 0, 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 11) | (s[3] >>> 21);
    return r >>> 0;
  }
  int(n: number): number {
    return Math.floor((this.u32() / 0x100000000) * n);
  }
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  chance(p: number): boolean {
    return this.u32() / 0x100000000 < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [xs[i], xs[j]] = [xs[j], xs[i]];
    }
    return xs;
  }
  /** A 32-bit value biased towards the edges that matter for flags. */
  value(): number {
    switch (this.int(10)) {
      case 0:
        return this.int(17);
      case 1:
        return -this.range(1, 16) >>> 0;
      case 2:
        return this.pick([
          0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff,
        ]);
      case 3:
        return (
          (this.pick([0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000]) + this.range(-2, 2)) >>> 0
        );
      case 4:
        return this.u32() & this.pick([0xff, 0xffff, 0xf0f0f0f0, 0x0f0f0f0f]);
      default:
        return this.u32();
    }
  }
}

// ---- test description -----------------------------------------------------------------------------

interface TestCase {
  group: string;
  name: string;
  bytes: number[];
  regs: number[]; // eax ecx edx ebx esp ebp esi edi eflags
  mask: number;
  /** Keep the vector only if the host raised this exception (forms that are #UD on the P6). */
  requireVector?: number;
}

/** Per-test builder state: registers whose values are fixed, prefixes, bytes. */
class Build {
  fixed: (number | undefined)[] = new Array(8).fill(undefined);
  reserved = new Set<number>();
  eflags: number;
  constructor(
    readonly g: Rng,
    opts: { dfChance?: number } = {},
  ) {
    let f = EFL_BASE;
    for (const b of [FLAG.C, FLAG.P, FLAG.A, FLAG.Z, FLAG.S, FLAG.O]) if (g.chance(0.5)) f |= b;
    if (g.chance(opts.dfChance ?? 0.15)) f |= DF;
    this.eflags = f;
    // The stack pointer always points into the data page (pushes land there).
    let sp = DATA + 0xc000 + g.int(0x3e00);
    if (g.chance(0.85)) sp &= ~3;
    this.fixed[ESP] = sp >>> 0;
  }
  set(r: number, v: number): void {
    this.fixed[r] = v >>> 0;
  }
  get(r: number): number {
    if (this.fixed[r] === undefined) this.fixed[r] = this.g.value();
    return this.fixed[r] as number;
  }
  isFree(r: number): boolean {
    return this.fixed[r] === undefined && !this.reserved.has(r);
  }
  regs(): number[] {
    const out: number[] = [];
    for (let r = 0; r < 8; r++) out.push(this.get(r));
    out.push(this.eflags);
    return out;
  }
}

// ---- ModRM memory operands ------------------------------------------------------------------------

interface MemOperand {
  bytes: number[]; // ModRM (with reg field 0), SIB, displacement
  ea: number;
  desc: string;
}

/** A 32-bit-addressing memory operand whose effective address lies in [lo, hi]. Base and index
 * registers that are still free get values that make it so; fixed registers keep theirs. */
function mem32(b: Build, lo: number, hi: number): MemOperand {
  const g = b.g;
  for (let attempt = 0; attempt < 200; attempt++) {
    const mod = attempt > 150 ? 0 : g.pick([0, 0, 1, 1, 2]);
    const rm = attempt > 150 ? 5 : g.int(8);
    let base = -1;
    let index = -1;
    let scale = 1;
    let dispSize = mod === 1 ? 1 : mod === 2 ? 4 : 0;
    let sib: number | null = null;
    if (rm === 4) {
      const ss = g.int(4);
      const idx = g.int(8);
      const bs = g.int(8);
      sib = (ss << 6) | (idx << 3) | bs;
      scale = 1 << ss;
      index = idx === 4 ? -1 : idx;
      if (bs === 5 && mod === 0) dispSize = 4;
      else base = bs;
    } else if (rm === 5 && mod === 0) dispSize = 4;
    else base = rm;
    if ((base >= 0 && b.reserved.has(base)) || (index >= 0 && b.reserved.has(index))) continue;
    const target = lo + g.int(hi - lo + 1);
    let disp =
      dispSize === 1 ? g.int(256) - 128 : dispSize === 4 ? (g.chance(0.5) ? g.int(0x2000) - 0x1000 : g.u32()) : 0;
    const val = (r: number) => b.fixed[r] as number;
    const free = (r: number) => r >= 0 && b.isFree(r);
    const newRegs: [number, number][] = [];
    if (base >= 0 && base === index) {
      const k = 1 + scale;
      if (free(base)) {
        const v = Math.floor((target - disp) / k);
        newRegs.push([base, v >>> 0]);
      } else if (dispSize === 4) disp = (target - val(base) * k) | 0;
    } else if (base >= 0 && index >= 0) {
      if (free(index) && free(base)) {
        const iv = g.chance(0.5) ? g.value() : g.int(0x400);
        newRegs.push([index, iv]);
        newRegs.push([base, (target - disp - Math.imul(iv, scale)) >>> 0]);
      } else if (free(base)) newRegs.push([base, (target - disp - Math.imul(val(index), scale)) >>> 0]);
      else if (free(index)) {
        const v = Math.floor((target - disp - val(base)) / scale);
        newRegs.push([index, v >>> 0]);
      } else if (dispSize === 4) disp = (target - val(base) - Math.imul(val(index), scale)) | 0;
    } else if (base >= 0 || index >= 0) {
      const r = base >= 0 ? base : index;
      const s = base >= 0 ? 1 : scale;
      if (free(r)) newRegs.push([r, Math.floor((target - disp) / s) >>> 0]);
      else if (dispSize === 4) disp = (target - Math.imul(val(r), s)) | 0;
      else if (dispSize === 1) disp = (target - Math.imul(val(r), s)) | 0;
    } else disp = target | 0;
    if (dispSize === 1 && (disp < -128 || disp > 127)) continue;
    if (dispSize === 0 && disp !== 0) continue;
    // Compute the address with the (tentative) register values.
    const v = (r: number) => {
      for (const [nr, nv] of newRegs) if (nr === r) return nv;
      return val(r);
    };
    if ((base >= 0 && v(base) === undefined) || (index >= 0 && v(index) === undefined)) continue;
    let ea = disp;
    if (base >= 0) ea += v(base);
    if (index >= 0) ea += Math.imul(v(index), scale);
    ea = ea >>> 0;
    if (ea < lo || ea > hi) continue;
    for (const [nr, nv] of newRegs) b.set(nr, nv);
    const bytes = [(mod << 6) | (rm & 7)];
    if (sib !== null) bytes.push(sib);
    bytes.push(...le(disp, dispSize));
    return { bytes, ea, desc: "m32" };
  }
  throw new Error(`mem32: no addressing form found for ${lo.toString(16)}..${hi.toString(16)}`);
}

/** A 16-bit-addressing memory operand: its address is below 0x10000 (unmapped: #PF, cr2 = EA). */
function mem16(b: Build): MemOperand {
  const g = b.g;
  const mod = g.pick([0, 1, 2]);
  const rm = g.int(8);
  const dispSize = mod === 1 ? 1 : mod === 2 || (mod === 0 && rm === 6) ? 2 : 0;
  const disp = dispSize === 1 ? g.int(256) - 128 : dispSize === 2 ? g.int(0x10000) : 0;
  const regsOf = [[EBX, ESI], [EBX, EDI], [EBP, ESI], [EBP, EDI], [ESI], [EDI], [EBP], [EBX]][rm];
  const used = mod === 0 && rm === 6 ? [] : regsOf;
  let ea = disp;
  for (const r of used) ea += b.get(r) & 0xffff;
  return { bytes: [(mod << 6) | rm, ...le(disp, dispSize)], ea: ea & 0xffff, desc: "m16" };
}

// Where ordinary memory operands go: inside the data page, away from its edges.
const MEM_LO = DATA + 0x40;
const MEM_HI = DATA + 0xbf00;

/** A memory operand for an access of `size` bytes: usually in the data page, sometimes in an
 * unmapped place or across the end of the page (both #PF). */
function memOperand(b: Build, size: number, a16: boolean, faultChance = 0.04): MemOperand {
  if (a16) return mem16(b);
  if (b.g.chance(faultChance)) {
    const g = b.g;
    const where = g.int(4);
    if (where === 0 && size > 1) return mem32(b, DATA + DATA_SIZE - size + 1, DATA + DATA_SIZE - 1); // crosses the end
    if (where <= 1) return mem32(b, DATA + DATA_SIZE, DATA + DATA_SIZE + 0xf000); // after the page
    if (where === 2) return mem32(b, DATA - 0x8000, DATA - size); // before the page
    return mem32(b, 0x30000000, 0x3000f000);
  }
  return mem32(b, MEM_LO, MEM_HI - size);
}

// ---- integer forms ------------------------------------------------------------------------------

const SEGS = [0x26, 0x2e, 0x36, 0x3e]; // ES CS SS DS (flat); FS/GS are avoided
const SHIFTS = new Set(["ROL", "ROR", "RCL", "RCR", "SHL", "SHR", "SAL", "SAR"]);

function groupOf(e: Entry): string {
  const m = e.mnem;
  if (["ADD", "OR", "ADC", "SBB", "AND", "SUB", "XOR", "CMP", "TEST", "INC", "DEC", "NOT", "NEG"].includes(m))
    return "alu";
  if (SHIFTS.has(m) || m === "SHLD" || m === "SHRD") return "shift";
  if (["MUL", "IMUL", "DIV", "IDIV"].includes(m)) return "muldiv";
  if (["DAA", "DAS", "AAA", "AAS", "AAM", "AAD"].includes(m)) return "bcd";
  if (/^(BT|BTS|BTR|BTC|BSF|BSR|BSWAP)$/.test(m) || m.startsWith("SET")) return "bit";
  if (/^(MOVSB|MOVS|CMPSB|CMPS|STOSB|STOS|LODSB|LODS|SCASB|SCAS)$/.test(m)) return "string";
  if (/^(PUSH|POP|PUSHA|POPA|PUSHF|POPF|ENTER|LEAVE)$/.test(m)) {
    if (/^(ES|CS|SS|DS|FS|GS)$/.test(e.operands)) return "segment";
    return "stack";
  }
  if (m.startsWith("J") || /^(CALL|RETN|LOOP|LOOPZ|LOOPNZ|JCXZ)$/.test(m)) return "control";
  if (m === "MOV" && e.operands.includes("Sw")) return "segment";
  return "mov";
}

interface Form {
  e: Entry;
  osz: 16 | 32;
}

/** Width in bytes of an operand token for an operand size. */
function width(tok: string, osz: number): number {
  if (tok.endsWith("b") || tok === "AL") return 1;
  if (tok.endsWith("w")) return 2;
  if (tok.endsWith("d")) return 4;
  return osz / 8;
}

/** Builds one test of an integer form; returns null when the draw has to be discarded (a case
 * the SDM leaves undefined that the table cannot express). */
function genInteger(g: Rng, f: Form): TestCase | null {
  const { e, osz } = f;
  const mnem = e.mnem;
  const ops = e.operands ? e.operands.split(",") : [];
  const stringOp = groupOf(e) === "string";
  const b = new Build(g, { dfChance: stringOp ? 0.5 : 0.15 });
  const prefixes: number[] = [];
  const pre: number[] = []; // set-up instructions placed before the instruction under test
  const tags: string[] = [];
  let mask = ALL_FLAGS & ~undefinedFlagsMask(e);
  const os = osz / 8;
  if (osz === 16) prefixes.push(0x66);
  else if (!isSized(e) && e.mnem !== "BSWAP" && g.chance(0.04)) {
    prefixes.push(0x66);
    tags.push("66");
  }

  // Memory or register form, address size.
  const hasModrm = e.modrm;
  let memForm = hasModrm && (e.memOnly || g.chance(0.5));
  if (e.memOnly && g.chance(0.05) && mnem !== "BOUND") memForm = false; // #UD
  const implicitMem = stringOp || mnem === "XLAT" || ops.some((o) => o === "Ob" || o === "Ov");
  const noAccess = mnem === "LEA" || (mnem === "NOP" && hasModrm);
  let a16 = false;
  if ((memForm || implicitMem) && g.chance(noAccess ? 0.3 : 0.08)) a16 = true;
  if ((mnem === "LOOP" || mnem === "LOOPZ" || mnem === "LOOPNZ" || mnem === "JCXZ") && g.chance(0.25)) a16 = true;
  if (a16) prefixes.push(0x67);
  let seg = -1;
  if ((memForm || implicitMem) && !noAccess && g.chance(0.12)) {
    seg = g.pick(SEGS);
    prefixes.push(seg);
  }
  let lock = false;
  if (e.lock && memForm && g.chance(0.35)) lock = true;
  else if (g.chance(e.lock ? 0.04 : 0.01)) lock = true; // #UD: LOCK on a register form / non-lockable form
  if (lock) prefixes.push(0xf0);
  let rep = -1;
  if (stringOp && g.chance(0.7)) {
    rep = /^(CMPS|CMPSB|SCAS|SCASB)$/.test(mnem) ? g.pick([0xf2, 0xf3]) : 0xf3;
    prefixes.push(rep);
  }

  // ModRM.
  let regField = e.reg >= 0 ? e.reg : g.int(8);
  if (ops[1] === "Sw" && g.chance(0.9)) regField = g.int(6);
  let rmReg = -1;
  let mem: MemOperand | null = null;
  const eTok = ops.find((o) => /^E|^M/.test(o)) ?? "";
  const eWidth = eTok === "Ma" ? 2 * os : eTok === "Mq" ? 8 : eTok.startsWith("E") ? width(eTok, osz) : os;
  const gTok = ops.find((o) => o.startsWith("G")) ?? "";
  const gReg = gTok ? regField : -1;

  // Values that must be chosen before the address (they may not serve as base/index).
  const isShiftCL = ops.includes("CL");
  if (isShiftCL) b.reserved.add(ECX);
  if (/^(DIV|IDIV)$/.test(mnem) && ops.length === 1) {
    b.reserved.add(EAX);
    b.reserved.add(EDX);
  }
  if (mnem === "CMPXCHG") b.reserved.add(EAX);
  if (mnem === "CMPXCHG8B") {
    b.reserved.add(EAX);
    b.reserved.add(EDX);
  }
  if (mnem === "BOUND" && gReg >= 0) b.reserved.add(gReg);
  if (/^(BT|BTS|BTR|BTC)$/.test(mnem) && gTok && memForm) {
    // The bit offset reaches beyond the operand: keep it within a few KiB.
    const off = g.chance(0.3) ? g.int(64) : g.int(osz === 16 ? 0x10000 : 0x8000) - (osz === 16 ? 0x8000 : 0x4000);
    b.set(gReg, off);
    if (osz === 16) b.set(gReg, (g.u32() & 0xffff0000) | (off & 0xffff));
  }

  if (hasModrm) {
    if (memForm) {
      if (noAccess && !a16 && g.chance(0.5)) {
        // LEA / hint NOP: any address, nothing is accessed.
        mem = mem32(b, 0, 0xffffffff);
      } else if (/^(BT|BTS|BTR|BTC)$/.test(mnem) && gTok) mem = a16 ? mem16(b) : mem32(b, DATA + 0x5000, DATA + 0xa000);
      else if (mnem === "JMP" || mnem === "CALL") mem = a16 ? mem16(b) : mem32(b, MEM_LO, MEM_HI - 4);
      else mem = memOperand(b, eWidth, a16);
      tags.push(a16 ? "a16 mem" : "mem");
    } else {
      rmReg = g.int(8);
      tags.push("reg");
    }
  }
  if (seg >= 0) tags.push(`seg${seg.toString(16)}`);
  if (lock) tags.push("lock");
  if (rep >= 0) tags.push(rep === 0xf3 ? "rep" : "repne");
  if (a16 && !hasModrm) tags.push("a16");

  // Operand helpers.
  const regVal = (r: number, w: number): number => {
    const v = b.get(w === 1 ? r & 3 : r);
    if (w === 1) return r < 4 ? v & 0xff : (v >>> 8) & 0xff;
    return w === 2 ? v & 0xffff : v;
  };
  const eVal = (w: number): number => (mem ? readPattern(mem.ea, w) : regVal(rmReg, w));

  // Immediates.
  const imm: number[] = [];
  const immOf = (tok: string) => {
    if (tok === "Ib" || tok === "Ibs") return [g.int(256)];
    if (tok === "Iw") return le(g.int(0x10000), 2);
    if (tok === "Iz" || tok === "Iv") return le(g.value(), os);
    return [];
  };

  // Per-instruction semantics.
  const m = mnem;
  const opcodeBytes: number[] = e.map === 1 ? [0x0f, e.op] : [e.op];
  if (SHIFTS.has(m) || m === "SHLD" || m === "SHRD") {
    const w = m === "SHLD" || m === "SHRD" ? os : width(eTok, osz);
    const bits = w * 8;
    const pickCount = (): number => {
      const c = g.chance(0.6) ? g.int(bits + 1) : g.int(32);
      return c;
    };
    let count = pickCount();
    const undefinedCount = (c: number) => {
      const mc = c & 31;
      if ((m === "SHL" || m === "SHR" || m === "SAL") && bits < 32 && mc >= bits) return true; // CF undefined (SDM)
      if ((m === "SHLD" || m === "SHRD") && bits === 16 && mc > 16) return true; // result undefined (SDM)
      return false;
    };
    for (let i = 0; i < 20 && undefinedCount(count); i++) count = pickCount();
    if (undefinedCount(count)) return null;
    const hiBits = g.chance(0.3) ? g.int(8) << 5 : 0;
    if (ops.includes("CL")) b.set(ECX, (g.u32() & 0xffffff00) | ((count & 31) | hiBits));
    else if (ops.includes("Ib")) imm.push((count & 31) | hiBits);
  } else if ((m === "DIV" || m === "IDIV") && ops.length === 1) {
    const w = width(eTok, osz);
    const bits = w * 8;
    const d = mem
      ? eVal(w)
      : rmReg >= 0 && !(rmReg === EAX || rmReg === EDX || (w === 1 && rmReg === 4))
        ? eVal(w)
        : -1;
    const kind = g.int(10);
    if (d >= 0 && kind < 6 && d !== 0) {
      // A dividend whose quotient fits (no #DE).
      const dv = BigInt(m === "IDIV" ? BigInt.asIntN(bits, BigInt(d)) : BigInt(d));
      const maxQ = m === "IDIV" ? (1n << BigInt(bits - 1)) - 1n : (1n << BigInt(bits)) - 1n;
      const q = BigInt(g.u32()) % (maxQ + 1n);
      const qs = m === "IDIV" && g.chance(0.5) ? -q : q;
      const absd = dv < 0n ? -dv : dv;
      let r = absd > 1n ? BigInt(g.u32()) % absd : 0n;
      let dividend = qs * dv;
      if (m === "IDIV") {
        if (dividend < 0n) r = -r;
        else if (dividend === 0n && g.chance(0.5)) r = -r;
      }
      dividend += r;
      const full = BigInt.asUintN(bits * 2, dividend);
      const lo = Number(full & ((1n << BigInt(bits)) - 1n));
      const hi = Number(full >> BigInt(bits));
      if (w === 1) b.set(EAX, (g.u32() & 0xffff0000) | ((hi & 0xff) << 8) | (lo & 0xff));
      else if (w === 2) {
        b.set(EAX, (g.u32() & 0xffff0000) | lo);
        b.set(EDX, (g.u32() & 0xffff0000) | hi);
      } else {
        b.set(EAX, lo);
        b.set(EDX, hi);
      }
    } else {
      b.set(EAX, g.value());
      b.set(EDX, g.chance(0.5) ? g.int(4) : g.value());
      if (!mem && rmReg >= 0 && kind >= 8) b.set(w === 1 ? rmReg & 3 : rmReg, 0); // divide by zero
    }
  } else if (m === "CMPXCHG") {
    const w = width(eTok, osz);
    const cur = eVal(w);
    const a = g.chance(0.5) ? cur : g.value();
    b.set(EAX, w === 1 ? (g.u32() & ~0xff) | (a & 0xff) : w === 2 ? (g.u32() & ~0xffff) | (a & 0xffff) : a);
  } else if (m === "CMPXCHG8B") {
    if (mem && g.chance(0.5)) {
      b.set(EAX, readPattern(mem.ea, 4));
      b.set(EDX, readPattern(mem.ea + 4, 4));
    } else {
      b.set(EAX, g.value());
      b.set(EDX, g.value());
    }
  } else if (m === "BOUND" && mem) {
    const lo = readPattern(mem.ea, os);
    const hi = readPattern(mem.ea + os, os);
    const sx = (v: number) => (osz === 16 ? (v << 16) >> 16 : v | 0);
    const l = sx(lo);
    const h = sx(hi);
    let idx: number;
    if (l <= h && g.chance(0.6)) idx = l + g.int(h - l + 1);
    else idx = g.pick([l - 1, h + 1, l, h, sx(g.value())]);
    b.set(gReg, osz === 16 ? (g.u32() & 0xffff0000) | (idx & 0xffff) : idx);
  } else if (m === "BSF" || m === "BSR") {
    // The SDM leaves the destination undefined for a zero source (AMD documents "unchanged"):
    // only draw non-zero sources.
    const w = os;
    if (!mem && rmReg >= 0) {
      let v = b.get(rmReg);
      if ((w === 2 ? v & 0xffff : v) === 0) v = g.u32() | 1;
      if (g.chance(0.3)) v = (1 << g.int(32)) >>> 0;
      b.set(rmReg, v);
    } else if (mem && eVal(w) === 0) return null;
  } else if (m === "AAM" || m === "AAD") {
    imm.push(g.chance(0.5) ? 10 : g.chance(0.15) ? 0 : g.int(256)); // AAM 0: #DE
  } else if (m === "XLAT") {
    if (!a16) b.set(EBX, DATA + 0x100 + g.int(0xbe00));
  } else if (m === "ENTER") {
    const level = g.chance(0.5) ? g.int(3) : g.int(64);
    const size = g.chance(0.7) ? g.int(0x100) : g.int(0x2000);
    imm.push(...le(size, 2), level);
    b.set(EBP, DATA + 0x8000 + g.int(0x3000));
    b.set(ESP, DATA + 0xe000 + (g.int(0x1000) & ~3));
  } else if (m === "LEAVE") {
    let bp = DATA + 0x8000 + g.int(0x7000);
    if (g.chance(0.8)) bp &= ~3;
    b.set(EBP, bp);
  } else if (m === "POPF") {
    // Pop a value the test pushes itself: random flags except TF (single-step), VM and RF.
    const v = (g.u32() & ~0x30100) | 0x2;
    pre.push(...(osz === 16 ? [0x66, 0x68, ...le(v, 2)] : [0x68, ...le(v, 4)]));
    mask = ALL_FLAGS;
    tags.push("after push imm");
  } else if (m === "RETN") {
    const target = CODE + 0x40 + g.int(0xf00);
    pre.push(...(osz === 16 ? [0x66, 0x68, ...le(target, 2)] : [0x68, ...le(target, 4)]));
    if (ops[0] === "Iw") imm.push(...le(g.chance(0.5) ? g.int(64) & ~1 : g.int(0x1000), 2));
    tags.push("after push target");
  } else if ((m === "JMP" || m === "CALL") && eTok === "Ev") {
    const target = CODE + 0x40 + g.int(0xf00);
    if (mem) {
      if (!a16) pre.push(0xc7, 0x05, ...le(mem.ea, 4), ...le(target, 4)); // mov dword [ea], target
      if (!a16) tags.push("after mov [ea], target");
    } else if (rmReg >= 0) b.set(rmReg, osz === 16 ? (g.u32() & 0xffff0000) | (target & 0xffff) : target);
  } else if (/^(LOOP|LOOPZ|LOOPNZ|JCXZ)$/.test(m)) {
    const c = g.pick([0, 1, 2, 3, g.int(100), 0x10000, 0x10001]);
    b.set(ECX, a16 ? (g.u32() & 0xffff0000) | (c & 0xffff) : c);
  } else if (m === "MOV" && (ops[0] === "Ob" || ops[0] === "Ov" || ops[1] === "Ob" || ops[1] === "Ov")) {
    // moffs: the address is the immediate.
    const w = ops.includes("Ob") ? 1 : os;
    if (a16) imm.push(...le(g.int(0x10000), 2));
    else {
      const fault = g.chance(0.04);
      const addr = fault ? DATA + DATA_SIZE - w + 1 + g.int(w) : MEM_LO + g.int(MEM_HI - MEM_LO);
      imm.push(...le(addr, 4));
    }
  } else if (
    m === "SCAS" ||
    m === "SCASB" ||
    m === "CMPS" ||
    m === "CMPSB" ||
    m === "MOVS" ||
    m === "MOVSB" ||
    m === "STOS" ||
    m === "STOSB" ||
    m === "LODS" ||
    m === "LODSB"
  ) {
    const w = m.endsWith("B") ? 1 : os;
    const count = g.chance(0.8) ? g.int(9) : g.int(40);
    const down = (b.eflags & DF) !== 0;
    const place = () =>
      (down ? DATA + 0x600 + g.int(0xb000) : DATA + 0x100 + g.int(0xb000)) + (g.chance(0.7) ? 0 : g.int(w));
    let si = place();
    let di = place();
    if ((m.startsWith("CMPS") || m.startsWith("MOVS")) && g.chance(0.5))
      di = (si + 256 * g.range(-20, 20) + (g.chance(0.3) ? g.int(8) : 0)) >>> 0;
    if (g.chance(0.03)) {
      // run off the end of the page (#PF in the middle of a REP)
      di = down ? DATA + g.int(8) : DATA + DATA_SIZE - g.int(12);
      si = down ? DATA + g.int(8) : DATA + DATA_SIZE - g.int(12);
    }
    if (a16) {
      b.set(ESI, (g.u32() & 0xffff0000) | (si & 0xffff));
      b.set(EDI, (g.u32() & 0xffff0000) | (di & 0xffff));
      b.set(ECX, (g.u32() & 0xffff0000) | (g.chance(0.4) ? 0 : count));
    } else {
      b.set(ESI, si);
      b.set(EDI, di);
      b.set(ECX, rep >= 0 ? count : g.value());
    }
    if (m.startsWith("SCAS") && g.chance(0.6)) {
      const k = g.int(count + 1);
      const at = down ? di - k * w : di + k * w;
      const v = at >= DATA && at + w <= DATA + DATA_SIZE ? readPattern(at, w) : g.value();
      b.set(EAX, w === 1 ? (g.u32() & ~0xff) | v : w === 2 ? (g.u32() & ~0xffff) | v : v);
    }
  } else if (m === "PUSH" && /^(ES|CS|SS|DS|FS|GS)$/.test(ops[0] ?? "") && osz === 32) {
    // A 32-bit push of a segment register may write 2 or 4 bytes (SDM: either); zero the slot
    // first so both give the same memory.
    pre.push(0x6a, 0x00, 0x8d, 0x64, 0x24, 0x04); // push 0; lea esp, [esp+4]
    tags.push("slot pre-zeroed");
  } else if (m === "IMUL" && ops.length === 3) {
    // immediates handled below
  }

  // Jumps: forward inside the code page (or outside it, for #PF on the fetch).
  const prefixLen = prefixes.length + pre.length + opcodeBytes.length;
  const relTok = ops.find((o) => o === "Jb" || o === "Jz");
  if (relTok) {
    const relSize = relTok === "Jb" ? 1 : os;
    const end = prefixLen + (hasModrm ? 1 : 0) + relSize;
    let rel: number;
    if (g.chance(0.06)) rel = relSize === 1 ? -(end + 1 + g.int(100)) : -(end + 1 + g.int(0x8000));
    else if (relSize === 1) rel = g.int(128);
    else if (relSize === 2) rel = g.int(0x800);
    else rel = g.chance(0.05) ? 0x1000 + g.int(0xe000) : g.int(0xf00);
    if (relSize === 1 && rel < -128) rel = -128;
    imm.push(...le(rel, relSize));
  }
  for (const tok of ops)
    if (
      tok !== "Jb" &&
      tok !== "Jz" &&
      !(m === "ENTER") &&
      !(SHIFTS.has(m) && tok === "Ib") &&
      !((m === "SHLD" || m === "SHRD") && tok === "Ib") &&
      !(m === "AAM" || m === "AAD") &&
      !(m === "RETN") &&
      !(m === "MOV" && (tok === "Ob" || tok === "Ov"))
    )
      imm.push(...immOf(tok));
  if (m === "BSWAP" && osz === 16) return null; // result undefined (SDM)

  // Assemble.
  const body: number[] = [...opcodeBytes];
  if (hasModrm) {
    if (mem) {
      const mb = [...mem.bytes];
      mb[0] |= (regField & 7) << 3;
      body.push(...mb);
    } else body.push(0xc0 | ((regField & 7) << 3) | rmReg);
  }
  body.push(...imm);
  g.shuffle(prefixes);
  const bytes = [...pre, ...prefixes, ...body];
  const regs = b.regs();
  const name = `${m}${e.operands ? ` ${e.operands}` : ""} o${osz}${tags.length ? ` ${tags.join(" ")}` : ""}`;
  return { group: groupOf(e), name, bytes, regs, mask };
}

// ---- privileged and undefined forms (exceptions by design) ------------------------------------------

function genFaults(g: Rng, count: number): TestCase[] {
  const out: TestCase[] = [];
  const plain: [string, number[]][] = [
    ["HLT", [0xf4]],
    ["CLI", [0xfa]],
    ["STI", [0xfb]],
    ["IN AL,Ib", [0xe4]],
    ["IN eAX,Ib", [0xe5]],
    ["OUT Ib,AL", [0xe6]],
    ["OUT Ib,eAX", [0xe7]],
    ["IN AL,DX", [0xec]],
    ["IN eAX,DX", [0xed]],
    ["OUT DX,AL", [0xee]],
    ["OUT DX,eAX", [0xef]],
    ["INSB", [0x6c]],
    ["INS Zv", [0x6d]],
    ["OUTSB", [0x6e]],
    ["OUTS Zv", [0x6f]],
    ["CLTS", [0x0f, 0x06]],
    ["INVD", [0x0f, 0x08]],
    ["WBINVD", [0x0f, 0x09]],
    ["WRMSR", [0x0f, 0x30]],
    ["RDMSR", [0x0f, 0x32]],
    ["UD2", [0x0f, 0x0b]],
    ["MOV Rd,Cd", [0x0f, 0x20]],
    ["MOV Cd,Rd", [0x0f, 0x22]],
    ["MOV Rd,Dd", [0x0f, 0x21]],
    ["MOV Dd,Rd", [0x0f, 0x23]],
    ["LGDT Ms", [0x0f, 0x01, 2]],
    ["LIDT Ms", [0x0f, 0x01, 3]],
    ["LMSW Ew", [0x0f, 0x01, 6]],
    ["INVLPG M", [0x0f, 0x01, 7]],
    ["LLDT Ew", [0x0f, 0x00, 2]],
    ["LTR Ew", [0x0f, 0x00, 3]],
    ["MOV Ev,Sw (reg 6/7)", [0x8c, 6]],
    ["LEA Gv,M (register form)", [0x8d, -1]],
    ["CMPXCHG8B Mq (register form)", [0x0f, 0xc7, 1]],
  ];
  for (const [name, spec] of plain) {
    for (let i = 0; i < count; i++) {
      const b = new Build(g);
      const bytes: number[] = [];
      const tags: string[] = [];
      if (g.chance(0.3)) {
        bytes.push(0x66);
        tags.push("o16");
      }
      if (/^(INS|OUTS)/.test(name) && g.chance(0.5)) {
        bytes.push(0xf3);
        b.set(ECX, 1 + g.int(4));
        tags.push("rep");
      }
      if (/^(INS|OUTS)/.test(name)) {
        b.set(ESI, DATA + 0x1000 + g.int(0x8000));
        b.set(EDI, DATA + 0x1000 + g.int(0x8000));
      }
      if (name.startsWith("MOV R") || name.startsWith("MOV C") || name.startsWith("MOV D")) {
        const cr = name.includes("C") ? g.pick([0, 2, 3, 4]) : g.pick([0, 1, 2, 3, 6, 7]);
        bytes.push(...spec, 0xc0 | (cr << 3) | g.int(8));
      } else if (spec.length === 3 && spec[0] === 0x0f && (spec[1] === 0x01 || spec[1] === 0x00)) {
        const memf = name.includes("M,") || name.endsWith(" M") || name.includes("Ms") || g.chance(0.5);
        if (memf) {
          const mo = mem32(b, MEM_LO, MEM_HI - 8);
          mo.bytes[0] |= spec[2] << 3;
          bytes.push(spec[0], spec[1], ...mo.bytes);
        } else bytes.push(spec[0], spec[1], 0xc0 | (spec[2] << 3) | g.int(8));
      } else if (name.startsWith("MOV Ev,Sw")) {
        bytes.push(0x8c, 0xc0 | (g.pick([6, 7]) << 3) | g.int(8));
      } else if (name.startsWith("LEA")) {
        bytes.push(0x8d, 0xc0 | g.int(64));
      } else if (name.startsWith("CMPXCHG8B")) {
        bytes.push(0x0f, 0xc7, 0xc8 | g.int(8));
      } else {
        bytes.push(...spec);
        if (name.includes("Ib")) bytes.push(g.int(256));
      }
      out.push({
        group: "faults",
        name: `${name}${tags.length ? ` ${tags.join(" ")}` : ""}`,
        bytes,
        regs: b.regs(),
        mask: ALL_FLAGS,
      });
    }
  }
  return out;
}

// ---- x87 ----------------------------------------------------------------------------------------

/** Loads +1, +0, -1, -0, +2, -2, +0, +1 (all exact, no exception) and pops them again. */
const PREFILL = [
  ...[0xd9, 0xe8],
  ...[0xd9, 0xee],
  ...[0xd9, 0xe8, 0xd9, 0xe0],
  ...[0xd9, 0xee, 0xd9, 0xe0],
  ...[0xd9, 0xe8, 0xd8, 0xc0],
  ...[0xd9, 0xe8, 0xd8, 0xc0, 0xd9, 0xe0],
  ...[0xd9, 0xee],
  ...[0xd9, 0xe8],
  ...new Array(8).fill([0xdd, 0xd8]).flat(),
];

const rand64 = (g: Rng): bigint => (BigInt(g.u32()) << 32n) | BigInt(g.u32());

function randomF80(g: Rng, kind: "any" | "normal" | "small" = "any"): number[] {
  const s = g.int(2);
  const k = kind === "normal" ? 0 : kind === "small" ? 100 : g.int(100);
  if (k < 45) return f80(s, 16383 + g.range(-10, 10), rand64(g) | (1n << 63n));
  if (k < 55) return f80FromNumber((s ? -1 : 1) * g.range(0, 1000));
  if (k < 62) return f80FromNumber((s ? -1 : 1) * (g.range(1, 1000) / g.pick([2, 3, 4, 7, 10, 16, 100])));
  if (k < 66) return f80(s, 0, 0n); // zero
  if (k < 69) return f80(s, 0x7fff, 1n << 63n); // infinity
  if (k < 72) return f80(s, 0x7fff, (3n << 62n) | (rand64(g) & ((1n << 62n) - 1n))); // QNaN
  if (k < 75) return f80(s, 0x7fff, (1n << 63n) | ((rand64(g) & ((1n << 62n) - 1n)) | 1n)); // SNaN
  if (k < 79) return f80(s, 0, rand64(g) & ((1n << 63n) - 1n)); // denormal
  if (k < 80) return f80(s, 0, rand64(g) | (1n << 63n)); // pseudo-denormal
  if (k < 81) return f80(s, g.range(1, 0x7ffe), rand64(g) & ((1n << 63n) - 1n)); // unnormal (invalid)
  if (k < 88) return f80(s, g.pick([g.range(1, 64), g.range(0x7fbf, 0x7ffe)]), rand64(g) | (1n << 63n)); // extremes
  if (k < 100) return f80(s, 16383 + g.range(-1000, 1000), rand64(g) | (1n << 63n));
  // "small": moderate magnitudes for the transcendental functions
  return f80FromNumber((s ? -1 : 1) * (g.u32() / 0x100000000) * g.pick([1, 2, 4, 8]));
}

function randomMemValue(g: Rng, type: string): number[] {
  const k = g.int(100);
  switch (type) {
    case "m32fp": {
      const s = g.int(2) << 31;
      if (k < 55) return le((s | ((127 + g.range(-12, 12)) << 23) | (g.u32() & 0x7fffff)) >>> 0, 4);
      if (k < 65) {
        const dv = new DataView(new ArrayBuffer(4));
        dv.setFloat32(0, (s ? -1 : 1) * g.range(0, 1000));
        return le(dv.getUint32(0), 4);
      }
      if (k < 70) return le(s >>> 0, 4);
      if (k < 75) return le((s | 0x7f800000) >>> 0, 4);
      if (k < 80) return le((s | 0x7fc00000 | (g.u32() & 0x3fffff)) >>> 0, 4);
      if (k < 84) return le((s | 0x7f800000 | ((g.u32() & 0x3fffff) | 1)) >>> 0, 4);
      if (k < 90) return le((s | (g.u32() & 0x7fffff)) >>> 0, 4);
      return le(g.u32(), 4);
    }
    case "m64fp": {
      const s = BigInt(g.int(2)) << 63n;
      const mk = (exp: bigint, frac: bigint) => {
        const v = s | (exp << 52n) | (frac & ((1n << 52n) - 1n));
        return [...le(Number(v & 0xffffffffn), 4), ...le(Number(v >> 32n), 4)];
      };
      if (k < 55) return mk(BigInt(1023 + g.range(-12, 12)), rand64(g));
      if (k < 65) {
        const dv = new DataView(new ArrayBuffer(8));
        dv.setFloat64(0, (s ? -1 : 1) * (g.range(0, 100000) / g.pick([1, 2, 10, 3])));
        const v = dv.getBigUint64(0);
        return [...le(Number(v & 0xffffffffn), 4), ...le(Number(v >> 32n), 4)];
      }
      if (k < 70) return mk(0n, 0n);
      if (k < 75) return mk(0x7ffn, 0n);
      if (k < 80) return mk(0x7ffn, (1n << 51n) | rand64(g));
      if (k < 84) return mk(0x7ffn, (rand64(g) & ((1n << 51n) - 1n)) | 1n);
      if (k < 90) return mk(0n, rand64(g));
      return mk(BigInt(g.int(0x800)), rand64(g));
    }
    case "m80fp":
      return randomF80(g);
    case "m16int":
      return le(
        k < 20 ? g.pick([0, 1, 0xffff, 0x8000, 0x7fff]) : g.chance(0.5) ? g.int(0x10000) : g.range(-300, 300),
        2,
      );
    case "m32int":
      return le(
        k < 20
          ? g.pick([0, 1, 0xffffffff, 0x80000000, 0x7fffffff])
          : g.chance(0.5)
            ? g.u32()
            : g.range(-100000, 100000),
        4,
      );
    case "m64int": {
      if (k < 15) return [...le(0, 4), ...le(g.pick([0, 0x80000000, 0x7fffffff, 0xffffffff]), 4)];
      return [...le(g.u32(), 4), ...le(g.chance(0.5) ? g.u32() : g.chance(0.5) ? 0 : 0xffffffff, 4)];
    }
    case "m80bcd": {
      const out: number[] = [];
      const digits = g.chance(0.3) ? 18 : g.int(19);
      for (let i = 0; i < 9; i++) {
        const lo = 2 * i < digits ? g.int(10) : 0;
        const hi = 2 * i + 1 < digits ? g.int(10) : 0;
        out.push(lo | (hi << 4));
      }
      out.push(g.chance(0.5) ? 0x80 : 0);
      return out;
    }
    default:
      return [];
  }
}

const TRANSCENDENTAL = new Set(["F2XM1", "FYL2X", "FPTAN", "FPATAN", "FYL2XP1", "FSINCOS", "FSIN", "FCOS"]);
/** Status bits kept after a transcendental: TOP, C2, SF, ZE, DE, IE (PE, UE, OE and C1 depend on
 * the last bits of the internal result). */
const TRANSC_SW = 0x3c47;

/** Inputs to the transcendental functions within the SDM's defined domains. */
function transcInputs(g: Rng, mnem: string): number[][] {
  const num = (x: number) => f80FromNumber(x);
  const u = () => g.u32() / 0x100000000;
  const special = () =>
    g.pick([
      f80(0, 0, 0n),
      f80(1, 0, 0n),
      f80(0, 0x7fff, 1n << 63n),
      f80(1, 0x7fff, 1n << 63n),
      f80(0, 0x7fff, 3n << 62n),
    ]);
  const sp = g.chance(0.08);
  switch (mnem) {
    case "F2XM1":
      return [
        sp ? g.pick([f80(0, 0, 0n), f80(1, 0, 0n), num(1), num(-1)]) : num((u() * 2 - 1) * g.pick([1, 0.5, 1 / 1024])),
      ];
    case "FYL2X":
      // ST1 = y, ST0 = x > 0 (x = 0 gives ZE, x < 0 gives IE)
      return [
        num((u() * 2 - 1) * g.pick([1, 10, 1000])),
        sp ? g.pick([f80(0, 0, 0n), num(-1), num(1)]) : num(u() * g.pick([1, 2, 100, 1e6]) + 1e-9),
      ];
    case "FYL2XP1": {
      const lim = 1 - Math.SQRT1_2;
      return [num((u() * 2 - 1) * g.pick([1, 10, 1000])), sp ? f80(g.int(2), 0, 0n) : num((u() * 2 - 1) * lim * 0.999)];
    }
    case "FPATAN":
      // ST1 = y, ST0 = x: any values
      return [
        sp ? special() : num((u() * 2 - 1) * g.pick([1, 10, 1e5])),
        sp ? special() : num((u() * 2 - 1) * g.pick([1, 10, 1e5])),
      ];
    default:
      // FSIN FCOS FSINCOS FPTAN: |x| small (the x87 reduces by a 66-bit pi; large arguments
      // would compare the reduction, not the function). 2^63 and beyond: C2 = 1, unchanged.
      if (sp) return [g.chance(0.5) ? special() : f80(g.int(2), 16383 + 63 + g.int(3), rand64(g) | (1n << 63n))];
      return [num((u() * 2 - 1) * g.pick([0.5, 1, 3, 6, 12]))];
  }
}

function x87Name(f: X87Form, i?: number): string {
  const ops = f.operands.replace("ST(i)", i === undefined ? "ST(i)" : `ST(${i})`);
  return `${f.mnem}${ops ? ` ${ops}` : ""}${f.alias ? " (alias)" : ""}`;
}

/** One x87 test: store operand values with integer moves, load the stack, optionally set the
 * control word, run the form under test, FNSTSW AX (undefined C-bits masked out with AND), then
 * store every stack register to memory. */
function genX87(g: Rng, f: X87Form): TestCase | null {
  const b = new Build(g);
  const seq: number[] = [];
  const isMem = f.reg !== undefined;
  const transc = TRANSCENDENTAL.has(f.mnem);
  let mask = ALL_FLAGS;
  const tags: string[] = [];
  let stI = 0;
  let depth: number;
  let values: number[][] = [];
  const needs =
    /^(FADD|FMUL|FSUB|FSUBR|FDIV|FDIVR|FCOM|FCOMP|FUCOM|FUCOMP|FXCH|FCMOV|FCOMI|FUCOMI|FCOMIP|FUCOMIP|FADDP|FMULP|FSUBP|FSUBRP|FDIVP|FDIVRP|FST|FSTP|FLD|FFREE|FFREEP)/.test(
      f.mnem,
    ) && !isMem
      ? 2
      : /^(FCOMPP|FUCOMPP|FPREM|FPREM1|FSCALE|FYL2X|FYL2XP1|FPATAN)$/.test(f.mnem)
        ? 2
        : /^(FILD|FLD|FBLD|FLD1|FLDL2T|FLDL2E|FLDPI|FLDLG2|FLDLN2|FLDZ)$/.test(f.mnem)
          ? 0
          : 1;
  if (transc) {
    values = transcInputs(g, f.mnem);
    depth = values.length;
  } else {
    depth = g.chance(0.85) ? Math.max(needs, g.int(5)) : g.int(9);
    // Undocumented aliases: only their documented twin's normal case (no stack fault); what they
    // do on an empty register differs between implementations (AMD's D9 D8+i does not signal an
    // underflow).
    if (f.alias) depth = Math.max(2, depth);
    if (f.stack > 0 && g.chance(0.05)) depth = 8; // stack overflow
    if (f.mnem === "FPREM" || f.mnem === "FPREM1") {
      // ST1 = divisor, ST0 = dividend: exponents apart by 0..80 (partial remainders above 63)
      const d = randomF80(g, g.chance(0.8) ? "normal" : "any");
      const n = f80(g.int(2), ((d[9] << 8) | d[8]) & 0x7fff, rand64(g) | (1n << 63n));
      const ne = Math.min(0x7ffe, (((n[9] << 8) | n[8]) & 0x7fff) + g.int(g.chance(0.8) ? 64 : 90));
      n[8] = ne & 0xff;
      n[9] = (n[9] & 0x80) | (ne >> 8);
      values = [d, g.chance(0.9) ? n : randomF80(g)];
      depth = 2;
    } else if (f.mnem === "FSCALE") {
      values = [
        g.chance(0.85) ? f80FromNumber((g.u32() / 0x100000000 - 0.5) * g.pick([8, 64, 600, 40000])) : randomF80(g),
        randomF80(g),
      ];
      depth = 2;
    } else {
      for (let i = 0; i < depth; i++) values.push(randomF80(g));
      if (/^F(COM|UCOM)/.test(f.mnem) && depth >= 2 && g.chance(0.25)) values[depth - 2] = [...values[depth - 1]]; // equal
    }
  }
  // FNSAVE, FRSTOR, FLDENV (tag word edits) and FXAM (C1 of an empty register) can show the
  // contents of registers the test did not load: FNINIT leaves those as they were, so give all
  // eight physical registers known contents first (exact constants, loaded then popped).
  if (/^(FNSAVE|FRSTOR|FLDENV|FXAM)$/.test(f.mnem)) {
    seq.push(...PREFILL);
    tags.push("prefilled");
  }
  // Control word: sometimes another rounding mode / precision (exceptions stay masked).
  if (!transc && g.chance(0.25) && !/^(FLDCW|FNINIT|FLDENV|FRSTOR)$/.test(f.mnem)) {
    const cw = 0x7f | (g.pick([0, 2, 3]) << 8) | (g.int(4) << 10);
    seq.push(...movw(F_AUX, cw), ...absMem(0xd9, 5, F_AUX));
    tags.push(`cw=${cw.toString(16)}`);
  }
  values.forEach((v, i) => {
    seq.push(...storeBytes(F_VALS + 16 * i, v));
  });
  values.forEach((_, i) => {
    seq.push(...absMem(0xdb, 5, F_VALS + 16 * i)); // fld tword
  });

  // The instruction under test.
  const ins: number[] = [];
  let memOp: MemOperand | null = null;
  if (isMem) {
    const size = f.operands === "m14/28byte" ? 28 : f.operands === "m94/108byte" ? 108 : (f.memBytes ?? 0);
    let target = F_OPND + g.int(0x100);
    if (/^(FLDENV|FRSTOR|FNSTENV|FNSAVE)$/.test(f.mnem)) target = F_ENV;
    // Page-crossing faults, but not for the environment images: FNSTENV/FNSAVE/FLDENV/FRSTOR are
    // several accesses in a microcode-defined order (which byte faults first, what was already
    // written) and differ between implementations.
    const fault = g.chance(0.03) && !/^(FLDENV|FRSTOR|FNSTENV|FNSAVE)$/.test(f.mnem);
    if (fault) memOp = mem32(b, DATA + DATA_SIZE - Math.max(size, 2) + 1, DATA + DATA_SIZE - 1);
    else memOp = mem32(b, target, target);
    const ea = memOp.ea;
    // Operand set-up for loads.
    if (
      !fault &&
      /^(FLD|FILD|FBLD|FADD|FMUL|FCOM|FCOMP|FSUB|FSUBR|FDIV|FDIVR|FIADD|FIMUL|FICOM|FICOMP|FISUB|FISUBR|FIDIV|FIDIVR)$/.test(
        f.mnem,
      ) &&
      g.chance(0.9)
    )
      seq.push(...storeBytes(ea, randomMemValue(g, f.operands)));
    if (f.mnem === "FLDCW") {
      // Exceptions stay masked; precision and rounding vary (PC=1 is reserved).
      const cw = 0x7f | (g.pick([0, 2, 3]) << 8) | (g.int(4) << 10) | (g.chance(0.2) ? 0x1000 : 0);
      seq.push(...movw(ea, cw));
    }
    if (f.mnem === "FLDENV" || f.mnem === "FRSTOR") {
      // Build an image with FNSTENV/FNSAVE, then edit the control, status and tag words.
      seq.push(...absMem(f.mnem === "FLDENV" ? 0xd9 : 0xdd, 6, F_ENV));
      seq.push(...movw(F_ENV, 0x7f | (g.pick([0, 2, 3]) << 8) | (g.int(4) << 10)));
      if (g.chance(0.6)) seq.push(...movw(F_ENV + 4, g.u32() & 0x7f7f & ~0x80)); // SW (no ES/B)
      if (g.chance(0.6)) seq.push(...movw(F_ENV + 8, g.u32() & 0xffff)); // tag word
      if (f.mnem === "FRSTOR" && g.chance(0.7)) {
        const slot = g.int(8);
        seq.push(...storeBytes(F_ENV + 28 + 10 * slot, randomF80(g)).slice(0, 30));
      }
    }
    if (f.mnem === "FNSTENV" || f.mnem === "FNSAVE") {
      // Run an operation first so the status word has something in it.
      if (depth >= 2 && g.chance(0.7)) seq.push(0xd8, g.pick([0xc1, 0xc9, 0xe1, 0xf1])); // fadd/fmul/fsub/fdiv st0, st1
    }
    ins.push(f.esc, ...memOp.bytes);
    ins[1] |= (f.reg as number) << 3;
  } else {
    const span = (f.modrmEnd as number) - (f.modrm as number) + 1;
    stI = span > 1 ? (g.chance(0.85) || f.alias ? g.int(Math.max(1, Math.min(span, depth))) : g.int(span)) : 0;
    ins.push(f.esc, (f.modrm as number) + stI);
  }
  seq.push(...ins);
  // After FLDCW, divide so that the new rounding control and precision show in the result.
  if (f.mnem === "FLDCW" && depth >= 2) seq.push(0xd8, 0xf1);

  // Read the results back.
  const swMask = transc ? TRANSC_SW : 0xffff & ~undefinedStatusMask(f);
  seq.push(0xdf, 0xe0); // fnstsw ax
  if (swMask !== 0xffff) {
    seq.push(0x66, 0x25, ...le(swMask, 2)); // and ax, mask
    mask = ALL_FLAGS & ~FLAG.A;
  } else if (f.eflags?.undef) {
    for (const c of f.eflags.undef) mask &= ~FLAG[c as keyof typeof FLAG];
  }
  if (f.mnem === "FNSTENV" || f.mnem === "FNSAVE" || f.mnem === "FLDENV" || f.mnem === "FRSTOR" || f.mnem === "FLDCW") {
    // After the form: store the environment again and clear the instruction/data pointer fields
    // (FIP, FCS+FOP, FDP, FDS), which are implementation-specific (AMD stores them only when an
    // exception is pending; recent Intel CPUs zero FCS/FDS).
    const at = f.mnem === "FNSTENV" || f.mnem === "FNSAVE" ? (memOp as MemOperand).ea : F_ENV + 0x80;
    if (f.mnem !== "FNSTENV" && f.mnem !== "FNSAVE") seq.push(...absMem(0xd9, 6, at));
    if (at + 28 <= DATA + DATA_SIZE) for (const off of [12, 16, 20, 24]) seq.push(...movd(at + off, 0));
    seq.push(...absMem(0xd9, 7, F_AUX + 2)); // fnstcw
  }
  let after = depth + f.stack;
  if (f.mnem === "FNSAVE" || f.mnem === "FNINIT") after = 0;
  if (f.mnem === "FRSTOR" || f.mnem === "FLDENV") after = 8;
  if (f.mnem === "FINCSTP" || f.mnem === "FDECSTP" || f.mnem === "FFREE") after = Math.max(depth, 1);
  after = Math.max(0, Math.min(8, after));
  for (let i = 0; i < after; i++) {
    if (transc)
      seq.push(...absMem(0xd9, 3, F_RES + 4 * i)); // fstp dword
    else seq.push(...absMem(0xdb, 7, F_RES + 10 * i)); // fstp tword
  }
  if (transc) tags.push("results as m32fp");
  const name = `${x87Name(f, isMem ? undefined : stI)}${isMem ? " mem" : ""}${tags.length ? ` ${tags.join(" ")}` : ""}`;
  const group =
    transc || /^(FPREM|FPREM1|FSCALE|FXTRACT|FRNDINT|FSQRT)$/.test(f.mnem)
      ? "x87-functions"
      : /COM|FTST|FXAM/.test(f.mnem)
        ? "x87-compare"
        : /^(FLD|FST|FSTP|FILD|FIST|FISTP|FBLD|FBSTP|FXCH|FCMOV|FFREE)/.test(f.mnem) &&
            !/FLDENV|FLDCW|FSTSW|FSTCW|FSTENV/.test(f.mnem)
          ? "x87-loadstore"
          : /^F(ADD|MUL|SUB|DIV|IADD|IMUL|ISUB|IDIV|CHS|ABS)/.test(f.mnem)
            ? "x87-arith"
            : "x87-control";
  return { group, name, bytes: seq, regs: b.regs(), mask };
}

/** Unmasked x87 exceptions (CR0.NE = 1): the operation only records the exception; the next
 * waiting instruction raises #MF (vector 16) with EIP at itself (SDM vol. 1, 8.6). The status word
 * is read with FNSTSW first (no-wait), so AX shows what the faulting operation left. */
function genX87Unmasked(g: Rng, count: number): TestCase[] {
  const out: TestCase[] = [];
  const cases: [string, number, number[][], number[]][] = [
    // name, exception bit to unmask, values (last = ST0), operation
    ["FDIV ST0,ST1 by zero (ZE)", 0x04, [f80(0, 0, 0n), f80FromNumber(3)], [0xd8, 0xf1]],
    ["FSQRT of -1 (IE)", 0x01, [f80FromNumber(-1)], [0xd9, 0xfa]],
    ["FADD ST0,ST1 of SNaN (IE)", 0x01, [f80FromNumber(1), f80(0, 0x7fff, (1n << 63n) | 5n)], [0xd8, 0xc1]],
    ["FMUL ST0,ST1 overflow (OE)", 0x08, [f80(0, 0x7ff0, 1n << 63n), f80(0, 0x7ff0, 1n << 63n)], [0xd8, 0xc9]],
    ["FMUL ST0,ST1 underflow (UE)", 0x10, [f80(0, 0x10, 3n << 62n), f80(0, 0x10, 3n << 62n)], [0xd8, 0xc9]],
    ["FDIV ST0,ST1 inexact (PE)", 0x20, [f80FromNumber(3), f80FromNumber(1)], [0xd8, 0xf1]],
    ["FADD ST0,ST1 of a denormal (DE)", 0x02, [f80FromNumber(1), f80(0, 0, 12345n)], [0xd8, 0xc1]],
    ["FLD1 on a full stack (IE, stack fault)", 0x01, new Array(8).fill(f80FromNumber(2)), [0xd9, 0xe8]],
  ];
  for (const [name, bit, values, op] of cases) {
    for (let i = 0; i < count; i++) {
      const b = new Build(g);
      const seq: number[] = [];
      const cw = (0x7f & ~bit) | (g.pick([0, 2, 3]) << 8) | (g.int(4) << 10);
      const vals = values.map((v) => [...v]);
      // Vary the operands a little (keeping the exception).
      if (bit === 0x20 || bit === 0x04)
        vals[vals.length - 1] = f80FromNumber(g.range(1, 1000) * (g.chance(0.5) ? 1 : -1));
      if (bit === 0x20) vals[0] = f80FromNumber(g.pick([3, 7, 11, 13]));
      vals.forEach((v, k) => {
        seq.push(...storeBytes(F_VALS + 16 * k, v));
      });
      vals.forEach((_, k) => {
        seq.push(...absMem(0xdb, 5, F_VALS + 16 * k));
      });
      seq.push(...movw(F_AUX, cw), ...absMem(0xd9, 5, F_AUX)); // fldcw: only now unmasked
      seq.push(...op);
      seq.push(0xdf, 0xe0); // fnstsw ax (no wait)
      const waiter = g.pick([[0x9b], [0xd9, 0xe8], [0xd8, 0xc1], [0xdd, 0xd8], [0xdb, 0x3d, ...le(F_RES, 4)]]);
      seq.push(...waiter);
      out.push({
        group: "x87-exceptions",
        name: `${name}, then ${waiter[0] === 0x9b ? "FWAIT" : "a waiting x87 instruction"}`,
        bytes: seq,
        regs: b.regs(),
        mask: ALL_FLAGS,
      });
    }
  }
  return out;
}

// ---- running on the host -----------------------------------------------------------------------

interface Vector {
  name: string;
  bytes: string;
  initial: { regs: Record<string, string> };
  final: { regs: Record<string, string>; ram: [string, number][] };
  exception: null | { vector: number; error_code?: number; cr2?: string };
  flags_mask: string;
}

const REG_NAMES = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"];
const SIGSEGV = 11;
const SIGFPE = 8;
const SIGILL = 4;
const SIGBUS = 7;

/** Turns one runner output line into a vector, or a reason to drop it. */
function toVector(t: TestCase, line: string): Vector | string {
  const parts = line.trim().split(/\s+/);
  if (parts[0] === "D") return `runner:${parts[1] ?? "?"}`;
  const n = parts.slice(1, 14).map((x) => Number.parseInt(x, 16) >>> 0);
  const [trapno, err, cr2, ...rest] = n;
  const regs = rest.slice(0, 8);
  const eflags = rest[8] & ~0x10000; // RF is never compared
  const eip = rest[9];
  const sig = Number.parseInt(parts[14], 10);
  const ram: [string, number][] = parts.slice(15).map((p) => {
    const [o, v] = p.split("=");
    return [hex(DATA + Number.parseInt(o, 16)), Number.parseInt(v, 16)];
  });
  let exception: Vector["exception"] = null;
  if (t.requireVector !== undefined && (parts[0] !== "X" || trapno !== t.requireVector))
    return `host does not raise #${t.requireVector}`;
  if (parts[0] === "X") {
    const ok =
      (sig === SIGFPE && (trapno === 0 || trapno === 16)) ||
      (sig === SIGILL && trapno === 6) ||
      (sig === SIGSEGV && (trapno === 5 || trapno === 13 || trapno === 14 || trapno === 12)) ||
      (sig === SIGBUS && trapno === 17);
    if (!ok) return `signal ${sig} trap ${trapno}`;
    if (trapno === 13 || trapno === 12 || trapno === 17) exception = { vector: trapno, error_code: err };
    else if (trapno === 14) {
      let code = err;
      // Instruction fetch: the host (NX paging) sets I/D (bit 4); the emulated i686 has 32-bit
      // paging without NX or SMEP and reports it as 0 (SDM vol. 3, 4.7).
      if (code & 0x10 && cr2 === eip) code &= ~0x10;
      if (code & ~0x7) return `#PF error code ${err.toString(16)}`;
      if (!(code & 4)) return "#PF without U/S";
      exception = { vector: 14, error_code: code, cr2: hex(cr2) };
    } else exception = { vector: trapno };
  }
  const initial: Record<string, string> = {};
  REG_NAMES.forEach((r, i) => {
    initial[r] = hex(t.regs[i]);
  });
  initial.eflags = hex(t.regs[8]);
  const fin: Record<string, string> = {};
  REG_NAMES.forEach((r, i) => {
    fin[r] = hex(regs[i]);
  });
  fin.eflags = hex(eflags);
  fin.eip = hex(eip);
  return {
    name: t.name,
    bytes: Buffer.from(t.bytes).toString("hex"),
    initial: { regs: initial },
    final: { regs: fin, ram },
    exception,
    flags_mask: hex(t.mask),
  };
}

function runOnHost(runner: string, tests: TestCase[], keep?: string): string[] {
  const input = tests
    .map((t) => `${Buffer.from(t.bytes).toString("hex")} ${t.regs.map((v) => (v >>> 0).toString(16)).join(" ")}`)
    .join("\n");
  const out = execFileSync(runner, [], {
    input: `${input}\n`,
    maxBuffer: 1 << 30,
    stdio: ["pipe", "pipe", "pipe"],
  }).toString();
  if (keep) {
    writeFileSync(`${keep}.in`, `${input}\n`);
    writeFileSync(`${keep}.out`, out);
  }
  const lines = out.split("\n").filter((l) => l.length > 0);
  if (lines.length !== tests.length) throw new Error(`runner answered ${lines.length} lines for ${tests.length} tests`);
  return lines;
}

// ---- main ---------------------------------------------------------------------------------------

function hostCpu(): string {
  try {
    const m = /model name\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "utf8"));
    return m ? m[1].trim() : "unknown";
  } catch {
    return "unknown";
  }
}

const COMMAND_LINE: CommandLine = {
  program: "tsx test/native/generate.ts",
  options: {
    runner: { type: "string", value: "FILE", help: "the host runner (default build/native-runner/runner)" },
    seed: { type: "string", value: "N", help: "the random seed (default 20261122)" },
    out: { type: "string", value: "DIR", help: "where the vector files go (default test/native/corpus)" },
    scale: { type: "string", value: "F", help: "multiplies the number of tests per form (default 1)" },
    chains: { type: "string", value: "N", help: "x87 chains (default 1500 x scale)" },
    only: { type: "string", value: "GROUP,...", help: "keep only the named groups" },
    keep: { type: "boolean", help: "leave the runner's input and output next to it (last-run.in/.out)" },
  },
};

function main(): void {
  const p = parseOrExit(COMMAND_LINE, process.argv.slice(2));
  let seed: number;
  let scale: number;
  let chains: number;
  try {
    seed = integerOption(p, "seed", 20261122, 0, 2 ** 32 - 1);
    scale = numberOption(p, "scale", 1, 0.001, 1000);
    chains = integerOption(p, "chains", Math.round(1500 * scale), 0, 10_000_000);
  } catch (err) {
    exitOnCommandLineError(err);
  }
  const runner = stringOption(p, "runner", "build/native-runner/runner");
  const outDir = stringOption(p, "out", "test/native/corpus");
  const only = stringOption(p, "only") ?? null;
  const t0 = Date.now();
  const g = new Rng(seed);
  const tests: TestCase[] = [];
  let discarded = 0;

  // Integer forms: every user entry, both operand sizes where the size matters.
  for (const e of ENTRIES) {
    if (!e.user || e.x87) continue;
    const sizes: (16 | 32)[] = isSized(e) ? [32, 16] : [32];
    const heavy =
      e.flags.mod.length >= 4 || SHIFTS.has(e.mnem) || /^(DIV|IDIV|MUL|IMUL|DAA|DAS|AAA|AAS|AAM|AAD)$/.test(e.mnem);
    const group = groupOf(e);
    let n = heavy ? 64 : 40;
    if (group === "string") n = 72;
    if (/^Z[vd]/.test(e.operands) && group !== "string") n = 32; // INC/DEC/PUSH/POP/XCHG/BSWAP: 8 opcodes each
    if (/^J|^SET|^CMOV/.test(e.mnem) && e.mnem !== "JMP") n = 40; // 16 condition codes each
    n = Math.max(4, Math.round(n * scale));
    for (const osz of sizes) {
      for (let i = 0; i < n; i++) {
        const t = genInteger(g, { e, osz });
        if (t) tests.push(t);
        else discarded++;
      }
    }
  }
  tests.push(...genFaults(g, Math.max(2, Math.round(12 * scale))));

  // x87 forms.
  for (const f of X87) {
    if (!f.user) continue;
    if (f.invalid) {
      // #UD by design on the P6: a few each (dropped if the host executes them).
      const nUd = Math.max(1, Math.round(3 * scale));
      for (let i = 0; i < nUd; i++) {
        const b = new Build(g);
        const bytes =
          f.reg !== undefined
            ? (() => {
                const mo = mem32(b, MEM_LO, MEM_HI - 16);
                mo.bytes[0] |= (f.reg as number) << 3;
                return [f.esc, ...mo.bytes];
              })()
            : [f.esc, (f.modrm as number) + g.int((f.modrmEnd as number) - (f.modrm as number) + 1)];
        tests.push({
          group: "x87-control",
          name: `(invalid) ${f.esc.toString(16)} ${f.reg !== undefined ? `/${f.reg}` : bytes[1].toString(16)}`,
          bytes,
          regs: b.regs(),
          mask: ALL_FLAGS,
          requireVector: 6,
        });
      }
      continue;
    }
    const transc = TRANSCENDENTAL.has(f.mnem) || /^(FPREM|FPREM1|FSCALE|FXTRACT|FRNDINT|FSQRT)$/.test(f.mnem);
    const span = f.modrmEnd !== undefined ? (f.modrmEnd as number) - (f.modrm as number) + 1 : 1;
    let n = transc ? 120 : span > 1 ? 48 : 40;
    if (f.alias) n = 16;
    if (/^F(ADD|MUL|SUB|SUBR|DIV|DIVR)$/.test(f.mnem) && f.reg !== undefined) n = 70;
    n = Math.max(3, Math.round(n * scale));
    for (let i = 0; i < n; i++) {
      const t = genX87(g, f);
      if (t) tests.push(t);
      else discarded++;
    }
  }
  tests.push(...genX87Unmasked(g, Math.max(2, Math.round(10 * scale))));
  // x87 chains: their own random stream, so that --chains and --only do not move the other inputs.
  const gc = new Rng(seed ^ 0x87c4a1);
  for (let i = 0; i < chains; i++) {
    const c = genX87Chain(gc);
    tests.push({
      group: "x87-chains",
      name: c.name,
      bytes: c.bytes,
      regs: new Build(gc).regs(),
      mask: ALL_FLAGS & ~FLAG.A,
    });
  }
  if (only) {
    const keepGroups = new Set(only.split(","));
    const kept = tests.filter((t) => keepGroups.has(t.group));
    tests.length = 0;
    tests.push(...kept);
  }
  const tGen = Date.now();

  // Run everything on the host.
  const keep = p.values.keep === true ? join(dirname(runner), "last-run") : undefined;
  const lines = runOnHost(runner, tests, keep);
  const tRun = Date.now();
  const byGroup = new Map<string, Vector[]>();
  const dropped = new Map<string, number>();
  tests.forEach((t, i) => {
    const v = toVector(t, lines[i]);
    if (typeof v === "string") {
      const key = `${t.name.split(" ")[0]}: ${v}`;
      dropped.set(key, (dropped.get(key) ?? 0) + 1);
      return;
    }
    let list = byGroup.get(t.group);
    if (!list) {
      list = [];
      byGroup.set(t.group, list);
    }
    list.push(v);
  });

  mkdirSync(outDir, { recursive: true });
  const cpu = hostCpu();
  let total = 0;
  let bytesTotal = 0;
  const summary: string[] = [];
  for (const [group, vectors] of [...byGroup.entries()].sort()) {
    const file = {
      format: "x86-vectors/1",
      env: "pm32-flat-user",
      source: `test/native (npm run cpu-diff), seed ${seed}: executed natively on ${cpu} (32-bit Linux process, CS=0x23, DS=ES=SS=FS=GS=0x2b)`,
      tests: vectors,
    };
    const gz = gzipSync(Buffer.from(JSON.stringify(file)), { level: 9 });
    writeFileSync(join(outDir, `${group}.json.gz`), gz);
    total += vectors.length;
    bytesTotal += gz.length;
    summary.push(
      `${group.padEnd(16)} ${String(vectors.length).padStart(6)} vectors ${String(Math.round(gz.length / 1024)).padStart(6)} KiB`,
    );
  }
  console.log(summary.join("\n"));
  console.log(
    `total ${total} vectors, ${(bytesTotal / 1048576).toFixed(2)} MiB gzipped; ${tests.length} run, ${discarded} draws discarded before running`,
  );
  console.log(`time: generate ${tGen - t0} ms, host run ${tRun - tGen} ms, write ${Date.now() - tRun} ms`);
  const drops = [...dropped.entries()].sort((a, b) => b[1] - a[1]);
  if (drops.length)
    console.log(
      `dropped after running (${drops.reduce((s, d) => s + d[1], 0)}):\n${drops.map(([k, c]) => `  ${c} ${k}`).join("\n")}`,
    );
}

main();
