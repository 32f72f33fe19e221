// Prints a decoded instruction (disasm.ts) as GNU binutils does, which is what QEMU's monitor
// and gdb show: AT&T syntax (source first, %registers, $immediates, disp(base,index,scale), a
// b/w/l suffix where no register gives the size) or Intel syntax (destination first,
// `DWORD PTR [base+index*scale+disp]`). `x/Ni` lines look like QEMU's: address, bytes, text.

import { type Decoded, decode, type Operand } from "./disasm.js";

export type Syntax = "att" | "intel";

const hex = (n: number) => `0x${(n >>> 0).toString(16)}`;
const SUFFIX: Record<number, string> = { 1: "b", 2: "w", 4: "l" };
const PTR: Record<number, string> = {
  1: "BYTE PTR ",
  2: "WORD PTR ",
  4: "DWORD PTR ",
  6: "FWORD PTR ",
  8: "QWORD PTR ",
  10: "TBYTE PTR ",
};
/** x87 memory operands as GNU suffixes them (by mnemonic family and size). */
function x87Suffix(mnem: string, size: number): string {
  if (size === 0 || /^(fn?stcw|fldcw|fn?stsw|fbld|fbstp|fn?stenv|fldenv|fn?save|frstor)$/.test(mnem)) return "";
  if (mnem.startsWith("fi")) return size === 2 ? "s" : size === 4 ? "l" : "ll";
  return size === 4 ? "s" : size === 8 ? "l" : "t";
}

function attMem(o: Extract<Operand, { kind: "mem" }>): string {
  const seg = o.seg ? `%${o.seg}:` : "";
  if (!o.base && !o.index) return `${seg}${hex(o.addr32 ? o.disp : o.disp & 0xffff)}`;
  const disp = o.hasDisp ? (o.disp < 0 ? `-${hex(-o.disp)}` : hex(o.disp)) : "";
  const inside = o.index ? `${o.base ? `%${o.base}` : ""},%${o.index}${o.addr32 ? `,${o.scale}` : ""}` : `%${o.base}`;
  return `${seg}${disp}(${inside})`;
}

function intelMem(o: Extract<Operand, { kind: "mem" }>, sized: boolean): string {
  const size = sized ? (PTR[o.size] ?? "") : "";
  if (!o.base && !o.index) return `${size}${o.seg ?? "ds"}:${hex(o.addr32 ? o.disp : o.disp & 0xffff)}`;
  const parts: string[] = [];
  if (o.base) parts.push(o.base);
  if (o.index) parts.push(o.addr32 ? `${o.index}*${o.scale}` : o.index);
  let text = parts.join("+");
  if (o.hasDisp) text += o.disp < 0 ? `-${hex(-o.disp)}` : `+${hex(o.disp)}`;
  return `${size}${o.seg ? `${o.seg}:` : ""}[${text}]`;
}

function attOperand(o: Operand, d: Decoded): string {
  switch (o.kind) {
    case "reg":
      if (o.name === "dx" && (d.kind === "io" || /^(ins|outs)$/.test(d.mnem))) return "(%dx)";
      return `${d.kind === "branch" ? "*" : ""}%${o.name.startsWith("dr") ? `db${o.name.slice(2)}` : o.name}`;
    case "imm":
      return `$${hex(o.value)}`;
    case "mem":
      return (d.kind === "branch" || d.kind === "far" ? "*" : "") + attMem(o);
    case "rel":
      return hex(o.target);
    case "far":
      return `$${hex(o.seg)},$${hex(o.off)}`;
    case "st":
      return o.i === 0 ? "%st" : `%st(${o.i})`;
    case "one":
      return "";
  }
}

function intelOperand(o: Operand, d: Decoded): string {
  switch (o.kind) {
    case "reg":
      return o.name;
    case "imm":
      return hex(o.value);
    case "mem":
      if (d.mnem === "invlpg") return intelMem({ ...o, size: 1 }, true);
      return intelMem(o, d.mnem !== "lea" && !/^[ls][gi]dt$/.test(d.mnem));
    case "rel":
      return hex(o.target);
    case "far":
      return `${hex(o.seg)}:${hex(o.off)}`;
    case "st":
      return o.i === 0 ? "st" : `st(${o.i})`;
    case "one":
      return "1";
  }
}

/** The AT&T mnemonic: GNU's names and the size suffix where no register operand gives it. */
function attMnemonic(d: Decoded): string {
  const m = d.mnem;
  const regs = d.operands.filter((o) => o.kind === "reg" && !["es", "cs", "ss", "ds", "fs", "gs"].includes(o.name));
  const mem = d.operands.find((o): o is Extract<Operand, { kind: "mem" }> => o.kind === "mem");
  const att: Record<string, string> = { cbw: "cbtw", cwde: "cwtl", cwd: "cwtd", cdq: "cltd", retf: "lret" };
  if (att[m]) return att[m]!;
  if (d.kind === "x87") return mem ? m + x87Suffix(m, mem.size) : m;
  if (d.kind === "string") {
    const sized = (mem ?? regs[0]) as { size: number } | undefined;
    return /^(movs|cmps|ins|outs)$/.test(m) ? m + SUFFIX[sized?.size ?? 1]! : m;
  }
  if (/^[ls][gi]dt$/.test(m)) return m + (d.opsize32 ? "l" : "w");
  if (d.kind === "movx") {
    const from =
      d.operands[1]!.kind === "mem" || d.operands[1]!.kind === "reg" ? (d.operands[1] as { size: number }).size : 1;
    return `${m.slice(0, 4)}${SUFFIX[from]}${SUFFIX[d.opsize32 ? 4 : 2]}`;
  }
  if (
    mem &&
    regs.length === 0 &&
    d.kind !== "branch" &&
    d.kind !== "far" &&
    mem.size in SUFFIX &&
    !/^(set|invlpg)/.test(m)
  ) {
    return m + SUFFIX[mem.size];
  }
  return m;
}

/** PUSHA, PUSHF, IRET and their pops at the size a 66 prefix chose: pushal/pushad, iretw ... */
const STACK_SIZED = /^(pusha|popa|pushf|popf|iret)$/;

/** The instruction's text in the syntax. */
export function formatInstruction(d: Decoded, syntax: Syntax): string {
  let mnem: string;
  let ops: string[];
  const resized = STACK_SIZED.test(d.mnem) && d.opsize32 !== d.cs32;
  if (syntax === "att") {
    mnem = attMnemonic(d) + (resized ? (d.opsize32 ? "l" : "w") : "");
    // GNU keeps ENTER's and BOUND's operand order; shifts by one print no operand for the 1.
    const keep = d.mnem === "enter" || d.mnem === "bound";
    const list = d.operands.filter((o) => o.kind !== "one");
    ops = (keep ? list : [...list].reverse()).map((o) => attOperand(o, d));
  } else {
    mnem = d.mnem.replace(/^l(call|jmp)$/, "$1").replace(/^lret$/, "retf");
    if (/^[ls][gi]dt$/.test(mnem) || resized) mnem += d.opsize32 ? "d" : "w";
    ops = d.operands.map((o) => intelOperand(o, d));
  }
  const head = d.prefix ? `${d.prefix} ${mnem}` : mnem;
  return ops.length ? `${head.padEnd(6)} ${ops.join(",")}` : head;
}

/** One line of `x/Ni`: QEMU's address, the bytes, the text. */
export interface DisasmLine {
  address: number;
  bytes: Uint8Array;
  text: string;
}

/**
 * Disassembles `count` instructions from linear `address`. `read` returns the bytes there or
 * null (unmapped); `csBase` maps addresses to EIP values, so that 16-bit targets wrap in the
 * segment as the CPU computes them.
 */
export function disassemble(
  address: number,
  count: number,
  cs32: boolean,
  csBase: number,
  syntax: Syntax,
  read: (addr: number, len: number) => Uint8Array | null,
): DisasmLine[] | string {
  const out: DisasmLine[] = [];
  let at = address >>> 0;
  for (let n = 0; n < count; n++) {
    let bytes: Uint8Array | null = null;
    for (let len = 15; len > 0 && !bytes; len--) bytes = read(at, len);
    if (!bytes) return out.length ? out : `Cannot access memory at 0x${at.toString(16)}`;
    const eip = (at - csBase) >>> 0;
    const next = (len: number) => (csBase + (cs32 ? eip + len : (eip + len) & 0xffff)) >>> 0;
    const d = decode(bytes, cs32, next);
    const len = d ? d.len : 1;
    out.push({ address: at, bytes: bytes.slice(0, len), text: d ? formatInstruction(d, syntax) : "(bad)" });
    at = (at + len) >>> 0;
  }
  return out;
}

/** The lines as the monitor prints them. */
export function formatDisasm(lines: DisasmLine[]): string {
  return lines
    .map((l) => {
      const bytes = [...l.bytes].map((b) => b.toString(16).padStart(2, "0")).join(" ");
      return `0x${l.address.toString(16).padStart(8, "0")}:  ${bytes.padEnd(24)} ${l.text}`;
    })
    .join("\n");
}
