// Conversions between the 80-bit register format and the memory formats: single and double
// real, 16/32/64-bit integers, 18-digit packed BCD (SDM vol. 1, 4.2 and 8.2; vol. 2 FLD, FST,
// FILD, FIST, FBLD, FBSTP). Loads are exact; stores round once to the destination format.

import {
  BIAS,
  DBL_EMAX,
  DBL_EMIN,
  EXP_MAX,
  FE_DE,
  FE_IE,
  FE_PE,
  fexc,
  fromInt,
  intMag,
  isDenormal80,
  isInf80,
  isNaN80,
  isSNaN80,
  isUnsupported80,
  J,
  normalized,
  raiseFlags,
  rE,
  rM,
  roundPack,
  roundToInt,
  rS,
  SGL_EMAX,
  SGL_EMIN,
  setResult,
  clearFlags,
} from "./float80";

/** Result of a store conversion. */
export let out64: u64 = 0;

// ---- loads (to rS/rE/rM) --------------------------------------------------------------------------

/** Single real (bits) to 80 bits, exactly; denormal: DE. An SNaN stays signaling. */
export function loadF32(b: u32): void {
  const s = b >> 31;
  const ef = <i32>((b >> 23) & 0xff);
  const f = <u64>(b & 0x7fffff);
  if (ef == 0xff) {
    if (f == 0) return setResult(s, EXP_MAX, J);
    return setResult(s, EXP_MAX, J | (f << 40)); // SNaNs stay signaling: the user quiets them
  }
  if (ef == 0) {
    if (f == 0) return setResult(s, 0, 0);
    raiseFlags(FE_DE);
    const m = f << 40;
    const z = <i32>clz(m);
    return setResult(s, SGL_EMIN - z, m << (<u64>z));
  }
  setResult(s, ef - 127 + BIAS, J | (f << 40));
}

/** Double real (bits) to 80 bits. */
export function loadF64(b: u64): void {
  const s = <u32>(b >> 63);
  const ef = <i32>((b >> 52) & 0x7ff);
  const f = b & 0xfffffffffffff;
  if (ef == 0x7ff) {
    if (f == 0) return setResult(s, EXP_MAX, J);
    return setResult(s, EXP_MAX, J | (f << 11));
  }
  if (ef == 0) {
    if (f == 0) return setResult(s, 0, 0);
    raiseFlags(FE_DE);
    const m = f << 11;
    const z = <i32>clz(m);
    return setResult(s, DBL_EMIN - z, m << (<u64>z));
  }
  setResult(s, ef - 1023 + BIAS, J | (f << 11));
}

/** Signed integer (sign-extended to 64 bits) to 80 bits: exact. */
export function loadInt(v: i64): void {
  if (v < 0) fromInt(true, <u64>(-v));
  else fromInt(false, <u64>v);
}

/** 80-bit packed BCD (low 8 bytes, high 2 bytes) to 80 bits (SDM vol. 2, FBLD). */
export function loadBcd(lo: u64, hi: u32): void {
  let v: u64 = 0;
  // byte 8 holds digits 17-16, bytes 7..0 the rest, most significant first
  v = <u64>((hi >> 4) & 0xf) * 10 + <u64>(hi & 0xf);
  for (let i = 7; i >= 0; i--) {
    const b = <u32>((lo >> (<u64>(i * 8))) & 0xff);
    v = v * 100 + <u64>((b >> 4) & 0xf) * 10 + <u64>(b & 0xf);
  }
  fromInt((hi & 0x8000) != 0, v);
}

// ---- stores ---------------------------------------------------------------------------------------

/** Rounds (s,e,m) to single real; bits in out64. PE/UE/OE/IE in fexc. */
export function storeF32(s: u32, e: i32, m: u64): void {
  const sign: u64 = (<u64>s) << 31;
  if (isUnsupported80(e, m)) {
    raiseFlags(FE_IE);
    out64 = 0xffc00000;
    return;
  }
  if (isNaN80(e, m)) {
    if (isSNaN80(e, m)) raiseFlags(FE_IE);
    out64 = sign | 0x7fc00000 | ((m >> 40) & 0x3fffff);
    return;
  }
  if (isInf80(e, m)) {
    out64 = sign | 0x7f800000;
    return;
  }
  if (m == 0) {
    out64 = sign;
    return;
  }
  normalized(s, e, m);
  roundPack(s, rE, rM, 0, 24, SGL_EMIN, SGL_EMAX, false);
  if (rE > SGL_EMAX) out64 = sign | 0x7f800000;
  else if (rM == 0) out64 = sign;
  else if ((rM & J) == 0) out64 = sign | (rM >> 40);
  else out64 = sign | ((<u64>(rE - BIAS + 127)) << 23) | ((rM >> 40) & 0x7fffff);
}

/** Rounds (s,e,m) to double real; bits in out64. */
export function storeF64(s: u32, e: i32, m: u64): void {
  const sign: u64 = (<u64>s) << 63;
  if (isUnsupported80(e, m)) {
    raiseFlags(FE_IE);
    out64 = 0xfff8000000000000;
    return;
  }
  if (isNaN80(e, m)) {
    if (isSNaN80(e, m)) raiseFlags(FE_IE);
    out64 = sign | 0x7ff8000000000000 | ((m >> 11) & 0x7ffffffffffff);
    return;
  }
  if (isInf80(e, m)) {
    out64 = sign | 0x7ff0000000000000;
    return;
  }
  if (m == 0) {
    out64 = sign;
    return;
  }
  normalized(s, e, m);
  roundPack(s, rE, rM, 0, 53, DBL_EMIN, DBL_EMAX, false);
  if (rE > DBL_EMAX) out64 = sign | 0x7ff0000000000000;
  else if (rM == 0) out64 = sign;
  else if ((rM & J) == 0) out64 = sign | (rM >> 11);
  else out64 = sign | ((<u64>(rE - BIAS + 1023)) << 52) | ((rM >> 11) & 0xfffffffffffff);
}

/**
 * Rounds (s,e,m) to a signed integer of `bits` (16, 32, 64) under the rounding control; the
 * two's-complement result in out64. Out of range, NaN, infinity: IE and the integer indefinite
 * (the most negative value; SDM vol. 1, 4.8.3.7 / 8.2.4).
 */
export function storeInt(s: u32, e: i32, m: u64, bits: i32): void {
  const indef: u64 = (<u64>1) << (<u64>(bits - 1));
  if (isUnsupported80(e, m) || e == EXP_MAX) {
    raiseFlags(FE_IE);
    out64 = bits == 64 ? indef : indef;
    return;
  }
  if (!roundToInt(s, e, m) || intMag > (s != 0 ? indef : indef - 1)) {
    clearFlags();
    raiseFlags(FE_IE);
    out64 = indef;
    return;
  }
  out64 = s != 0 ? 0 - intMag : intMag;
  if (bits < 64) out64 &= ((<u64>1) << (<u64>bits)) - 1;
}

/** BCD result: low 8 bytes in out64, high 2 bytes in outBcdHi. */
export let outBcdHi: u32 = 0;

/** Rounds to an integer and packs 18 BCD digits (SDM vol. 2, FBSTP); IE and the BCD indefinite when out of range. */
export function storeBcd(s: u32, e: i32, m: u64): void {
  if (isUnsupported80(e, m) || e == EXP_MAX || !roundToInt(s, e, m) || intMag > 999999999999999999) {
    clearFlags();
    raiseFlags(FE_IE);
    out64 = 0xc000000000000000;
    outBcdHi = 0xffff;
    return;
  }
  let v = intMag;
  let lo: u64 = 0;
  for (let i = 0; i < 8; i++) {
    const d0 = v % 10;
    v /= 10;
    const d1 = v % 10;
    v /= 10;
    lo |= (d0 | (d1 << 4)) << (<u64>(i * 8));
  }
  const d0 = <u32>(v % 10);
  v /= 10;
  const d1 = <u32>(v % 10);
  out64 = lo;
  outBcdHi = d0 | (d1 << 4) | (s != 0 ? 0x8000 : 0);
}

/** The 80-bit value of an f64 (exact): used by the transcendentals. */
export function fromF64(x: f64): void {
  const sav = fexc;
  loadF64(reinterpret<u64>(x));
  clearFlags();
  raiseFlags(sav);
}

/** The nearest f64 of an 80-bit value (no flags): used by the transcendentals. */
export function toF64(s: u32, e: i32, m: u64): f64 {
  const sav = fexc;
  storeF64(s, e, m);
  clearFlags();
  raiseFlags(sav);
  return reinterpret<f64>(out64);
}

