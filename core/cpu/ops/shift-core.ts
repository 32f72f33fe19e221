// Shifts and rotates (SDM vol. 2, "RCL/RCR/ROL/ROR" and "SAL/SAR/SHL/SHR"; "SHLD", "SHRD").
// Flags are computed eagerly; a masked count of zero changes nothing.

import { getCF, setFlagBits, setFlagsSZP } from "../flags";
import { FLAG_CF, FLAG_OF } from "../state";

export const SH_ROL: u32 = 0;
export const SH_ROR: u32 = 1;
export const SH_RCL: u32 = 2;
export const SH_RCR: u32 = 3;
export const SH_SHL: u32 = 4;
export const SH_SHR: u32 = 5;
export const SH_SAR: u32 = 7;

@inline function mask(size: u32): u32 {
  return size == 32 ? 0xffffffff : (<u32>1 << size) - 1;
}
@inline function msb(v: u32, size: u32): u32 {
  return (v >>> (size - 1)) & 1;
}

/** Shifts or rotates `v` (of `size` bits) by `count` (the raw CL/imm value); sets the flags. */
export function shift(op: u32, v: u32, count: u32, size: u32): u32 {
  const c = count & 0x1f;
  if (c == 0) return v;
  const m = mask(size);
  v &= m;
  let r: u32 = v;
  switch (op) {
    case SH_ROL: {
      const n = c % size;
      r = n == 0 ? v : ((v << n) | (v >>> (size - n))) & m;
      const cf = r & 1;
      setFlagBits(FLAG_CF | FLAG_OF, cf | ((msb(r, size) ^ cf) << 11));
      return r;
    }
    case SH_ROR: {
      const n = c % size;
      r = n == 0 ? v : ((v >>> n) | (v << (size - n))) & m;
      const cf = msb(r, size);
      setFlagBits(FLAG_CF | FLAG_OF, cf | ((cf ^ ((r >>> (size - 2)) & 1)) << 11));
      return r;
    }
    case SH_RCL: {
      const n = size == 32 ? c : c % (size + 1);
      let cf: u32 = getCF() ? 1 : 0;
      for (let i: u32 = 0; i < n; i++) {
        const out = msb(r, size);
        r = ((r << 1) | cf) & m;
        cf = out;
      }
      setFlagBits(FLAG_CF | FLAG_OF, cf | ((msb(r, size) ^ cf) << 11));
      return r;
    }
    case SH_RCR: {
      const n = size == 32 ? c : c % (size + 1);
      let cf: u32 = getCF() ? 1 : 0;
      for (let i: u32 = 0; i < n; i++) {
        const out = r & 1;
        r = (r >>> 1) | (cf << (size - 1));
        cf = out;
      }
      // OF is defined for a count of 1 (MSB(dest) XOR CF before the rotate); the same bits of
      // the result (its top two) give it, and give what hardware reports for larger counts.
      setFlagBits(FLAG_CF | FLAG_OF, cf | ((msb(r, size) ^ ((r >>> (size - 2)) & 1)) << 11));
      return r;
    }
    case SH_SHL:
    case 6: {
      r = c < 32 ? (v << c) & m : 0;
      const cf = c <= size ? (v >>> (size - c)) & 1 : 0;
      setFlagsSZP(r, size, cf != 0, (msb(r, size) ^ cf) != 0, false);
      return r;
    }
    case SH_SHR: {
      r = v >>> c;
      const cf = (v >>> (c - 1)) & 1;
      // Count 1: OF = MSB of the original; larger counts: the top two result bits, as hardware.
      setFlagsSZP(r, size, cf != 0, (msb(r, size) ^ ((r >>> (size - 2)) & 1)) != 0, false);
      return r;
    }
    default: {
      // SAR: shift the sign-extended value.
      const sv: i32 = <i32>(v << (32 - size)) >> (32 - size);
      r = <u32>(sv >> (c > 31 ? 31 : c)) & m;
      const cf = <u32>(sv >> (c - 1)) & 1;
      setFlagsSZP(r, size, cf != 0, false, false);
      return r;
    }
  }
}

/** SHLD: shifts `dst` left, filling from the high bits of `src` (SDM "SHLD"). */
export function shld(dst: u32, src: u32, count: u32, size: u32): u32 {
  const c = count & 0x1f;
  if (c == 0) return dst;
  const m = mask(size);
  let r: u32;
  let cf: u32;
  if (size == 32) {
    r = (dst << c) | (src >>> (32 - c));
    cf = (dst >>> (32 - c)) & 1;
  } else {
    // 16-bit with a count above 16 is undefined; P6 shifts the 48-bit value dst:src:dst.
    const wide: u64 = (<u64>(dst & 0xffff) << 32) | (<u64>(src & 0xffff) << 16) | <u64>(dst & 0xffff);
    const shifted: u64 = wide << c;
    r = <u32>(shifted >> 32) & 0xffff;
    cf = <u32>(shifted >> 48) & 1;
  }
  r &= m;
  setFlagsSZP(r, size, cf != 0, (msb(r, size) ^ msb(dst, size)) != 0, false);
  return r;
}

/** SHRD: shifts `dst` right, filling from the low bits of `src` (SDM "SHRD"). */
export function shrd(dst: u32, src: u32, count: u32, size: u32): u32 {
  const c = count & 0x1f;
  if (c == 0) return dst;
  const m = mask(size);
  let r: u32;
  let cf: u32;
  if (size == 32) {
    r = (dst >>> c) | (src << (32 - c));
    cf = (dst >>> (c - 1)) & 1;
  } else {
    // 16-bit with a count above 16 is undefined; P6 shifts the 48-bit value dst:src:dst.
    const wide: u64 = (<u64>(dst & 0xffff) << 32) | (<u64>(src & 0xffff) << 16) | <u64>(dst & 0xffff);
    r = <u32>(wide >> c) & 0xffff;
    cf = <u32>(wide >> (c - 1)) & 1;
  }
  r &= m;
  setFlagsSZP(r, size, cf != 0, (msb(r, size) ^ msb(dst, size)) != 0, false);
  return r;
}

