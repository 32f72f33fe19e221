// LDTR and TR loads (LLDT and LTR semantics, SDM vol. 2 "LLDT" and "LTR", vol. 3 7.2.4). The
// instruction routines check the mode (#UD in real and virtual-8086 mode) and CPL 0 (#GP(0))
// and read the operand; these helpers do the descriptor part.

import { faulted, gp } from "../fault";
import { LDTR, setSegmentCache, TR } from "../state";
import {
  descAddr,
  descHi,
  descIsSegment,
  descLo,
  descriptorAttr,
  descriptorBase,
  descriptorLimit,
  descSystemType,
  fetchDescriptor,
  presentOrNp,
  SYS_LDT,
  SYS_TSS16_AVAIL,
  SYS_TSS32_AVAIL,
  writeDescriptorTypeByte,
} from "./descriptor";

/**
 * LLDT: a null selector makes the LDT unusable (later LDT references #GP); otherwise the
 * selector must name an LDT descriptor in the GDT (#GP(sel)), present (#NP(sel)).
 */
export function loadLdtr(sel: u32): void {
  sel &= 0xffff;
  if ((sel & 0xfffc) == 0) {
    setSegmentCache(LDTR, sel, 0, 0, 0, false);
    return;
  }
  if ((sel & 4) != 0 || !fetchDescriptor(sel)) {
    if (!faulted) gp(sel & 0xfffc);
    return;
  }
  const lo = descLo;
  const hi = descHi;
  if (descIsSegment(hi) || descSystemType(hi) != SYS_LDT) {
    gp(sel & 0xfffc);
    return;
  }
  if (!presentOrNp(hi, sel)) return;
  setSegmentCache(LDTR, sel, descriptorBase(lo, hi), descriptorLimit(lo, hi), descriptorAttr(hi), true);
}

/**
 * LTR: the selector must name an available TSS (16- or 32-bit) in the GDT: null -> #GP(0),
 * LDT or beyond the GDT or another type -> #GP(sel), not present -> #NP(sel). The descriptor
 * is marked busy and TR loaded with it.
 */
export function loadTaskRegister(sel: u32): void {
  sel &= 0xffff;
  if ((sel & 0xfffc) == 0) {
    gp(0);
    return;
  }
  if ((sel & 4) != 0 || !fetchDescriptor(sel)) {
    if (!faulted) gp(sel & 0xfffc);
    return;
  }
  const lo = descLo;
  let hi = descHi;
  const addr = descAddr;
  const t = descSystemType(hi);
  if (descIsSegment(hi) || (t != SYS_TSS16_AVAIL && t != SYS_TSS32_AVAIL)) {
    gp(sel & 0xfffc);
    return;
  }
  if (!presentOrNp(hi, sel)) return;
  hi |= 0x200; // busy
  writeDescriptorTypeByte(addr, hi);
  if (faulted) return;
  setSegmentCache(TR, sel, descriptorBase(lo, hi), descriptorLimit(lo, hi), descriptorAttr(hi), true);
}
