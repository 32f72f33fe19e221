// PUSH/POP of registers, immediates, memory and segment registers; PUSHA/POPA; ENTER/LEAVE.

import { S_INT_SHADOW } from "../../generated/layout";
import { read16, read32, rmwBegin, write16, write32 } from "../../mmu/access";
import { dispatchOpcodeLow, eaSeg, effectiveAddress, fetch16, fetch32, fetch8, modrm } from "../decode";
import { clearFault, faulted, faultVector, gp, VEC_SS } from "../fault";
import { loadSegment } from "../protected/segments";
import { pop16, pop32, push16, push32, setStackPointer, stackOffset, stackPointer } from "../stack";
import { EBP, ESP, mode, reg16, reg32, segSel, setReg16, setReg32, SS, ssIs32 } from "../state";
import { readEd, readEw } from "./alu-core";

export function PUSH_Zv_16(): void {
  push16(reg16(dispatchOpcodeLow()));
}
export function PUSH_Zv_32(): void {
  push32(reg32(dispatchOpcodeLow()));
}
export function POP_Zv_16(): void {
  const v = pop16();
  if (faulted) return;
  setReg16(dispatchOpcodeLow(), v);
}
export function POP_Zv_32(): void {
  const v = pop32();
  if (faulted) return;
  setReg32(dispatchOpcodeLow(), v);
}
export function PUSH_Iz_16(): void {
  const v = fetch16();
  if (faulted) return;
  push16(v);
}
export function PUSH_Iz_32(): void {
  const v = fetch32();
  if (faulted) return;
  push32(v);
}
export function PUSH_Ibs_16(): void {
  const v = fetch8();
  if (faulted) return;
  push16(<u32>(<i32>(<i8>v)));
}
export function PUSH_Ibs_32(): void {
  const v = fetch8();
  if (faulted) return;
  push32(<u32>(<i32>(<i8>v)));
}
export function PUSH_Ev_16(): void {
  const v = readEw();
  if (faulted) return;
  push16(v);
}
export function PUSH_Ev_32(): void {
  const v = readEd();
  if (faulted) return;
  push32(v);
}

/**
 * POP Ev: the value is popped first and ESP is incremented before the destination address is
 * computed, so [ESP]-based destinations use the new ESP (SDM "POP").
 */
export function POP_Ev_16(): void {
  const sp = stackPointer();
  const v = read16(SS, sp);
  if (faulted) return;
  if (modrm >= 0xc0) {
    setStackPointer(stackOffset(sp, 2));
    setReg16(modrm & 7, v);
    return;
  }
  setStackPointer(stackOffset(sp, 2));
  const a = effectiveAddress();
  if (!faulted) write16(eaSeg, a, v);
  if (faulted) setStackPointer(sp);
}
export function POP_Ev_32(): void {
  const sp = stackPointer();
  const v = read32(SS, sp);
  if (faulted) return;
  if (modrm >= 0xc0) {
    setStackPointer(stackOffset(sp, 4));
    setReg32(modrm & 7, v);
    return;
  }
  setStackPointer(stackOffset(sp, 4));
  const a = effectiveAddress();
  if (!faulted) write32(eaSeg, a, v);
  if (faulted) setStackPointer(sp);
}

// ---- segment registers: a 32-bit push writes the selector in the low word only (P6) ---------------

@inline function pushSeg(s: u32, is32: bool): void {
  if (!is32) {
    push16(segSel(s));
    return;
  }
  const sp = stackOffset(stackPointer(), <u32>-4);
  write16(SS, sp, segSel(s));
  if (faulted) return;
  setStackPointer(sp);
}
/**
 * POP Sreg. The stack pointer steps by the size of the stack the value was popped from: POP SS
 * that loads a segment of the other size still increments ESP or SP as the old SS says (SDM
 * "POP": the increment belongs to the pop, which happens before the load).
 */
@inline function popSeg(s: u32, is32: bool): void {
  const sp = stackPointer();
  const v = read16(SS, sp);
  if (faulted) return;
  const oldStack32 = ssIs32();
  const next = stackOffset(sp, is32 ? 4 : 2);
  loadSegment(s, v);
  if (faulted) return;
  if (oldStack32) setReg32(ESP, next);
  else setReg32(ESP, (reg32(ESP) & 0xffff0000) | (next & 0xffff));
  if (s == SS) store<u32>(S_INT_SHADOW, 1);
}
export function PUSH_ES_16(): void {
  pushSeg(0, false);
}
export function PUSH_ES_32(): void {
  pushSeg(0, true);
}
export function PUSH_CS_16(): void {
  pushSeg(1, false);
}
export function PUSH_CS_32(): void {
  pushSeg(1, true);
}
export function PUSH_SS_16(): void {
  pushSeg(2, false);
}
export function PUSH_SS_32(): void {
  pushSeg(2, true);
}
export function PUSH_DS_16(): void {
  pushSeg(3, false);
}
export function PUSH_DS_32(): void {
  pushSeg(3, true);
}
export function PUSH_FS_16(): void {
  pushSeg(4, false);
}
export function PUSH_FS_32(): void {
  pushSeg(4, true);
}
export function PUSH_GS_16(): void {
  pushSeg(5, false);
}
export function PUSH_GS_32(): void {
  pushSeg(5, true);
}
export function POP_ES_16(): void {
  popSeg(0, false);
}
export function POP_ES_32(): void {
  popSeg(0, true);
}
export function POP_SS_16(): void {
  popSeg(2, false);
}
export function POP_SS_32(): void {
  popSeg(2, true);
}
export function POP_DS_16(): void {
  popSeg(3, false);
}
export function POP_DS_32(): void {
  popSeg(3, true);
}
export function POP_FS_16(): void {
  popSeg(4, false);
}
export function POP_FS_32(): void {
  popSeg(4, true);
}
export function POP_GS_16(): void {
  popSeg(5, false);
}
export function POP_GS_32(): void {
  popSeg(5, true);
}

// ---- PUSHA / POPA: all eight writes are checked before ESP moves -------------------------------

export function PUSHA_16(): void {
  const sp = stackPointer();
  const orig = reg16(ESP);
  for (let r: u32 = 0; r < 8; r++) {
    write16(SS, stackOffset(sp, <u32>(-2 * (<i32>r + 1))), r == ESP ? orig : reg16(r));
    if (faulted) return;
  }
  setStackPointer(stackOffset(sp, <u32>-16));
}
export function PUSHA_32(): void {
  const sp = stackPointer();
  const orig = reg32(ESP);
  for (let r: u32 = 0; r < 8; r++) {
    write32(SS, stackOffset(sp, <u32>(-4 * (<i32>r + 1))), r == ESP ? orig : reg32(r));
    if (faulted) return;
  }
  setStackPointer(stackOffset(sp, <u32>-32));
}
export function POPA_16(): void {
  const sp = stackPointer();
  // Read all eight words first (DI is lowest), then commit; the SP slot is skipped.
  for (let i: u32 = 0; i < 8; i++) {
    read16(SS, stackOffset(sp, i << 1));
    if (faulted) return;
  }
  for (let i: u32 = 0; i < 8; i++) {
    const r = 7 - i;
    const v = read16(SS, stackOffset(sp, i << 1));
    if (r != ESP) setReg16(r, v);
  }
  setStackPointer(stackOffset(sp, 16));
}
export function POPA_32(): void {
  const sp = stackPointer();
  for (let i: u32 = 0; i < 8; i++) {
    read32(SS, stackOffset(sp, i << 2));
    if (faulted) return;
  }
  for (let i: u32 = 0; i < 8; i++) {
    const r = 7 - i;
    const v = read32(SS, stackOffset(sp, i << 2));
    if (r != ESP) setReg32(r, v);
  }
  setStackPointer(stackOffset(sp, 32));
}

// ---- ENTER / LEAVE --------------------------------------------------------------------------

/** ENTER imm16, imm8 (SDM "ENTER"): nesting level taken modulo 32. */
@inline function enter(is32: bool): void {
  const size = fetch16();
  if (faulted) return;
  const level = fetch8() & 31;
  if (faulted) return;
  const w: u32 = is32 ? 4 : 2;
  let sp = stackPointer();
  // The saved frame pointers are addressed through EBP or BP by the stack size, whatever the
  // operand size (SDM "ENTER": IF StackSize = 32 THEN EBP <- EBP - 4 or 2 ...).
  const bp = ssIs32() ? reg32(EBP) : reg16(EBP);
  // Push EBP (all of it with a 32-bit operand, on either stack) or BP.
  sp = stackOffset(sp, <u32>-<i32>w);
  if (is32) write32(SS, sp, reg32(EBP));
  else write16(SS, sp, bp);
  if (faulted) return;
  // The frame pointer is the stack pointer after that push. With a 32-bit operand on a 16-bit
  // stack it is the whole ESP, its high half as it stands (measured on the host CPU: ESP
  // 0x12340100, o32 ENTER 8,0 leaves EBP 0x123400FC and ESP 0x123400F4).
  const frame = is32 && !ssIs32() ? (reg32(ESP) & 0xffff0000) | sp : sp;
  if (level > 0) {
    let ebp = bp;
    for (let i: u32 = 1; i < level; i++) {
      ebp = ssIs32() ? ebp - w : (ebp - w) & 0xffff;
      const v = is32 ? read32(SS, ebp) : read16(SS, ebp);
      if (faulted) return;
      sp = stackOffset(sp, <u32>-<i32>w);
      if (is32) write32(SS, sp, v);
      else write16(SS, sp, v);
      if (faulted) return;
    }
    sp = stackOffset(sp, <u32>-<i32>w);
    if (is32) write32(SS, sp, frame);
    else write16(SS, sp, frame);
    if (faulted) return;
  }
  sp = stackOffset(sp, <u32>-<i32>size);
  // ENTER ends with a write check at the final stack pointer, without writing (SDM "ENTER":
  // #SS(0) if the new stack pointer is outside the stack segment, #PF if a write through it
  // would fault): a frame the procedure could not use faults here, not at its first store.
  if (!rmwBegin(SS, sp, w)) return;
  if (is32) setReg32(EBP, frame);
  else setReg16(EBP, frame);
  setStackPointer(sp);
}
export function ENTER_IwIb_16(): void {
  enter(false);
}
export function ENTER_IwIb_32(): void {
  enter(true);
}

/**
 * LEAVE: ESP = EBP, then pop EBP. In real-address mode an EBP outside 0-FFFFh raises #GP, not
 * #SS (SDM vol. 2 "LEAVE", real-address mode exceptions).
 */
@inline function leave(is32: bool): void {
  const bp = ssIs32() ? reg32(EBP) : reg16(EBP);
  const v = is32 ? read32(SS, bp) : read16(SS, bp);
  if (faulted) {
    if (mode() == 0 && faultVector == VEC_SS) {
      clearFault();
      gp(0);
    }
    return;
  }
  setStackPointer(stackOffset(bp, is32 ? 4 : 2));
  if (is32) setReg32(EBP, v);
  else setReg16(EBP, v);
}
export function LEAVE_16(): void {
  leave(false);
}
export function LEAVE_32(): void {
  leave(true);
}
