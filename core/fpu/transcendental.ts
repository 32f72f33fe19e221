// The transcendental instructions: FSIN, FCOS, FSINCOS, FPTAN, FPATAN, F2XM1, FYL2X, FYL2XP1
// (SDM vol. 2). PRECISION: these are computed through f64 (53-bit significands) with the host's
// Math functions, then widened to 80 bits; the last 11 bits of the significand are therefore not
// those of the hardware, and large arguments of FSIN/FCOS/FPTAN are reduced exactly rather than
// with the x87's 66-bit pi. Special operands (NaN, infinity, zero, out of range, empty registers)
// follow the SDM exactly. Multiplications by ST(1) (FYL2X, FYL2XP1) are done in 80 bits.

import { unarySpecial } from "./functions";
import { fromF64, toF64 } from "./convert";
import { deliver, preUnmasked } from "./exec";
import {
  BIAS,
  EXP_MAX,
  FE_DE,
  FE_IE,
  FE_PE,
  FE_ZE,
  fexc,
  roundingMode,
  setRoundingMode,
  setRoundedUp,
  fmul,
  fadd,
  fdiv,
  clearFlags,
  FE_UE,
  INDEF_M,
  isDenormal80,
  isInf80,
  isNaN80,
  isUnsupported80,
  J,
  normalized,
  propagateNaN,
  raiseFlags,
  rE,
  rM,
  roundPackReg,
  rS,
  setIndefinite,
  setResult,
} from "./float80";
import {
  isEmpty,
  pop,
  push,
  setC1,
  setIndefiniteST,
  setST,
  SW_C2,
  setSwRaw,
  signal,
  stackOverflow,
  stackUnderflow,
  stE,
  stM,
  stS,
  swRaw,
} from "./regs";

@inline function setC2(on: bool): void {
  setSwRaw(on ? swRaw() | SW_C2 : swRaw() & ~SW_C2);
}

/** Converts an f64 result to 80 bits (rounded to 64 bits; PE since the value is approximate). */
function result(x: f64, exact: bool): void {
  fromF64(x);
  if (!exact) raiseFlags(FE_PE);
  if (rM != 0 && rE != EXP_MAX && rE != 0) roundPackReg(rS, rE, rM, 0);
}

/** |ST(0)| >= 2^63 (or infinite): the trigonometric functions' range (C2). */
function outOfRange(): bool {
  return stE(0) >= BIAS + 63;
}

/**
 * sin (which 0), cos (1) or tan (2) of a finite x with |x| < 2^63, into rS/rE/rM. Tiny arguments
 * use the series in 80-bit arithmetic (so that the result rounds like the hardware's); the rest
 * goes through f64 with a first-order correction for the bits of x that an f64 cannot hold.
 */
function evalTrig(which: u32, s: u32, e: i32, m: u64): void {
  if (m == 0) {
    if (which == 1) setResult(0, BIAS, J);
    else setResult(s, 0, 0);
    return;
  }
  const sav = fexc;
  if (e < BIAS - 32) {
    // the correction term is computed rounding to nearest; only the final step uses RC
    const rc = roundingMode();
    setRoundingMode(0);
    fmul(s, e, m, s, e, m);
    const x2s = rS;
    const x2e = rE;
    const x2m = rM;
    if (which == 1) {
      setRoundingMode(rc);
      if (x2m == 0) nudge(0, BIAS, J, true); // x^2 underflowed: 1 - (something tiny)
      else fadd(0, BIAS, J, x2s, x2e > 1 ? x2e - 1 : x2e, x2m, true); // 1 - x^2/2
    } else {
      fmul(x2s, x2e, x2m, s, e, m);
      const x3s = rS;
      const x3e = rE;
      const x3m = rM;
      fdiv(x3s, x3e, x3m, 0, BIAS + (which == 0 ? 2 : 1), 0xc000000000000000);
      setRoundingMode(rc);
      // The correction underflowed: x moved by direction (sin(x) below x, tan(x) above). The
      // hardware's FPTAN of denormals is not consistent about this last ulp.
      if (rM == 0) nudge(s, e, m, which == 0);
      else fadd(s, e, m, rS, rE, rM, which == 0); // x -+ x^3/6 (sin) or x^3/3 (tan)
    }
    const tiny = rE == 0;
    clearFlags();
    raiseFlags(sav | FE_PE | (tiny ? FE_UE : 0));
    return;
  }
  if (e >= BIAS - 1) {
    reducedTrig(which, s, e, m);
    clearFlags();
    raiseFlags(sav);
    result(redValue, false);
    return;
  }
  const xh = toF64(s, e, m);
  fromF64(xh);
  fadd(s, e, m, rS, rE, rM, true);
  const xl = toF64(rS, rE, rM);
  clearFlags();
  raiseFlags(sav);
  // x = xh + xl exactly: the addition formulas (xl may be large when |x| > 2^53)
  const sh = Math.sin(xh);
  const ch = Math.cos(xh);
  const sl = Math.sin(xl);
  const cl = Math.cos(xl);
  const sn = sh * cl + ch * sl;
  const cs = ch * cl - sh * sl;
  const r = which == 0 ? sn : which == 1 ? cs : sn / cs;
  result(r, false);
}

let redValue: f64 = 0;

/**
 * The value x - tiny (below = true) or x + tiny in magnitude, the tiny amount far under half an
 * ulp: x itself unless the rounding control rounds in that direction, then x moved by one ulp.
 */
function nudge(s: u32, e: i32, m: u64, below: bool): void {
  if (e == 0 && (m & J) != 0) e = 1; // a pseudo-denormal is the normal with exponent 1
  const rc = roundingMode();
  const move = below ? rc == 3 || (rc == 1 && s == 0) || (rc == 2 && s != 0) : (rc == 2 && s == 0) || (rc == 1 && s != 0);
  if (move) {
    if (below) {
      if (e == 0) m -= 1;
      else if (m == J) {
        e -= 1;
        m = e == 0 ? 0x7fffffffffffffff : 0xffffffffffffffff;
      } else m -= 1;
    } else {
      m += 1;
      if (m == 0) {
        m = J;
        e += 1;
      } else if (e == 0 && (m & J) != 0) e = 1;
    }
  }
  setResult(s, e, m);
  setRoundedUp(below ? !move : move);
}

/**
 * |x| >= 1/2: reduction modulo the x87's own pi/2, a 66-bit approximation (C90FDAA2 2168C234 and
 * binary 11), exactly in integer arithmetic, so that large arguments carry the same reduction
 * error as on the hardware; then sin/cos of the remainder in f64 (split into two exact parts).
 */
function reducedTrig(which: u32, s: u32, e: i32, m: u64): void {
  normalized(0, e, m);
  const ue = rE - BIAS; // |x| = M * 2^(ue - 63) = (M * 2^(ue + 2)) * 2^-65
  const PH: u64 = 3;
  const PL: u64 = 0x243f6a8885a308d3; // 66-bit pi/2 * 2^65
  let rh: u64 = 0;
  let rl: u64 = rM;
  let q: u32 = 0;
  const n = ue + 2;
  for (let i = 0; i < n; i++) {
    rh = (rh << 1) | (rl >> 63);
    rl <<= 1;
    q = (q << 1) & 3;
    if (rh > PH || (rh == PH && rl >= PL)) {
      const borrow: u64 = rl < PL ? 1 : 0;
      rl -= PL;
      rh = rh - PH - borrow;
      q |= 1;
    }
  }
  // remainder t = r * 2^-65 in [0, pi/2): r has up to 66 bits; split 53 + 13 bits
  const a = (rh << 51) | (rl >> 13);
  const b = rl & 0x1fff;
  const th = <f64>a * 2.220446049250313e-16; // 2^-52
  const tl = <f64>b * 2.710505431213761e-20; // 2^-65
  const st = Math.sin(th) * Math.cos(tl) + Math.cos(th) * Math.sin(tl);
  const ct = Math.cos(th) * Math.cos(tl) - Math.sin(th) * Math.sin(tl);
  let sn: f64;
  let cs: f64;
  if (q == 0) {
    sn = st;
    cs = ct;
  } else if (q == 1) {
    sn = ct;
    cs = -st;
  } else if (q == 2) {
    sn = -st;
    cs = -ct;
  } else {
    sn = -ct;
    cs = st;
  }
  if (s != 0) sn = -sn;
  redValue = which == 0 ? sn : which == 1 ? cs : sn / cs;
}

/** kind 0 FSIN, 1 FCOS, 2 FSINCOS, 3 FPTAN. */
export function trig(kind: u32): void {
  const pushes = kind >= 2;
  if (pushes && !isEmpty(7)) {
    // The second result has nowhere to go.
    if (stackOverflow()) {
      setIndefiniteST(0);
      push(1, EXP_MAX, INDEF_M);
    }
    return;
  }
  if (isEmpty(0)) {
    if (stackUnderflow()) {
      setIndefiniteST(0);
      if (pushes) push(1, EXP_MAX, INDEF_M);
    }
    return;
  }
  const s = stS(0);
  const e = stE(0);
  const m = stM(0);
  if (isInf80(e, m) || isUnsupported80(e, m)) {
    raiseFlags(FE_IE);
    setIndefinite();
  } else if (isNaN80(e, m)) {
    propagateNaN(s, e, m, s, e, m);
  } else if (outOfRange()) {
    setC2(true);
    setC1(false);
    return;
  }
  if (isDenormal80(e, m)) raiseFlags(FE_DE);
  let r1s: u32 = 0; // ST(0) result (FSIN/FCOS) or the one that stays in place (FSINCOS: sin; FPTAN: tan)
  let r1e: i32 = 0;
  let r1m: u64 = 0;
  let r2s: u32 = 0; // pushed result (FSINCOS: cos; FPTAN: 1.0)
  let r2e: i32 = 0;
  let r2m: u64 = 0;
  let up1: bool = false;
  if (e == EXP_MAX || isUnsupported80(e, m)) {
    r1s = rS;
    r1e = rE;
    r1m = rM;
    r2s = rS;
    r2e = rE;
    r2m = rM;
  } else {
    evalTrig(kind == 1 ? 1 : kind == 3 ? 2 : 0, s, e, m);
    r1s = rS;
    r1e = rE;
    r1m = rM;
    if (kind == 2) {
      evalTrig(1, s, e, m);
      r2s = rS;
      r2e = rE;
      r2m = rM;
    } else if (kind == 3) {
      r2s = 0;
      r2e = BIAS;
      r2m = J;
    }
    up1 = false;
  }
  if (preUnmasked()) return;
  setST(0, r1s, r1e, r1m);
  if (pushes) push(r2s, r2e, r2m);
  setC2(false);
  setC1(up1);
  signal(fexc);
}

/** F2XM1: 2^ST(0) - 1. */
export function f2xm1(): void {
  if (unarySpecial()) return;
  const s = stS(0);
  const e = stE(0);
  const m = stM(0);
  if (isInf80(e, m)) {
    if (s != 0) setResult(1, BIAS, J);
    else setResult(0, EXP_MAX, J);
  } else if (m == 0) setResult(s, 0, 0);
  else if (e >= BIAS && !(e == BIAS && m == J)) {
    // |x| > 1: undefined by the SDM; the hardware we compared against leaves x (with PE)
    setResult(s, e, m);
    raiseFlags(FE_PE);
  } else if (e < BIAS - 60) fmul(s, e, m, 0, 0x3ffe, 0xb17217f7d1cf79ac); // x * ln 2
  else result(Math.expm1(toF64(s, e, m) * Math.LN2), false);
  deliver(0);
}

/** log2 of a positive finite nonzero value, computed from its exponent and significand. */
function log2Of(e: i32, m: u64): f64 {
  normalized(0, e, m);
  const ue = rE - BIAS;
  const frac = <f64>(rM >> 11) / 4503599627370496.0; // [1, 2)
  return <f64>ue + Math.log2(frac);
}

/** FYL2X (plus1 = false): ST(1) * log2(ST(0)), pop; FYL2XP1: ST(1) * log2(ST(0) + 1), pop. */
export function fyl2x(plus1: bool): void {
  if (isEmpty(0) || isEmpty(1)) {
    if (stackUnderflow()) {
      setIndefiniteST(1);
      pop();
    }
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
    const den = isDenormal80(e, m) || isDenormal80(e1, m1);
    // l = log2(x) (or log2(1+x)) as an f64, special values included
    let l: f64;
    let exactZero = false;
    if (plus1) {
      const x = toF64(s, e, m);
      if (x < -1.0 && !isInf80(e, m)) {
        // outside the domain (undefined by the SDM): the hardware we compared against returns x,
        // or acts as if log2(1 + x) were negative when ST(1) is a zero or an infinity
        if (isDenormal80(e1, m1)) raiseFlags(FE_DE);
        if (m1 == 0 || isInf80(e1, m1)) setResult(s1 ^ 1, e1, m1);
        else {
          setResult(s, e, m);
          raiseFlags(FE_PE);
        }
        if (deliver(1)) pop();
        return;
      }
      if (x < -1.0) l = NaN;
      else if (m == 0) {
        l = s != 0 ? -0.0 : 0.0;
        exactZero = true;
      } else if (isInf80(e, m)) l = Infinity;
      else if (e < BIAS - 60) {
        // log2(1 + x) = x * log2(e) to 80 bits for tiny x; then times ST(1)
        // (ST(1) * log2(e)) * x: x may be denormal, so it goes last and the product rounds once
        // (unless ST(1) is near the top of the range)
        const sav = fexc;
        const yFirst = e1 < 0x7ffd && e1 != 0;
        if (yFirst) fmul(s1, e1, m1, 0, 0x3fff, 0xb8aa3b295c17f0bc);
        else fmul(s, e, m, 0, 0x3fff, 0xb8aa3b295c17f0bc);
        const ts = rS;
        const te = rE;
        const tm = rM;
        clearFlags();
        if (yFirst) fmul(ts, te, tm, s, e, m);
        else fmul(s1, e1, m1, ts, te, tm);
        raiseFlags(sav | (den ? FE_DE : 0));
        if (rE != EXP_MAX && rM != 0) raiseFlags(FE_PE);
        if (deliver(1)) pop();
        return;
      } else if (s == 0 && e >= BIAS + 60) l = log2Of(e, m); // 1 + x = x to f64 precision
      else l = Math.log1p(x) / Math.LN2;
    } else if (m == 0) l = -Infinity;
    else if (s != 0) l = NaN;
    else if (isInf80(e, m)) l = Infinity;
    else if (e == 0x3fff && m == J) {
      l = 0;
      exactZero = true;
    } else l = log2Of(e, m);
    if (den && !isNaN(l) && (plus1 || m != 0)) raiseFlags(FE_DE); // log2(0): ZE without DE
    if (isNaN(l)) {
      raiseFlags(FE_IE);
      setIndefinite();
    } else if (!isFinite(l) && m1 == 0) {
      raiseFlags(FE_IE); // 0 * inf
      setIndefinite();
    } else if (l == 0 && isInf80(e1, m1)) {
      raiseFlags(FE_IE); // inf * 0
      setIndefinite();
    } else {
      if (!plus1 && m == 0) {
        // log2(0) = -inf: ST(1) * -inf, with ZE (and no DE) for a finite ST(1)
        if (!isInf80(e1, m1)) raiseFlags(FE_ZE);
        setResult(s1 ^ 1, EXP_MAX, J);
        if (deliver(1)) pop();
        return;
      }
      const sav = fexc;
      fromF64(l);
      const ls = rS;
      const le = rE;
      const lm = rM;
      fmul(s1, e1, m1, ls, le, lm);
      raiseFlags(sav);
      if (!exactZero && isFinite(l) && rE != EXP_MAX && rM != 0) raiseFlags(rE == 0 ? FE_PE | FE_UE : FE_PE);
    }
  }
  if (deliver(1)) pop();
}

/** FPATAN: ST(1) = atan2(ST(1), ST(0)), pop. */
export function fpatan(): void {
  if (isEmpty(0) || isEmpty(1)) {
    if (stackUnderflow()) {
      setIndefiniteST(1);
      pop();
    }
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
    // Scale both by the same power of two so that they fit an f64 (atan2 only sees the ratio).
    let shift: i32 = 0;
    let ne: i32 = e;
    let ne1: i32 = e1;
    if (e != EXP_MAX && m != 0) {
      normalized(0, e, m);
      ne = rE;
    }
    if (e1 != EXP_MAX && m1 != 0) {
      normalized(0, e1, m1);
      ne1 = rE;
    }
    if (m == 0 || e == EXP_MAX) ne = ne1;
    if (m1 == 0 || e1 == EXP_MAX) ne1 = ne;
    if (e != EXP_MAX && e1 != EXP_MAX && m != 0 && m1 != 0 && s == 0 && ne1 - ne < -60) {
      // |y| << x: atan(y/x) = y/x to 80 bits
      fdiv(s1, e1, m1, s, e, m);
      raiseFlags(FE_PE);
      if (deliver(1)) pop();
      return;
    }
    const big = ne > ne1 ? ne : ne1;
    if (big != EXP_MAX && (big > BIAS + 1000 || big < BIAS - 1000)) shift = big - BIAS;
    let x: f64;
    let y: f64;
    if (e == EXP_MAX) x = s != 0 ? -Infinity : Infinity;
    else x = scaledF64(s, e, m, shift);
    if (e1 == EXP_MAX) y = s1 != 0 ? -Infinity : Infinity;
    else y = scaledF64(s1, e1, m1, shift);
    const r = Math.atan2(y, x);
    if (!piMultiple(r)) result(r, r == 0);
  }
  if (deliver(1)) pop();
}

/**
 * Exact results of FPATAN that are multiples of pi (pi, pi/2, pi/4, 3pi/4 from zeros and
 * infinities): the 80-bit constant rounded per RC instead of the f64 value. False otherwise.
 */
function piMultiple(r: f64): bool {
  const a = Math.abs(r);
  let e: i32;
  let m: u64;
  let roundBitsUp: bool; // the discarded bits are above one half
  if (a == Math.PI || a == Math.PI / 2 || a == Math.PI / 4) {
    e = a == Math.PI ? BIAS + 1 : a == Math.PI / 2 ? BIAS : BIAS - 1;
    m = 0xc90fdaa22168c234; // pi = C90FDAA2 2168C234 C4C6...
    roundBitsUp = true;
  } else if (a == (3 * Math.PI) / 4) {
    e = BIAS + 1;
    m = 0x96cbe3f9990e91a7; // 3pi/4 = 96CBE3F9 990E91A7 9394...
    roundBitsUp = true;
  } else return false;
  const neg = r < 0;
  const rc = roundingMode();
  let up = false;
  if (rc == 0) up = roundBitsUp;
  else if (rc == 1) up = neg;
  else if (rc == 2) up = !neg;
  if (up) m += 1;
  setResult(neg ? 1 : 0, e, m);
  raiseFlags(FE_PE);
  setRoundedUp(up);
  return true;
}

function scaledF64(s: u32, e: i32, m: u64, shift: i32): f64 {
  if (m == 0) return s != 0 ? -0.0 : 0.0;
  normalized(s, e, m);
  const ue = rE - BIAS - shift;
  const frac = <f64>(rM >> 11) / 4503599627370496.0;
  const v = frac * Math.pow(2.0, <f64>ue);
  return s != 0 ? -v : v;
}
