// Far control transfers: JMP/CALL far, RET far, IRET, in every mode.
// Real mode and virtual-8086 mode (JMP/CALL/RET) load CS as base = selector * 16. Protected
// mode follows the SDM vol. 2 pages "JMP", "CALL", "RET", "IRET/IRETD" and vol. 3 5.8 (call
// gates), 6.12 (interrupt returns), 7.3 (task switches), 20.3 (virtual-8086 mode).

import { S_CR, S_EFLAGS, S_MODE } from "../../generated/layout";
import { read16, read32 } from "../../mmu/access";
import { writeEflags } from "../control";
import { invalidateFetch, nextEip, setNextEip } from "../decode";
import { faulted, gp, raise, ssFault, VEC_NP, VEC_TS } from "../fault";
import { getEflags } from "../flags";
import { pop16, pop32, push16, push32, setStackPointer, stackOffset, stackPointer } from "../stack";
import {
  CR4_VME,
  CS,
  cpl,
  DS,
  ES,
  ESP,
  FLAG_IF,
  FLAG_IOPL,
  FLAG_NT,
  FLAG_TF,
  FLAG_VIF,
  FLAG_VIP,
  FLAG_VM,
  FS,
  GS,
  loadSegmentReal,
  reg32,
  segLimit,
  segSel,
  setReg32,
  SS,
} from "../state";
import {
  descAddr,
  descHi,
  descIsCode,
  descIsConforming,
  descIsSegment,
  descLo,
  descriptorBase,
  descriptorDpl,
  descriptorLimit,
  descriptorPresent,
  descSystemType,
  fetchDescriptor,
  gateOffset,
  gateParamCount,
  gateSelector,
  markAccessed,
  presentOrNp,
  SYS_CALL_GATE16,
  SYS_CALL_GATE32,
  SYS_TASK_GATE,
  SYS_TSS16_AVAIL,
  SYS_TSS16_BUSY,
  SYS_TSS32_AVAIL,
  SYS_TSS32_BUSY,
  writeDescriptorTypeByte,
} from "./descriptor";
import { frameOpen, frameOpenCurrent, framePush, frameSp } from "./frame";
import { loadCodeSegment, loadDescriptorCache, nullInaccessibleDataSegments } from "./segments";
import {
  backLink,
  checkInnerStack,
  innerSsHi,
  innerSsLo,
  readTssStack,
  TASK_CALL,
  TASK_IRET,
  TASK_JMP,
  taskSwitch,
  tssEsp,
  tssSs,
} from "./task-switch";

// The target code segment found by the checks (copied out of the descriptor globals).
let tLo: u32 = 0;
let tHi: u32 = 0;
let tAddr: u32 = 0;

/** JMP ptr16:16/32 or JMP m16:16/32 to sel:off. */
export function farJump(sel: u32, off: u32, opsize32: bool): void {
  if (!opsize32) off &= 0xffff;
  if (load<u32>(S_MODE) == 1) {
    protectedJump(sel & 0xffff, off);
    return;
  }
  loadSegmentReal(CS, sel);
  setNextEip(off);
  invalidateFetch();
}

/** CALL far: pushes CS and the return offset, then transfers. `retEip` is the return address. */
export function farCall(sel: u32, off: u32, opsize32: bool, retEip: u32): void {
  if (!opsize32) off &= 0xffff;
  if (load<u32>(S_MODE) == 1) {
    protectedCall(sel & 0xffff, off, opsize32, retEip);
    return;
  }
  const sp = stackPointer();
  if (opsize32) {
    push32(segSel(CS));
    if (faulted) return;
    push32(retEip);
  } else {
    push16(segSel(CS));
    if (faulted) return;
    push16(retEip);
  }
  if (faulted) {
    setStackPointer(sp);
    return;
  }
  loadSegmentReal(CS, sel);
  setNextEip(off);
  invalidateFetch();
}

/** RET far (and RET far imm16: `popBytes` released after the return address). */
export function farReturn(opsize32: bool, popBytes: u32): void {
  if (load<u32>(S_MODE) == 1) {
    protectedReturn(opsize32, popBytes);
    return;
  }
  const sp = stackPointer();
  const off = opsize32 ? pop32() : pop16();
  if (faulted) return;
  const sel = opsize32 ? pop32() & 0xffff : pop16();
  if (faulted) {
    setStackPointer(sp);
    return;
  }
  if (off > segLimit(CS) && load<u32>(S_MODE) == 2) {
    setStackPointer(sp);
    gp(0);
    return;
  }
  if (off > 0xffff && !opsize32) {
    setStackPointer(sp);
    gp(0);
    return;
  }
  setStackPointer(stackOffset(stackPointer(), popBytes));
  loadSegmentReal(CS, sel);
  setNextEip(off);
  invalidateFetch();
}

/** IRET / IRETD. */
export function interruptReturn(opsize32: bool): void {
  const m = load<u32>(S_MODE);
  if (m == 1) {
    protectedIret(opsize32);
    return;
  }
  if (m == 2) {
    v86Iret(opsize32);
    return;
  }
  const sp = stackPointer();
  const ip = opsize32 ? pop32() : pop16();
  if (faulted) return;
  const cs = opsize32 ? pop32() & 0xffff : pop16();
  if (faulted) {
    setStackPointer(sp);
    return;
  }
  const fl = opsize32 ? pop32() : pop16();
  if (faulted) {
    setStackPointer(sp);
    return;
  }
  if (ip > 0xffff) {
    setStackPointer(sp);
    gp(0);
    return;
  }
  // Real mode: every flag but VM (and VIP/VIF) may change; a 16-bit IRET keeps the high word.
  const mask: u32 = opsize32 ? 0x257fd5 : 0x7fd5;
  writeEflags(fl, mask);
  loadSegmentReal(CS, cs);
  setNextEip(ip);
  invalidateFetch();
}

// ---- protected mode ------------------------------------------------------------------------

/**
 * Fetches a code segment that a JMP, CALL, RET or IRET names, raising #GP(sel) when it is
 * beyond its table or not a code segment. The descriptor is left in tLo/tHi/tAddr.
 */
function fetchCode(sel: u32): bool {
  if ((sel & 0xfffc) == 0) {
    gp(0);
    return false;
  }
  if (!fetchDescriptor(sel)) {
    if (!faulted) gp(sel & 0xfffc);
    return false;
  }
  tLo = descLo;
  tHi = descHi;
  tAddr = descAddr;
  if (!descIsCode(tHi)) {
    gp(sel & 0xfffc);
    return false;
  }
  return true;
}

/** Sets the accessed bit of the target code segment found by fetchCode. */
function markTargetAccessed(): void {
  if ((tHi & 0x100) == 0) {
    tHi |= 0x100;
    writeDescriptorTypeByte(tAddr, tHi);
  }
}

/**
 * Direct JMP or CALL to a code segment at the same privilege (SDM "JMP", "CALL"):
 * conforming: DPL <= CPL; non-conforming: RPL <= CPL and DPL = CPL; else #GP(sel).
 */
function checkDirectCode(sel: u32): bool {
  const c = cpl();
  const dpl = descriptorDpl(tHi);
  if (descIsConforming(tHi) ? dpl > c : (sel & 3) > c || dpl != c) {
    gp(sel & 0xfffc);
    return false;
  }
  if (!presentOrNp(tHi, sel)) return false;
  return true;
}

/** Gate or TSS descriptor privilege for JMP/CALL: DPL >= CPL and DPL >= RPL, and present. */
function checkGateAccess(sel: u32, hi: u32): bool {
  const dpl = descriptorDpl(hi);
  if (dpl < cpl() || dpl < (sel & 3)) {
    gp(sel & 0xfffc);
    return false;
  }
  if (!presentOrNp(hi, sel)) return false;
  return true;
}

/**
 * Task gate or TSS descriptor named by JMP or CALL: the TSS must be in the GDT, available
 * (#GP(TSS sel) otherwise) and present (#NP(TSS sel)); then the task switch.
 */
function switchToTss(tssSel: u32, source: u32): void {
  if ((tssSel & 4) != 0 || !fetchDescriptor(tssSel)) {
    if (!faulted) gp(tssSel & 0xfffc);
    return;
  }
  const lo = descLo;
  const hi = descHi;
  const addr = descAddr;
  const t = descSystemType(hi);
  if (descIsSegment(hi) || (t != SYS_TSS16_AVAIL && t != SYS_TSS32_AVAIL)) {
    gp(tssSel & 0xfffc);
    return;
  }
  if (!presentOrNp(hi, tssSel)) return;
  taskSwitch(tssSel, lo, hi, addr, source, nextEip);
}

function protectedJump(sel: u32, off: u32): void {
  if ((sel & 0xfffc) == 0) {
    gp(0);
    return;
  }
  if (!fetchDescriptor(sel)) {
    if (!faulted) gp(sel & 0xfffc);
    return;
  }
  const lo = descLo;
  const hi = descHi;
  if (descIsSegment(hi)) {
    if (!fetchCode(sel) || !checkDirectCode(sel)) return;
    if (off > descriptorLimit(tLo, tHi)) {
      gp(0);
      return;
    }
    markTargetAccessed();
    if (faulted) return;
    loadCodeSegment(sel, tLo, tHi, cpl());
    setNextEip(off);
    return;
  }
  const t = descSystemType(hi);
  if (t == SYS_CALL_GATE16 || t == SYS_CALL_GATE32) {
    // JMP through a call gate: no privilege change; the target must be usable at CPL.
    if (!checkGateAccess(sel, hi)) return;
    const tsel = gateSelector(lo);
    const toff = t == SYS_CALL_GATE32 ? gateOffset(lo, hi) : lo & 0xffff;
    if (!fetchCode(tsel) || !checkDirectCodeVia(tsel)) return;
    if (toff > descriptorLimit(tLo, tHi)) {
      gp(0);
      return;
    }
    markTargetAccessed();
    if (faulted) return;
    loadCodeSegment(tsel, tLo, tHi, cpl());
    setNextEip(toff);
    return;
  }
  farToTask(sel, lo, hi, t, TASK_JMP);
}

/** Target of a JMP through a call gate: conforming DPL <= CPL, non-conforming DPL = CPL. */
function checkDirectCodeVia(tsel: u32): bool {
  const c = cpl();
  const dpl = descriptorDpl(tHi);
  if (descIsConforming(tHi) ? dpl > c : dpl != c) {
    gp(tsel & 0xfffc);
    return false;
  }
  if (!presentOrNp(tHi, tsel)) return false;
  return true;
}

function protectedCall(sel: u32, off: u32, opsize32: bool, retEip: u32): void {
  if ((sel & 0xfffc) == 0) {
    gp(0);
    return;
  }
  if (!fetchDescriptor(sel)) {
    if (!faulted) gp(sel & 0xfffc);
    return;
  }
  const lo = descLo;
  const hi = descHi;
  const c = cpl();
  if (descIsSegment(hi)) {
    if (!fetchCode(sel) || !checkDirectCode(sel)) return;
    // Same privilege: CS and EIP on the current stack (#SS(0)), then the limit (#GP(0)).
    callSamePrivilege(sel, tLo, tHi, off, opsize32 ? 4 : 2, retEip, c);
    return;
  }
  const t = descSystemType(hi);
  if (t == SYS_CALL_GATE16 || t == SYS_CALL_GATE32) {
    callGate(sel, lo, hi, t == SYS_CALL_GATE32, retEip);
    return;
  }
  farToTask(sel, lo, hi, t, TASK_CALL);
}

/**
 * CALL through a call gate (SDM vol. 3, 5.8.4-5.8.5; vol. 2 "CALL"): to a more privileged
 * non-conforming segment with a stack switch from the TSS and the gate's parameter count
 * copied, else at the same privilege. The gate's size (286 or 386 gate) sets the frame size.
 */
function callGate(sel: u32, lo: u32, hi: u32, gate32: bool, retEip: u32): void {
  if (!checkGateAccess(sel, hi)) return;
  const tsel = gateSelector(lo);
  const toff = gate32 ? gateOffset(lo, hi) : lo & 0xffff;
  if (!fetchCode(tsel)) return;
  const c = cpl();
  const dpl = descriptorDpl(tHi);
  if (dpl > c) {
    gp(tsel & 0xfffc);
    return;
  }
  if (!presentOrNp(tHi, tsel)) return;
  const size: u32 = gate32 ? 4 : 2;
  if (!descIsConforming(tHi) && dpl < c) {
    // More privilege: new SS:ESP for the target DPL from the TSS.
    if (!readTssStack(dpl, 0)) return;
    const ssel = tssSs;
    const newEsp = tssEsp;
    if (!checkInnerStack(ssel, dpl, 0)) return;
    const sLo = innerSsLo;
    const sHi = innerSsHi;
    const count = gateParamCount(hi);
    const oldSs = segSel(SS);
    const oldEsp = reg32(ESP);
    const oldSp = stackPointer();
    frameOpen(descriptorBase(sLo, sHi), descriptorLimit(sLo, sHi), (sHi >>> 8) & 0xf0ff, newEsp, false, ssel & 0xfffc);
    framePush(oldSs, size);
    if (faulted) return;
    framePush(oldEsp, size);
    if (faulted) return;
    // Parameters keep their order: the deepest (highest address) is copied first.
    for (let i: i32 = <i32>count - 1; i >= 0; i--) {
      const at = stackOffset(oldSp, <u32>i * size);
      const v = size == 4 ? read32(SS, at) : read16(SS, at);
      if (faulted) return;
      framePush(v, size);
      if (faulted) return;
    }
    framePush(segSel(CS), size);
    if (faulted) return;
    framePush(retEip, size);
    if (faulted) return;
    if (toff > descriptorLimit(tLo, tHi)) {
      gp(0);
      return;
    }
    markTargetAccessed();
    if (faulted) return;
    loadDescriptorCache(SS, ssel, sLo, sHi);
    setStackPointer(frameSp());
    loadCodeSegment(tsel, tLo, tHi, dpl);
    setNextEip(toff);
    return;
  }
  if (!descIsConforming(tHi) && dpl != c) {
    gp(tsel & 0xfffc);
    return;
  }
  callSamePrivilege(tsel, tLo, tHi, toff, size, retEip, c);
}

/**
 * Far CALL to code at the current privilege (directly or through a gate): CS and the return
 * offset go on the current stack (#SS(0)), then the offset is checked against the limit
 * (#GP(0)), then CS:EIP change.
 */
function callSamePrivilege(sel: u32, tLo: u32, tHi: u32, off: u32, size: u32, retEip: u32, c: u32): void {
  frameOpenCurrent(0);
  framePush(segSel(CS), size);
  if (faulted) return;
  framePush(retEip, size);
  if (faulted) return;
  if (off > descriptorLimit(tLo, tHi)) {
    gp(0);
    return;
  }
  markTargetAccessed();
  if (faulted) return;
  setStackPointer(frameSp());
  loadCodeSegment(sel, tLo, tHi, c);
  setNextEip(off);
}

/**
 * Checks the code segment a RET or IRET returns to (SDM "RET", "IRET"): RPL >= CPL;
 * conforming DPL <= RPL, non-conforming DPL = RPL (#GP(sel)); present (#NP(sel)).
 */
function checkReturnCode(csel: u32): bool {
  if (!fetchCode(csel)) return false;
  const rpl = csel & 3;
  const dpl = descriptorDpl(tHi);
  if (rpl < cpl() || (descIsConforming(tHi) ? dpl > rpl : dpl != rpl)) {
    gp(csel & 0xfffc);
    return false;
  }
  if (!presentOrNp(tHi, csel)) return false;
  return true;
}

let rsLo: u32 = 0;
let rsHi: u32 = 0;

/**
 * The stack segment a return to the outer level `rpl` loads: null -> #GP(0); beyond the table,
 * RPL or DPL other than `rpl`, or not writable data -> #GP(sel); not present -> #SS(sel).
 */
function checkReturnStack(ssel: u32, rpl: u32): bool {
  if ((ssel & 0xfffc) == 0) {
    gp(0);
    return false;
  }
  if (!fetchDescriptor(ssel)) {
    if (!faulted) gp(ssel & 0xfffc);
    return false;
  }
  const hi = descHi;
  if ((ssel & 3) != rpl || descriptorDpl(hi) != rpl || (hi & 0x1a00) != 0x1200) {
    gp(ssel & 0xfffc);
    return false;
  }
  if (!descriptorPresent(hi)) {
    ssFault(ssel & 0xfffc);
    return false;
  }
  markAccessed();
  if (faulted) return false;
  rsLo = descLo;
  rsHi = descHi;
  return true;
}

function protectedReturn(opsize32: bool, popBytes: u32): void {
  const size: u32 = opsize32 ? 4 : 2;
  const sp = stackPointer();
  const off = size == 4 ? read32(SS, sp) : read16(SS, sp);
  if (faulted) return;
  const csel = (size == 4 ? read32(SS, stackOffset(sp, size)) : read16(SS, stackOffset(sp, size))) & 0xffff;
  if (faulted) return;
  if (!checkReturnCode(csel)) return;
  const rpl = csel & 3;
  if (rpl > cpl()) {
    // Return to an outer level: SS:ESP of the caller after the parameters (SDM "RET").
    const at = stackOffset(sp, 2 * size + popBytes);
    const esp = size == 4 ? read32(SS, at) : read16(SS, at);
    if (faulted) return;
    const ssel = (size == 4 ? read32(SS, stackOffset(at, size)) : read16(SS, stackOffset(at, size))) & 0xffff;
    if (faulted) return;
    if (!checkReturnStack(ssel, rpl)) return;
    if (off > descriptorLimit(tLo, tHi)) {
      gp(0);
      return;
    }
    markTargetAccessed();
    if (faulted) return;
    loadCodeSegment(csel, tLo, tHi, rpl);
    loadDescriptorCache(SS, ssel, rsLo, rsHi);
    // A 16-bit SS takes only SP; the upper half of ESP keeps its value (as Bochs does).
    setStackPointer(stackOffset(esp, popBytes));
    nullInaccessibleDataSegments(rpl);
    setNextEip(off);
    return;
  }
  if (off > descriptorLimit(tLo, tHi)) {
    gp(0);
    return;
  }
  markTargetAccessed();
  if (faulted) return;
  loadCodeSegment(csel, tLo, tHi, cpl());
  setStackPointer(stackOffset(sp, 2 * size + popBytes));
  setNextEip(off);
}

/** IRET in protected mode (SDM vol. 2 "IRET/IRETD": PROTECTED-MODE, TASK-RETURN, RETURN-TO-V86). */
function protectedIret(opsize32: bool): void {
  if ((load<u32>(S_EFLAGS) & FLAG_NT) != 0) {
    // Task return: the back link must name a busy TSS in the GDT (#TS(link)), present (#NP).
    const link = backLink();
    if (faulted) return;
    if ((link & 4) != 0 || !fetchDescriptor(link)) {
      if (!faulted) raise(VEC_TS, <i32>(link & 0xfffc));
      return;
    }
    const lo = descLo;
    const hi = descHi;
    const addr = descAddr;
    const t = descSystemType(hi);
    if (descIsSegment(hi) || (t != SYS_TSS16_BUSY && t != SYS_TSS32_BUSY)) {
      raise(VEC_TS, <i32>(link & 0xfffc));
      return;
    }
    if (!descriptorPresent(hi)) {
      raise(VEC_NP, <i32>(link & 0xfffc));
      return;
    }
    taskSwitch(link, lo, hi, addr, TASK_IRET, nextEip);
    return;
  }
  const size: u32 = opsize32 ? 4 : 2;
  const sp = stackPointer();
  const off = size == 4 ? read32(SS, sp) : read16(SS, sp);
  if (faulted) return;
  const csel = (size == 4 ? read32(SS, stackOffset(sp, 4)) : read16(SS, stackOffset(sp, 2))) & 0xffff;
  if (faulted) return;
  const fl = size == 4 ? read32(SS, stackOffset(sp, 8)) : read16(SS, stackOffset(sp, 4));
  if (faulted) return;
  const c = cpl();
  if (size == 4 && (fl & FLAG_VM) != 0 && c == 0) {
    iretToV86(sp, off, csel, fl);
    return;
  }
  if (!checkReturnCode(csel)) return;
  const rpl = csel & 3;
  // Flags IRET may change, decided at the current (old) CPL.
  const iopl = (load<u32>(S_EFLAGS) >>> 12) & 3;
  let mask: u32 = 0x4dd5; // CF PF AF ZF SF TF DF OF NT
  if (size == 4) mask |= 0x250000; // RF AC ID
  if (c <= iopl) mask |= FLAG_IF;
  if (c == 0) {
    mask |= FLAG_IOPL;
    if (size == 4) mask |= FLAG_VIF | FLAG_VIP;
  }
  if (rpl > c) {
    const esp = size == 4 ? read32(SS, stackOffset(sp, 12)) : read16(SS, stackOffset(sp, 6));
    if (faulted) return;
    const ssel = (size == 4 ? read32(SS, stackOffset(sp, 16)) : read16(SS, stackOffset(sp, 8))) & 0xffff;
    if (faulted) return;
    if (!checkReturnStack(ssel, rpl)) return;
    if (off > descriptorLimit(tLo, tHi)) {
      gp(0);
      return;
    }
    markTargetAccessed();
    if (faulted) return;
    writeEflags(fl, mask);
    loadCodeSegment(csel, tLo, tHi, rpl);
    loadDescriptorCache(SS, ssel, rsLo, rsHi);
    setStackPointer(esp); // a 16-bit SS takes only SP (the "espfix" behaviour)
    nullInaccessibleDataSegments(rpl);
    setNextEip(off);
    return;
  }
  if (off > descriptorLimit(tLo, tHi)) {
    gp(0);
    return;
  }
  markTargetAccessed();
  if (faulted) return;
  writeEflags(fl, mask);
  loadCodeSegment(csel, tLo, tHi, c);
  setStackPointer(stackOffset(sp, 3 * size));
  setNextEip(off);
}

/**
 * IRETD at CPL 0 with VM set in the popped EFLAGS: return to virtual-8086 mode (SDM "IRET",
 * RETURN-TO-VIRTUAL-8086-MODE; vol. 3 20.2.5). Pops ESP, SS, ES, DS, FS, GS after EFLAGS.
 */
function iretToV86(sp: u32, off: u32, csel: u32, fl: u32): void {
  const esp = read32(SS, stackOffset(sp, 12));
  const ss = read32(SS, stackOffset(sp, 16)) & 0xffff;
  const es = read32(SS, stackOffset(sp, 20)) & 0xffff;
  const ds = read32(SS, stackOffset(sp, 24)) & 0xffff;
  const fs = read32(SS, stackOffset(sp, 28)) & 0xffff;
  const gs = read32(SS, stackOffset(sp, 32)) & 0xffff;
  if (faulted) return;
  if (off > 0xffff) {
    gp(0);
    return;
  }
  writeEflags(fl, 0xffffffff); // VM=1: the mode becomes virtual-8086 and CPL 3
  loadSegmentReal(CS, csel);
  loadSegmentReal(SS, ss);
  loadSegmentReal(ES, es);
  loadSegmentReal(DS, ds);
  loadSegmentReal(FS, fs);
  loadSegmentReal(GS, gs);
  setReg32(ESP, esp);
  setNextEip(off);
  invalidateFetch();
}

/**
 * IRET in virtual-8086 mode (SDM "IRET", vol. 3 20.2.7 and 20.3): with IOPL 3 a real-mode
 * style return that leaves IOPL (and VM, VIF, VIP) alone; with IOPL < 3, #GP(0) unless CR4.VME
 * and a 16-bit IRET, which updates VIF from the popped IF (#GP(0) if that would enable a pending
 * virtual interrupt or set TF).
 */
function v86Iret(opsize32: bool): void {
  const iopl = (load<u32>(S_EFLAGS) >>> 12) & 3;
  const vme = (load<u32>(S_CR + 16) & CR4_VME) != 0;
  if (iopl < 3 && (opsize32 || !vme)) {
    gp(0);
    return;
  }
  const size: u32 = opsize32 ? 4 : 2;
  const sp = stackPointer();
  const ip = size == 4 ? read32(SS, sp) : read16(SS, sp);
  if (faulted) return;
  const cs = (size == 4 ? read32(SS, stackOffset(sp, 4)) : read16(SS, stackOffset(sp, 2))) & 0xffff;
  if (faulted) return;
  const fl = size == 4 ? read32(SS, stackOffset(sp, 8)) : read16(SS, stackOffset(sp, 4));
  if (faulted) return;
  if (ip > 0xffff) {
    gp(0);
    return;
  }
  if (iopl == 3) {
    const mask: u32 = size == 4 ? 0x3f7fd5 & ~(FLAG_IOPL | FLAG_VM | FLAG_VIF | FLAG_VIP) : 0xffff & ~FLAG_IOPL;
    writeEflags(fl, mask);
  } else {
    const cur = getEflags();
    if (((cur & FLAG_VIP) != 0 && (fl & FLAG_IF) != 0) || (fl & FLAG_TF) != 0) {
      gp(0);
      return;
    }
    const vif: u32 = (fl & FLAG_IF) != 0 ? FLAG_VIF : 0;
    writeEflags((fl & 0xffff) | vif, (0xffff & ~(FLAG_IF | FLAG_IOPL)) | FLAG_VIF);
  }
  loadSegmentReal(CS, cs);
  setStackPointer(stackOffset(sp, 3 * size));
  setNextEip(ip);
  invalidateFetch();
}

/**
 * Far JMP/CALL to a task gate or an available TSS descriptor: the gate's or descriptor's DPL
 * against CPL and RPL, then the task switch; any other system type is #GP(selector).
 */
function farToTask(sel: u32, lo: u32, hi: u32, t: u32, source: u32): void {
  if (t != SYS_TASK_GATE && t != SYS_TSS16_AVAIL && t != SYS_TSS32_AVAIL) {
    gp(sel & 0xfffc);
    return;
  }
  if (!checkGateAccess(sel, hi)) return;
  switchToTss(t == SYS_TASK_GATE ? gateSelector(lo) : sel, source);
}
