// Register and segment access over the state block at fixed addresses (core/generated/layout.ts).
// The ground floor of the core (docs/architecture.md, "Floors"): it imports only generated
// constants. Whoever caches something derived from CS registers a hook here.

import {
  S_CPL,
  S_CS_DB,
  S_EFLAGS,
  S_EIP,
  S_MODE,
  S_REGS,
  S_SEG_ATTR,
  S_SEG_BASE,
  S_SEG_LIMIT,
  S_SEG_RHI,
  S_SEG_RLO,
  S_SEG_SEL,
  S_SEG_VALID,
  S_SEG_WHI,
  S_SEG_FLAT,
  S_SEG_WLO,
  S_SS_DB,
  S_VIRT_MODE,
  VIRT_TRAP,
} from "../generated/layout";

function noHook(): void {}

/**
 * Called after every change of the CS cache. The decoder's fetch window is kept in EIP space, so
 * it moves with CS; core/cpu/control.ts registers the decoder's invalidation here. A hook, not
 * an import, so that the state views do not depend on the decoder (a direct call per far
 * transfer becomes an indirect one; nothing per instruction).
 */
let codeSegmentChanged: () => void = noHook;
export function onCodeSegmentChange(hook: () => void): void {
  codeSegmentChanged = hook;
}

/** The VM runs under the trap-and-emulate VMM (a mode word, read by the MMU and the run loop). */
@inline export function trapMode(): bool {
  return load<u32>(S_VIRT_MODE) == VIRT_TRAP;
}

export const EAX: u32 = 0;
export const ECX: u32 = 1;
export const EDX: u32 = 2;
export const EBX: u32 = 3;
export const ESP: u32 = 4;
export const EBP: u32 = 5;
export const ESI: u32 = 6;
export const EDI: u32 = 7;

export const ES: u32 = 0;
export const CS: u32 = 1;
export const SS: u32 = 2;
export const DS: u32 = 3;
export const FS: u32 = 4;
export const GS: u32 = 5;
export const LDTR: u32 = 6;
export const TR: u32 = 7;

// EFLAGS bits
export const FLAG_CF: u32 = 0x1;
export const FLAG_PF: u32 = 0x4;
export const FLAG_AF: u32 = 0x10;
export const FLAG_ZF: u32 = 0x40;
export const FLAG_SF: u32 = 0x80;
export const FLAG_TF: u32 = 0x100;
export const FLAG_IF: u32 = 0x200;
export const FLAG_DF: u32 = 0x400;
export const FLAG_OF: u32 = 0x800;
export const FLAG_IOPL: u32 = 0x3000;
export const FLAG_NT: u32 = 0x4000;
export const FLAG_RF: u32 = 0x10000;
export const FLAG_VM: u32 = 0x20000;
export const FLAG_AC: u32 = 0x40000;
export const FLAG_VIF: u32 = 0x80000;
export const FLAG_VIP: u32 = 0x100000;
export const FLAG_ID: u32 = 0x200000;
export const FLAGS_ARITH: u32 = 0x8d5;

// CR0 bits
export const CR0_PE: u32 = 0x1;
export const CR0_MP: u32 = 0x2;
export const CR0_EM: u32 = 0x4;
export const CR0_TS: u32 = 0x8;
export const CR0_ET: u32 = 0x10;
export const CR0_NE: u32 = 0x20;
export const CR0_WP: u32 = 0x10000;
export const CR0_AM: u32 = 0x40000;
export const CR0_NW: u32 = 0x20000000;
export const CR0_CD: u32 = 0x40000000;
export const CR0_PG: u32 = 0x80000000;

// CR4 bits
export const CR4_VME: u32 = 0x1;
export const CR4_PVI: u32 = 0x2;
export const CR4_TSD: u32 = 0x4;
export const CR4_DE: u32 = 0x8;
export const CR4_PSE: u32 = 0x10;
export const CR4_PGE: u32 = 0x80;

// Segment attribute bits (SEG_ATTR: descriptor bits 40-47 at 0-7, 52-55 at 12-15)
export const ATTR_ACCESSED: u32 = 0x1;
export const ATTR_RW: u32 = 0x2; // data: writable; code: readable
export const ATTR_DC: u32 = 0x4; // data: expand-down; code: conforming
export const ATTR_CODE: u32 = 0x8;
export const ATTR_S: u32 = 0x10; // code/data (not system)
export const ATTR_DPL: u32 = 0x60;
export const ATTR_P: u32 = 0x80;
export const ATTR_AVL: u32 = 0x1000;
export const ATTR_DB: u32 = 0x4000;
export const ATTR_G: u32 = 0x8000;

@inline export function reg32(r: u32): u32 {
  return load<u32>(S_REGS + (r << 2));
}
@inline export function setReg32(r: u32, v: u32): void {
  store<u32>(S_REGS + (r << 2), v);
}
@inline export function reg16(r: u32): u32 {
  return load<u16>(S_REGS + (r << 2));
}
@inline export function setReg16(r: u32, v: u32): void {
  store<u16>(S_REGS + (r << 2), <u16>v);
}
/** 8-bit registers: AL CL DL BL AH CH DH BH. */
@inline export function reg8(r: u32): u32 {
  return load<u8>(S_REGS + ((r & 3) << 2) + (r >> 2));
}
@inline export function setReg8(r: u32, v: u32): void {
  store<u8>(S_REGS + ((r & 3) << 2) + (r >> 2), <u8>v);
}

@inline export function getEip(): u32 {
  return load<u32>(S_EIP);
}
@inline export function setEip(v: u32): void {
  store<u32>(S_EIP, v);
}

@inline export function segSel(s: u32): u32 {
  return load<u32>(S_SEG_SEL + (s << 2));
}
@inline export function segBase(s: u32): u32 {
  return load<u32>(S_SEG_BASE + (s << 2));
}
@inline export function segLimit(s: u32): u32 {
  return load<u32>(S_SEG_LIMIT + (s << 2));
}
@inline export function segAttr(s: u32): u32 {
  return load<u32>(S_SEG_ATTR + (s << 2));
}

@inline export function cpl(): u32 {
  return load<u32>(S_CPL);
}
@inline export function mode(): u32 {
  return load<u32>(S_MODE);
}
@inline export function csIs32(): bool {
  return load<u32>(S_CS_DB) != 0;
}
@inline export function ssIs32(): bool {
  return load<u32>(S_SS_DB) != 0;
}
/** The raw EFLAGS word (arithmetic bits may be stale; use flags.ts getEflags for the truth). */
@inline export function rawEflags(): u32 {
  return load<u32>(S_EFLAGS);
}
@inline export function setRawEflags(v: u32): void {
  store<u32>(S_EFLAGS, v);
}

/**
 * Loads a segment cache directly and derives the access windows used by every data access.
 * Callers (real-mode loads, descriptor loads, task switches, the host) decide the values.
 */
export function setSegmentCache(s: u32, sel: u32, base: u32, limit: u32, attr: u32, valid: bool): void {
  store<u32>(S_SEG_SEL + (s << 2), sel & 0xffff);
  store<u32>(S_SEG_BASE + (s << 2), base);
  store<u32>(S_SEG_LIMIT + (s << 2), limit);
  store<u32>(S_SEG_ATTR + (s << 2), attr);
  store<u32>(S_SEG_VALID + (s << 2), valid ? 1 : 0);
  updateSegmentWindows(s);
  if (s == CS) {
    store<u32>(S_CS_DB, (attr & ATTR_DB) != 0 ? 1 : 0);
    codeSegmentChanged();
  }
  if (s == SS) store<u32>(S_SS_DB, (attr & ATTR_DB) != 0 ? 1 : 0);
}

/** Recomputes the read/write offset windows of a segment from its cache. */
export function updateSegmentWindows(s: u32): void {
  const attr = segAttr(s);
  const limit = segLimit(s);
  const valid = load<u32>(S_SEG_VALID + (s << 2)) != 0;
  let lo: u32 = 0;
  let hi: u32 = limit;
  let readable = valid;
  let writable = valid;
  if (load<u32>(S_MODE) == 1 && s < LDTR) {
    // Protected mode: the descriptor type decides what data accesses may do.
    if ((attr & ATTR_CODE) != 0) {
      readable = readable && (attr & ATTR_RW) != 0;
      writable = false;
    } else {
      writable = writable && (attr & ATTR_RW) != 0;
      if ((attr & ATTR_DC) != 0) {
        lo = limit + 1;
        hi = (attr & ATTR_DB) != 0 ? 0xffffffff : 0xffff;
      }
    }
  } else if (s < LDTR) {
    // Real and virtual-8086 mode: the cached limit (normally 0xFFFF) still applies.
    readable = true;
    writable = true;
    if ((attr & ATTR_DC) != 0 && (attr & ATTR_CODE) == 0) {
      lo = limit + 1;
      hi = (attr & ATTR_DB) != 0 ? 0xffffffff : 0xffff;
    }
  }
  store<u32>(S_SEG_RLO + (s << 2), readable ? lo : 1);
  store<u32>(S_SEG_RHI + (s << 2), readable ? hi : 0);
  store<u32>(S_SEG_WLO + (s << 2), writable ? lo : 1);
  store<u32>(S_SEG_WHI + (s << 2), writable ? hi : 0);
  const flat = readable && writable && lo == 0 && hi == 0xffffffff && load<u32>(S_SEG_BASE + (s << 2)) == 0;
  const bit: u32 = 1 << s;
  store<u32>(S_SEG_FLAT, flat ? load<u32>(S_SEG_FLAT) | bit : load<u32>(S_SEG_FLAT) & ~bit);
}

/** Real-mode and virtual-8086 segment load: base = selector * 16, the rest of the cache kept. */
export function loadSegmentReal(s: u32, sel: u32): void {
  sel &= 0xffff;
  store<u32>(S_SEG_SEL + (s << 2), sel);
  store<u32>(S_SEG_BASE + (s << 2), sel << 4);
  if (s == CS) codeSegmentChanged();
  store<u32>(S_SEG_VALID + (s << 2), 1);
  if (load<u32>(S_MODE) == 2) {
    // Virtual-8086 mode: segments are always 64 KiB, 16-bit, writable data at DPL 3.
    store<u32>(S_SEG_LIMIT + (s << 2), 0xffff);
    store<u32>(S_SEG_ATTR + (s << 2), ATTR_P | ATTR_S | ATTR_RW | ATTR_ACCESSED | ATTR_DPL | (s == CS ? ATTR_CODE : 0));
    if (s == CS) store<u32>(S_CS_DB, 0);
    if (s == SS) store<u32>(S_SS_DB, 0);
  }
  updateSegmentWindows(s);
}
