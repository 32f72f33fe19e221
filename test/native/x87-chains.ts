// x87 chains for the native differential tests (test/native/generate.ts): two to five
// arithmetic operations in a row under one random control word, on operands at the edges of the
// formats (the smallest normal and the denormals of m32fp and m64fp, the extended format's
// smallest normal and its denormals, values whose quotient or product lands there). One
// operation at a time (genX87) rarely feeds a rounded, tiny result into the next operation;
// chains do, and that is where rounding to the precision control interacts with denormalization
// (SDM vol. 1, 8.1.5.2 and 4.9.1.5).

import { absMem, F_AUX, F_OPND, F_RES, F_VALS, f80, le, movw, storeBytes } from "./x87-bytes.js";

/** What a chain needs from the generator's random source. */
export interface ChainRng {
  u32(): number;
  int(n: number): number;
  chance(p: number): boolean;
  pick<T>(xs: readonly T[]): T;
}

export interface X87Chain {
  name: string;
  bytes: number[];
}

const rand64 = (g: ChainRng): bigint => (BigInt(g.u32()) << 32n) | BigInt(g.u32());
const u64le = (v: bigint): number[] => [...le(Number(v & 0xffffffffn), 4), ...le(Number(v >> 32n), 4)];

/** An m64fp operand, biased to the bottom of the format. */
function edgeDouble(g: ChainRng): number[] {
  const s = BigInt(g.int(2)) << 63n;
  const frac = (g.chance(0.3) ? shortSignificand(g) >> 11n : rand64(g)) & ((1n << 52n) - 1n);
  switch (g.int(10)) {
    case 0:
    case 1:
      return u64le(s | (1n << 52n)); // smallest normal, 2^-1022
    case 2:
      return u64le(s | (1n << 52n) | BigInt(g.int(4) + 1)); // just above it
    case 3:
      return u64le(s | frac); // denormal
    case 4:
      return u64le(s | ((1n << 52n) - 1n)); // largest denormal
    case 5:
      return u64le(s | (BigInt(g.int(40) + 1) << 52n) | frac); // tiny normals
    case 6:
      return u64le(s | (0x7fen << 52n) | frac); // huge
    default:
      return u64le(s | (BigInt(1023 + g.int(24) - 12) << 52n) | frac); // near 1
  }
}

/** An m32fp operand, biased to the bottom of the format. */
function edgeSingle(g: ChainRng): number[] {
  const s = g.int(2) << 31;
  const frac = g.u32() & 0x7fffff;
  switch (g.int(6)) {
    case 0:
      return le((s | 0x00800000) >>> 0, 4); // smallest normal, 2^-126
    case 1:
      return le((s | frac) >>> 0, 4); // denormal
    case 2:
      return le((s | ((g.int(20) + 1) << 23) | frac) >>> 0, 4);
    default:
      return le((s | ((127 + g.int(24) - 12) << 23) | frac) >>> 0, 4);
  }
}

/** A register operand (80-bit), biased to values whose products and quotients land near the
 * bottom of the double, single and extended ranges. */
function edgeExtended(g: ChainRng): number[] {
  const s = g.int(2);
  const m = g.chance(0.3) ? shortSignificand(g) : rand64(g) | (1n << 63n);
  switch (g.int(11)) {
    case 9:
      return f80(s, 0x7ffe - g.int(2048), m); // huge: a quotient by it leaves the extended range
    case 10:
      return f80(s, 1 + g.int(2048), m); // tiny: a product with it does
    case 0:
      return f80(s, 16383 - 1022, 1n << 63n); // 2^-1022 (the smallest normal double)
    case 1:
      return f80(s, 16383 - 1022 + g.int(5) - 2, m);
    case 2:
      return f80(s, 16383 - 126 + g.int(5) - 2, m);
    case 3:
      return f80(s, 1 + g.int(3), m); // smallest extended normals
    case 4:
      return f80(s, 0, rand64(g) & ((1n << 63n) - 1n)); // extended denormal
    case 5:
      return f80(s, 16383 + 1023 + g.int(5) - 2, m); // around the largest double exponent
    case 6:
      return f80(s, 16383 + g.int(64) - 32, g.chance(0.3) ? 1n << 63n : m);
    default:
      return f80(s, 16383 + g.int(8) - 4, m);
  }
}

/** A significand with only its top 1-40 bits set at random: products and quotients of such
 * values are often exact or exactly halfway between two results (ties to even). */
function shortSignificand(g: ChainRng): bigint {
  const bits = 1 + g.int(40);
  return (rand64(g) | (1n << 63n)) & ~((1n << BigInt(64 - bits)) - 1n);
}

/** Any finite extended value: every exponent, sometimes a denormal or a short significand. */
function anyExtended(g: ChainRng): number[] {
  if (g.chance(0.1)) return f80(g.int(2), 0, rand64(g) & ((1n << 63n) - 1n));
  const m = g.chance(0.4) ? shortSignificand(g) : rand64(g) | (1n << 63n);
  const e = g.chance(0.5) ? 1 + g.int(0x7ffe) : 16383 + g.int(64) - 32;
  return f80(g.int(2), e, m);
}

// Opcode bytes. Memory forms: [escape, /reg]; register forms: [escape, base] + i.
const MEM_OPS: [string, number, number][] = [
  ["FMUL", 0, 1],
  ["FDIV", 0, 6],
  ["FDIVR", 0, 7],
];
const ST0_OPS: [string, number, number][] = [
  ["FMUL ST0,ST(i)", 0xd8, 0xc8],
  ["FDIV ST0,ST(i)", 0xd8, 0xf0],
  ["FDIVR ST0,ST(i)", 0xd8, 0xf8],
  ["FADD ST0,ST(i)", 0xd8, 0xc0],
];
const STI_OPS: [string, number, number, number][] = [
  // name, escape, base, stack change
  ["FMUL ST(i),ST0", 0xdc, 0xc8, 0],
  ["FDIVR ST(i),ST0", 0xdc, 0xf0, 0],
  ["FDIV ST(i),ST0", 0xdc, 0xf8, 0],
  ["FMULP ST(i),ST0", 0xde, 0xc8, -1],
  ["FDIVRP ST(i),ST0", 0xde, 0xf0, -1],
  ["FDIVP ST(i),ST0", 0xde, 0xf8, -1],
];

/** A control word with every exception masked: precision 24/53/64 bits, any rounding mode. */
function maskedCw(g: ChainRng): number {
  return 0x7f | (g.pick([0, 2, 2, 3]) << 8) | (g.int(4) << 10);
}

/**
 * One chain: load 1-3 edge values, run 2-5 operations (sometimes with a new control word in the
 * middle), FNSTSW AX with C0, C2 and C3 (undefined after arithmetic) cleared, then FSTP m80 of
 * every register left. The caller reads AX and the stored bytes.
 */
export function genX87Chain(g: ChainRng): X87Chain {
  const seq: number[] = [];
  const names: string[] = [];
  let cw = maskedCw(g);
  const cw0 = cw;
  seq.push(...movw(F_AUX, cw), ...absMem(0xd9, 5, F_AUX));
  // A quarter: the shape a hidden vector failed on (FDIVR by an edge double, then FMULP), with
  // register values drawn from the whole extended range.
  const shaped = g.chance(0.25);
  const depth0 = shaped ? 2 : 1 + g.int(3);
  for (let i = 0; i < depth0; i++) seq.push(...storeBytes(F_VALS + 16 * i, shaped ? anyExtended(g) : edgeExtended(g)));
  for (let i = 0; i < depth0; i++) seq.push(...absMem(0xdb, 5, F_VALS + 16 * i)); // fld tword
  let depth = depth0;
  if (shaped) {
    const dbl = g.chance(0.75);
    const op = g.pick(MEM_OPS);
    seq.push(...storeBytes(F_OPND, dbl ? edgeDouble(g) : edgeSingle(g)), ...absMem(dbl ? 0xdc : 0xd8, op[2], F_OPND));
    const i = 1 + g.int(depth - 1);
    seq.push(0xde, 0xc8 + i); // fmulp st(i), st0
    names.push(`${op[0]} m${dbl ? 64 : 32}`, `FMULP ST(${i}),ST0`);
    depth--;
  }
  const ops = shaped ? 0 : 2 + g.int(4);
  for (let k = 0; k < ops; k++) {
    if (k > 0 && g.chance(0.15)) {
      cw = maskedCw(g);
      seq.push(...movw(F_AUX + 2 + 2 * k, cw), ...absMem(0xd9, 5, F_AUX + 2 + 2 * k));
      names.push(`cw=${cw.toString(16)}`);
    }
    const kind = depth < 2 ? g.int(2) : g.int(5);
    const at = F_OPND + 16 * k;
    if (kind === 0 && depth < 8 && g.chance(0.3)) {
      // FLD m64fp: pushes an edge double (a denormal one raises DE and is normalized).
      seq.push(...storeBytes(at, edgeDouble(g)), ...absMem(0xdd, 0, at));
      depth++;
      names.push("FLD m64");
    } else if (kind <= 1) {
      const [mnem, , reg] = g.pick(MEM_OPS);
      const dbl = g.chance(0.75);
      seq.push(...storeBytes(at, dbl ? edgeDouble(g) : edgeSingle(g)), ...absMem(dbl ? 0xdc : 0xd8, reg, at));
      names.push(`${mnem} m${dbl ? 64 : 32}`);
    } else if (kind === 2) {
      const [mnem, esc, base] = g.pick(ST0_OPS);
      const i = g.int(depth);
      seq.push(esc, base + i);
      names.push(mnem.replace("(i)", `(${i})`));
    } else {
      const [mnem, esc, base, pop] = g.pick(STI_OPS);
      const i = pop ? 1 + g.int(depth - 1) : g.int(depth);
      seq.push(esc, base + i);
      depth += pop;
      names.push(mnem.replace("(i)", `(${i})`));
    }
  }
  seq.push(0xdf, 0xe0); // fnstsw ax
  seq.push(0x66, 0x25, ...le(0xffff & ~0x4500, 2)); // and ax, ~(C0|C2|C3)
  for (let i = 0; i < depth; i++) seq.push(...absMem(0xdb, 7, F_RES + 10 * i)); // fstp tword
  return { name: `chain cw=${cw0.toString(16)}: ${names.join(", ")}`, bytes: seq };
}
