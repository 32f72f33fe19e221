// Instructions about descriptor tables and selectors: SLDT, STR, LLDT, LTR (0F 00 /0-/3),
// VERR, VERW (0F 00 /4-/5), LAR, LSL (0F 02, 0F 03) and ARPL (63). All of them are
// "not recognized" (#UD) in real-address and virtual-8086 mode (SDM vol. 2, each page's
// "Real-Address Mode Exceptions" and "Virtual-8086 Mode Exceptions").

import { read16, rmwBegin, rmwRead16, rmwWrite16, write16 } from "../../mmu/access";
import { eaSeg, effectiveAddress, modrm, opsize32 } from "../decode";
import { faulted, gp, ud } from "../fault";
import { setFlagBits } from "../flags";
import { descHi, descLo, descriptorLimit, fetchDescriptor } from "../protected/descriptor";
import { loadLdtr, loadTaskRegister } from "../protected/system-segments";
import { cpl, FLAG_ZF, LDTR, mode, reg16, segSel, setReg16, setReg32, TR } from "../state";

/** Protected mode proper (not real, not virtual-8086); else #UD. */
@inline function requireProtected(): bool {
  if (mode() != 1) {
    ud();
    return false;
  }
  return true;
}

@inline function setZF(on: bool): void {
  setFlagBits(FLAG_ZF, on ? FLAG_ZF : 0);
}

/** Reads the 16-bit source operand of an Ew form (register or memory); check `faulted`. */
function readEw(): u32 {
  if (modrm >= 0xc0) return reg16(modrm & 7);
  const off = effectiveAddress();
  if (faulted) return 0;
  return read16(eaSeg, off);
}

/**
 * Stores a selector to an Ew destination: 16 bits to memory whatever the operand size; a
 * 32-bit register gets it zero-extended (P6 family, SDM vol. 2B "SLDT" and "STR").
 */
function storeSelector(sel: u32): void {
  if (modrm >= 0xc0) {
    if (opsize32) setReg32(modrm & 7, sel & 0xffff);
    else setReg16(modrm & 7, sel);
    return;
  }
  const off = effectiveAddress();
  if (faulted) return;
  write16(eaSeg, off, sel & 0xffff);
}

/** SLDT Ew (0F 00 /0): stores the LDTR selector. Not privileged. */
export function SLDT_Ew(): void {
  if (!requireProtected()) return;
  storeSelector(segSel(LDTR));
}

/** STR Ew (0F 00 /1): stores the TR selector. Not privileged. */
export function STR_Ew(): void {
  if (!requireProtected()) return;
  storeSelector(segSel(TR));
}

/** The selector operand of LLDT/LTR after their checks (protected mode, CPL 0); -1 after a fault. */
function privilegedSelector(): i32 {
  if (!requireProtected()) return -1;
  if (cpl() != 0) {
    gp(0);
    return -1;
  }
  const sel = readEw();
  return faulted ? -1 : <i32>sel;
}

/** LLDT Ew (0F 00 /2): #GP(0) at CPL > 0; the descriptor checks are in loadLdtr. */
export function LLDT_Ew(): void {
  const sel = privilegedSelector();
  if (sel >= 0) loadLdtr(<u32>sel);
}

/** LTR Ew (0F 00 /3): #GP(0) at CPL > 0; the descriptor checks are in loadTaskRegister. */
export function LTR_Ew(): void {
  const sel = privilegedSelector();
  if (sel >= 0) loadTaskRegister(<u32>sel);
}

// ---- VERR / VERW / LAR / LSL: descriptor inspection without faults ------------------------

/**
 * Reads the descriptor a selector names for an inspection instruction: false (no fault) for a
 * null selector or one beyond its table's limit. A page fault while reading the table is
 * raised (check `faulted`).
 */
function inspect(sel: u32): bool {
  if ((sel & 0xfffc) == 0) return false;
  return fetchDescriptor(sel);
}

@inline function hiIsSegment(hi: u32): bool {
  return (hi & 0x1000) != 0;
}
@inline function hiIsCode(hi: u32): bool {
  return (hi & 0x1800) == 0x1800;
}
@inline function hiIsConformingCode(hi: u32): bool {
  return (hi & 0x1c00) == 0x1c00;
}
@inline function hiDpl(hi: u32): u32 {
  return (hi >>> 13) & 3;
}

/**
 * The privilege rule of VERR/VERW/LAR/LSL: a conforming code segment is always visible;
 * anything else needs DPL >= CPL and DPL >= RPL.
 */
function visible(sel: u32, hi: u32): bool {
  if (hiIsSegment(hi) && hiIsConformingCode(hi)) return true;
  const dpl = hiDpl(hi);
  return dpl >= cpl() && dpl >= (sel & 3);
}

/**
 * VERR Ew (0F 00 /4). SDM vol. 2B "VERR/VERW": ZF=1 when the segment is a code or data
 * segment readable at the current privilege (data, or readable code; the privilege rule does
 * not apply to conforming code). Null or out-of-limit selectors and system descriptors give
 * ZF=0. The present bit is not checked.
 */
export function VERR_Ew(): void {
  if (!requireProtected()) return;
  const sel = readEw();
  if (faulted) return;
  const ok = inspect(sel);
  if (faulted) return;
  const hi = descHi;
  let r = false;
  if (ok && hiIsSegment(hi) && visible(sel, hi)) {
    r = !hiIsCode(hi) || (hi & 0x200) != 0;
  }
  setZF(r);
}

/** VERW Ew (0F 00 /5): ZF=1 for a writable data segment visible at CPL and RPL. */
export function VERW_Ew(): void {
  if (!requireProtected()) return;
  const sel = readEw();
  if (faulted) return;
  const ok = inspect(sel);
  if (faulted) return;
  const hi = descHi;
  setZF(ok && hiIsSegment(hi) && !hiIsCode(hi) && (hi & 0x200) != 0 && visible(sel, hi));
}

/**
 * System descriptor types LAR accepts (SDM vol. 2A "LAR", table 3-62 for IA-32): TSS 16
 * available/busy (1, 3), LDT (2), 16-bit call gate (4), task gate (5), TSS 32 available/busy
 * (9, B), 32-bit call gate (C). Interrupt and trap gates and reserved types are refused.
 */
@inline function larSystemTypeValid(t: u32): bool {
  return ((<u32>0x1a3e >>> t) & 1) != 0;
}

/** System descriptor types LSL accepts (SDM vol. 2A "LSL", table 3-64): TSS and LDT only. */
@inline function lslSystemTypeValid(t: u32): bool {
  return ((<u32>0x0a0e >>> t) & 1) != 0;
}

/**
 * LAR Gv, Ew (0F 02). On success ZF=1 and the destination receives the second doubleword of
 * the descriptor masked by 00FxFF00H (32-bit) or its bits 15:8 (16-bit, masked by FF00H).
 * On failure ZF=0 and the destination is unchanged.
 */
function lar(is32: bool): void {
  if (!requireProtected()) return;
  const sel = readEw();
  if (faulted) return;
  const ok = inspect(sel);
  if (faulted) return;
  const hi = descHi;
  const valid = ok && (hiIsSegment(hi) || larSystemTypeValid((hi >>> 8) & 0xf)) && visible(sel, hi);
  if (!valid) {
    setZF(false);
    return;
  }
  const r = (modrm >> 3) & 7;
  if (is32) setReg32(r, hi & 0x00ffff00);
  else setReg16(r, hi & 0xff00);
  setZF(true);
}

export function LAR_GvEw_16(): void {
  lar(false);
}
export function LAR_GvEw_32(): void {
  lar(true);
}

/**
 * LSL Gv, Ew (0F 03). On success ZF=1 and the destination receives the segment limit in bytes
 * (granularity applied); a 16-bit destination gets its low 16 bits. On failure ZF=0 and the
 * destination is unchanged.
 */
function lsl(is32: bool): void {
  if (!requireProtected()) return;
  const sel = readEw();
  if (faulted) return;
  const ok = inspect(sel);
  if (faulted) return;
  const lo = descLo;
  const hi = descHi;
  const valid = ok && (hiIsSegment(hi) || lslSystemTypeValid((hi >>> 8) & 0xf)) && visible(sel, hi);
  if (!valid) {
    setZF(false);
    return;
  }
  const limit = descriptorLimit(lo, hi);
  const r = (modrm >> 3) & 7;
  if (is32) setReg32(r, limit);
  else setReg16(r, limit);
  setZF(true);
}

export function LSL_GvEw_16(): void {
  lsl(false);
}
export function LSL_GvEw_32(): void {
  lsl(true);
}

/**
 * ARPL Ew, Gw (63). SDM vol. 2A "ARPL": if the destination selector's RPL is below the
 * source's, it is raised to it and ZF=1; else ZF=0 and the destination is unchanged.
 * #UD in real-address and virtual-8086 mode.
 */
export function ARPL_EwGw(): void {
  if (!requireProtected()) return;
  const src = reg16((modrm >> 3) & 7);
  if (modrm >= 0xc0) {
    const d = reg16(modrm & 7);
    if ((d & 3) < (src & 3)) {
      setReg16(modrm & 7, (d & ~3) | (src & 3));
      setZF(true);
    } else {
      setZF(false);
    }
    return;
  }
  const off = effectiveAddress();
  if (faulted || !rmwBegin(eaSeg, off, 2)) return;
  const d = rmwRead16();
  if ((d & 3) < (src & 3)) {
    rmwWrite16((d & ~3) | (src & 3));
    setZF(true);
  } else {
    setZF(false);
  }
}
