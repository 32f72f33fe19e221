// The i386 register file as gdb sees it: the target description (the org.gnu.gdb.i386.core
// feature: eight general registers, EIP, EFLAGS, six segment selectors, the x87 stack and its
// control registers, in gdb's numbering) and the `g` packet's bytes in that order.

import { type Cpu, REG, SEG } from "../cpu.js";
import * as L from "../generated/layout.js";
import { fromHex, le32, toHex } from "./packets.js";

const GENERAL = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"];
const SEGMENTS: [string, number][] = [
  ["cs", SEG.CS],
  ["ss", SEG.SS],
  ["ds", SEG.DS],
  ["es", SEG.ES],
  ["fs", SEG.FS],
  ["gs", SEG.GS],
];
const X87_CONTROL = ["fctrl", "fstat", "ftag", "fiseg", "fioff", "foseg", "fooff", "fop"];

/** Registers 0-31: 16 of 4 bytes, st0-st7 of 10 bytes, then 8 of 4 bytes. */
export const REGISTER_COUNT = 32;

export const TARGET_XML = (() => {
  const reg = (name: string, bits: number, type: string, n: number, group?: string) =>
    `<reg name="${name}" bitsize="${bits}" type="${type}" regnum="${n}"${group ? ` group="${group}"` : ""}/>`;
  const regs = [
    ...GENERAL.map((r, i) => reg(r, 32, i === 4 || i === 5 ? "data_ptr" : "int32", i)),
    reg("eip", 32, "code_ptr", 8),
    reg("eflags", 32, "i386_eflags", 9),
    ...SEGMENTS.map(([r], i) => reg(r, 32, "int32", 10 + i)),
    ...Array.from({ length: 8 }, (_, i) => reg(`st${i}`, 80, "i387_ext", 16 + i)),
    ...X87_CONTROL.map((r, i) => reg(r, 32, "int", 24 + i, "float")),
  ];
  const flags = [
    [0, "CF"],
    [1, ""],
    [2, "PF"],
    [4, "AF"],
    [6, "ZF"],
    [7, "SF"],
    [8, "TF"],
    [9, "IF"],
    [10, "DF"],
    [11, "OF"],
    [14, "NT"],
    [16, "RF"],
    [17, "VM"],
    [18, "AC"],
    [19, "VIF"],
    [20, "VIP"],
    [21, "ID"],
  ]
    .map(([bit, name]) => `<field name="${name}" start="${bit}" end="${bit}"/>`)
    .join("");
  return (
    `<?xml version="1.0"?><!DOCTYPE target SYSTEM "gdb-target.dtd"><target version="1.0">` +
    `<architecture>i386</architecture><feature name="org.gnu.gdb.i386.core">` +
    `<flags id="i386_eflags" size="4">${flags}</flags>${regs.join("")}</feature></target>`
  );
})();

/** st(i): the physical x87 register TOP + i, 10 bytes (64-bit mantissa, sign and exponent). */
function x87Register(cpu: Cpu, i: number): Uint8Array {
  const top = cpu.u32(L.S_FPU_TOP) & 7;
  const at = L.S_FPU_ST + ((top + i) & 7) * 16;
  return new Uint8Array(cpu.memory.buffer.slice(at, at + 10));
}

function x87Control(cpu: Cpu, i: number): number {
  switch (i) {
    case 0:
      return cpu.u32(L.S_FPU_CW) & 0xffff;
    case 1:
      return (cpu.u32(L.S_FPU_SW) & ~0x3800 & 0xffff) | ((cpu.u32(L.S_FPU_TOP) & 7) << 11);
    case 2:
      return cpu.u32(L.S_FPU_TAG) & 0xffff;
    case 3:
      return cpu.u32(L.S_FPU_CS) & 0xffff;
    case 4:
      return cpu.u32(L.S_FPU_IP);
    case 5:
      return cpu.u32(L.S_FPU_DS) & 0xffff;
    case 6:
      return cpu.u32(L.S_FPU_DP);
    default:
      return cpu.u32(L.S_FPU_OPCODE) & 0x7ff;
  }
}

/** Register n as the target's hex bytes. */
export function readRegister(cpu: Cpu, n: number): string | null {
  if (n < 8) return le32(cpu.reg(n));
  if (n === 8) return le32(cpu.eip);
  if (n === 9) return le32(cpu.eflags);
  if (n < 16) return le32(cpu.segment(SEGMENTS[n - 10]![1]).selector);
  if (n < 24) return toHex(x87Register(cpu, n - 16));
  if (n < 32) return le32(x87Control(cpu, n - 24));
  return null;
}

/** The `g` packet: every register in order. */
export function readAll(cpu: Cpu): string {
  let s = "";
  for (let n = 0; n < REGISTER_COUNT; n++) s += readRegister(cpu, n);
  return s;
}

/**
 * Writes register n from hex; returns false for what cannot be written this way (the segment
 * selectors: loading one means loading a descriptor; the x87 registers).
 */
export function writeRegister(cpu: Cpu, n: number, hex: string): boolean {
  const bytes = fromHex(hex);
  if (!bytes || bytes.length < 4 || n > 9) return false;
  const v = (bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16) | (bytes[3]! << 24)) >>> 0;
  if (n < 8) cpu.setReg(n, v);
  else if (n === 8) cpu.eip = v;
  else cpu.eflags = v;
  return true;
}

/** The `G` packet: the general registers, EIP and EFLAGS are taken; the rest must not change. */
export function writeAll(cpu: Cpu, hex: string): boolean {
  if (hex.length < 10 * 8) return false;
  for (let n = 0; n < 10; n++) writeRegister(cpu, n, hex.slice(n * 8, n * 8 + 8));
  return true;
}

export { REG };
