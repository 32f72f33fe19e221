// One- and two-operand x87 functions computed exactly: FSQRT, FSCALE, FXTRACT, FRNDINT,
// FPREM, FPREM1 (SDM vol. 2, the respective pages).

import {
  BIAS,
  EXP_MAX,
  FE_DE,
  FE_IE,
  FE_ZE,
  fremainder,
  fsqrt as softSqrt,
  isDenormal80,
  isInf80,
  isNaN80,
  isUnsupported80,
  J,
  normalized,
  propagateNaN,
  raiseFlags,
  rE,
  remPartial,
  remQuot,
  rM,
  roundPackReg,
  roundToIntegral,
  rS,
  setIndefinite,
  setResult,
  fromInt,
  fexc,
} from "./float80";
import { deliver, preUnmasked } from "./exec";
import {
  isEmpty,
  push,
  setCC,
  setIndefiniteST,
  setST,
  signal,
  stackOverflow,
  stackUnderflow,
  stE,
  stM,
  stS,
  SW_C0,
  SW_C1,
  SW_C2,
  SW_C3,
} from "./regs";

/**
 * A one-operand function's common cases (also the transcendentals'): empty ST(0), NaN,
 * unsupported format, denormal flag. True when the instruction is finished.
 */
export function unarySpecial(): bool {
  if (isEmpty(0)) {
    if (stackUnderflow()) setIndefiniteST(0);
    return true;
  }
  const s = stS(0);
  const e = stE(0);
  const m = stM(0);
  if (isUnsupported80(e, m)) {
    raiseFlags(FE_IE);
    setIndefinite();
    deliver(0);
    return true;
  }
  if (isNaN80(e, m)) {
    propagateNaN(s, e, m, s, e, m);
    deliver(0);
    return true;
  }
  if (isDenormal80(e, m)) raiseFlags(FE_DE);
  return false;
}

export function fsqrt(): void {
  if (isEmpty(0)) {
    if (stackUnderflow()) setIndefiniteST(0);
    return;
  }
  softSqrt(stS(0), stE(0), stM(0));
  deliver(0);
}

export function frndint(): void {
  if (unarySpecial()) return;
  const s = stS(0);
  const e = stE(0);
  const m = stM(0);
  if (e == EXP_MAX || m == 0) setResult(s, e, m);
  else roundToIntegral(s, e, m);
  deliver(0);
}

/** FSCALE: ST(0) * 2^trunc(ST(1)). */
export function fscale(): void {
  if (isEmpty(0) || isEmpty(1)) {
    if (stackUnderflow()) setIndefiniteST(0);
    return;
  }
  const s = stS(0);
  const e = stE(0);
  const m = stM(0);
  const s1 = stS(1);
  const e1 = stE(1);
  const m1 = stM(1);
  if (isUnsupported80(e, m) || isUnsupported80(e1, m1)) {
    raiseFlags(FE_IE);
    setIndefinite();
  } else if (isNaN80(e, m) || isNaN80(e1, m1)) {
    propagateNaN(s, e, m, s1, e1, m1);
  } else {
    if (isDenormal80(e, m) || isDenormal80(e1, m1)) raiseFlags(FE_DE);
    if (isInf80(e1, m1)) {
      if (s1 == 0) {
        if (m == 0) {
          raiseFlags(FE_IE);
          setIndefinite();
        } else setResult(s, EXP_MAX, J);
      } else {
        if (isInf80(e, m)) {
          raiseFlags(FE_IE);
          setIndefinite();
        } else setResult(s, 0, 0);
      }
    } else if (isInf80(e, m) || m == 0) {
      setResult(s, e, m);
    } else {
      // n = trunc(ST(1)), clamped far beyond the exponent range
      let n: i32 = 0;
      if (m1 != 0) {
        normalized(s1, e1, m1);
        const ue = rE - BIAS;
        if (ue >= 0) n = ue >= 20 ? 1 << 20 : <i32>(rM >> (<u64>(63 - ue)));
        if (s1 != 0) n = -n;
      }
      normalized(s, e, m);
      roundPackReg(s, rE + n, rM, 0);
    }
  }
  deliver(0);
}

/** FXTRACT: ST(0) = exponent, then push the significand. */
export function fxtract(): void {
  if (isEmpty(0)) {
    if (stackUnderflow()) {
      setIndefiniteST(0);
      if (isEmpty(7)) push(1, EXP_MAX, 0xc000000000000000);
    }
    return;
  }
  if (!isEmpty(7)) {
    if (stackOverflow()) {
      setIndefiniteST(0);
      push(1, EXP_MAX, 0xc000000000000000);
    }
    return;
  }
  const s = stS(0);
  const e = stE(0);
  const m = stM(0);
  let xs: u32 = 0;
  let xe: i32 = 0;
  let xm: u64 = 0;
  if (isUnsupported80(e, m)) {
    raiseFlags(FE_IE);
    setIndefinite();
    xs = rS;
    xe = rE;
    xm = rM;
  } else if (isNaN80(e, m)) {
    propagateNaN(s, e, m, s, e, m);
    xs = rS;
    xe = rE;
    xm = rM;
  } else if (m == 0) {
    // zero: divide-by-zero, exponent -inf, significand the zero
    raiseFlags(FE_ZE);
    xs = 1;
    xe = EXP_MAX;
    xm = J;
    setResult(s, 0, 0);
  } else if (isInf80(e, m)) {
    xs = 0;
    xe = EXP_MAX;
    xm = J;
    setResult(s, EXP_MAX, J);
  } else {
    if (isDenormal80(e, m)) raiseFlags(FE_DE);
    normalized(s, e, m);
    const ue = rE - BIAS;
    const sig = rM;
    fromInt(ue < 0, <u64>(ue < 0 ? -ue : ue));
    xs = rS;
    xe = rE;
    xm = rM;
    setResult(s, BIAS, sig);
  }
  if (preUnmasked()) return;
  const sigS = rS;
  const sigE = rE;
  const sigM = rM;
  setST(0, xs, xe, xm);
  push(sigS, sigE, sigM);
  signal(fexc);
}

/** FPREM (nearest = false) and FPREM1: C2 = incomplete, C0 C3 C1 = Q2 Q1 Q0. */
export function fprem(nearest: bool): void {
  if (isEmpty(0) || isEmpty(1)) {
    if (stackUnderflow()) setIndefiniteST(0);
    return;
  }
  const s = stS(0);
  const e = stE(0);
  const m = stM(0);
  const e1 = stE(1);
  const m1 = stM(1);
  let q: u32 = 0;
  let partial = false;
  if (isUnsupported80(e, m) || isUnsupported80(e1, m1)) {
    raiseFlags(FE_IE);
    setIndefinite();
  } else if (isNaN80(e, m) || isNaN80(e1, m1)) {
    propagateNaN(s, e, m, stS(1), e1, m1);
  } else if (isInf80(e, m) || m1 == 0) {
    raiseFlags(FE_IE); // without DE (observed on hardware)
    setIndefinite();
  } else {
    if (isDenormal80(e, m) || isDenormal80(e1, m1)) raiseFlags(FE_DE);
    if (m == 0 || isInf80(e1, m1)) setResult(s, e, m);
    else {
      fremainder(s, e, m, e1, m1, nearest);
      q = remQuot;
      partial = remPartial;
    }
  }
  if (preUnmasked()) return;
  setST(0, rS, rE, rM);
  let cc: u32 = 0;
  if (partial) cc = SW_C2;
  else {
    if ((q & 4) != 0) cc |= SW_C0;
    if ((q & 2) != 0) cc |= SW_C3;
    if ((q & 1) != 0) cc |= SW_C1;
  }
  setCC(cc);
  signal(fexc);
}
