// Control transfers: Jcc, JMP, CALL, RET (near and far), LOOP/JCXZ, INT n/INT3/INTO/INT1,
// IRET, UD2. Near targets outside the CS limit raise #GP(0) at the transfer.

import { S_SEG_LIMIT } from "../../generated/layout";
import { read16, read32 } from "../../mmu/access";
import {
  addrsize32,
  eaSeg,
  effectiveAddress,
  fetch16,
  fetch32,
  fetch8,
  modrm,
  nextEip,
  opcode,
  opsize32,
  setNextEip,
} from "../decode";
import { faulted, gp, raiseSoftware, ud, VEC_BP, VEC_DB, VEC_OF } from "../fault";
import { getOF, getZF, testCondition } from "../flags";
import { farCall, farJump, farReturn, interruptReturn } from "../protected/transfer";
import { pop16, pop32, push16, push32, setStackPointer, stackOffset, stackPointer } from "../stack";
import { CS, ECX, reg16, reg32, setReg16, setReg32 } from "../state";
import { readEd, readEw } from "./alu-core";

/** Transfers to `target` within CS; 16-bit operand size truncates it to 16 bits. */
@inline function jumpNear(target: u32, is32: bool): void {
  if (!is32) target &= 0xffff;
  if (target > load<u32>(S_SEG_LIMIT + (CS << 2))) {
    gp(0);
    return;
  }
  setNextEip(target);
}

export function JCC_Jb(): void {
  const d = <u32>(<i32>(<i8>fetch8()));
  if (faulted) return;
  if (testCondition(opcode & 15)) jumpNear(nextEip + d, opsize32);
}
export function JCC_Jz_16(): void {
  const d = fetch16();
  if (faulted) return;
  if (testCondition(opcode & 15)) jumpNear(nextEip + d, false);
}
export function JCC_Jz_32(): void {
  const d = fetch32();
  if (faulted) return;
  if (testCondition(opcode & 15)) jumpNear(nextEip + d, true);
}
export function JMP_Jb(): void {
  const d = <u32>(<i32>(<i8>fetch8()));
  if (faulted) return;
  jumpNear(nextEip + d, opsize32);
}
export function JMP_Jz_16(): void {
  const d = fetch16();
  if (faulted) return;
  jumpNear(nextEip + d, false);
}
export function JMP_Jz_32(): void {
  const d = fetch32();
  if (faulted) return;
  jumpNear(nextEip + d, true);
}
export function JMP_Ev_16(): void {
  const t = readEw();
  if (faulted) return;
  jumpNear(t, false);
}
export function JMP_Ev_32(): void {
  const t = readEd();
  if (faulted) return;
  jumpNear(t, true);
}

// ---- CALL / RET near: the target is checked before anything is pushed ------------------------

@inline function callNear(target: u32, is32: bool): void {
  if (!is32) target &= 0xffff;
  if (target > load<u32>(S_SEG_LIMIT + (CS << 2))) {
    gp(0);
    return;
  }
  if (is32) push32(nextEip);
  else push16(nextEip);
  if (faulted) return;
  setNextEip(target);
}
export function CALL_Jz_16(): void {
  const d = fetch16();
  if (faulted) return;
  callNear(nextEip + d, false);
}
export function CALL_Jz_32(): void {
  const d = fetch32();
  if (faulted) return;
  callNear(nextEip + d, true);
}
export function CALL_Ev_16(): void {
  const t = readEw();
  if (faulted) return;
  callNear(t, false);
}
export function CALL_Ev_32(): void {
  const t = readEd();
  if (faulted) return;
  callNear(t, true);
}

@inline function retNear(is32: bool, release: u32): void {
  const sp = stackPointer();
  const t = is32 ? pop32() : pop16();
  if (faulted) return;
  if (t > load<u32>(S_SEG_LIMIT + (CS << 2))) {
    setStackPointer(sp);
    gp(0);
    return;
  }
  if (release != 0) setStackPointer(stackOffset(stackPointer(), release));
  setNextEip(t);
}
export function RETN_16(): void {
  retNear(false, 0);
}
export function RETN_32(): void {
  retNear(true, 0);
}
export function RETN_Iw_16(): void {
  const n = fetch16();
  if (faulted) return;
  retNear(false, n);
}
export function RETN_Iw_32(): void {
  const n = fetch16();
  if (faulted) return;
  retNear(true, n);
}

// ---- far transfers -------------------------------------------------------------------------

export function JMPF_Ap_16(): void {
  const off = fetch16();
  const sel = fetch16();
  if (faulted) return;
  farJump(sel, off, false);
}
export function JMPF_Ap_32(): void {
  const off = fetch32();
  const sel = fetch16();
  if (faulted) return;
  farJump(sel, off, true);
}
export function CALLF_Ap_16(): void {
  const off = fetch16();
  const sel = fetch16();
  if (faulted) return;
  farCall(sel, off, false, nextEip);
}
export function CALLF_Ap_32(): void {
  const off = fetch32();
  const sel = fetch16();
  if (faulted) return;
  farCall(sel, off, true, nextEip);
}
@inline function farPointer(is32: bool, call: bool): void {
  const a = effectiveAddress();
  if (faulted) return;
  const off = is32 ? read32(eaSeg, a) : read16(eaSeg, a);
  if (faulted) return;
  const sel = read16(eaSeg, a + (is32 ? 4 : 2));
  if (faulted) return;
  if (call) farCall(sel, off, is32, nextEip);
  else farJump(sel, off, is32);
}
export function JMPF_Mp_16(): void {
  farPointer(false, false);
}
export function JMPF_Mp_32(): void {
  farPointer(true, false);
}
export function CALLF_Mp_16(): void {
  farPointer(false, true);
}
export function CALLF_Mp_32(): void {
  farPointer(true, true);
}
export function RETF_16(): void {
  farReturn(false, 0);
}
export function RETF_32(): void {
  farReturn(true, 0);
}
export function RETF_Iw_16(): void {
  const n = fetch16();
  if (faulted) return;
  farReturn(false, n);
}
export function RETF_Iw_32(): void {
  const n = fetch16();
  if (faulted) return;
  farReturn(true, n);
}
export function IRET_16(): void {
  interruptReturn(false);
}
export function IRET_32(): void {
  interruptReturn(true);
}

// ---- LOOP / JCXZ: the count register is CX or ECX by address size --------------------------

@inline function count(): u32 {
  return addrsize32 ? reg32(ECX) : reg16(ECX);
}
@inline function decCount(): u32 {
  if (addrsize32) {
    const c = reg32(ECX) - 1;
    setReg32(ECX, c);
    return c;
  }
  const c = (reg16(ECX) - 1) & 0xffff;
  setReg16(ECX, c);
  return c;
}
@inline function loopLike(kind: u32, is32: bool): void {
  const d = <u32>(<i32>(<i8>fetch8()));
  if (faulted) return;
  let take: bool;
  if (kind == 3) {
    take = count() == 0;
  } else {
    // The target is checked before ECX is decremented so that a #GP leaves ECX unchanged.
    const c = count() - 1;
    const cnz = addrsize32 ? c != 0 : (c & 0xffff) != 0;
    take = kind == 2 ? cnz : kind == 1 ? cnz && getZF() : cnz && !getZF();
    if (take) {
      let t = nextEip + d;
      if (!is32) t &= 0xffff;
      if (t > load<u32>(S_SEG_LIMIT + (CS << 2))) {
        gp(0);
        return;
      }
    }
    decCount();
  }
  if (take) jumpNear(nextEip + d, is32);
}
export function LOOPNZ_Jb_16(): void {
  loopLike(0, false);
}
export function LOOPNZ_Jb_32(): void {
  loopLike(0, true);
}
export function LOOPZ_Jb_16(): void {
  loopLike(1, false);
}
export function LOOPZ_Jb_32(): void {
  loopLike(1, true);
}
export function LOOP_Jb_16(): void {
  loopLike(2, false);
}
export function LOOP_Jb_32(): void {
  loopLike(2, true);
}
export function JCXZ_Jb_16(): void {
  loopLike(3, false);
}
export function JCXZ_Jb_32(): void {
  loopLike(3, true);
}

// ---- software interrupts ----------------------------------------------------------------------

export function INT_Ib(): void {
  const v = fetch8();
  if (faulted) return;
  raiseSoftware(v);
}
export function INT3(): void {
  raiseSoftware(VEC_BP);
}
export function INTO(): void {
  if (getOF()) raiseSoftware(VEC_OF);
}
/** INT1 (F1, "ICEBP"): a #DB trap delivered like a hardware event (no gate DPL check). */
export function INT1(): void {
  raiseSoftware(VEC_DB);
}
export function UD2(): void {
  ud();
}

