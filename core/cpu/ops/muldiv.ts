// MUL, IMUL (one-, two- and three-operand forms), DIV, IDIV. Division faults (#DE) leave every
// register as it was.

import { divideError, faulted } from "../fault";
import { fetch16, fetch32, fetch8, modrm } from "../decode";
import { setFlagsSZP } from "../flags";
import { EAX, EDX, reg16, reg32, reg8, setReg16, setReg32 } from "../state";
import { readEb, readEd, readEw } from "./alu-core";

// ---- MUL / IMUL with implicit accumulator -----------------------------------------------------

export function MUL_Eb(): void {
  const s = readEb();
  if (faulted) return;
  const r = reg8(0) * s;
  setReg16(EAX, r);
  setFlagsSZP(r, 8, r > 0xff, r > 0xff, false);
}
export function MUL_Ev_16(): void {
  const s = readEw();
  if (faulted) return;
  const r = reg16(EAX) * s;
  setReg16(EAX, r);
  setReg16(EDX, r >>> 16);
  setFlagsSZP(r, 16, r > 0xffff, r > 0xffff, false);
}
export function MUL_Ev_32(): void {
  const s = readEd();
  if (faulted) return;
  const r: u64 = <u64>reg32(EAX) * <u64>s;
  const hi = <u32>(r >> 32);
  setReg32(EAX, <u32>r);
  setReg32(EDX, hi);
  setFlagsSZP(<u32>r, 32, hi != 0, hi != 0, false);
}
export function IMUL_Eb(): void {
  const s = readEb();
  if (faulted) return;
  const r: i32 = <i32>(<i8>reg8(0)) * <i32>(<i8>s);
  setReg16(EAX, <u32>r);
  const ovf = r != <i32>(<i8>r);
  setFlagsSZP(<u32>r, 8, ovf, ovf, false);
}
export function IMUL_Ev_16(): void {
  const s = readEw();
  if (faulted) return;
  const r: i32 = <i32>(<i16>reg16(EAX)) * <i32>(<i16>s);
  setReg16(EAX, <u32>r);
  setReg16(EDX, <u32>r >>> 16);
  const ovf = r != <i32>(<i16>r);
  setFlagsSZP(<u32>r, 16, ovf, ovf, false);
}
export function IMUL_Ev_32(): void {
  const s = readEd();
  if (faulted) return;
  const r: i64 = <i64>(<i32>reg32(EAX)) * <i64>(<i32>s);
  setReg32(EAX, <u32>r);
  setReg32(EDX, <u32>(r >> 32));
  const ovf = r != <i64>(<i32>r);
  setFlagsSZP(<u32>r, 32, ovf, ovf, false);
}

// ---- IMUL Gv, Ev [, imm] -----------------------------------------------------------------------

@inline function imul16(a: u32, b: u32): u32 {
  const r: i32 = <i32>(<i16>a) * <i32>(<i16>b);
  const ovf = r != <i32>(<i16>r);
  setFlagsSZP(<u32>r, 16, ovf, ovf, false);
  return <u32>r & 0xffff;
}
@inline export function imul32(a: u32, b: u32): u32 {
  const r: i64 = <i64>(<i32>a) * <i64>(<i32>b);
  const ovf = r != <i64>(<i32>r);
  setFlagsSZP(<u32>r, 32, ovf, ovf, false);
  return <u32>r;
}

export function IMUL_GvEv_16(): void {
  const s = readEw();
  if (faulted) return;
  const g = (modrm >> 3) & 7;
  setReg16(g, imul16(reg16(g), s));
}
export function IMUL_GvEv_32(): void {
  const s = readEd();
  if (faulted) return;
  const g = (modrm >> 3) & 7;
  setReg32(g, imul32(reg32(g), s));
}
export function IMUL_GvEvIz_16(): void {
  const s = readEw();
  if (faulted) return;
  const imm = fetch16();
  if (faulted) return;
  setReg16((modrm >> 3) & 7, imul16(s, imm));
}
export function IMUL_GvEvIz_32(): void {
  const s = readEd();
  if (faulted) return;
  const imm = fetch32();
  if (faulted) return;
  setReg32((modrm >> 3) & 7, imul32(s, imm));
}
export function IMUL_GvEvIbs_16(): void {
  const s = readEw();
  if (faulted) return;
  const imm = <u32>(<i32>(<i8>fetch8()));
  if (faulted) return;
  setReg16((modrm >> 3) & 7, imul16(s, imm));
}
export function IMUL_GvEvIbs_32(): void {
  const s = readEd();
  if (faulted) return;
  const imm = <u32>(<i32>(<i8>fetch8()));
  if (faulted) return;
  setReg32((modrm >> 3) & 7, imul32(s, imm));
}

// ---- DIV / IDIV ------------------------------------------------------------------------------

export function DIV_Eb(): void {
  const s = readEb();
  if (faulted) return;
  const n = reg16(EAX);
  if (s == 0 || n / s > 0xff) {
    divideError();
    return;
  }
  setReg16(EAX, (n / s) | ((n % s) << 8));
}
export function DIV_Ev_16(): void {
  const s = readEw();
  if (faulted) return;
  const n = (reg16(EDX) << 16) | reg16(EAX);
  if (s == 0 || n / s > 0xffff) {
    divideError();
    return;
  }
  setReg16(EAX, n / s);
  setReg16(EDX, n % s);
}
export function DIV_Ev_32(): void {
  const s = readEd();
  if (faulted) return;
  const n: u64 = (<u64>reg32(EDX) << 32) | <u64>reg32(EAX);
  if (s == 0 || n / <u64>s > 0xffffffff) {
    divideError();
    return;
  }
  setReg32(EAX, <u32>(n / <u64>s));
  setReg32(EDX, <u32>(n % <u64>s));
}
export function IDIV_Eb(): void {
  const s = <i32>(<i8>readEb());
  if (faulted) return;
  const n = <i32>(<i16>reg16(EAX));
  if (s == 0) {
    divideError();
    return;
  }
  const q = n / s;
  if (q > 127 || q < -128) {
    divideError();
    return;
  }
  setReg16(EAX, (<u32>q & 0xff) | ((<u32>(n % s) & 0xff) << 8));
}
export function IDIV_Ev_16(): void {
  const s = <i32>(<i16>readEw());
  if (faulted) return;
  const n = <i32>((reg16(EDX) << 16) | reg16(EAX));
  if (s == 0) {
    divideError();
    return;
  }
  // -2^31 / -1 overflows i32 itself: its quotient is out of the 16-bit range anyway.
  const q: i64 = <i64>n / <i64>s;
  if (q > 32767 || q < -32768) {
    divideError();
    return;
  }
  setReg16(EAX, <u32>q);
  setReg16(EDX, <u32>(<i64>n % <i64>s));
}
export function IDIV_Ev_32(): void {
  const s = <i64>(<i32>readEd());
  if (faulted) return;
  const n: i64 = <i64>((<u64>reg32(EDX) << 32) | <u64>reg32(EAX));
  if (s == 0 || (n == i64.MIN_VALUE && s == -1)) {
    divideError();
    return;
  }
  const q = n / s;
  if (q > 2147483647 || q < -2147483648) {
    divideError();
    return;
  }
  setReg32(EAX, <u32>q);
  setReg32(EDX, <u32>(n % s));
}
