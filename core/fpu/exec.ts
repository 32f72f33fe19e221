// x87 instruction semantics: loads, stores, arithmetic, compares, stack and control-word
// operations (SDM vol. 2, the F* pages; vol. 1, chapter 8). Exceptions follow SDM vol. 1, 4.9
// and 8.5: IE/DE/ZE unmasked leave the destination unchanged; masked ones deliver the default
// result; OE/UE/PE are post-computation and the result is delivered either way (except stores
// to memory, which an unmasked OE/UE suppresses).

import { faulted } from "../cpu/fault";
import { getCF, getPF, getZF, setFlagBits } from "../cpu/flags";
import { FLAG_AF, FLAG_CF, FLAG_OF, FLAG_PF, FLAG_SF, FLAG_ZF } from "../cpu/state";
import { S_FPU_CW } from "../generated/layout";
import { loadBcd, loadF32, loadF64, loadInt, out64, outBcdHi, storeBcd, storeF32, storeF64, storeInt } from "./convert";
import {
  beginOp,
  CMP_EQ,
  CMP_GT,
  CMP_LT,
  CMP_UN,
  EXP_MAX,
  FE_DE,
  FE_IE,
  FE_OE,
  FE_SF,
  FE_UE,
  FE_ZE,
  fadd,
  fcompare,
  fdiv,
  fexc,
  fmul,
  INDEF_M,
  isSNaN80,
  isNaN80,
  isUnsupported80,
  dropFlags,
  J,
  raiseFlags,
  rE,
  rM,
  roundedUp,
  roundingMode,
  rS,
  setPrecision,
} from "./float80";
import { rd16, rd32, rd64, wr16, wr32, wr64, wr80 } from "./mem";
import {
  copyST,
  cw,
  isEmpty,
  masked,
  phys,
  physTag,
  pop,
  push,
  setC1,
  setCC,
  setIndefiniteST,
  setPhysTag,
  setST,
  setSwRaw,
  setTop,
  signal,
  stackOverflow,
  stackUnderflow,
  stE,
  stM,
  stS,
  SW_B,
  SW_C0,
  SW_C1,
  SW_C2,
  SW_C3,
  SW_ES,
  swRaw,
  TAG_EMPTY,
  top,
} from "./regs";

// Arithmetic operation kinds: the ModRM.reg of D8/DC/DA/DE memory forms.
export const OP_ADD: u32 = 0;
export const OP_MUL: u32 = 1;
export const OP_COM: u32 = 2;
export const OP_COMP: u32 = 3;
export const OP_SUB: u32 = 4;
export const OP_SUBR: u32 = 5;
export const OP_DIV: u32 = 6;
export const OP_DIVR: u32 = 7;

// The source operand of the current instruction (memory operand converted, or ST(i)).
let oS: u32 = 0;
let oE: i32 = 0;
let oM: u64 = 0;

/**
 * Starts the arithmetic of an instruction under the current control word. Precision control
 * applies only to FADD/FSUB/FMUL/FDIV (all forms) and FSQRT (SDM vol. 1, 8.1.5.2); the other
 * instructions round to 64 bits.
 */
export function startOp(pcApplies: bool): void {
  beginOp(cw());
  if (!pcApplies) setPrecision(64);
}

/** Pre-computation exceptions that are unmasked suppress the result: signal them and stop. */
export function preUnmasked(): bool {
  const f = fexc & (FE_IE | FE_DE | FE_ZE);
  if ((f & ~cw()) != 0) {
    signal(f | (fexc & FE_SF));
    return true;
  }
  return false;
}

/** Writes the result (rS/rE/rM) to ST(i) unless an unmasked IE/DE/ZE stops it; sets C1 and flags. */
export function deliver(i: u32): bool {
  if (preUnmasked()) return false;
  setST(i, rS, rE, rM);
  setC1(roundedUp);
  signal(fexc);
  return true;
}

// ---- source operands -----------------------------------------------------------------------------

/** Reads the memory source of an arithmetic form: 0 m32fp, 1 m32int, 2 m64fp, 3 m16int. */
export function readSource(kind: u32): void {
  if (kind == 0) {
    const b = rd32(0);
    if (faulted) return;
    loadF32(b);
  } else if (kind == 2) {
    const b = rd64(0);
    if (faulted) return;
    loadF64(b);
  } else if (kind == 1) {
    const b = rd32(0);
    if (faulted) return;
    loadInt(<i64>(<i32>b));
  } else {
    const b = rd16(0);
    if (faulted) return;
    loadInt(<i64>(<i16>b));
  }
  oS = rS;
  oE = rE;
  oM = rM;
}
/** readSource for an arithmetic or compare form. */
export function readArithSource(kind: u32): void {
  readSource(kind);
  if (faulted) return;
  // A NaN (or unsupported) ST(0) takes precedence over the denormal-operand exception of the
  // converted source, as for register operands (SDM vol. 1, 4.9.2, exception priority).
  if ((fexc & FE_DE) != 0 && !isEmpty(0)) {
    const e0 = stE(0);
    const m0 = stM(0);
    if (isNaN80(e0, m0) || isUnsupported80(e0, m0)) dropFlags(FE_DE);
  }
}
export function sourceFromST(i: u32): void {
  oS = stS(i);
  oE = stE(i);
  oM = stM(i);
}

/**
 * dest = dest op source for ops ADD MUL SUB SUBR DIV DIVR, where dest is ST(d) and the source
 * was set by readSource/sourceFromST. `srcEmpty`: the source register is empty. Pops after when
 * `popAfter`.
 */
export function arith(op: u32, d: u32, srcEmpty: bool, popAfter: bool): void {
  if (isEmpty(d) || srcEmpty) {
    if (stackUnderflow()) {
      setIndefiniteST(d);
      if (popAfter) pop();
    }
    return;
  }
  const dS = stS(d);
  const dE = stE(d);
  const dM = stM(d);
  switch (op) {
    case OP_ADD:
      fadd(dS, dE, dM, oS, oE, oM, false);
      break;
    case OP_MUL:
      fmul(dS, dE, dM, oS, oE, oM);
      break;
    case OP_SUB:
      fadd(dS, dE, dM, oS, oE, oM, true);
      break;
    case OP_SUBR:
      fadd(oS, oE, oM, dS, dE, dM, true);
      break;
    case OP_DIV:
      fdiv(dS, dE, dM, oS, oE, oM);
      break;
    default:
      fdiv(oS, oE, oM, dS, dE, dM);
      break;
  }
  if (deliver(d) && popAfter) pop();
}

/** C3 C2 C0 for a comparison result (SDM vol. 2, FCOM table). */
function ccFor(r: u32): u32 {
  if (r == CMP_GT) return 0;
  if (r == CMP_LT) return SW_C0;
  if (r == CMP_EQ) return SW_C3;
  return SW_C3 | SW_C2 | SW_C0;
}

/** FCOM/FUCOM/FICOM/FTST: ST(0) against the source; pops `pops` times. */
export function compare(srcEmpty: bool, quiet: bool, pops: u32): void {
  if (isEmpty(0) || srcEmpty) {
    if (stackUnderflow()) {
      setCC(SW_C3 | SW_C2 | SW_C0);
      for (let k: u32 = 0; k < pops; k++) pop();
    }
    return;
  }
  const r = fcompare(stS(0), stE(0), stM(0), oS, oE, oM, quiet);
  // The condition codes are set even when the exception is unmasked; the pops are not done
  // then (observed on hardware).
  setCC(ccFor(r));
  if (signal(fexc)) return;
  for (let k: u32 = 0; k < pops; k++) pop();
}

/** FCOMI/FUCOMI(P): ZF PF CF from ST(0) against ST(i); OF SF AF cleared (SDM vol. 2, FCOMI). */
export function compareEflags(i: u32, quiet: bool, popAfter: bool): void {
  const mask = FLAG_ZF | FLAG_PF | FLAG_CF | FLAG_OF | FLAG_SF | FLAG_AF;
  if (isEmpty(0) || isEmpty(i)) {
    if (stackUnderflow()) {
      setFlagBits(mask, FLAG_ZF | FLAG_PF | FLAG_CF);
      if (popAfter) pop();
    }
    return;
  }
  const r = fcompare(stS(0), stE(0), stM(0), stS(i), stE(i), stM(i), quiet);
  let f: u32 = 0;
  if (r == CMP_LT) f = FLAG_CF;
  else if (r == CMP_EQ) f = FLAG_ZF;
  else if (r == CMP_UN) f = FLAG_ZF | FLAG_PF | FLAG_CF;
  setFlagBits(mask, f);
  setC1(false);
  if (signal(fexc)) return;
  if (popAfter) pop();
}

/** FCMOVcc: cc 0 B, 1 E, 2 BE, 3 U; `negate` for the DB (not) forms. */
export function fcmov(cc: u32, negate: bool, i: u32): void {
  if (isEmpty(0) || isEmpty(i)) {
    if (stackUnderflow()) setIndefiniteST(0);
    return;
  }
  let c: bool;
  if (cc == 0) c = getCF();
  else if (cc == 1) c = getZF();
  else if (cc == 2) c = getCF() || getZF();
  else c = getPF();
  setC1(false);
  if (c != negate) copyST(0, i);
}

// ---- loads --------------------------------------------------------------------------------------

/** Pushes the source operand (a load): SNaNs are quieted with IE (SDM vol. 2, FLD). */
export function loadPush(quietSNaN: bool): void {
  if (quietSNaN && isSNaN80(oE, oM)) {
    raiseFlags(FE_IE);
    oM |= 0x4000000000000000;
  }
  if (!isEmpty(7)) {
    if (stackOverflow()) push(1, EXP_MAX, INDEF_M);
    return;
  }
  // An unmasked IE (SNaN) suppresses the push; an unmasked DE does not (observed on hardware).
  if ((fexc & FE_IE & ~cw()) != 0) {
    signal(fexc);
    return;
  }
  push(oS, oE, oM);
  setC1(false);
  signal(fexc);
}

/** FLD m32fp (kind 0) / m64fp (2) / m32int (1) / m16int (3). */
export function fldMem(kind: u32): void {
  readSource(kind);
  if (faulted) return;
  loadPush(kind == 0 || kind == 2);
}
export function fldM80(): void {
  const lo = rd64(0);
  if (faulted) return;
  const hi = rd16(8);
  if (faulted) return;
  oS = hi >> 15;
  oE = <i32>(hi & 0x7fff);
  oM = lo;
  loadPush(false); // no conversion: an SNaN is loaded as it is, without IE
}
export function fildM64(): void {
  const v = rd64(0);
  if (faulted) return;
  loadInt(<i64>v);
  oS = rS;
  oE = rE;
  oM = rM;
  loadPush(false);
}
export function fbld(): void {
  const lo = rd64(0);
  if (faulted) return;
  const hi = rd16(8);
  if (faulted) return;
  loadBcd(lo, hi);
  oS = rS;
  oE = rE;
  oM = rM;
  loadPush(false);
}
/** FLD ST(i). */
export function fldST(i: u32): void {
  if (!isEmpty(7)) {
    if (stackOverflow()) push(1, EXP_MAX, INDEF_M);
    return;
  }
  if (isEmpty(i)) {
    if (stackUnderflow()) push(1, EXP_MAX, INDEF_M);
    return;
  }
  sourceFromST(i);
  push(oS, oE, oM);
  setC1(false);
}

/** The constants of FLD1 ... FLDZ (index 0-6), rounded per RC (SDM vol. 1, 8.3.8). */
export function fldConst(k: u32): void {
  let e: i32 = 0;
  let m: u64 = 0;
  const rc = roundingMode();
  const downOrChop = rc == 1 || rc == 3;
  switch (k) {
    case 0:
      e = 0x3fff;
      m = J;
      break;
    case 1: // log2(10): the nearest value is below the true one
      e = 0x4000;
      m = 0xd49a784bcd1b8afe + (rc == 2 ? 1 : 0);
      break;
    case 2: // log2(e)
      e = 0x3fff;
      m = 0xb8aa3b295c17f0bc - (downOrChop ? 1 : 0);
      break;
    case 3: // pi
      e = 0x4000;
      m = 0xc90fdaa22168c235 - (downOrChop ? 1 : 0);
      break;
    case 4: // log10(2)
      e = 0x3ffd;
      m = 0x9a209a84fbcff799 - (downOrChop ? 1 : 0);
      break;
    case 5: // ln(2)
      e = 0x3ffe;
      m = 0xb17217f7d1cf79ac - (downOrChop ? 1 : 0);
      break;
    default:
      break;
  }
  oS = 0;
  oE = e;
  oM = m;
  loadPush(false);
}

// ---- stores ---------------------------------------------------------------------------------------

/** FST/FSTP m32fp (kind 0), m64fp (2), m80fp (4); FIST(P) m16 (3), m32 (1), m64 (5); FBSTP (6). */
export function storeMem(kind: u32, popAfter: bool): void {
  if (isEmpty(0)) {
    // Masked stack underflow stores the indefinite of the format (SDM vol. 1, 8.5.1.2).
    if (masked(FE_IE)) {
      if (kind == 0) wr32(0, 0xffc00000);
      else if (kind == 2) wr64(0, 0xfff8000000000000);
      else if (kind == 4) wr80(0, INDEF_M, 0xffff);
      else if (kind == 3) wr16(0, 0x8000);
      else if (kind == 1) wr32(0, 0x80000000);
      else if (kind == 5) wr64(0, 0x8000000000000000);
      else wr80(0, 0xc000000000000000, 0xffff);
      if (faulted) return;
    }
    if (stackUnderflow() && popAfter) pop();
    return;
  }
  const s = stS(0);
  const e = stE(0);
  const m = stM(0);
  if (kind == 4) {
    wr80(0, m, (s << 15) | <u32>e);
    if (faulted) return;
    setC1(false);
    if (popAfter) pop();
    return;
  }
  if (kind == 0) storeF32(s, e, m);
  else if (kind == 2) storeF64(s, e, m);
  else if (kind == 6) storeBcd(s, e, m);
  else storeInt(s, e, m, kind == 3 ? 16 : kind == 1 ? 32 : 64);
  // Unmasked IE, or unmasked OE/UE to memory: nothing is stored and nothing popped.
  const f = fexc & (FE_IE | FE_DE | FE_OE | FE_UE);
  if ((f & ~cw()) != 0) {
    signal(fexc & (FE_IE | FE_DE | FE_OE | FE_UE | FE_SF));
    return;
  }
  const v = out64;
  if (kind == 0 || kind == 1) wr32(0, <u32>v);
  else if (kind == 3) wr16(0, <u32>v);
  else if (kind == 6) wr80(0, v, outBcdHi);
  else wr64(0, v);
  if (faulted) return;
  setC1(roundedUp);
  signal(fexc);
  if (popAfter) pop();
}

/** FST/FSTP ST(i): a copy, no rounding. */
export function fstST(i: u32, popAfter: bool): void {
  if (isEmpty(0)) {
    if (stackUnderflow()) {
      setIndefiniteST(i);
      if (popAfter) pop();
    }
    return;
  }
  copyST(i, 0);
  setC1(false);
  if (popAfter) pop();
}

/** FXCH ST(i). */
export function fxch(i: u32): void {
  if (isEmpty(0) || isEmpty(i)) {
    if (!stackUnderflow()) return;
    if (isEmpty(0)) setIndefiniteST(0);
    if (isEmpty(i)) setIndefiniteST(i);
  } else setC1(false);
  const s = stS(0);
  const e = stE(0);
  const m = stM(0);
  copyST(0, i);
  setST(i, s, e, m);
}

// ---- one-operand functions ------------------------------------------------------------------------

/** FCHS (neg) / FABS. */
export function signOp(abs: bool): void {
  if (isEmpty(0)) {
    if (stackUnderflow()) setIndefiniteST(0);
    return;
  }
  const s = abs ? 0 : stS(0) ^ 1;
  setST(0, s, stE(0), stM(0));
  setC1(false);
}

/** FTST: ST(0) against +0.0. */
export function ftst(): void {
  oS = 0;
  oE = 0;
  oM = 0;
  compare(false, false, 0);
}

/** FXAM: class of ST(0) in C3 C2 C0, sign in C1 (SDM vol. 2, FXAM table). */
export function fxam(): void {
  const e = stE(0);
  const m = stM(0);
  let cc: u32;
  if (isEmpty(0)) cc = SW_C3 | SW_C0;
  else if (e == 0) cc = m == 0 ? SW_C3 : SW_C3 | SW_C2;
  else if ((m & J) == 0) cc = 0; // unsupported
  else if (e == EXP_MAX) cc = m == J ? SW_C2 | SW_C0 : SW_C0;
  else cc = SW_C2;
  if (stS(0) != 0) cc |= SW_C1;
  setCC(cc);
}

// ---- stack and control --------------------------------------------------------------------------

export function fincstp(): void {
  setTop(top() + 1);
  setC1(false);
}
export function fdecstp(): void {
  setTop(top() - 1);
  setC1(false);
}
export function ffree(i: u32, popAfter: bool): void {
  setPhysTag(phys(i), TAG_EMPTY);
  if (popAfter) pop();
}

/** FNCLEX: clears the exception flags, SF, ES and B. */
export function fnclex(): void {
  setSwRaw(swRaw() & ~(0xff | SW_B));
}

/** Loads the control word (bit 6 reads as 1; SDM vol. 1, 8.1.5), then re-derives ES and B. */
export function loadControlWord(v: u32): void {
  store<u32>(S_FPU_CW, (v & 0x1f3f) | 0x40);
  updateSummary();
}
/** ES and B follow "some flag is set whose exception is unmasked". */
export function updateSummary(): void {
  const sw = swRaw();
  if ((sw & ~cw() & 0x3f) != 0) setSwRaw(sw | SW_ES | SW_B);
  else setSwRaw(sw & ~(SW_ES | SW_B));
}



/** FNSTCW's value. */
export function fnstcwValue(): u32 {
  return cw();
}
