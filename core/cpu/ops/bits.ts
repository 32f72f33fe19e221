// Bit instructions: BT/BTS/BTR/BTC, BSF/BSR, BSWAP, SETcc, CMOVcc.

import { read16, read32, rmwBegin, rmwRead16, rmwRead32, rmwWrite16, rmwWrite32, write8 } from "../../mmu/access";
import { addrsize32, dispatchOpcodeLow, eaSeg, effectiveAddress, fetch8, modrm, opcode } from "../decode";
import { faulted } from "../fault";
import { setFlagBits, testCondition } from "../flags";
import { FLAG_CF, FLAG_ZF, reg16, reg32, setReg16, setReg32, setReg8 } from "../state";
import { readEd, readEw } from "./alu-core";

const BT: u32 = 0;
const BTS: u32 = 1;
const BTR: u32 = 2;
const BTC: u32 = 3;

@inline function bitOp(op: u32, v: u32, bit: u32): u32 {
  const m: u32 = <u32>1 << bit;
  setFlagBits(FLAG_CF, (v & m) != 0 ? FLAG_CF : 0);
  if (op == BTS) return v | m;
  if (op == BTR) return v & ~m;
  if (op == BTC) return v ^ m;
  return v;
}

/**
 * BTx Ev, Gv: with a memory operand the bit offset is signed and may address memory outside
 * the operand (SDM "BT": bit base + (offset SAR 3)). `imm` forms take the offset modulo the size.
 */
@inline function btw(op: u32, fromReg: bool): void {
  if (modrm >= 0xc0) {
    const off = fromReg ? reg16((modrm >> 3) & 7) : fetch8();
    if (faulted) return;
    const r = modrm & 7;
    const res = bitOp(op, reg16(r), off & 15);
    if (op != BT) setReg16(r, res);
    return;
  }
  let a = effectiveAddress();
  if (faulted) return;
  let bit: u32;
  if (fromReg) {
    const o = <i32>(<i16>reg16((modrm >> 3) & 7));
    a += <u32>((o >> 4) << 1);
    if (!addrsize32) a &= 0xffff;
    bit = <u32>o & 15;
  } else {
    bit = fetch8() & 15;
    if (faulted) return;
  }
  if (op == BT) {
    const v = read16(eaSeg, a);
    if (faulted) return;
    bitOp(op, v, bit);
    return;
  }
  if (!rmwBegin(eaSeg, a, 2)) return;
  rmwWrite16(bitOp(op, rmwRead16(), bit));
}

@inline function btd(op: u32, fromReg: bool): void {
  if (modrm >= 0xc0) {
    const off = fromReg ? reg32((modrm >> 3) & 7) : fetch8();
    if (faulted) return;
    const r = modrm & 7;
    const res = bitOp(op, reg32(r), off & 31);
    if (op != BT) setReg32(r, res);
    return;
  }
  let a = effectiveAddress();
  if (faulted) return;
  let bit: u32;
  if (fromReg) {
    const o = <i32>reg32((modrm >> 3) & 7);
    a += <u32>((o >> 5) << 2);
    if (!addrsize32) a &= 0xffff;
    bit = <u32>o & 31;
  } else {
    bit = fetch8() & 31;
    if (faulted) return;
  }
  if (op == BT) {
    const v = read32(eaSeg, a);
    if (faulted) return;
    bitOp(op, v, bit);
    return;
  }
  if (!rmwBegin(eaSeg, a, 4)) return;
  rmwWrite32(bitOp(op, rmwRead32(), bit));
}

export function BT_EvGv_16(): void {
  btw(BT, true);
}
export function BT_EvGv_32(): void {
  btd(BT, true);
}
export function BTS_EvGv_16(): void {
  btw(BTS, true);
}
export function BTS_EvGv_32(): void {
  btd(BTS, true);
}
export function BTR_EvGv_16(): void {
  btw(BTR, true);
}
export function BTR_EvGv_32(): void {
  btd(BTR, true);
}
export function BTC_EvGv_16(): void {
  btw(BTC, true);
}
export function BTC_EvGv_32(): void {
  btd(BTC, true);
}
export function BT_EvIb_16(): void {
  btw(BT, false);
}
export function BT_EvIb_32(): void {
  btd(BT, false);
}
export function BTS_EvIb_16(): void {
  btw(BTS, false);
}
export function BTS_EvIb_32(): void {
  btd(BTS, false);
}
export function BTR_EvIb_16(): void {
  btw(BTR, false);
}
export function BTR_EvIb_32(): void {
  btd(BTR, false);
}
export function BTC_EvIb_16(): void {
  btw(BTC, false);
}
export function BTC_EvIb_32(): void {
  btd(BTC, false);
}

// BSF/BSR: a zero source sets ZF and leaves the destination unchanged (as P6 and later do).
@inline function bsfFlags(zero: bool): void {
  setFlagBits(FLAG_ZF, zero ? FLAG_ZF : 0);
}
export function BSF_GvEv_16(): void {
  const s = readEw();
  if (faulted) return;
  bsfFlags(s == 0);
  if (s != 0) setReg16((modrm >> 3) & 7, ctz<u32>(s));
}
export function BSF_GvEv_32(): void {
  const s = readEd();
  if (faulted) return;
  bsfFlags(s == 0);
  if (s != 0) setReg32((modrm >> 3) & 7, ctz<u32>(s));
}
export function BSR_GvEv_16(): void {
  const s = readEw();
  if (faulted) return;
  bsfFlags(s == 0);
  if (s != 0) setReg16((modrm >> 3) & 7, 31 - clz<u32>(s));
}
export function BSR_GvEv_32(): void {
  const s = readEd();
  if (faulted) return;
  bsfFlags(s == 0);
  if (s != 0) setReg32((modrm >> 3) & 7, 31 - clz<u32>(s));
}

export function BSWAP_Zd(): void {
  const r = dispatchOpcodeLow();
  setReg32(r, bswap<u32>(reg32(r)));
}

export function SETCC_Eb(): void {
  const v: u32 = testCondition(opcode & 15) ? 1 : 0;
  if (modrm >= 0xc0) {
    setReg8(modrm & 7, v);
    return;
  }
  const a = effectiveAddress();
  if (faulted) return;
  write8(eaSeg, a, v);
}

/** CMOVcc: the source is read (and may fault) whatever the condition. */
export function CMOVCC_GvEv_16(): void {
  const s = readEw();
  if (faulted) return;
  if (testCondition(opcode & 15)) setReg16((modrm >> 3) & 7, s);
}
export function CMOVCC_GvEv_32(): void {
  const s = readEd();
  if (faulted) return;
  if (testCondition(opcode & 15)) setReg32((modrm >> 3) & 7, s);
}

