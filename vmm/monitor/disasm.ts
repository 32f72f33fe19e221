// The monitor's disassembler (`x/5i $eip`): decodes one instruction with the project's one
// instruction table (core/isa/table.mjs, from which the interpreter's dispatch is generated and
// which the JIT's decoder reads) and the x87 forms (core/isa/x87.mjs), into a mnemonic and
// operands that disasm-syntax.ts prints in AT&T or Intel syntax. What the table has, this
// decodes: the integer ISA up to the Pentium Pro with every prefix, 16- and 32-bit operand and
// address sizes, ModRM/SIB addressing, system instructions and every x87 form.

import type { TableEntry } from "../../core/isa/table.mjs";
import { x87Forms } from "../../core/isa/x87.mjs";
import { byExact, byGroup, byOpcode } from "../isa/table-index.js";

/** An operand, in the table's (Intel) order. Sizes are in bytes (0: none implied). */
export type Operand =
  | { kind: "reg"; name: string; size: number }
  | { kind: "imm"; value: number; size: number }
  | {
      kind: "mem";
      seg: string | null;
      base: string | null;
      index: string | null;
      scale: number;
      disp: number;
      /** The address has a displacement (or is only one). */
      hasDisp: boolean;
      size: number;
      addr32: boolean;
    }
  | { kind: "rel"; target: number }
  | { kind: "far"; seg: number; off: number }
  | { kind: "st"; i: number }
  /** The constant 1 of the shift-by-one forms. */
  | { kind: "one" };

export interface Decoded {
  /** Bytes the instruction takes. */
  len: number;
  /** Lowercase Intel mnemonic, e.g. "mov", "jae", "movzx", "fld". */
  mnem: string;
  operands: Operand[];
  /** rep / repz / repnz / lock, in front of the mnemonic. */
  prefix: string;
  opsize32: boolean;
  /** The code segment's default size (a 66 prefix made opsize32 differ from it). */
  cs32: boolean;
  /** Which table form it was (for the syntax's special cases). */
  kind: "plain" | "string" | "x87" | "branch" | "far" | "movx" | "io";
}

const REG8 = ["al", "cl", "dl", "bl", "ah", "ch", "dh", "bh"];
const REG16 = ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di"];
const REG32 = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"];
const SEGS = ["es", "cs", "ss", "ds", "fs", "gs"];
const SEG_PREFIX: Record<number, string> = { 38: "es", 46: "cs", 54: "ss", 62: "ds", 100: "fs", 101: "gs" };
/** The table's condition names as binutils prints them. */
const CONDITIONS: Record<string, string> = {
  O: "o",
  NO: "no",
  B: "b",
  NB: "ae",
  Z: "e",
  NZ: "ne",
  BE: "be",
  NBE: "a",
  S: "s",
  NS: "ns",
  P: "p",
  NP: "np",
  L: "l",
  NL: "ge",
  LE: "le",
  NLE: "g",
};
const ADDR16: [string | null, string | null][] = [
  ["bx", "si"],
  ["bx", "di"],
  ["bp", "si"],
  ["bp", "di"],
  ["si", null],
  ["di", null],
  ["bp", null],
  ["bx", null],
];

const regName = (n: number, size: number) => (size === 1 ? REG8[n] : size === 2 ? REG16[n] : REG32[n])!;

/** Reads little-endian values from the instruction bytes; `need` fails past the end. */
class Cursor {
  constructor(
    readonly bytes: Uint8Array,
    public at: number,
  ) {}
  get ok(): boolean {
    return this.at <= this.bytes.length && this.at <= 15;
  }
  u8(): number {
    return this.bytes[this.at++] ?? Number.NaN;
  }
  s8(): number {
    return (this.u8() << 24) >> 24;
  }
  u16(): number {
    return this.u8() | (this.u8() << 8);
  }
  u32(): number {
    return (this.u16() | (this.u16() << 16)) >>> 0;
  }
  sized(bytes: number): number {
    return bytes === 1 ? this.u8() : bytes === 2 ? this.u16() : this.u32();
  }
}

interface Context {
  cur: Cursor;
  opsize32: boolean;
  addr32: boolean;
  seg: string | null;
  modrm: number;
}

/** The ModRM memory operand (SIB and displacement follow in the cursor). */
function memOperand(c: Context, size: number): Operand {
  const mod = c.modrm >> 6;
  const rm = c.modrm & 7;
  if (!c.addr32) {
    let [base, index] = ADDR16[rm]!;
    let disp = 0;
    let hasDisp = mod !== 0;
    if (mod === 0 && rm === 6) {
      base = null;
      disp = c.cur.u16();
      hasDisp = true;
    } else if (mod === 1) disp = c.cur.s8();
    else if (mod === 2) disp = (c.cur.u16() << 16) >> 16;
    return { kind: "mem", seg: c.seg, base, index, scale: 1, disp, hasDisp, size, addr32: false };
  }
  let base: string | null = REG32[rm]!;
  let index: string | null = null;
  let scale = 1;
  let disp = 0;
  let hasDisp = mod !== 0;
  if (rm === 4) {
    const sib = c.cur.u8();
    scale = 1 << (sib >> 6);
    const i = (sib >> 3) & 7;
    index = i === 4 ? null : REG32[i]!;
    base = REG32[sib & 7]!;
    if ((sib & 7) === 5 && mod === 0) {
      base = null;
      disp = c.cur.u32() | 0;
      hasDisp = true;
    }
  } else if (rm === 5 && mod === 0) {
    base = null;
    disp = c.cur.u32() | 0;
    hasDisp = true;
  }
  if (mod === 1) disp = c.cur.s8();
  else if (mod === 2) disp = c.cur.u32() | 0;
  return { kind: "mem", seg: c.seg, base, index, scale, disp, hasDisp, size, addr32: true };
}

/** E operand: a register (mod = 3) or memory. */
const rmOperand = (c: Context, size: number): Operand =>
  c.modrm >> 6 === 3 ? { kind: "reg", name: regName(c.modrm & 7, size), size } : memOperand(c, size);

/** One operand token of the table (SDM appendix A notation). */
function operand(c: Context, tok: string, opcode: number, next: () => number): Operand | null {
  const v = c.opsize32 ? 4 : 2;
  const reg = (c.modrm >> 3) & 7;
  switch (tok) {
    case "Eb":
      return rmOperand(c, 1);
    case "Ev":
      return rmOperand(c, v);
    case "Ew":
      return rmOperand(c, 2);
    case "Gb":
      return { kind: "reg", name: regName(reg, 1), size: 1 };
    case "Gv":
      return { kind: "reg", name: regName(reg, v), size: v };
    case "Gw":
      return { kind: "reg", name: regName(reg, 2), size: 2 };
    case "Rd":
      return { kind: "reg", name: regName(c.modrm & 7, 4), size: 4 };
    case "Cd":
      return { kind: "reg", name: `cr${reg}`, size: 4 };
    case "Dd":
      return { kind: "reg", name: `dr${reg}`, size: 4 };
    case "Sw":
      return reg < 6 ? { kind: "reg", name: SEGS[reg]!, size: 2 } : null;
    case "M":
    case "Ms":
      return memOperand(c, 0);
    case "Ma":
      return memOperand(c, 2 * v);
    case "Mp":
      return memOperand(c, v + 2);
    case "Mq":
      return memOperand(c, 8);
    case "AL":
    case "CL":
      return { kind: "reg", name: tok.toLowerCase(), size: 1 };
    case "DX":
      return { kind: "reg", name: "dx", size: 2 };
    case "eAX":
      return { kind: "reg", name: regName(0, v), size: v };
    case "Zb":
      return { kind: "reg", name: regName(opcode & 7, 1), size: 1 };
    case "Zv":
      return { kind: "reg", name: regName(opcode & 7, v), size: v };
    case "Zd":
      return { kind: "reg", name: regName(opcode & 7, 4), size: 4 };
    case "ES":
    case "CS":
    case "SS":
    case "DS":
    case "FS":
    case "GS":
      return { kind: "reg", name: tok.toLowerCase(), size: 2 };
    case "1":
      return { kind: "one" };
    case "Ib":
      return { kind: "imm", value: c.cur.u8(), size: 1 };
    case "Ibs":
      return { kind: "imm", value: (c.cur.s8() >>> 0) & (v === 4 ? 0xffffffff : 0xffff), size: v };
    case "Iw":
      return { kind: "imm", value: c.cur.u16(), size: 2 };
    case "Iz":
    case "Iv":
      return { kind: "imm", value: c.cur.sized(v), size: v };
    case "Jb":
    case "Jz": {
      const rel = tok === "Jb" ? c.cur.s8() : v === 4 ? c.cur.u32() | 0 : (c.cur.u16() << 16) >> 16;
      return { kind: "rel", target: next() + rel };
    }
    case "Ob":
    case "Ov": {
      // The accumulator gives the size (binutils prints none for these).
      const disp = c.cur.sized(c.addr32 ? 4 : 2);
      return {
        kind: "mem",
        seg: c.seg,
        base: null,
        index: null,
        scale: 1,
        disp,
        hasDisp: true,
        size: 0,
        addr32: c.addr32,
      };
    }
    case "Ap": {
      const off = c.cur.sized(v);
      return { kind: "far", seg: c.cur.u16(), off };
    }
    default:
      return null;
  }
}

/** The mnemonic as binutils spells it, for the table's names that depend on size or condition. */
function mnemonicOf(e: TableEntry, opsize32: boolean, addr32: boolean): string {
  const m = e.mnem;
  const cc = /^(J|SET|CMOV)(N?[A-Z]{1,2}|NLE|NBE)$/.exec(m);
  if (cc && CONDITIONS[cc[2]!] && m !== "JMP" && m !== "JMPF" && m !== "JCXZ") {
    return `${cc[1]!.toLowerCase()}${CONDITIONS[cc[2]!]}`;
  }
  switch (m) {
    case "CBW":
      return opsize32 ? "cwde" : "cbw";
    case "CWD":
      return opsize32 ? "cdq" : "cwd";
    case "JCXZ":
      return addr32 ? "jecxz" : "jcxz";
    case "LOOPZ":
      return "loope";
    case "LOOPNZ":
      return "loopne";
    case "RETN":
      return "ret";
    case "CALLF":
      return "lcall";
    case "JMPF":
      return "ljmp";
    case "RETF":
      return "lret";
    case "INT3":
      return "int3";
    case "INT1":
      return "int1";
    default:
      return m.toLowerCase();
  }
}

const STRING_OPS = /^(MOVS|CMPS|STOS|LODS|SCAS|INS|OUTS|XLAT)B?$/;

/**
 * The implicit operands of a string instruction (and XLAT), in Intel order, as binutils shows
 * them: es:[edi] and ds:[esi] (a segment override replaces ds), the accumulator, DX.
 */
function stringOperands(m: string, size: number, c: Context): Operand[] {
  const mem = (seg: string, reg: string): Operand => ({
    kind: "mem",
    seg,
    base: c.addr32 ? `e${reg}` : reg,
    index: null,
    scale: 1,
    disp: 0,
    hasDisp: false,
    size,
    addr32: c.addr32,
  });
  const dst = mem("es", "di");
  const src = mem(c.seg ?? "ds", "si");
  const acc: Operand = { kind: "reg", name: regName(0, size), size };
  const dx: Operand = { kind: "reg", name: "dx", size: 2 };
  const base = m.replace(/B$/, "");
  if (base === "MOVS") return [dst, src];
  if (base === "CMPS") return [src, dst];
  if (base === "STOS") return [dst, acc];
  if (base === "LODS") return [acc, src];
  if (base === "SCAS") return [acc, dst];
  if (base === "INS") return [dst, dx];
  if (base === "OUTS") return [dx, src];
  return [mem(c.seg ?? "ds", "bx")]; // XLAT
}

/**
 * Decodes the instruction at bytes[0] (up to 15 bytes; fewer where memory ends). `next(len)`
 * maps the instruction's length to the address of the next one (relative targets add to it).
 * Returns null when the bytes are no valid form.
 */
export function decode(bytes: Uint8Array, cs32: boolean, nextAddress: (len: number) => number): Decoded | null {
  const cur = new Cursor(bytes, 0);
  let opsize32 = cs32;
  let addr32 = cs32;
  let seg: string | null = null;
  let rep = 0;
  let lock = false;
  let b = cur.u8();
  for (; cur.at < 15; b = cur.u8()) {
    if (b === 0x66) opsize32 = !cs32;
    else if (b === 0x67) addr32 = !cs32;
    else if (b in SEG_PREFIX) seg = SEG_PREFIX[b]!;
    else if (b === 0xf0) lock = true;
    else if (b === 0xf2 || b === 0xf3) rep = b;
    else break;
  }
  if (Number.isNaN(b)) return null;
  let map = 0;
  if (b === 0x0f) {
    b = cur.u8();
    map = 1;
  }
  const key = (map << 8) | b;
  let entry = byOpcode.get(key);
  const group = byGroup.get(key);
  const c: Context = { cur, opsize32, addr32, seg, modrm: 0 };
  if (entry?.modrm || group) {
    c.modrm = cur.u8();
    entry = byExact.get((key << 8) | c.modrm) ?? (group ? group[(c.modrm >> 3) & 7] : entry);
    if (!entry || (entry.memOnly && c.modrm >> 6 === 3)) return null;
  }
  if (!entry || Number.isNaN(b) || Number.isNaN(c.modrm)) return null;
  if (entry.x87) return decodeX87(c, b, cs32);
  const operands: Operand[] = [];
  const m = entry.mnem;
  const string = STRING_OPS.test(m);
  const toks = entry.operands ? entry.operands.split(",") : [];
  if (string) operands.push(...stringOperands(m, m.endsWith("B") || m === "XLAT" ? 1 : opsize32 ? 4 : 2, c));
  // A relative target is the last operand: the length is known once it is read.
  else
    for (const tok of toks) {
      // MOV to a segment register shows the general register at the operand size.
      const o = operand(c, m === "MOV" && tok === "Ew" ? "Ev" : tok, b, () => nextAddress(cur.at));
      if (!o) return null;
      operands.push(o);
    }
  if (!cur.ok || operands.some((o) => o.kind === "imm" && Number.isNaN(o.value))) return null;
  const prefix = [
    lock ? "lock" : "",
    rep === 0
      ? ""
      : string && /^(CMPS|SCAS)/.test(m)
        ? rep === 0xf3
          ? "repz"
          : "repnz"
        : rep === 0xf3 && string
          ? "rep"
          : "",
  ]
    .filter(Boolean)
    .join(" ");
  let kind: Decoded["kind"] = "plain";
  if (string) kind = "string";
  else if (toks.some((t) => t === "Jb" || t === "Jz") || ((m === "CALL" || m === "JMP") && toks[0] === "Ev"))
    kind = "branch";
  else if (m === "CALLF" || m === "JMPF") kind = "far";
  else if (m === "MOVZX" || m === "MOVSX") kind = "movx";
  else if (m === "IN" || m === "OUT") kind = "io";
  let mnem = string ? m.replace(/B$/, "").toLowerCase() : mnemonicOf(entry, opsize32, addr32);
  if (m === "NOP" && rep === 0xf3) mnem = "pause";
  return { len: cur.at, mnem, operands, prefix, opsize32, cs32, kind };
}

/** Memory operand sizes of the x87 operand names. */
const X87_MEM: Record<string, number> = {
  m32fp: 4,
  m64fp: 8,
  m80fp: 10,
  m16int: 2,
  m32int: 4,
  m64int: 8,
  m80bcd: 10,
  m2byte: 2,
  "m14/28byte": 0,
  "m94/108byte": 0,
};

function decodeX87(c: Context, esc: number, cs32: boolean): Decoded | null {
  const mod = c.modrm >> 6;
  const form =
    mod === 3
      ? x87Forms.find((f) => f.esc === esc && f.modrm !== undefined && c.modrm >= f.modrm && c.modrm <= f.modrmEnd!)
      : x87Forms.find((f) => f.esc === esc && f.reg === ((c.modrm >> 3) & 7) && f.modrm === undefined);
  if (!form || form.invalid) return null;
  const operands: Operand[] = [];
  const i = c.modrm & 7;
  if (mod !== 3) operands.push(memOperand(c, X87_MEM[form.operands] ?? 0));
  else if (form.operands === "ST(i)") operands.push({ kind: "st", i });
  else if (form.operands === "ST0,ST(i)") operands.push({ kind: "st", i: 0 }, { kind: "st", i });
  else if (form.operands === "ST(i),ST0") operands.push({ kind: "st", i }, { kind: "st", i: 0 });
  else if (form.operands === "AX") operands.push({ kind: "reg", name: "ax", size: 2 });
  if (!c.cur.ok) return null;
  return {
    len: c.cur.at,
    mnem: form.mnem.toLowerCase(),
    operands,
    prefix: "",
    opsize32: c.opsize32,
    cs32,
    kind: "x87",
  };
}
