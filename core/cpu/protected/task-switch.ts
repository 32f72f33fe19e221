// Hardware task switching (SDM vol. 3, 7.3): JMP or CALL to a TSS descriptor or through a task
// gate, IRET with EFLAGS.NT (return to the back link), and interrupts or exceptions through a
// task gate. 32-bit (type 9/11) and 16-bit (type 1/3) TSS formats.
//
// Order: every field of the new TSS is read first (a fault there changes nothing), then the
// current state is saved into the old TSS, busy bits and the back link are updated, TR, CR3,
// the registers and EFLAGS are loaded, and last the segment registers are validated. Faults in
// that last step belong to the new task (SDM 7.3 step 13 and table 7-1): they are delivered in
// its context.

import { S_CR, S_DR, S_EIP, S_SEG_ATTR, S_SEG_BASE, S_SEG_LIMIT, S_SEG_SEL } from "../../generated/layout";
import { sysRead16, sysRead32, sysWrite16, sysWrite32 } from "../../mmu/access";
import { setCpl, setCr3, writeEflags } from "../control";
import { invalidateFetch, setNextEip } from "../decode";
import { clearFault, faulted, faultError, faultVector, gp, raise, VEC_DB, VEC_NP, VEC_SS, VEC_TS } from "../fault";
import { getEflags } from "../flags";
import { deliver } from "../interrupts";
import {
  CR0_TS,
  CS,
  DS,
  ES,
  FLAG_NT,
  FLAG_VM,
  FS,
  GS,
  LDTR,
  loadSegmentReal,
  reg32,
  segLimit,
  setReg32,
  setSegmentCache,
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
  descriptorAttr,
  descriptorBase,
  descriptorDpl,
  descriptorLimit,
  descriptorPresent,
  descSystemType,
  fetchDescriptor,
  markAccessed,
  SYS_LDT,
  writeDescriptorTypeByte,
} from "./descriptor";
import { loadSegmentChecked } from "./segments";

/** What started the switch (SDM 7.3, table 7-2: busy flag, NT and back link rules). */
export const TASK_JMP: u32 = 0;
export const TASK_CALL: u32 = 1;
export const TASK_IRET: u32 = 2;
export const TASK_INT: u32 = 3;

// The new task's state, read before anything changes.
let nEip: u32 = 0;
let nEflags: u32 = 0;
let nCr3: u32 = 0;
let nLdt: u32 = 0;
let nTrap: u32 = 0;
const nRegs = memory.data(32);
const nSegs = memory.data(24);

/**
 * Switches to the task whose TSS descriptor `lo:hi` (at linear `addr` in the GDT, selector
 * `sel`) the caller has checked: type (available, or busy for IRET) and present. `retEip` is
 * the EIP saved in the outgoing task. Leaves `faulted` set on failure.
 */
export function taskSwitch(sel: u32, lo: u32, hi: u32, addr: u32, source: u32, retEip: u32): void {
  sel &= 0xffff;
  const nBase = descriptorBase(lo, hi);
  const nLimit = descriptorLimit(lo, hi);
  const n32 = (hi & 0x800) != 0;
  // The new TSS must hold the whole state: 0x67 (32-bit) or 0x2B (16-bit) -> #TS(new TSS).
  const nMin: u32 = n32 ? 0x67 : 0x2b;
  if (nLimit < nMin) {
    raise(VEC_TS, <i32>(sel & 0xfffc));
    return;
  }
  const oSel = load<u32>(S_SEG_SEL + (TR << 2));
  const oBase = load<u32>(S_SEG_BASE + (TR << 2));
  const oLimit = load<u32>(S_SEG_LIMIT + (TR << 2));
  const o32 = (load<u32>(S_SEG_ATTR + (TR << 2)) & 0x8) != 0;
  const oMin: u32 = o32 ? 0x5f : 0x29;
  if (oLimit < oMin) {
    raise(VEC_TS, <i32>(oSel & 0xfffc));
    return;
  }

  // 1. Read the incoming state.
  if (n32) {
    nCr3 = sysRead32(nBase + 0x1c);
    nEip = sysRead32(nBase + 0x20);
    nEflags = sysRead32(nBase + 0x24);
    for (let i: u32 = 0; i < 8; i++) store<u32>(nRegs + (i << 2), sysRead32(nBase + 0x28 + (i << 2)));
    for (let i: u32 = 0; i < 6; i++) store<u32>(nSegs + (i << 2), sysRead16(nBase + 0x48 + (i << 2)));
    nLdt = sysRead16(nBase + 0x60);
    nTrap = sysRead16(nBase + 0x64) & 1;
  } else {
    nTrap = 0;
    nCr3 = 0;
    nEip = sysRead16(nBase + 0x0e);
    nEflags = sysRead16(nBase + 0x10);
    // A 16-bit TSS holds 16-bit registers; the upper halves read as ones (as Bochs does).
    for (let i: u32 = 0; i < 8; i++) store<u32>(nRegs + (i << 2), 0xffff0000 | sysRead16(nBase + 0x12 + (i << 1)));
    for (let i: u32 = 0; i < 4; i++) store<u32>(nSegs + (i << 2), sysRead16(nBase + 0x22 + (i << 1)));
    store<u32>(nSegs + (FS << 2), 0);
    store<u32>(nSegs + (GS << 2), 0);
    nLdt = sysRead16(nBase + 0x2a);
  }
  if (faulted) return;

  // 2. Save the outgoing state (IRET saves NT clear).
  let oFlags = getEflags();
  if (source == TASK_IRET) oFlags &= ~FLAG_NT;
  if (o32) {
    sysWrite32(oBase + 0x20, retEip);
    sysWrite32(oBase + 0x24, oFlags);
    for (let i: u32 = 0; i < 8; i++) sysWrite32(oBase + 0x28 + (i << 2), reg32(i));
    for (let i: u32 = 0; i < 6; i++) sysWrite16(oBase + 0x48 + (i << 2), load<u32>(S_SEG_SEL + (i << 2)));
  } else {
    sysWrite16(oBase + 0x0e, retEip);
    sysWrite16(oBase + 0x10, oFlags);
    for (let i: u32 = 0; i < 8; i++) sysWrite16(oBase + 0x12 + (i << 1), reg32(i));
    for (let i: u32 = 0; i < 4; i++) sysWrite16(oBase + 0x22 + (i << 1), load<u32>(S_SEG_SEL + (i << 2)));
  }
  if (faulted) return;

  // 3. Busy bits and the back link. JMP and IRET free the old task; CALL and interrupts nest.
  if (source == TASK_JMP || source == TASK_IRET) {
    if (fetchDescriptor(oSel & 0xfffb)) writeDescriptorTypeByte(descAddr, descHi & ~0x200);
    if (faulted) return;
  }
  let newFlags = nEflags;
  if (source == TASK_CALL || source == TASK_INT) {
    sysWrite16(nBase, oSel);
    if (faulted) return;
    newFlags |= FLAG_NT;
  }
  let nHi = hi;
  if (source != TASK_IRET) {
    nHi = hi | 0x200;
    writeDescriptorTypeByte(addr, nHi);
    if (faulted) return;
  }

  // 4. Commit: TR, CR0.TS, CR3, registers, EFLAGS, EIP.
  setSegmentCache(TR, sel, nBase, nLimit, descriptorAttr(nHi), true);
  store<u32>(S_CR, load<u32>(S_CR) | CR0_TS);
  if (n32) setCr3(nCr3);
  for (let i: u32 = 0; i < 8; i++) setReg32(i, load<u32>(nRegs + (i << 2)));
  writeEflags(newFlags, 0xffffffff);
  store<u32>(S_EIP, nEip);
  setNextEip(nEip);
  // Selectors first, unusable until validated (SDM 7.3 step 13).
  for (let s: u32 = 0; s < 6; s++) setSegmentCache(s, load<u32>(nSegs + (s << 2)), 0, 0, 0, false);
  setSegmentCache(LDTR, nLdt, 0, 0, 0, false);
  invalidateFetch();

  // 5. Validate and load LDTR and the segment registers in the new task's context.
  loadNewTaskSegments((newFlags & FLAG_VM) != 0);
  if (!faulted && nEip > segLimit(CS)) gp(0);
  if (faulted && source != TASK_INT) {
    // The fault belongs to the new task: deliver it now, with the new task's EIP and ESP, so
    // the instruction that switched completes (the interpreter would restore the old task's
    // EIP and ESP for a fault of its own).
    const v = faultVector;
    const e = faultError;
    clearFault();
    deliver(v, e, false, false, load<u32>(S_EIP));
    setNextEip(load<u32>(S_EIP));
    return;
  }
  if (!faulted && nTrap != 0 && source != TASK_INT) {
    // The debug trap flag of the new TSS: #DB after the switch, before the new task's first
    // instruction, with DR6.BT (SDM vol. 3, 17.2.3 and 7.2.1).
    store<u32>(S_DR + 24, load<u32>(S_DR + 24) | 0x8000);
    raise(VEC_DB, -1);
  }
}

function loadNewTaskSegments(vm: bool): void {
  // LDTR: null leaves it unusable; else an LDT descriptor in the GDT, present -> else #TS(LDT).
  const ldt = nLdt;
  if ((ldt & 0xfffc) != 0) {
    if ((ldt & 4) != 0 || !fetchDescriptor(ldt)) {
      if (!faulted) raise(VEC_TS, <i32>(ldt & 0xfffc));
      return;
    }
    const lo = descLo;
    const hi = descHi;
    if (descIsSegment(hi) || descSystemType(hi) != SYS_LDT || !descriptorPresent(hi)) {
      raise(VEC_TS, <i32>(ldt & 0xfffc));
      return;
    }
    setSegmentCache(LDTR, ldt, descriptorBase(lo, hi), descriptorLimit(lo, hi), descriptorAttr(hi), true);
  }
  if (vm) {
    // Virtual-8086 task: real-mode style segments at CPL 3 (the EFLAGS load set the mode).
    for (let s: u32 = 0; s < 6; s++) loadSegmentReal(s, load<u32>(nSegs + (s << 2)));
    setCpl(3);
    return;
  }
  // CS: a code segment; non-conforming DPL = RPL, conforming DPL <= RPL -> else #TS(CS);
  // not present -> #NP(CS). Its RPL becomes the CPL.
  const cs = load<u32>(nSegs + (CS << 2));
  if ((cs & 0xfffc) == 0 || !fetchDescriptor(cs)) {
    if (!faulted) raise(VEC_TS, <i32>(cs & 0xfffc));
    return;
  }
  const clo = descLo;
  const chi = descHi;
  const rpl = cs & 3;
  const dpl = descriptorDpl(chi);
  if (!descIsCode(chi) || (descIsConforming(chi) ? dpl > rpl : dpl != rpl)) {
    raise(VEC_TS, <i32>(cs & 0xfffc));
    return;
  }
  if (!descriptorPresent(chi)) {
    raise(VEC_NP, <i32>(cs & 0xfffc));
    return;
  }
  markAccessed();
  if (faulted) return;
  setSegmentCache(CS, cs, descriptorBase(clo, chi), descriptorLimit(clo, chi), descriptorAttr(chi), true);
  setCpl(rpl);
  invalidateFetch();
  loadSegmentChecked(SS, load<u32>(nSegs + (SS << 2)), rpl, true);
  if (faulted) return;
  loadSegmentChecked(DS, load<u32>(nSegs + (DS << 2)), rpl, true);
  if (faulted) return;
  loadSegmentChecked(ES, load<u32>(nSegs + (ES << 2)), rpl, true);
  if (faulted) return;
  loadSegmentChecked(FS, load<u32>(nSegs + (FS << 2)), rpl, true);
  if (faulted) return;
  loadSegmentChecked(GS, load<u32>(nSegs + (GS << 2)), rpl, true);
}

/** The current task's back link (previous task's TSS selector), for IRET with NT. */
export function backLink(): u32 {
  return sysRead16(load<u32>(S_SEG_BASE + (TR << 2)));
}

// ---- inner-ring stacks from the current TSS (SDM vol. 3, 5.8.5 and 6.12.1) -------------------

/** The stack read by the last successful readTssStack / checkInnerStack. */
export let tssSs: u32 = 0;
export let tssEsp: u32 = 0;
export let innerSsLo: u32 = 0;
export let innerSsHi: u32 = 0;

/**
 * Reads SS:ESP for privilege level `pl` from the current TSS (32- or 16-bit format). Beyond the
 * TSS limit -> #TS(TR selector | ext).
 */
export function readTssStack(pl: u32, ext: u32): bool {
  const base = load<u32>(S_SEG_BASE + (TR << 2));
  const limit = load<u32>(S_SEG_LIMIT + (TR << 2));
  const trSel = load<u32>(S_SEG_SEL + (TR << 2));
  if ((load<u32>(S_SEG_ATTR + (TR << 2)) & 0x8) != 0) {
    const off: u32 = 4 + (pl << 3);
    if (off + 7 > limit) {
      raise(VEC_TS, <i32>((trSel & 0xfffc) | ext));
      return false;
    }
    const esp = sysRead32(base + off);
    const ss = sysRead16(base + off + 4);
    if (faulted) return false;
    tssEsp = esp;
    tssSs = ss;
  } else {
    const off: u32 = 2 + (pl << 2);
    if (off + 3 > limit) {
      raise(VEC_TS, <i32>((trSel & 0xfffc) | ext));
      return false;
    }
    const sp = sysRead16(base + off);
    const ss = sysRead16(base + off + 2);
    if (faulted) return false;
    tssEsp = sp;
    tssSs = ss;
  }
  return true;
}

/**
 * Checks the stack segment `ssel` for a transfer to privilege `pl` (call gate or interrupt):
 * null, beyond the table, RPL or DPL other than `pl`, or not a writable data segment ->
 * #TS(selector | ext); not present -> #SS(selector | ext). Marks it accessed; the descriptor
 * is left in innerSsLo/innerSsHi.
 */
export function checkInnerStack(ssel: u32, pl: u32, ext: u32): bool {
  const err = (ssel & 0xfffc) | ext;
  if ((ssel & 0xfffc) == 0) {
    raise(VEC_TS, <i32>ext);
    return false;
  }
  if (!fetchDescriptor(ssel)) {
    if (!faulted) raise(VEC_TS, <i32>err);
    return false;
  }
  const hi = descHi;
  if ((ssel & 3) != pl || descriptorDpl(hi) != pl || (hi & 0x1a00) != 0x1200) {
    raise(VEC_TS, <i32>err);
    return false;
  }
  if (!descriptorPresent(hi)) {
    raise(VEC_SS, <i32>err);
    return false;
  }
  markAccessed();
  if (faulted) return false;
  innerSsLo = descLo;
  innerSsHi = descHi;
  return true;
}
