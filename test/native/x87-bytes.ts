// Byte-level helpers shared by the native test generators (generate.ts, x87-chains.ts):
// little-endian encoding, absolute-address moves and x87 loads/stores, and 80-bit values.

/** The data page the runner maps (test/native/runner.c). */
export const DATA = 0x20000000;

export const le = (v: number, n: number): number[] => {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(Number((BigInt.asUintN(64, BigInt(Math.trunc(v))) >> BigInt(8 * i)) & 0xffn));
  return out;
};

export const F_OPND = DATA + 0x6000; // operand of the form under test
export const F_VALS = DATA + 0x5000; // values loaded onto the stack
export const F_RES = DATA + 0x7000; // results stored by the sequence
export const F_ENV = DATA + 0x6800; // FNSTENV / FNSAVE images
export const F_AUX = DATA + 0x5f00; // control words

export const movd = (addr: number, v: number): number[] => [0xc7, 0x05, ...le(addr, 4), ...le(v, 4)];
export const movw = (addr: number, v: number): number[] => [0x66, 0xc7, 0x05, ...le(addr, 4), ...le(v, 2)];
export const absMem = (op: number, reg: number, addr: number): number[] => [op, (reg << 3) | 5, ...le(addr, 4)];
/** Store bytes to memory with dword moves (the last one may write up to 3 bytes more). */
export function storeBytes(addr: number, bytes: number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i += 4) {
    const chunk = [0, 1, 2, 3].map((k) => bytes[i + k] ?? 0);
    out.push(...movd(addr + i, chunk[0] | (chunk[1] << 8) | (chunk[2] << 16) | (chunk[3] << 24)));
  }
  return out;
}

/** 80-bit extended values, as 10 little-endian bytes. */
export function f80(sign: number, exp: number, mant: bigint): number[] {
  const out = le(0, 0);
  for (let i = 0; i < 8; i++) out.push(Number((mant >> BigInt(8 * i)) & 0xffn));
  const se = ((sign & 1) << 15) | (exp & 0x7fff);
  out.push(se & 0xff, se >> 8);
  return out;
}
export function f80FromNumber(x: number): number[] {
  if (x === 0) return f80(Object.is(x, -0) ? 1 : 0, 0, 0n);
  const sign = x < 0 ? 1 : 0;
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, Math.abs(x));
  const bits = buf.getBigUint64(0);
  let exp = Number(bits >> 52n);
  let frac = bits & ((1n << 52n) - 1n);
  if (exp === 0) {
    // double denormal: normalise
    let e = -1022;
    while ((frac & (1n << 52n)) === 0n) {
      frac <<= 1n;
      e--;
    }
    exp = e + 1 + 1023;
    frac &= (1n << 52n) - 1n;
  }
  const mant = ((1n << 52n) | frac) << 11n;
  return f80(sign, exp - 1023 + 16383, mant);
}
