// x87 differential check against the host CPU (development tool, not a test): generates random
// cases, runs them natively (test/unit/fpu-diff-native.c, built with gcc into /tmp) and in the
// emulator, prints mismatches, and with
// --write=FILE saves the cases with the native results as JSON (test/unit/fpu-vectors.txt was
// made from such files: one "op cw a b mem | want" line per case).
import { execFileSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Cpu } from "../../vmm/cpu.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { runCase, sameResult } from "./fpu-helpers.js";

const N = Number(process.argv[2] ?? 2000);
let seed = Number(process.argv[3] ?? 1);
function rnd(): number {
  seed = (seed * 1103515245 + 12345) >>> 0;
  const hi = seed >>> 16;
  seed = (seed * 1103515245 + 12345) >>> 0;
  return ((hi << 16) | (seed >>> 16)) >>> 0;
}
const pick = <T,>(a: T[]): T => a[rnd() % a.length];
const hex = (b: Uint8Array | number[]) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
function x80(se: number, m: bigint): number[] {
  const b = new Uint8Array(10);
  const dv = new DataView(b.buffer);
  dv.setBigUint64(0, BigInt.asUintN(64, m), true);
  dv.setUint16(8, se, true);
  return [...b];
}
function rm64(): bigint {
  return (BigInt(rnd()) << 32n) | BigInt(rnd());
}
function operand(): number[] {
  const s = rnd() & 1 ? 0x8000 : 0;
  const k = process.env.SPECIAL && rnd() & 1 ? rnd() % 5 : rnd() % 22;
  const J = 1n << 63n;
  if (k === 20) return x80(s | (1 + (rnd() % 0x7ffe)), rm64() >> 1n); // unnormal
  if (k === 21) return x80(s, J | rm64()); // pseudo-denormal
  if (k === 0) return x80(s, 0n);
  if (k === 1) return x80(s | 0x7fff, J);
  if (k === 2) return x80(s | 0x7fff, J | (1n << 62n) | (rm64() >> 3n)); // QNaN
  if (k === 3) return x80(s | 0x7fff, J | (rm64() >> 3n) | 1n); // SNaN
  if (k === 4) return x80(s, rm64() >> BigInt(rnd() % 64)); // denormal
  if (k === 5) return x80(s | (0x3fff + (rnd() % 70) - 2), J | (rnd() & 1 ? rm64() >> 1n : 0n)); // integers-ish
  if (k === 6) return x80(s | (rnd() & 0x7ffe) | 1, J | rm64()); // anywhere
  if (k === 7) return x80(s | (1 + (rnd() % 80)), J | rm64()); // tiny
  if (k === 8) return x80(s | (0x7ffe - (rnd() % 80)), J | rm64()); // huge
  if (k === 9) return x80(s | (0x3fff + (rnd() % 8) - 4), J | (rm64() & ~((1n << BigInt(rnd() % 64)) - 1n))); // short mantissas
  if (k === 10) return x80(s | (0x3fff + (rnd() % 40)), J | ((1n << 62n) - 1n) | (rnd() & 1 ? 0n : 1n << 62n)); // rounding edges
  if (k === 11)
    return x80(s | (0x3ff0 + (rnd() % 200)), J | (rm64() & 0xfffffffffffff800n) | BigInt(rnd() & 1 ? 0x400 : 0x3ff)); // f64 halfway
  return x80(s | (0x3fff + (rnd() % 64) - 32), J | rm64());
}
function memOperand(op: number): number[] {
  const b = new Uint8Array(10);
  const dv = new DataView(b.buffer);
  if (op === 24) {
    for (let i = 0; i < 9; i++) b[i] = ((rnd() % 10) << 4) | (rnd() % 10);
    b[9] = rnd() & 1 ? 0x80 : 0;
    return [...b];
  }
  if (op === 22 || op === 26 || op === 29 || op === 30) {
    const k = rnd() % 6;
    const s = rnd() & 1 ? 0x80000000 : 0;
    if (k === 0) dv.setUint32(0, s | 0x7f800000 | (rnd() & 0x7fffff), true);
    else if (k === 1) dv.setUint32(0, s | (rnd() & 0x7fffff), true);
    else dv.setUint32(0, rnd(), true);
    return [...b];
  }
  if (op === 23 || op === 27 || op === 28) {
    const k = rnd() % 6;
    const s = rnd() & 1 ? 0x80000000 : 0;
    dv.setUint32(0, rnd(), true);
    if (k === 0) dv.setUint32(4, s | 0x7ff00000 | (rnd() & 0xfffff), true);
    else if (k === 1) dv.setUint32(4, s | (rnd() & 0xfffff), true);
    else dv.setUint32(4, rnd(), true);
    return [...b];
  }
  if (op === 31) {
    dv.setUint32(0, rnd() & 1 ? rnd() : rnd() % 1000, true);
    return [...b];
  }
  if (op === 32) {
    dv.setUint16(0, rnd() % 3 ? rnd() & 0xffff : 0, true);
    return [...b];
  }
  dv.setUint32(0, rnd(), true);
  dv.setUint32(4, rnd(), true);
  return [...b];
}
const ops = process.env.OPS ? process.env.OPS.split(",").map(Number) : Array.from({ length: 43 }, (_, i) => i);
const cases: { op: number; cw: number; a: number[]; b: number[]; mem: number[] }[] = [];
for (let i = 0; i < N; i++) {
  const op = pick(ops);
  const cw = (process.env.UNMASK ? rnd() & 0x3f : 0x3f) | (pick([0, 2, 3, 3]) << 8) | ((rnd() & 3) << 10) | 0x40;
  cases.push({ op, cw, a: operand(), b: operand(), mem: memOperand(op) });
}
const input = cases.map((c) => `${c.op} ${c.cw.toString(16)} ${hex(c.a)} ${hex(c.b)} ${hex(c.mem)}`).join("\n");
const exe = join(tmpdir(), "fpu-diff-native");
if (!existsSync(exe)) execFileSync("gcc", ["-O1", "-o", exe, "test/unit/fpu-diff-native.c"]);
const native = execFileSync(exe, { input, maxBuffer: 1 << 26 })
  .toString()
  .trim()
  .split("\n");

const cpu = await Cpu.create(loadCoreModule(), 1 << 20);
let bad = 0;
const out: unknown[] = [];
for (let i = 0; i < cases.length; i++) {
  const c = cases[i];
  const emu = runCase(cpu, c);
  const nat = native[i];
  out.push({ op: c.op, cw: c.cw, a: hex(c.a), b: hex(c.b), mem: hex(c.mem), want: nat });
  if (!sameResult(c.op, nat, emu)) {
    bad++;
    if (bad <= Number(process.env.SHOW ?? 30))
      console.log(
        `op ${c.op} cw ${c.cw.toString(16)} a ${hex(c.a)} b ${hex(c.b)} mem ${hex(c.mem)}\n  native ${nat}\n  emu    ${emu}`,
      );
  }
}
console.log(`${cases.length - bad}/${cases.length} match`);
const outFile = process.argv.find((a) => a.startsWith("--write="))?.slice(8);
if (outFile) writeFileSync(outFile, JSON.stringify(out));
