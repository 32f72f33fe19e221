// Segment register loads in every mode (MOV Sreg, POP Sreg, LDS/LES/LFS/LGS/LSS, far transfers,
// task switches). Real and virtual-8086 mode: base = selector * 16. Protected mode: the
// descriptor checks of SDM vol. 2, "MOV—Move" (segment register forms), "POP", "LDS/LES/LFS/
// LGS/LSS", and vol. 3, 5.5-5.7 (privilege checks on data and stack segment loads).

import { S_MODE, S_SEG_VALID } from "../../generated/layout";
import { setCpl } from "../control";
import { invalidateFetch } from "../decode";
import { faulted, raise, ssFault, VEC_GP, VEC_NP, VEC_TS } from "../fault";
import {
  ATTR_ACCESSED,
  ATTR_CODE,
  ATTR_DB,
  ATTR_DC,
  ATTR_G,
  ATTR_P,
  ATTR_RW,
  ATTR_S,
  CS,
  cpl,
  DS,
  ES,
  FS,
  GS,
  loadSegmentReal,
  segAttr,
  setSegmentCache,
  SS,
} from "../state";
import {
  descHi,
  descIsConforming,
  descIsData,
  descIsReadableCode,
  descIsWritableData,
  descLo,
  descriptorAttr,
  descriptorBase,
  descriptorDpl,
  descriptorLimit,
  descriptorPresent,
  fetchDescriptor,
  markAccessed,
} from "./descriptor";

/** Loads data/stack segment register `seg` (not CS) with `sel`, raising #GP/#SS/#NP on failure. */
export function loadSegment(seg: u32, sel: u32): void {
  sel &= 0xffff;
  if (load<u32>(S_MODE) != 1) {
    loadSegmentReal(seg, sel);
    return;
  }
  loadSegmentChecked(seg, sel, cpl(), false);
}

/**
 * The protected-mode data/stack segment load with its checks at privilege `pl`. With `forTask`
 * (loading the new task's registers, SDM vol. 3, 7.3 step 13) the #GP cases become #TS.
 */
export function loadSegmentChecked(seg: u32, sel: u32, pl: u32, forTask: bool): void {
  const err = sel & 0xfffc;
  const badVec: u32 = forTask ? VEC_TS : VEC_GP;
  const rpl = sel & 3;
  if (seg == SS) {
    // SS: a null selector, a selector beyond the table, RPL or DPL other than CPL, or anything
    // but a writable data segment -> #GP(selector) (#GP(0) for null); not present -> #SS.
    if (err == 0) {
      raise(badVec, 0);
      return;
    }
    if (!fetchDescriptor(sel)) {
      if (!faulted) raise(badVec, <i32>err);
      return;
    }
    const hi = descHi;
    if (rpl != pl || !descIsWritableData(hi) || descriptorDpl(hi) != pl) {
      raise(badVec, <i32>err);
      return;
    }
    if (!descriptorPresent(hi)) {
      ssFault(err);
      return;
    }
    markAccessed();
    if (faulted) return;
    loadDescriptorCache(SS, sel, descLo, descHi);
    return;
  }
  // DS, ES, FS, GS: null is allowed (later accesses fault); else a data segment or a readable
  // code segment; for data and non-conforming code, DPL >= max(CPL, RPL).
  if (err == 0) {
    setSegmentCache(seg, sel, 0, 0, 0, false);
    return;
  }
  if (!fetchDescriptor(sel)) {
    if (!faulted) raise(badVec, <i32>err);
    return;
  }
  const hi = descHi;
  if (!descIsData(hi) && !descIsReadableCode(hi)) {
    raise(badVec, <i32>err);
    return;
  }
  if (!descIsConforming(hi)) {
    const dpl = descriptorDpl(hi);
    if (rpl > dpl || pl > dpl) {
      raise(badVec, <i32>err);
      return;
    }
  }
  if (!descriptorPresent(hi)) {
    raise(VEC_NP, <i32>err);
    return;
  }
  markAccessed();
  if (faulted) return;
  loadDescriptorCache(seg, sel, descLo, descHi);
}

/** Loads a segment cache from a descriptor (no checks). */
export function loadDescriptorCache(seg: u32, sel: u32, lo: u32, hi: u32): void {
  setSegmentCache(seg, sel, descriptorBase(lo, hi), descriptorLimit(lo, hi), descriptorAttr(hi), true);
}

/**
 * Makes `lo:hi` (a checked code segment descriptor) the code segment at privilege `newCpl`:
 * CS.RPL = newCpl, CPL = newCpl, the fetch cache forgotten. Marks the descriptor accessed
 * when `descAddr` still names it (the caller fetched it last).
 */
export function loadCodeSegment(sel: u32, lo: u32, hi: u32, newCpl: u32): void {
  setSegmentCache(CS, (sel & 0xfffc) | newCpl, descriptorBase(lo, hi), descriptorLimit(lo, hi), descriptorAttr(hi), true);
  if (cpl() != newCpl) setCpl(newCpl);
  invalidateFetch();
}

/**
 * A flat 4 GiB segment (base 0, limit 0xFFFFFFFF, 32-bit, granular), as SYSENTER and SYSEXIT
 * load CS and SS (SDM vol. 2, "SYSENTER"). `code`: execute/read code, else read/write data.
 * For CS, the caller sets CPL with setCpl (and the fetch cache is forgotten here).
 */
export function setFlatSegment(seg: u32, sel: u32, code: bool, dpl: u32): void {
  const attr: u32 = ATTR_P | ATTR_S | ATTR_RW | ATTR_ACCESSED | (dpl << 5) | ATTR_DB | ATTR_G | (code ? ATTR_CODE : 0);
  setSegmentCache(seg, sel, 0, 0xffffffff, attr, true);
  if (seg == CS) invalidateFetch();
}

/** A null selector in a data segment register: accesses through it fault with #GP(0). */
export function setNullSegment(seg: u32): void {
  setSegmentCache(seg, 0, 0, 0, 0, false);
}

/**
 * After RET or IRET to an outer level: data segment registers whose descriptors the new CPL may
 * not use (data or non-conforming code with DPL < CPL) are nulled (SDM vol. 2, "RET", "IRET").
 */
export function nullInaccessibleDataSegments(newCpl: u32): void {
  for (let i: u32 = 0; i < 4; i++) {
    const s: u32 = i == 0 ? ES : i == 1 ? DS : i == 2 ? FS : GS;
    // An unusable register (null selector; its cache holds DPL 0) is nulled too, as Bochs does:
    // a null selector with RPL bits becomes 0.
    const attr = segAttr(s);
    const valid = load<u32>(S_SEG_VALID + (s << 2)) != 0;
    const conformingCode = valid && (attr & (ATTR_CODE | ATTR_DC)) == (ATTR_CODE | ATTR_DC);
    if (((attr >>> 5) & 3) < newCpl && !conformingCode) setNullSegment(s);
  }
}
