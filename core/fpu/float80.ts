// Software floating point on the x87's 80-bit format: sign, 15-bit biased exponent, 64-bit
// significand with an explicit integer bit (SDM vol. 1, 4.2.2 and 8.2). Addition, subtraction,
// multiplication, division and square root are exact to 80 bits and rounded once, to the
// precision control (24/53/64 bits) and rounding control of the control word (SDM vol. 1,
// 8.1.5.2-8.1.5.3, 4.8.4), as the hardware does. No allocation: results come back in rS/rE/rM
// and the exceptions raised in fexc.

// Exception flags, as in the status word (SDM vol. 1, 8.1.3).
export const FE_IE: u32 = 0x01;
export const FE_DE: u32 = 0x02;
export const FE_ZE: u32 = 0x04;
export const FE_OE: u32 = 0x08;
export const FE_UE: u32 = 0x10;
export const FE_PE: u32 = 0x20;
export const FE_SF: u32 = 0x40;

export const EXP_MAX: i32 = 0x7fff;
export const BIAS: i32 = 16383;
export const J: u64 = 0x8000000000000000;
/** The "real indefinite" QNaN (SDM vol. 1, 4.8.3.7). */
export const INDEF_M: u64 = 0xc000000000000000;

// Exponent ranges of the destination formats in the 80-bit bias (normal numbers).
export const EXT_EMIN: i32 = 1;
export const EXT_EMAX: i32 = 0x7ffe;
export const DBL_EMIN: i32 = BIAS - 1022;
export const DBL_EMAX: i32 = BIAS + 1023;
export const SGL_EMIN: i32 = BIAS - 126;
export const SGL_EMAX: i32 = BIAS + 127;

/** Result of the last operation: sign (0/1), exponent field, significand. */
export let rS: u32 = 0;
export let rE: i32 = 0;
export let rM: u64 = 0;
/** Exceptions raised by the current instruction (FE_*). */
export let fexc: u32 = 0;
/** The last rounding increased the magnitude (C1, SDM vol. 1, 8.1.3.3). */
export let roundedUp: bool = false;

let precBits: i32 = 64;
let rmode: u32 = 0; // 0 nearest, 1 down, 2 up, 3 toward zero
let maskU: bool = true;
let maskO: bool = true;

/** Starts an operation under control word `cw`. */
export function beginOp(cw: u32): void {
  fexc = 0;
  roundedUp = false;
  const pc = (cw >> 8) & 3;
  precBits = pc == 0 ? 24 : pc == 2 ? 53 : 64; // 01 is reserved; treated as 64
  rmode = (cw >> 10) & 3;
  maskU = (cw & FE_UE) != 0;
  maskO = (cw & FE_OE) != 0;
}
/** Overrides the precision (stores to memory round to the destination format instead). */
export function setPrecision(bits: i32): void {
  precBits = bits;
}
export function getPrecision(): i32 {
  return precBits;
}
export function setRoundingMode(m: u32): void {
  rmode = m & 3;
}
@inline export function roundingMode(): u32 {
  return rmode;
}
@inline export function raiseFlags(f: u32): void {
  fexc |= f;
}
export function dropFlags(f: u32): void {
  fexc &= ~f;
}
export function clearFlags(): void {
  fexc = 0;
  roundedUp = false;
}
export function setResult(s: u32, e: i32, m: u64): void {
  rS = s;
  rE = e;
  rM = m;
}
export function setRoundedUp(v: bool): void {
  roundedUp = v;
}

// ---- classification of 80-bit values (SDM vol. 1, 8.2.2 "Unsupported Double Extended-Precision
// Floating-Point Encodings") ------------------------------------------------------------------

@inline export function isNaN80(e: i32, m: u64): bool {
  return e == EXP_MAX && (m & J) != 0 && (m << 1) != 0;
}
@inline export function isSNaN80(e: i32, m: u64): bool {
  return isNaN80(e, m) && (m & 0x4000000000000000) == 0;
}
@inline export function isInf80(e: i32, m: u64): bool {
  return e == EXP_MAX && m == J;
}
/** Unnormals, pseudo-NaNs, pseudo-infinities: invalid operands since the 80387. */
@inline export function isUnsupported80(e: i32, m: u64): bool {
  return e != 0 && (m & J) == 0;
}
@inline export function isZero80(e: i32, m: u64): bool {
  return e == 0 && m == 0;
}
/** Denormals and pseudo-denormals (exponent 0, significand not 0). */
@inline export function isDenormal80(e: i32, m: u64): bool {
  return e == 0 && m != 0;
}

export function setIndefinite(): void {
  rS = 1;
  rE = EXP_MAX;
  rM = INDEF_M;
}
function invalid(): void {
  fexc |= FE_IE;
  setIndefinite();
}

/**
 * NaN result of an operation with one or two NaN operands (SDM vol. 1, 4.8.3.5 and table 4-7):
 * SNaNs are quieted (and raise IE); of two NaNs the QNaN wins over the SNaN, else the larger
 * significand, and of equal significands the positive one.
 */
export function propagateNaN(aS: u32, aE: i32, aM: u64, bS: u32, bE: i32, bM: u64): void {
  const aN = isNaN80(aE, aM);
  const bN = isNaN80(bE, bM);
  const aSig = aN && (aM & 0x4000000000000000) == 0;
  const bSig = bN && (bM & 0x4000000000000000) == 0;
  if (aSig || bSig) fexc |= FE_IE;
  let pickA: bool;
  if (aN && bN) {
    if (aSig != bSig) pickA = bSig;
    else {
      const qa = aM | 0x4000000000000000;
      const qb = bM | 0x4000000000000000;
      pickA = qa > qb || (qa == qb && aS <= bS);
    }
  } else pickA = aN;
  if (pickA) {
    rS = aS;
    rM = aM | 0x4000000000000000;
  } else {
    rS = bS;
    rM = bM | 0x4000000000000000;
  }
  rE = EXP_MAX;
}
function propagateOne(s: u32, m: u64): void {
  if ((m & 0x4000000000000000) == 0) fexc |= FE_IE;
  rS = s;
  rE = EXP_MAX;
  rM = m | 0x4000000000000000;
}

// ---- normalization and rounding ---------------------------------------------------------------

/** Normalized operand (from normalize()): value = nM * 2^(nE - BIAS - 63), nM bit 63 set. */
let nE: i32 = 0;
let nM: u64 = 0;
function normalize(e: i32, m: u64): void {
  if (e == 0) e = 1;
  const z = <i32>clz(m);
  nE = e - z;
  nM = m << (<u64>z);
}

// 128-bit temporaries: the significand being rounded, hi then lo (sticky bits below).
let th: u64 = 0;
let tl: u64 = 0;

/** Shifts th:tl right by n (n >= 1), keeping lost bits as a sticky 1 in the lowest bit. */
function shiftRightJam(n: i32): void {
  if (n <= 0) return;
  if (n >= 128) {
    tl = th != 0 || tl != 0 ? 1 : 0;
    th = 0;
  } else if (n >= 64) {
    const lost = n == 64 ? tl : tl | (th << (<u64>(128 - n)));
    tl = n == 64 ? th : th >> (<u64>(n - 64));
    if (lost != 0) tl |= 1;
    th = 0;
  } else {
    const lost = tl << (<u64>(64 - n));
    tl = (tl >> (<u64>n)) | (th << (<u64>(64 - n)));
    th = th >> (<u64>n);
    if (lost != 0) tl |= 1;
  }
}

/**
 * Rounds th:tl to the top `bits` bits of th under the rounding mode; sets PE and roundedUp.
 * Returns true when rounding carried out of bit 63 (th becomes 0x8000...: exponent + 1).
 */
function roundSig(s: u32, bits: i32): bool {
  let inexact: bool;
  let up: bool = false;
  if (bits == 64) {
    inexact = tl != 0;
    if (inexact) {
      if (rmode == 0) up = (tl > J) || (tl == J && (th & 1) != 0);
      else if (rmode == 1) up = s != 0;
      else if (rmode == 2) up = s == 0;
    }
    if (inexact) fexc |= FE_PE;
    if (up) {
      roundedUp = true;
      th += 1;
      if (th == 0) {
        th = J;
        return true;
      }
    }
    return false;
  }
  const shift = <u64>(64 - bits);
  const mask: u64 = ((<u64>1) << shift) - 1;
  const half: u64 = (<u64>1) << (shift - 1);
  let rb = th & mask;
  if (tl != 0) rb |= 1;
  inexact = rb != 0;
  if (inexact) {
    if (rmode == 0) up = rb > half || (rb == half && ((th >> shift) & 1) != 0);
    else if (rmode == 1) up = s != 0;
    else if (rmode == 2) up = s == 0;
    fexc |= FE_PE;
  }
  th &= ~mask;
  tl = 0;
  if (up) {
    roundedUp = true;
    th += (<u64>1) << shift;
    if (th == 0) {
      th = J;
      return true;
    }
  }
  return false;
}

/** Masked overflow response (SDM vol. 1, 4.9.1.4, table 4-10): infinity or the largest finite. */
function overflowResult(s: u32, bits: i32, emax: i32): void {
  fexc |= FE_OE | FE_PE;
  rS = s;
  const toInf = rmode == 0 || (rmode == 1 && s != 0) || (rmode == 2 && s == 0);
  if (toInf) {
    rE = emax + 1;
    rM = J;
    roundedUp = true;
  } else {
    rE = emax;
    rM = bits == 64 ? 0xffffffffffffffff : ~((((<u64>1) << (<u64>(64 - bits))) - 1));
    roundedUp = false;
  }
}

/**
 * Rounds and packs value = hi:lo * 2^(e - BIAS - 63 - 64*0) (hi bit 63 set unless zero) into a
 * format with `bits` of precision and normal exponents emin..emax (80-bit bias). The result is
 * in rS/rE/rM in the 80-bit bias: rE = emax + 1 means infinity; a denormal result of the format
 * has rE = emin and bit 63 clear. `toReg`: the destination is a register, so unmasked overflow
 * and underflow deliver the result with the exponent wrapped by 24576 (SDM vol. 1, 4.9.1.4-5).
 */
export function roundPack(s: u32, e: i32, hi: u64, lo: u64, bits: i32, emin: i32, emax: i32, toReg: bool): void {
  rS = s;
  if (hi == 0 && lo == 0) {
    rE = 0;
    rM = 0;
    return;
  }
  th = hi;
  tl = lo;
  if (e < emin) {
    // Tiny: x87 detects tininess before rounding.
    if (!maskU) {
      fexc |= FE_UE;
      if (toReg) {
        e += 24576;
        if (e < emin) {
          // still out of range after the wrap (FSCALE): a zero (observed on hardware)
          fexc |= FE_PE;
          rE = 0;
          rM = 0;
          return;
        }
      }
    }
    if (e < emin) {
      shiftRightJam(emin - e);
      const pe = fexc & FE_PE;
      fexc &= ~FE_PE;
      roundSig(s, bits);
      if ((fexc & FE_PE) != 0) fexc |= FE_UE;
      fexc |= pe;
      rE = emin;
      rM = th;
      return;
    }
  }
  if (e > emax) {
    if (!maskO) {
      fexc |= FE_OE;
      if (toReg) {
        e -= 24576;
        if (e > emax) {
          // still out of range after the wrap (FSCALE): an infinity (observed on hardware)
          fexc |= FE_PE;
          rE = emax + 1;
          rM = J;
          roundedUp = true;
          return;
        }
      }
    }
    if (e > emax) {
      overflowResult(s, bits, emax);
      return;
    }
  }
  if (roundSig(s, bits)) e++;
  if (e > emax) {
    if (!maskO) {
      fexc |= FE_OE;
      if (toReg) {
        e -= 24576;
        rE = e;
        rM = th;
        return;
      }
    }
    overflowResult(s, bits, emax);
    return;
  }
  rE = e;
  rM = th;
}

/** roundPack for a register destination (precision control applies), then 80-bit encoding. */
export function roundPackReg(s: u32, e: i32, hi: u64, lo: u64): void {
  roundPack(s, e, hi, lo, precBits, EXT_EMIN, EXT_EMAX, true);
  encodeExt();
}
/** Turns a roundPack result for the extended format into register encoding. */
export function encodeExt(): void {
  if (rE > EXT_EMAX) {
    rE = EXP_MAX;
    rM = J;
  } else if ((rM & J) == 0) {
    rE = 0; // denormal or zero
  }
}

// ---- 64x64 -> 128 multiply ---------------------------------------------------------------------

let pH: u64 = 0;
let pL: u64 = 0;
function mul64(a: u64, b: u64): void {
  const a0 = a & 0xffffffff;
  const a1 = a >> 32;
  const b0 = b & 0xffffffff;
  const b1 = b >> 32;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const p11 = a1 * b1;
  const mid = (p00 >> 32) + (p01 & 0xffffffff) + (p10 & 0xffffffff);
  pL = (mid << 32) | (p00 & 0xffffffff);
  pH = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
}

// ---- the basic operations ------------------------------------------------------------------------

/** a + b (or a - b when `sub`), result in rS/rE/rM (register encoding). */
export function fadd(aS: u32, aE: i32, aM: u64, bS: u32, bE: i32, bM: u64, sub: bool): void {
  if (sub) bS ^= 1;
  if (isUnsupported80(aE, aM) || isUnsupported80(bE, bM)) return invalid();
  if (isNaN80(aE, aM) || isNaN80(bE, bM)) {
    propagateNaN(aS, aE, aM, sub ? bS ^ 1 : bS, bE, bM);
    return;
  }
  if (isDenormal80(aE, aM) || isDenormal80(bE, bM)) fexc |= FE_DE;
  const aInf = isInf80(aE, aM);
  const bInf = isInf80(bE, bM);
  if (aInf || bInf) {
    if (aInf && bInf && aS != bS) return invalid();
    rS = aInf ? aS : bS;
    rE = EXP_MAX;
    rM = J;
    return;
  }
  const aZ = aM == 0;
  const bZ = bM == 0;
  if (aZ && bZ) {
    rS = aS == bS ? aS : rmode == 1 ? 1 : 0;
    rE = 0;
    rM = 0;
    return;
  }
  if (aZ) {
    normalize(bE, bM);
    return roundPackReg(bS, nE, nM, 0);
  }
  if (bZ) {
    normalize(aE, aM);
    return roundPackReg(aS, nE, nM, 0);
  }
  normalize(aE, aM);
  let xe = nE;
  let xm = nM;
  let xs = aS;
  normalize(bE, bM);
  let ye = nE;
  let ym = nM;
  let ys = bS;
  if (xe < ye || (xe == ye && xm < ym)) {
    const te = xe;
    xe = ye;
    ye = te;
    const tm = xm;
    xm = ym;
    ym = tm;
    const ts = xs;
    xs = ys;
    ys = ts;
  }
  // |x| >= |y|: align y to x.
  th = ym;
  tl = 0;
  shiftRightJam(xe - ye);
  let hi: u64;
  let lo: u64;
  let e = xe;
  if (xs == ys) {
    lo = tl;
    hi = xm + th;
    if (hi < xm) {
      // carry out: shift right by one, keeping the sticky bit
      const st = lo & 1;
      lo = (lo >> 1) | (hi << 63) | st;
      hi = (hi >> 1) | J;
      e++;
    }
  } else {
    lo = 0 - tl;
    hi = xm - th - (tl != 0 ? 1 : 0);
    if (hi == 0 && lo == 0) {
      rS = rmode == 1 ? 1 : 0;
      rE = 0;
      rM = 0;
      return;
    }
    if (hi == 0) {
      hi = lo;
      lo = 0;
      e -= 64;
    }
    const z = <i32>clz(hi);
    if (z != 0) {
      hi = (hi << (<u64>z)) | (lo >> (<u64>(64 - z)));
      lo = lo << (<u64>z);
      e -= z;
    }
  }
  roundPackReg(xs, e, hi, lo);
}

/** a * b. */
export function fmul(aS: u32, aE: i32, aM: u64, bS: u32, bE: i32, bM: u64): void {
  if (isUnsupported80(aE, aM) || isUnsupported80(bE, bM)) return invalid();
  if (isNaN80(aE, aM) || isNaN80(bE, bM)) return propagateNaN(aS, aE, aM, bS, bE, bM);
  if (isDenormal80(aE, aM) || isDenormal80(bE, bM)) fexc |= FE_DE;
  const s = aS ^ bS;
  const aInf = isInf80(aE, aM);
  const bInf = isInf80(bE, bM);
  if (aInf || bInf) {
    if (aM == 0 || bM == 0) return invalid(); // inf * 0
    rS = s;
    rE = EXP_MAX;
    rM = J;
    return;
  }
  if (aM == 0 || bM == 0) {
    rS = s;
    rE = 0;
    rM = 0;
    return;
  }
  normalize(aE, aM);
  const xe = nE;
  const xm = nM;
  normalize(bE, bM);
  mul64(xm, nM);
  let e = xe + nE - BIAS + 1;
  let hi = pH;
  let lo = pL;
  if ((hi & J) == 0) {
    hi = (hi << 1) | (lo >> 63);
    lo <<= 1;
    e--;
  }
  roundPackReg(s, e, hi, lo);
}

/** a / b. */
export function fdiv(aS: u32, aE: i32, aM: u64, bS: u32, bE: i32, bM: u64): void {
  if (isUnsupported80(aE, aM) || isUnsupported80(bE, bM)) return invalid();
  if (isNaN80(aE, aM) || isNaN80(bE, bM)) return propagateNaN(aS, aE, aM, bS, bE, bM);
  const s = aS ^ bS;
  const aInf = isInf80(aE, aM);
  const bInf = isInf80(bE, bM);
  if (aInf && bInf) return invalid();
  if (aInf) {
    if (isDenormal80(bE, bM)) fexc |= FE_DE;
    rS = s;
    rE = EXP_MAX;
    rM = J;
    return;
  }
  if (bM == 0) {
    // x/0: ZE has priority over the denormal-operand exception of x (SDM vol. 1, 4.9.2), also
    // when x is a denormal m32fp/m64fp that its conversion already flagged (FDIVR m, ST0 = 0).
    if (aM == 0) return invalid(); // 0/0
    fexc = (fexc & ~FE_DE) | FE_ZE;
    rS = s;
    rE = EXP_MAX;
    rM = J;
    return;
  }
  if (isDenormal80(aE, aM) || isDenormal80(bE, bM)) fexc |= FE_DE;
  if (aInf) {
    rS = s;
    rE = EXP_MAX;
    rM = J;
    return;
  }
  if (bInf) {
    rS = s;
    rE = 0;
    rM = 0;
    return;
  }
  if (aM == 0) {
    rS = s;
    rE = 0;
    rM = 0;
    return;
  }
  normalize(aE, aM);
  const xe = nE;
  let r = nM;
  normalize(bE, bM);
  const d = nM;
  let e = xe - nE + BIAS;
  // Restoring division: 64 quotient bits with the leading one at bit 63, then a guard bit.
  let q: u64 = 0;
  if (r >= d) {
    r -= d;
    q = 1;
  } else e--;
  const n = q == 1 ? 63 : 64;
  for (let i = 0; i < n; i++) {
    const carry = r >> 63;
    r <<= 1;
    q <<= 1;
    if (carry != 0 || r >= d) {
      r -= d;
      q |= 1;
    }
  }
  // guard bit and sticky
  const carry = r >> 63;
  r <<= 1;
  let lo: u64 = 0;
  if (carry != 0 || r >= d) {
    r -= d;
    lo = J;
  }
  if (r != 0) lo |= 1;
  roundPackReg(s, e, q, lo);
}

/** Square root of a. */
export function fsqrt(aS: u32, aE: i32, aM: u64): void {
  if (isUnsupported80(aE, aM)) return invalid();
  if (isNaN80(aE, aM)) return propagateOne(aS, aM);
  if (aM == 0) {
    rS = aS;
    rE = 0;
    rM = 0;
    return;
  }
  if (aS != 0) return invalid();
  if (isInf80(aE, aM)) {
    rS = 0;
    rE = EXP_MAX;
    rM = J;
    return;
  }
  if (isDenormal80(aE, aM)) fexc |= FE_DE;
  normalize(aE, aM);
  // value = M * 2^(ue - 63), ue = nE - BIAS. Take N = M * 2^64 (ue odd: 2^63 so that the
  // exponent of the rest is even); root = isqrt(N) has 64 bits.
  const ue = nE - BIAS;
  let nh: u64;
  let nl: u64;
  let half: i32;
  if ((ue & 1) == 0) {
    // even: value = (M * 2^63) * 2^(ue - 126)
    nh = nM >> 1;
    nl = nM << 63;
    half = ue >> 1;
  } else {
    // odd: value = (M * 2^64) * 2^(ue - 127)
    nh = nM;
    nl = 0;
    half = (ue - 1) >> 1;
  }
  // Digit-by-digit integer square root of nh:nl (128 bits) -> 64-bit root.
  let root: u64 = 0;
  let remH: u64 = 0; // remainder, up to 66 bits: remH:remL
  let remL: u64 = 0;
  for (let i = 63; i >= 0; i--) {
    // bring down the next two bits of N
    const two: u64 = i >= 32 ? (nh >> (<u64>((i - 32) * 2))) & 3 : (nl >> (<u64>(i * 2))) & 3;
    remH = (remH << 2) | (remL >> 62);
    remL = (remL << 2) | two;
    // trial = (root << 2) | 1, up to 66 bits
    const tH: u64 = root >> 62;
    const tL: u64 = (root << 2) | 1;
    if (remH > tH || (remH == tH && remL >= tL)) {
      const borrow: u64 = remL < tL ? 1 : 0;
      remL -= tL;
      remH = remH - tH - borrow;
      root = (root << 1) | 1;
    } else root <<= 1;
  }
  // root has its top bit set (N >= 2^126). Guard: the true root exceeds root + 1/2 exactly when
  // rem > root; a tie is impossible.
  let lo: u64 = 0;
  if (remH != 0 || remL > root) lo = J | 1;
  else if (remL != 0) lo = 1;
  // sqrt(value) = root * 2^(half - 63), i.e. exponent field BIAS + half.
  roundPackReg(0, BIAS + half, root, lo);
}

// ---- comparison ------------------------------------------------------------------------------------

export const CMP_GT: u32 = 0;
export const CMP_LT: u32 = 1;
export const CMP_EQ: u32 = 2;
export const CMP_UN: u32 = 3;

/** Compares a with b. `quiet`: only SNaNs raise IE (FUCOM); else any NaN does (FCOM). */
export function fcompare(aS: u32, aE: i32, aM: u64, bS: u32, bE: i32, bM: u64, quiet: bool): u32 {
  if (isUnsupported80(aE, aM) || isUnsupported80(bE, bM)) {
    fexc |= FE_IE;
    return CMP_UN;
  }
  const aN = isNaN80(aE, aM);
  const bN = isNaN80(bE, bM);
  if (aN || bN) {
    if (!quiet || isSNaN80(aE, aM) || isSNaN80(bE, bM)) fexc |= FE_IE;
    return CMP_UN;
  }
  if (isDenormal80(aE, aM) || isDenormal80(bE, bM)) fexc |= FE_DE;
  if (aM == 0 && bM == 0) return CMP_EQ;
  // Order by sign, then by (normalized) magnitude.
  if (aS != bS) {
    if (aM == 0) return bS != 0 ? CMP_GT : CMP_LT;
    return aS != 0 ? CMP_LT : CMP_GT;
  }
  let ae = aE;
  let am = aM;
  if (ae == 0 && am != 0) {
    normalize(ae, am);
    ae = nE;
    am = nM;
  }
  let be = bE;
  let bm = bM;
  if (be == 0 && bm != 0) {
    normalize(be, bm);
    be = nE;
    bm = nM;
  }
  if (am == 0) return aS != 0 ? CMP_GT : bS != 0 ? CMP_GT : CMP_LT;
  if (bm == 0) return aS != 0 ? CMP_LT : CMP_GT;
  let mag: i32 = 0;
  if (ae != be) mag = ae > be ? 1 : -1;
  else if (am != bm) mag = am > bm ? 1 : -1;
  if (mag == 0) return CMP_EQ;
  if (aS != 0) mag = -mag;
  return mag > 0 ? CMP_GT : CMP_LT;
}

// ---- integers -----------------------------------------------------------------------------------------

/** Exact conversion of a signed 64-bit integer (as sign + magnitude). */
export function fromInt(neg: bool, mag: u64): void {
  rS = neg ? 1 : 0;
  if (mag == 0) {
    rE = 0;
    rM = 0;
    return;
  }
  const z = <i32>clz(mag);
  rM = mag << (<u64>z);
  rE = BIAS + 63 - z;
}

/** Integer magnitude of the last roundToInt(); roundToInt returns false when it does not fit in 64 bits. */
export let intMag: u64 = 0;

/**
 * Rounds a finite value to an integer under the rounding mode; the magnitude goes to intMag.
 * Sets PE and roundedUp. Returns false if |result| >= 2^64.
 */
export function roundToInt(s: u32, e: i32, m: u64): bool {
  if (m == 0) {
    intMag = 0;
    return true;
  }
  normalize(e, m);
  const ue = nE - BIAS; // value = nM * 2^(ue - 63)
  if (ue >= 64) return false;
  if (ue >= 63) {
    intMag = nM;
    return true;
  }
  // integer part = nM >> (63 - ue); fraction below
  th = nM;
  tl = 0;
  shiftRightJam(63 - ue);
  // now th = integer part, tl = fraction bits (top bit = 1/2)
  const saved = rmode;
  let up: bool = false;
  if (tl != 0) {
    fexc |= FE_PE;
    if (saved == 0) up = tl > J || (tl == J && (th & 1) != 0);
    else if (saved == 1) up = s != 0;
    else if (saved == 2) up = s == 0;
  }
  if (up) {
    roundedUp = true;
    th += 1;
    if (th == 0) return false;
  }
  intMag = th;
  return true;
}

/** FRNDINT's arithmetic: a finite, nonzero value rounded to an integral value (register encoding). */
export function roundToIntegral(s: u32, e: i32, m: u64): void {
  normalize(e, m);
  if (nE - BIAS >= 63) {
    rS = s;
    rE = nE;
    rM = nM;
    return;
  }
  if (!roundToInt(s, e, m)) return;
  fromInt(s != 0, intMag);
  rS = s; // keeps -0 for negative values that round to zero
}

// ---- remainder (FPREM, FPREM1) ------------------------------------------------------------------------

/** Low three bits of the quotient of the last fremainder(); partial when the reduction is incomplete. */
export let remQuot: u32 = 0;
export let remPartial: bool = false;

/**
 * Partial remainder of finite nonzero a by finite nonzero b (SDM vol. 2, FPREM/FPREM1): exact.
 * `nearest`: FPREM1 (IEEE remainder, quotient rounded to nearest even); else truncated quotient.
 */
export function fremainder(aS: u32, aE: i32, aM: u64, bE: i32, bM: u64, nearest: bool): void {
  normalize(aE, aM);
  const xe = nE;
  const xm = nM;
  normalize(bE, bM);
  const ye = nE;
  const ym = nM;
  const d = xe - ye;
  remQuot = 0;
  remPartial = d >= 64;
  let dd = d;
  let base = ye;
  if (remPartial) {
    // Incomplete reduction: N quotient bits, N = 32..63 chosen as Bochs does ((D & 31) | 32),
    // truncated quotient for both instructions; the exponent difference drops to D - N.
    const n = (d & 31) | 32;
    dd = n;
    base = ye + (d - n);
  }
  let r = xm;
  let q: u64 = 0;
  let sgn = aS;
  let re = base;
  if (dd < 0) {
    if (nearest && dd == -1 && xm > ym) {
      // |a| in (|b|/2, |b|): remainder |b| - |a| with the sign flipped, quotient 1
      r = ym - xm + ym;
      re = ye - 1;
      sgn ^= 1;
      q = 1;
    } else {
      r = xm;
      re = xe;
    }
  } else {
    if (r >= ym) {
      r -= ym;
      q = 1;
    }
    for (let i = 0; i < dd; i++) {
      const carry = r >> 63;
      r <<= 1;
      q <<= 1;
      if (carry != 0 || r >= ym) {
        r -= ym;
        q |= 1;
      }
    }
    if (nearest && !remPartial) {
      // round the quotient to nearest even: compare 2r with the divisor
      const top = r >> 63;
      const r2 = r << 1;
      if (top != 0 || r2 > ym || (r2 == ym && (q & 1) != 0)) {
        r = ym - r;
        q += 1;
        sgn ^= 1;
      }
    }
  }
  remQuot = remPartial ? 0 : <u32>(q & 7);
  if (r == 0) {
    rS = aS;
    rE = 0;
    rM = 0;
    return;
  }
  const z = <i32>clz(r);
  roundPack(sgn, re - z, r << (<u64>z), 0, 64, EXT_EMIN, EXT_EMAX, true);
  encodeExt();
}

/** Normalized form of a value: used by FXTRACT and FSCALE (outputs in rS/rE/rM, rE may be <= 0). */
export function normalized(s: u32, e: i32, m: u64): void {
  normalize(e, m);
  rS = s;
  rE = nE;
  rM = nM;
}
