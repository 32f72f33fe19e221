// Helpers for the x87 tests: tiny real-mode programs assembled from byte helpers, run until HLT.
import { Cpu, REG, SEG } from "../../vmm/cpu.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";

/** A memory form with a 16-bit direct address: ESC, ModRM(reg, [disp16]), disp16. */
export function m(esc: number, reg: number, addr: number): number[] {
  return [esc, (reg << 3) | 6, addr & 0xff, (addr >> 8) & 0xff];
}
/** A register form: ESC, ModRM. */
export function r(esc: number, modrm: number): number[] {
  return [esc, modrm];
}
export const FNINIT = [0xdb, 0xe3];
export const HLT = [0xf4];
export const CODE = 0x7c00;
export const DATA = 0x1000;

export interface RunOptions {
  cr0?: number;
  host?: { fpuError?: () => void; ackInterrupt?: () => number };
  /** Installs an IVT entry for `vector` pointing at a handler (bytes) placed at 0x9000. */
  handler?: { vector: number; code: number[] };
  data?: { addr: number; bytes: number[] | Uint8Array }[];
  stopOnException?: boolean;
  budget?: number;
}

export async function newCpu(): Promise<Cpu> {
  return Cpu.create(loadCoreModule(), 1 << 20);
}

/** Runs real-mode code at 0:7C00 with DS = ES = SS = 0, SP = 7000, until HLT. */
export async function run16(code: number[], opts: RunOptions = {}): Promise<Cpu> {
  const cpu = await newCpu();
  if (opts.host) cpu.setHost(opts.host);
  for (const s of [SEG.CS, SEG.DS, SEG.ES, SEG.SS]) cpu.setRealSegment(s, 0);
  cpu.setReg(REG.ESP, 0x7000);
  if (opts.cr0 !== undefined) cpu.setCr(0, opts.cr0);
  for (const d of opts.data ?? []) cpu.writePhysical(d.addr, Uint8Array.from(d.bytes));
  if (opts.handler) {
    const h = 0x9000;
    cpu.writePhysical(h, Uint8Array.from(opts.handler.code));
    const ivt = new Uint8Array([h & 0xff, h >> 8, 0, 0]);
    cpu.writePhysical(opts.handler.vector * 4, ivt);
  }
  if (opts.stopOnException) cpu.stopOnException = true;
  cpu.writePhysical(CODE, Uint8Array.from([...code, ...HLT]));
  cpu.eip = CODE;
  cpu.run(opts.budget ?? 10000);
  return cpu;
}

export function u16(cpu: Cpu, addr: number): number {
  const b = cpu.readPhysical(addr, 2);
  return b[0] | (b[1] << 8);
}
export function u32(cpu: Cpu, addr: number): number {
  return new DataView(cpu.readPhysical(addr, 4).buffer).getUint32(0, true);
}
export function u64(cpu: Cpu, addr: number): bigint {
  return new DataView(cpu.readPhysical(addr, 8).buffer).getBigUint64(0, true);
}
export function f64(cpu: Cpu, addr: number): number {
  return new DataView(cpu.readPhysical(addr, 8).buffer).getFloat64(0, true);
}
/** An 80-bit value in memory as "SEEE MMMMMMMMMMMMMMMM" hex. */
export function x80(cpu: Cpu, addr: number): string {
  const se = u16(cpu, addr + 8);
  return `${se.toString(16).padStart(4, "0")} ${u64(cpu, addr).toString(16).padStart(16, "0")}`;
}
export function bytesF64(v: number): number[] {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setFloat64(0, v, true);
  return [...b];
}
export function bytesF32(v: number): number[] {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, v, true);
  return [...b];
}
export function bytesU16(v: number): number[] {
  return [v & 0xff, (v >> 8) & 0xff];
}
export function bytesU32(v: number): number[] {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return [...b];
}
/** 80-bit bytes from sign|exponent and significand. */
export function bytesX80(se: number, mant: bigint): number[] {
  const b = new Uint8Array(10);
  const dv = new DataView(b.buffer);
  dv.setBigUint64(0, mant, true);
  dv.setUint16(8, se, true);
  return [...b];
}

// ---- the differential cases (test/unit/fpu-diff-tool.mts, fpu-vectors.txt) ----------------
// emulator encodings
export const MEM = 0x1040;
const mm = (esc: number, reg: number) => [esc, (reg << 3) | 6, MEM & 0xff, MEM >> 8];
export const enc: Record<number, number[]> = {
  0: [0xd8, 0xc1],
  1: [0xd8, 0xe1],
  2: [0xd8, 0xe9],
  3: [0xd8, 0xc9],
  4: [0xd8, 0xf1],
  5: [0xd8, 0xf9],
  6: [0xd9, 0xfa],
  7: [0xd9, 0xf8],
  8: [0xd9, 0xf5],
  9: [0xd9, 0xfc],
  10: [0xd9, 0xfd],
  11: [0xd9, 0xf4],
  12: [0xd8, 0xd1],
  13: [0xdd, 0xe1],
  14: [0xd9, 0xe4],
  15: [0xd9, 0xe5],
  16: mm(0xd9, 2),
  17: mm(0xdd, 2),
  18: mm(0xdf, 2),
  19: mm(0xdb, 2),
  20: [...mm(0xdf, 7), 0xd9, 0xc0],
  21: [...mm(0xdf, 6), 0xd9, 0xc0],
  22: mm(0xd9, 0),
  23: mm(0xdd, 0),
  24: mm(0xdf, 4),
  25: mm(0xdf, 5),
  26: mm(0xd8, 0),
  27: mm(0xdc, 6),
  28: mm(0xdc, 5),
  29: mm(0xd8, 1),
  30: mm(0xd8, 2),
  31: mm(0xda, 0),
  32: mm(0xde, 7),
  33: [0xd9, 0xe0],
  34: [0xd9, 0xe1],
  35: [0xde, 0xd9, 0xd9, 0xc0, 0xd9, 0xc0],
  36: [0xd9, 0xe8],
  37: [0xd9, 0xe9],
  38: [0xd9, 0xea],
  39: [0xd9, 0xeb],
  40: [0xd9, 0xec],
  41: [0xd9, 0xed],
  42: [0xd9, 0xee],
  43: [0xd9, 0xfe],
  44: [0xd9, 0xff],
  45: [0xd9, 0xfb],
  46: [0xd9, 0xf2],
  47: [0xd9, 0xf3, 0xd9, 0xc0],
  48: [0xd9, 0xf0],
  49: [0xd9, 0xf1, 0xd9, 0xc0],
  50: [0xd9, 0xf9, 0xd9, 0xc0],
  51: [0xd8, 0xd9],
  52: [0xda, 0xe9],
  53: [0xdb, 0xf1],
  54: [0xdf, 0xf1],
  55: [0xdf, 0xe9],
  56: [0xdd, 0xd8, 0xdd, 0xd8, 0xd9, 0xc3],
  57: [0xdd, 0xd8, 0xd9, 0xc9],
  58: [0xdd, 0xd8, 0xd8, 0xc1],
  59: [0xdd, 0xd8, 0xdd, 0xd8, 0xd9, 0xfe],
  60: [0xdd, 0xd8, 0xde, 0xd9],
  61: [0xdd, 0xd8, 0xdb, 0xf1],
  62: [0xdd, 0xd8, 0xd9, 0xf2],
  64: [0xdd, 0xd8, 0xd9, 0xf1],
  65: [0xdd, 0xd8, 0xda, 0xc1],
  66: [0xdd, 0xd8, 0xdd, 0xd8, 0xd9, 0xe0],
  67: [0xdd, 0xd8, 0xdd, 0xd8, 0xd9, 0xe4],
  68: [0xdd, 0xd8, 0xd9, 0xfd],
  69: [0xdd, 0xd8, 0xd9, 0xf8],
  70: [0xdd, 0xd8, 0xde, 0xc1],
  71: [0xdd, 0xd8, 0xdd, 0xd8, 0xd9, 0xf4],
  72: [0xdd, 0xd8, 0xdd, 0xd8, 0xd9, 0xfb],
  73: [0xdd, 0xd8, 0xd9, 0xcb],
  74: [0xdd, 0xd8, 0xdd, 0xd8, 0xdd, 0xd3],
};
export const APPROX = new Set([43, 44, 45, 46, 47, 48, 49, 50, 59, 62, 72]);
// C bits defined per op (others masked): FPREM(1), compares, FXAM define all; FCOMPP too.
export const ALLC = new Set([7, 8, 12, 13, 14, 15, 30, 35, 51, 52]);
export const swMask = (op: number) => (ALLC.has(op) ? 0xffff : 0xffff & ~0x4500);

/** Two 80-bit hex images within 2^-50 relative (the f64 path of the transcendentals). */
export function close(a: string, b: string): boolean {
  if (a === b) return true;
  const v = (h: string) => {
    const bytes = h.match(/../g)!.map((x) => parseInt(x, 16));
    const se = bytes[8] | (bytes[9] << 8);
    let m = 0n;
    for (let i = 7; i >= 0; i--) m = (m << 8n) | BigInt(bytes[i]);
    return { se, m };
  };
  const x = v(a);
  const y = v(b);
  if ((x.se & 0x8000) !== (y.se & 0x8000)) return false;
  const ex = (x.se & 0x7fff) - (y.se & 0x7fff);
  if (Math.abs(ex) > 1 || (x.se & 0x7fff) === 0x7fff || (y.se & 0x7fff) === 0x7fff) return false;
  const xv = Number(x.m) * 2 ** ex;
  const yv = Number(y.m);
  return Math.abs(xv - yv) <= Math.abs(yv) * 2 ** -50;
}

/** Runs one differential case in `cpu`; returns "SW R1 R2 MEM" as the native program prints it. */
export function runCase(cpu: Cpu, c: { op: number; cw: number; a: number[]; b: number[]; mem: number[] }): string {
  const hex = (b: Uint8Array | number[]) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  const D = 0x1000;
  const addr = { cw: D, a: D + 0x10, b: D + 0x20, sw: D + 0x30, r1: D + 0x50, r2: D + 0x60 };
  const M = (esc: number, reg: number, a: number) => [esc, (reg << 3) | 6, a & 0xff, a >> 8];
  cpu.reset();
  for (const s of [SEG.CS, SEG.DS, SEG.ES, SEG.SS]) cpu.setRealSegment(s, 0);
  cpu.setReg(REG.ESP, 0x7000);
  cpu.writePhysical(addr.cw, Uint8Array.from([c.cw & 0xff, c.cw >> 8]));
  cpu.writePhysical(addr.a, Uint8Array.from(c.a));
  cpu.writePhysical(addr.b, Uint8Array.from(c.b));
  cpu.writePhysical(MEM, Uint8Array.from(c.mem));
  cpu.writePhysical(addr.r1, new Uint8Array(10).fill(0x55));
  cpu.writePhysical(addr.r2, new Uint8Array(10).fill(0x66));
  const code = [
    0xdb,
    0xe3,
    ...M(0xd9, 5, addr.cw),
    ...M(0xdb, 5, addr.b),
    ...M(0xdb, 5, addr.a),
    ...enc[c.op],
    ...M(0xdd, 7, addr.sw),
    0xdb,
    0xe2,
    ...M(0xdb, 7, addr.r1),
    0xdb,
    0xe2,
    ...M(0xdb, 7, addr.r2),
    0xdb,
    0xe3,
    0xf4,
  ];
  cpu.writePhysical(CODE, Uint8Array.from(code));
  cpu.eip = CODE;
  cpu.run(100);
  const sw = cpu.readPhysical(addr.sw, 2);
  return `${(sw[0] | (sw[1] << 8)).toString(16).padStart(4, "0")} ${hex(cpu.readPhysical(addr.r1, 10))} ${hex(cpu.readPhysical(addr.r2, 10))} ${hex(cpu.readPhysical(MEM, 10))}`;
}

/** Whether an emulator line matches the native one (undefined C bits masked; transcendentals approximately). */
export function sameResult(op: number, nat: string, emu: string): boolean {
  const [ns, ...nr] = nat.split(" ");
  const [es, ...er] = emu.split(" ");
  const mask = swMask(op);
  if (APPROX.has(op)) {
    return (
      (parseInt(ns, 16) & mask & ~0x200) === (parseInt(es, 16) & mask & ~0x200) &&
      close(nr[0], er[0]) &&
      close(nr[1], er[1])
    );
  }
  return (parseInt(ns, 16) & mask) === (parseInt(es, 16) & mask) && nr.join(" ") === er.join(" ");
}
