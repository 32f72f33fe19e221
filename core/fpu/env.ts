// The x87 environment and state images: FNSTENV/FLDENV (14 or 28 bytes), FNSAVE/FRSTOR (94 or
// 108 bytes: the environment, then ST(0)..ST(7) as 80-bit reals), FNINIT. Layouts: SDM vol. 1,
// 8.1.10 and figures 8-9 to 8-12 (32-bit protected, 32-bit real, 16-bit protected, 16-bit real).
// In real and virtual-8086 mode the pointers are stored as 20/32-bit linear addresses.

import { faulted } from "../cpu/fault";
import { read8 } from "../mmu/access";
import {
  MODE_PROTECTED,
  S_FPU_CS,
  S_FPU_CW,
  S_FPU_DP,
  S_FPU_DS,
  S_FPU_IP,
  S_FPU_OPCODE,
  S_MODE,
} from "../generated/layout";
import { updateSummary } from "./exec";
import { mOff, mSeg, probeWrite, rd16, rd32, wr16, wr32 } from "./mem";
import { cw, physM, physSE, setPhysRaw, setStatusWord, setTagWord, statusWord, tagFor, tagWord, top } from "./regs";

@inline function protectedMode(): bool {
  return load<u32>(S_MODE) == MODE_PROTECTED;
}

/** Size of the environment image for the operand size. */
@inline export function envSize(op32: bool): u32 {
  return op32 ? 28 : 14;
}

/** Writes the environment image (the caller checked writability). */
function writeEnv(op32: bool): void {
  const fcw = cw();
  const fsw = statusWord();
  const ftw = tagWord();
  const ip = load<u32>(S_FPU_IP);
  const cs = load<u32>(S_FPU_CS) & 0xffff;
  const op = load<u32>(S_FPU_OPCODE) & 0x7ff;
  const dp = load<u32>(S_FPU_DP);
  const ds = load<u32>(S_FPU_DS) & 0xffff;
  const pm = protectedMode();
  if (op32) {
    wr32(0, 0xffff0000 | fcw);
    wr32(4, 0xffff0000 | fsw);
    wr32(8, 0xffff0000 | ftw);
    if (pm) {
      wr32(12, ip);
      wr32(16, cs | (op << 16));
      wr32(20, dp);
      wr32(24, 0xffff0000 | ds);
    } else {
      const ipl = (cs << 4) + ip;
      const dpl = (ds << 4) + dp;
      wr32(12, 0xffff0000 | (ipl & 0xffff));
      wr32(16, ((ipl >>> 16) << 12) | op);
      wr32(20, 0xffff0000 | (dpl & 0xffff));
      wr32(24, (dpl >>> 16) << 12);
    }
  } else {
    wr16(0, fcw);
    wr16(2, fsw);
    wr16(4, ftw);
    if (pm) {
      wr16(6, ip);
      wr16(8, cs);
      wr16(10, dp);
      wr16(12, ds);
    } else {
      const ipl = (cs << 4) + ip;
      const dpl = (ds << 4) + dp;
      wr16(6, ipl);
      wr16(8, (((ipl >>> 16) & 0xf) << 12) | op);
      wr16(10, dpl);
      wr16(12, ((dpl >>> 16) & 0xf) << 12);
    }
  }
}

/** Checks that the whole image can be read (limit and both pages), so loading cannot half-happen. */
function probeRead(size: u32): bool {
  read8(mSeg, mOff);
  if (faulted) return false;
  read8(mSeg, mOff + size - 1);
  return !faulted;
}

/** Loads the environment image (the caller probed it). */
function readEnv(op32: bool): void {
  let fcw: u32;
  let fsw: u32;
  let ftw: u32;
  let ip: u32;
  let cs: u32 = 0;
  let op: u32;
  let dp: u32;
  let ds: u32 = 0;
  const pm = protectedMode();
  if (op32) {
    fcw = rd16(0);
    fsw = rd16(4);
    ftw = rd16(8);
    if (pm) {
      ip = rd32(12);
      const w = rd32(16);
      cs = w & 0xffff;
      op = (w >> 16) & 0x7ff;
      dp = rd32(20);
      ds = rd16(24);
    } else {
      const w = rd32(16);
      ip = (rd16(12) & 0xffff) | ((w << 4) & 0xffff0000);
      op = w & 0x7ff;
      dp = (rd16(20) & 0xffff) | ((rd32(24) << 4) & 0xffff0000);
    }
  } else {
    fcw = rd16(0);
    fsw = rd16(2);
    ftw = rd16(4);
    if (pm) {
      ip = rd16(6);
      cs = rd16(8);
      op = load<u32>(S_FPU_OPCODE); // not in the 16-bit protected-mode image
      dp = rd16(10);
      ds = rd16(12);
    } else {
      const w = rd16(8);
      ip = rd16(6) | ((w & 0xf000) << 4);
      op = w & 0x7ff;
      dp = rd16(10) | ((rd16(12) & 0xf000) << 4);
    }
  }
  store<u32>(S_FPU_CW, (fcw & 0x1f3f) | 0x40);
  setStatusWord(fsw);
  store<u32>(S_FPU_IP, ip);
  store<u32>(S_FPU_CS, cs);
  store<u32>(S_FPU_OPCODE, op);
  store<u32>(S_FPU_DP, dp);
  store<u32>(S_FPU_DS, ds);
  // Tags: "empty" is taken from the image; the others are derived from the registers.
  let tw: u32 = 0;
  for (let p: u32 = 0; p < 8; p++) {
    let t = (ftw >> (p << 1)) & 3;
    if (t != 3) t = tagFor(physSE(p), physM(p));
    tw |= t << (p << 1);
  }
  setTagWord(tw);
  updateSummary();
}

/** FNSTENV: stores the environment, then masks all exceptions. */
export function fnstenv(op32: bool): void {
  if (!probeWrite(0, envSize(op32))) return;
  writeEnv(op32);
  if (faulted) return;
  store<u32>(S_FPU_CW, cw() | 0x3f);
}

/** FLDENV. */
export function fldenv(op32: bool): void {
  if (!probeRead(envSize(op32))) return;
  readEnv(op32);
}

/** FNSAVE: environment and registers, then FNINIT. */
export function fnsave(op32: bool): void {
  const base = envSize(op32);
  if (!probeWrite(0, base + 80)) return;
  writeEnv(op32);
  const t = top();
  for (let i: u32 = 0; i < 8; i++) {
    const p = (t + i) & 7;
    const at = base + i * 10;
    const m = physM(p);
    wr32(at, <u32>m);
    wr32(at + 4, <u32>(m >> 32));
    wr16(at + 8, physSE(p));
  }
  if (faulted) return;
  fninit();
}

/** FRSTOR: the registers first (they are addressed relative to the loaded TOP), then the environment. */
export function frstor(op32: bool): void {
  const base = envSize(op32);
  if (!probeRead(base + 80)) return;
  const fsw = op32 ? rd16(4) : rd16(2);
  const t = (fsw >> 11) & 7;
  for (let i: u32 = 0; i < 8; i++) {
    const p = (t + i) & 7;
    const at = base + i * 10;
    const lo = <u64>rd32(at);
    const hi = <u64>rd32(at + 4);
    setPhysRaw(p, rd16(at + 8), lo | (hi << 32));
  }
  readEnv(op32);
}

/** FNINIT (SDM vol. 2, FINIT): CW 037FH, SW 0, all tags empty, pointers cleared. */
export function fninit(): void {
  store<u32>(S_FPU_CW, 0x37f);
  setStatusWord(0);
  setTagWord(0xffff);
  store<u32>(S_FPU_IP, 0);
  store<u32>(S_FPU_CS, 0);
  store<u32>(S_FPU_OPCODE, 0);
  store<u32>(S_FPU_DP, 0);
  store<u32>(S_FPU_DS, 0);
}
