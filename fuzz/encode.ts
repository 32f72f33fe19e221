// Random instructions drawn from the one instruction table (core/isa/table.mjs): any form the
// core implements, with random prefixes, ModRM/SIB/displacements and immediates. The fuzzer's
// programs are made of these (and, in the crash-and-hang cases, of raw random bytes too).

import { entries, immediateBytes, type TableEntry } from "../core/isa/table.mjs";
import type { Rng } from "./rng.js";

/** Forms whose results legitimately differ between modes: the hypervisor answers them. */
const MODE_DEPENDENT = new Set([
  "IN",
  "OUT",
  "INSB",
  "INS",
  "OUTSB",
  "OUTS",
  "CPUID",
  "RDMSR",
  "WRMSR",
  "VMCALL",
  "RDPMC",
  "SYSENTER",
  "SYSEXIT",
]);

/** Every form of the table. */
export const ALL_FORMS: readonly TableEntry[] = entries;
/** The forms whose effect must be the same in native, bt, hvm and pv. */
export const COMPARABLE_FORMS: readonly TableEntry[] = entries.filter((e) => !MODE_DEPENDENT.has(e.mnem));

const STRING_OPS = new Set(["MOVSB", "MOVS", "CMPSB", "CMPS", "STOSB", "STOS", "LODSB", "LODS", "SCASB", "SCAS"]);
const SEGMENT_PREFIXES = [0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65];

export interface EncodeContext {
  /** The code segment's default size is 32 bits. */
  code32: boolean;
  /**
   * Relative branches aim at instruction starts: returns the displacement, from the end of the
   * instruction being built, of a random instruction start it can reach with a displacement of
   * `bytes` bytes (undefined: any small displacement).
   */
  branchTarget?: (instructionEnd: number, bytes: number) => number;
  /** Where the instruction will start (for branch targets). */
  at: number;
}

/** A little-endian value of `n` bytes. */
function le(v: number, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((v >>> (i * 8)) & 0xff);
  return out;
}

/** A displacement or immediate: mostly small (so [reg+disp] stays near the data the registers point at). */
function value(rng: Rng, _bytes: number): number {
  const r = rng.int(0, 9);
  if (r < 5) return rng.int(0, 0x40);
  if (r < 7) return -rng.int(1, 0x40) >>> 0;
  return rng.u32();
}

/** One random instruction of `forms` (prefixes, opcode, ModRM, SIB, displacement, immediates). */
export function randomInstruction(rng: Rng, forms: readonly TableEntry[], ctx: EncodeContext): number[] {
  const e = rng.pick(forms);
  const bytes: number[] = [];
  let op32 = ctx.code32;
  let ad32 = ctx.code32;
  // A relative branch aimed at an instruction start keeps the full operand size (a 16-bit one
  // in 32-bit code would cut EIP to 16 bits).
  const aimed = e.operands.includes("J") && ctx.branchTarget !== undefined;
  if (!aimed && rng.chance(0.1)) {
    bytes.push(0x66);
    op32 = !op32;
  }
  if (!aimed && rng.chance(0.06)) {
    bytes.push(0x67);
    ad32 = !ad32;
  }
  if (rng.chance(0.1)) bytes.push(rng.pick(SEGMENT_PREFIXES));
  if (STRING_OPS.has(e.mnem) ? rng.chance(0.6) : rng.chance(0.02)) bytes.push(rng.chance(0.5) ? 0xf3 : 0xf2);
  const hasModrm = e.modrmExact >= 0 || e.modrm || e.x87;
  let mod = 3;
  let rm = 0;
  let modrm = -1;
  if (e.modrmExact >= 0) modrm = e.modrmExact;
  else if (hasModrm) {
    mod = e.memOnly ? rng.int(0, 2) : rng.chance(0.4) ? 3 : rng.int(0, 2);
    rm = rng.int(0, 7);
    const reg = e.reg >= 0 ? e.reg : rng.int(0, 7);
    modrm = (mod << 6) | (reg << 3) | rm;
  }
  if (e.lock && mod !== 3 && rng.chance(0.2)) bytes.push(0xf0);
  if (e.map === 1) bytes.push(0x0f);
  bytes.push(e.op);
  if (modrm >= 0) {
    bytes.push(modrm);
    if (e.modrmExact < 0 && mod !== 3) {
      if (ad32) {
        let disp = mod === 1 ? 1 : mod === 2 ? 4 : 0;
        if (rm === 4) {
          const sib = rng.int(0, 255);
          bytes.push(sib);
          if ((sib & 7) === 5 && mod === 0) disp = 4;
        } else if (rm === 5 && mod === 0) disp = 4;
        bytes.push(...le(value(rng, disp), disp));
      } else {
        const disp = mod === 1 ? 1 : mod === 2 || (mod === 0 && rm === 6) ? 2 : 0;
        bytes.push(...le(value(rng, disp), disp));
      }
    }
  }
  const imm = immediateBytes(e, op32 ? 4 : 2, ad32 ? 4 : 2);
  if (aimed && ctx.branchTarget) {
    const end = ctx.at + bytes.length + imm;
    bytes.push(...le(ctx.branchTarget(end, imm), imm));
  } else bytes.push(...le(value(rng, imm), imm));
  return bytes;
}
