// Instruction fetch and operand decoding: prefixes, ModRM/SIB effective addresses, immediates.
// The per-instruction decode state lives in module globals (transient; not architectural).

import { tlbFill, tlbGeneration } from "../mmu/tlb";
import { faulted, raise, VEC_GP } from "./fault";
import { S_CPL, S_SEG_BASE, S_SEG_LIMIT, S_TLB_READ_MASK, TLB_BASE, TLB_SLOW, TLB_VALID } from "../generated/layout";
import { physRead8 } from "../mmu/physical";
import { CS, DS, reg16, reg32, SS } from "./state";

/** Offset of the next byte to fetch; becomes EIP when the instruction completes. */
export let nextEip: u32 = 0;
/** The instruction set nextEip itself (a branch, a REP that goes on): it did not fall through. */
export let transferred: bool = false;
/** EIP of the first byte (prefixes included) of the instruction being executed. */
export let insnEip: u32 = 0;
export let opsize32: bool = false;
export let addrsize32: bool = false;
/** Segment override prefix, or -1. */
export let segOverride: i32 = -1;
/** 0, 0xF2 (REPNE) or 0xF3 (REP/REPE). */
export let repPrefix: u32 = 0;
export let lockPrefix: bool = false;
export let modrm: u32 = 0;
/** The opcode byte being executed (for routines that encode a register in it, like 40+r). */
export let opcode: u32 = 0;
/** Segment of the last effective address computed (default or overridden). */
export let eaSeg: u32 = 3; // DS (a literal: state.ts and decode.ts import each other)

// Linear page cached for fetch. NO_PAGE has low bits set, so no page-aligned address equals it.
const NO_PAGE: u32 = 0xffffffff;
let fetchPage: u32 = NO_PAGE;
let fetchHost: u32 = 0;
let fetchGen: u32 = 0xffffffff;
// Fast-fetch window in EIP space (suggested and measured by the benchmark work): the bytes at
// EIP in [winStart, winEnd) are at host address fetchBias + EIP (one page, inside the CS
// limit). fetchEnd narrows it to the current instruction's 15-byte limit, so fetch8 needs one
// compare on its fast path. Any change of CS, CPL or the TLB drops the window.
let winStart: u32 = 0;
let winEnd: u32 = 0;
let fetchBias: u32 = 0;
let fetchEnd: u32 = 0;

@inline function setFetchEnd(eip: u32): void {
  if (fetchGen == tlbGeneration && eip - winStart < winEnd - winStart) {
    const lim = eip + 15;
    fetchEnd = lim < eip || lim > winEnd ? winEnd : lim;
  } else fetchEnd = 0;
}

export function beginInstruction(eip: u32, default32: bool): void {
  insnEip = eip;
  nextEip = eip;
  transferred = false;
  setFetchEnd(eip);
  opsize32 = default32;
  addrsize32 = default32;
  segOverride = -1;
  repPrefix = 0;
  lockPrefix = false;
}

@inline export function setOpcode(b: u32): void {
  opcode = b;
}
/** Register number in the low three bits of the opcode (INC r, PUSH r, MOV r, imm, BSWAP...). */
@inline export function dispatchOpcodeLow(): u32 {
  return opcode & 7;
}

@inline export function setNextEip(v: u32): void {
  nextEip = v;
  transferred = true;
}
@inline export function setOpsize32(v: bool): void {
  opsize32 = v;
}
@inline export function setAddrsize32(v: bool): void {
  addrsize32 = v;
}
@inline export function setSegOverride(s: i32): void {
  segOverride = s;
}
@inline export function setRepPrefix(p: u32): void {
  repPrefix = p;
}
@inline export function setLockPrefix(): void {
  lockPrefix = true;
}
/** Forget the cached code page (after CS or CPL changes). */
export function invalidateFetch(): void {
  fetchPage = NO_PAGE;
  winStart = 0;
  winEnd = 0;
  fetchEnd = 0;
}

/**
 * Fetches EIPs in [start, end) from a copy of their bytes at host address bias + EIP instead of
 * guest memory (the binary translator's cache: EIP stays the guest's). The window lasts until
 * the next invalidateFetch or TLB flush; bytes outside it are fetched from guest memory.
 */
@inline export function fetchFromCopy(start: u32, end: u32, bias: u32): void {
  fetchPage = NO_PAGE;
  winStart = start;
  winEnd = end;
  fetchBias = bias;
  fetchGen = tlbGeneration;
}

/** Fetches the next instruction byte; 0 after a fault (limit, #PF, length over 15). */
@inline export function fetch8(): u32 {
  const eip = nextEip;
  if (eip < fetchEnd) {
    nextEip = eip + 1;
    return load<u8>(fetchBias + eip);
  }
  return fetch8Slow();
}

function fetch8Slow(): u32 {
  const eip = nextEip;
  if (eip > load<u32>(S_SEG_LIMIT + (CS << 2)) || eip - insnEip >= 15) {
    fetchFault();
    return 0;
  }
  const lin = load<u32>(S_SEG_BASE + (CS << 2)) + eip;
  nextEip = eip + 1;
  if ((lin & 0xfffff000) == fetchPage && fetchGen == tlbGeneration) return load<u8>(fetchHost + (lin & 0xfff));
  return fetchSlow(lin);
}

function fetchFault(): void {
  // Beyond the limit: #GP(0). Longer than 15 bytes: #GP(0) too (SDM vol. 3 6.15, "General
  // Protection Exception": instruction length limit).
  raise(VEC_GP, 0);
}

function fetchSlow(lin: u32): u32 {
  let e = load<u32>(TLB_BASE + ((lin >>> 12) << 2));
  if ((e & load<u32>(S_TLB_READ_MASK)) != TLB_VALID) {
    const user = load<u32>(S_CPL) == 3;
    if ((e & TLB_VALID) == 0 || (user && (e & 2) != 0)) {
      e = tlbFill(lin, false, user);
      if (faulted) return 0;
    }
  }
  if ((e & TLB_SLOW) != 0) {
    invalidateFetch();
    return physRead8((e & 0xfffff000) | (lin & 0xfff));
  }
  fetchPage = lin & 0xfffff000;
  fetchHost = e & 0xfffff000;
  fetchGen = tlbGeneration;
  // The window: this page in EIP space (eip = lin - CS.base), clipped to the CS limit.
  const limit = load<u32>(S_SEG_LIMIT + (CS << 2));
  const eip = lin - load<u32>(S_SEG_BASE + (CS << 2));
  const pageStart = eip - (lin & 0xfff);
  winStart = pageStart <= eip ? pageStart : eip; // a page that starts below EIP 0 starts at eip
  let end = pageStart + 0x1000;
  if (end < pageStart || end - 1 > limit) end = limit + 1;
  if (end < winStart) end = winStart; // wrapped around: no window
  winEnd = end;
  fetchBias = fetchHost + (lin & 0xfff) - eip;
  setFetchEnd(insnEip);
  return load<u8>(fetchHost + (lin & 0xfff));
}

export function fetch16(): u32 {
  const eip = nextEip;
  if (eip < fetchEnd && fetchEnd - eip >= 2) {
    nextEip = eip + 2;
    return load<u16>(fetchBias + eip);
  }
  const lo = fetch8();
  return lo | (fetch8() << 8);
}

export function fetch32(): u32 {
  const eip = nextEip;
  if (eip < fetchEnd && fetchEnd - eip >= 4) {
    nextEip = eip + 4;
    return load<u32>(fetchBias + eip);
  }
  const lo = fetch16();
  return lo | (fetch16() << 16);
}

/** Immediate of the operand size. */
@inline export function fetchImmV(): u32 {
  return opsize32 ? fetch32() : fetch16();
}

@inline export function fetchModrm(): void {
  modrm = fetch8();
}

@inline export function modrmReg(): u32 {
  return (modrm >> 3) & 7;
}
@inline export function modrmRm(): u32 {
  return modrm & 7;
}
@inline export function modrmIsReg(): bool {
  return modrm >= 0xc0;
}

@inline function pickSeg(def: u32): u32 {
  return segOverride >= 0 ? <u32>segOverride : def;
}

/** Effective address (offset) of the ModRM memory operand; sets eaSeg. */
export function effectiveAddress(): u32 {
  if (addrsize32) return ea32();
  return ea16();
}

function ea16(): u32 {
  const mod = modrm >> 6;
  const rm = modrm & 7;
  let a: u32 = 0;
  let def = DS;
  switch (rm) {
    case 0:
      a = reg16(3) + reg16(6);
      break;
    case 1:
      a = reg16(3) + reg16(7);
      break;
    case 2:
      a = reg16(5) + reg16(6);
      def = SS;
      break;
    case 3:
      a = reg16(5) + reg16(7);
      def = SS;
      break;
    case 4:
      a = reg16(6);
      break;
    case 5:
      a = reg16(7);
      break;
    case 6:
      if (mod == 0) {
        a = fetch16();
      } else {
        a = reg16(5);
        def = SS;
      }
      break;
    default:
      a = reg16(3);
      break;
  }
  if (mod == 1) a += <u32>(<i32>(<i8>fetch8()));
  else if (mod == 2) a += fetch16();
  eaSeg = pickSeg(def);
  return a & 0xffff;
}

function ea32(): u32 {
  const mod = modrm >> 6;
  const rm = modrm & 7;
  let a: u32 = 0;
  let def = DS;
  if (rm == 4) {
    const sib = fetch8();
    const base = sib & 7;
    const index = (sib >> 3) & 7;
    if (index != 4) a = reg32(index) << (sib >> 6);
    if (base == 5 && mod == 0) {
      a += fetch32();
    } else {
      a += reg32(base);
      if (base == 4 || base == 5) def = SS;
    }
  } else if (rm == 5 && mod == 0) {
    a = fetch32();
  } else {
    a = reg32(rm);
    if (rm == 5) def = SS;
  }
  if (mod == 1) a += <u32>(<i32>(<i8>fetch8()));
  else if (mod == 2) a += fetch32();
  eaSeg = pickSeg(def);
  return a;
}

/** Segment for string sources and other DS-default operands, honouring overrides. */
@inline export function dataSeg(): u32 {
  return pickSeg(DS);
}

