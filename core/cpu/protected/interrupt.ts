// Protected-mode and virtual-8086-mode event delivery through the IDT (SDM vol. 3, 6.10-6.14,
// 20.3; vol. 2 "INT n/INTO/INT3": PROTECTED-MODE, INTER-PRIVILEGE-LEVEL-INTERRUPT,
// INTRA-PRIVILEGE-LEVEL-INTERRUPT, INTERRUPT-FROM-VIRTUAL-8086-MODE, TASK-GATE).

import {
  S_CR,
  S_EFLAGS,
  S_IDTR_BASE,
  S_IDTR_LIMIT,
  S_MODE,
  S_SEG_ATTR,
  S_SEG_BASE,
  S_SEG_LIMIT,
  S_SEG_VALID,
} from "../../generated/layout";
import { readLin16, readLin8, sysRead16, sysRead32, sysRead8 } from "../../mmu/access";
import { writeEflags } from "../control";
import { insnEip } from "../decode";
import { faulted, gp, npFault } from "../fault";
import { getEflags } from "../flags";
import { push16, push32, setStackPointer } from "../stack";
import {
  CR4_VME,
  CS,
  DS,
  ES,
  ESP,
  FLAG_IF,
  FLAG_IOPL,
  FLAG_NT,
  FLAG_RF,
  FLAG_TF,
  FLAG_VIF,
  FLAG_VM,
  cpl,
  FS,
  getEip,
  GS,
  loadSegmentReal,
  reg32,
  segBase,
  segSel,
  setEip,
  SS,
  TR,
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
  gateSelector,
  markAccessed,
  SYS_INT_GATE16,
  SYS_INT_GATE32,
  SYS_TASK_GATE,
  SYS_TRAP_GATE16,
  SYS_TRAP_GATE32,
  SYS_TSS16_AVAIL,
  SYS_TSS32_AVAIL,
} from "./descriptor";
import { frameOpen, frameOpenCurrent, framePush, frameSp } from "./frame";
import { loadCodeSegment, loadDescriptorCache, setNullSegment } from "./segments";
import { checkInnerStack, innerSsHi, innerSsLo, readTssStack, TASK_INT, taskSwitch, tssEsp, tssSs } from "./task-switch";

/**
 * Delivers `vector` through the IDT. `error` is the error code or -1; `software` marks INT n,
 * INT3 and INTO (gate DPL >= CPL required); `external` marks hardware interrupts. S_EIP holds
 * the return address. The EXT bit of error codes raised here is set for every event that is
 * not a software interrupt (SDM 6.13: "an interrupt or an earlier exception").
 */
export function interruptProtected(vector: u32, error: i32, software: bool, external: bool): void {
  // INT1 (F1) is delivered like a hardware event: no gate DPL check (SDM vol. 3, 6.12.1.1).
  if (software && vector == 1 && softwareOpcode() == 0xf1) software = false;
  const ext: u32 = external || !software ? 1 : 0;
  const v86 = load<u32>(S_MODE) == 2;
  if (v86 && software && softwareOpcode() == 0xcd) {
    // INT n in virtual-8086 mode (SDM 20.3.3, table 20-2): IOPL 3 goes to the protected-mode
    // handler (VME: unless the redirection bitmap sends it to the 8086 handler); IOPL < 3 is
    // #GP(0) (VME: unless redirected with VIF virtualized).
    const iopl = (load<u32>(S_EFLAGS) >>> 12) & 3;
    if ((load<u32>(S_CR + 16) & CR4_VME) != 0) {
      const redirect = redirectionBitClear(vector);
      if (faulted) return;
      if (redirect) {
        v86Redirect(vector, iopl);
        return;
      }
    }
    if (iopl < 3) {
      gp(0);
      return;
    }
  }
  const errBase: u32 = (vector << 3) | 2;
  if ((vector << 3) + 7 > load<u32>(S_IDTR_LIMIT)) {
    gp(errBase | ext);
    return;
  }
  const gAddr = load<u32>(S_IDTR_BASE) + (vector << 3);
  const lo = sysRead32(gAddr);
  const hi = sysRead32(gAddr + 4);
  if (faulted) return;
  const t = descSystemType(hi);
  if (
    descIsSegment(hi) ||
    (t != SYS_TASK_GATE && t != SYS_INT_GATE16 && t != SYS_TRAP_GATE16 && t != SYS_INT_GATE32 && t != SYS_TRAP_GATE32)
  ) {
    gp(errBase | ext);
    return;
  }
  const c = cpl();
  if (software && descriptorDpl(hi) < c) {
    gp(errBase);
    return;
  }
  if (!descriptorPresent(hi)) {
    npFault(errBase | ext);
    return;
  }
  if (t == SYS_TASK_GATE) {
    taskGate(gateSelector(lo), error, ext);
    return;
  }
  const gate32 = t == SYS_INT_GATE32 || t == SYS_TRAP_GATE32;
  const intGate = t == SYS_INT_GATE16 || t == SYS_INT_GATE32;
  const off = gate32 ? gateOffset(lo, hi) : lo & 0xffff;
  const csel = gateSelector(lo);
  if ((csel & 0xfffc) == 0) {
    gp(ext);
    return;
  }
  if (!fetchDescriptor(csel)) {
    if (!faulted) gp((csel & 0xfffc) | ext);
    return;
  }
  const clo = descLo;
  let chi = descHi;
  const dpl = descriptorDpl(chi);
  if (!descIsCode(chi) || dpl > c) {
    gp((csel & 0xfffc) | ext);
    return;
  }
  if (!descriptorPresent(chi)) {
    npFault((csel & 0xfffc) | ext);
    return;
  }
  const size: u32 = gate32 ? 4 : 2;
  // Fault-class exceptions push RF = 1 so that the restarted instruction does not raise an
  // instruction breakpoint again (SDM vol. 3, 17.3.1.1); traps and interrupts push it as is.
  let flags = getEflags();
  if (!software && !external && isFaultClass(vector)) flags |= FLAG_RF;
  const eip = getEip();
  let clear: u32 = FLAG_TF | FLAG_NT | FLAG_RF | FLAG_VM;
  if (intGate) clear |= FLAG_IF;
  if (!descIsConforming(chi) && dpl < c) {
    // Inner privilege: the stack for the handler's DPL from the TSS. From virtual-8086 mode
    // the handler must run at CPL 0 (#GP(sel) otherwise) and the data segments are saved.
    if (v86 && dpl != 0) {
      gp((csel & 0xfffc) | ext);
      return;
    }
    if (!readTssStack(dpl, ext)) return;
    const ssel = tssSs;
    const newEsp = tssEsp;
    if (!checkInnerStack(ssel, dpl, ext)) return;
    const sLo = innerSsLo;
    const sHi = innerSsHi;
    frameOpen(descriptorBase(sLo, sHi), descriptorLimit(sLo, sHi), (sHi >>> 8) & 0xf0ff, newEsp, false, (ssel & 0xfffc) | ext);
    if (v86) {
      framePush(segSel(GS), size);
      framePush(segSel(FS), size);
      framePush(segSel(DS), size);
      framePush(segSel(ES), size);
    }
    framePush(segSel(SS), size);
    framePush(reg32(ESP), size);
    framePush(flags, size);
    framePush(segSel(CS), size);
    framePush(eip, size);
    if (error >= 0) framePush(<u32>error, size);
    if (faulted) return;
    if (off > descriptorLimit(clo, chi)) {
      gp(ext);
      return;
    }
    if ((chi & 0x100) == 0) {
      chi |= 0x100;
      fetchDescriptor(csel);
      markAccessed();
      if (faulted) return;
    }
    writeEflags(0, clear); // VM cleared: protected mode again
    if (v86) {
      setNullSegment(ES);
      setNullSegment(DS);
      setNullSegment(FS);
      setNullSegment(GS);
    }
    loadDescriptorCache(SS, ssel, sLo, sHi);
    setStackPointer(frameSp());
    loadCodeSegment(csel, clo, chi, dpl);
    setEip(off);
    return;
  }
  if (!descIsConforming(chi) && dpl != c) {
    gp((csel & 0xfffc) | ext);
    return;
  }
  if (v86) {
    // A virtual-8086 interrupt must reach a CPL-0 non-conforming handler.
    gp((csel & 0xfffc) | ext);
    return;
  }
  frameOpenCurrent(ext);
  framePush(flags, size);
  framePush(segSel(CS), size);
  framePush(eip, size);
  if (error >= 0) framePush(<u32>error, size);
  if (faulted) return;
  if (off > descriptorLimit(clo, chi)) {
    gp(ext);
    return;
  }
  if ((chi & 0x100) == 0) {
    chi |= 0x100;
    fetchDescriptor(csel);
    markAccessed();
    if (faulted) return;
  }
  setStackPointer(frameSp());
  writeEflags(0, clear);
  loadCodeSegment(csel, clo, chi, c);
  setEip(off);
}

/**
 * Opcode of the instruction that raised the software interrupt (prefixes skipped): CD for
 * INT n, CC for INT3, CE for INTO, F1 for INT1. Only INT n is IOPL-sensitive in v86 mode.
 */
function softwareOpcode(): u32 {
  const base = segBase(CS);
  let eip = insnEip;
  for (let i = 0; i < 15; i++) {
    const b = readLin8(base + eip);
    if (faulted) return 0;
    if (b == 0x26 || b == 0x2e || b == 0x36 || b == 0x3e || b == 0x64 || b == 0x65 || b == 0x66 || b == 0x67 || b == 0xf0 || b == 0xf2 || b == 0xf3) {
      eip = load<u32>(S_MODE) == 2 ? (eip + 1) & 0xffff : eip + 1;
      continue;
    }
    return b;
  }
  return 0;
}

/**
 * VME: the bit for `vector` in the interrupt redirection bitmap (the 32 bytes below the I/O
 * map base of a 32-bit TSS) is clear. Outside the TSS limit -> #GP(0).
 */
function redirectionBitClear(vector: u32): bool {
  if (load<u32>(S_SEG_VALID + (TR << 2)) == 0 || (load<u32>(S_SEG_ATTR + (TR << 2)) & 0x8) == 0) {
    gp(0);
    return false;
  }
  const base = load<u32>(S_SEG_BASE + (TR << 2));
  const limit = load<u32>(S_SEG_LIMIT + (TR << 2));
  if (limit < 0x67) {
    gp(0);
    return false;
  }
  const mapBase = sysRead16(base + 0x66);
  if (faulted) return false;
  const off = mapBase - 32 + (vector >>> 3);
  if (mapBase < 32 || off > limit) {
    gp(0);
    return false;
  }
  const b = sysRead8(base + off);
  if (faulted) return false;
  return (b & (<u32>1 << (vector & 7))) == 0;
}

/**
 * VME redirection to the 8086 program's handler (SDM 20.3.3.5, methods 5 and 6): a real-mode
 * frame on the virtual-8086 stack through the vector table at linear 0. With IOPL < 3 the
 * pushed FLAGS carry VIF in the IF position and IOPL 3, and VIF is cleared instead of IF.
 */
function v86Redirect(vector: u32, iopl: u32): void {
  const ip = readLin16(vector << 2);
  const cs = readLin16((vector << 2) + 2);
  if (faulted) return;
  let fl = getEflags() & 0xffff;
  if (iopl < 3) {
    fl = (fl & ~FLAG_IF) | FLAG_IOPL;
    if ((load<u32>(S_EFLAGS) & FLAG_VIF) != 0) fl |= FLAG_IF;
  }
  const sp = reg32(ESP);
  push16(fl);
  if (!faulted) push16(segSel(CS));
  if (!faulted) push16(getEip());
  if (faulted) {
    setStackPointer(sp & 0xffff);
    return;
  }
  writeEflags(0, FLAG_TF | (iopl < 3 ? FLAG_VIF : FLAG_IF));
  loadSegmentReal(CS, cs);
  setEip(ip);
}

/**
 * Interrupt or exception through a task gate (SDM 6.11.3, 7.3): the TSS must be in the GDT and
 * available (#GP(sel)), present (#NP(sel)); after the switch an error code is pushed on the new
 * task's stack (32-bit TSS: 32 bits).
 */
function taskGate(tsel: u32, error: i32, ext: u32): void {
  if ((tsel & 4) != 0 || !fetchDescriptor(tsel)) {
    if (!faulted) gp((tsel & 0xfffc) | ext);
    return;
  }
  const lo = descLo;
  const hi = descHi;
  const addr = descAddr;
  const t = descSystemType(hi);
  if (descIsSegment(hi) || (t != SYS_TSS16_AVAIL && t != SYS_TSS32_AVAIL)) {
    gp((tsel & 0xfffc) | ext);
    return;
  }
  if (!descriptorPresent(hi)) {
    npFault((tsel & 0xfffc) | ext);
    return;
  }
  taskSwitch(tsel, lo, hi, addr, TASK_INT, getEip());
  if (faulted) return;
  if (error >= 0) {
    if (t == SYS_TSS32_AVAIL) push32(<u32>error);
    else push16(<u32>error);
  }
}

/** Exceptions of the fault class (SDM vol. 3, table 6-1); #DB is a trap here (breakpoints aside). */
@inline function isFaultClass(v: u32): bool {
  return v == 0 || (v >= 5 && v <= 7) || (v >= 10 && v <= 14) || v == 16 || v == 17;
}
