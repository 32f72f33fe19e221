// The trap VMM's descriptor tables (Bugnion et al., "shadow descriptor tables"): the real GDT,
// LDT and IDT are copies of the guest's in which DPL 0 became DPL 1, so the deprivileged kernel
// (CPL 1) can load its own selectors and take its own gates; the VMM's LDT and TSS descriptors
// sit at the end of the real GDT. The TSS gives ring 1 the guest kernel's stack (its ESP0/SS0).
// They live in HV_TRAP, which guest-physical and linear AREA_LINEAR map read-only: the CPU's
// own writes there (accessed bits) are dropped like writes to ROM.

import { clearFault, faulted, raise, VEC_PF } from "../cpu/fault";
import {
  S_CR,
  S_TRAP_GDT_COPIED,
  S_TRAP_LDT_COPIED,
  TLB_NO_SUPER_WRITE,
  TLB_NO_USER_READ,
  TLB_NO_USER_WRITE,
  TLB_SLOW,
  TLB_VALID,
} from "../generated/layout";
import { sysRead16, sysRead32 } from "../mmu/access";
import {
  AREA_BYTES,
  AREA_LINEAR,
  areaHost,
  areaLinear,
  GDT_OFFSET,
  IDT_OFFSET,
  LDT_OFFSET,
  TSS_BYTES,
  TSS_OFFSET,
  tv,
  VMM_LDT_SEL,
  VMM_TSS_SEL,
} from "./trap-state";
import {
  TV_ACTIVE,
  TV_GDTR_BASE,
  TV_GDTR_LIMIT,
  TV_IDTR_BASE,
  TV_IDTR_LIMIT,
  TV_LDTR,
  TV_TR,
  TV_VALID,
} from "../generated/abi";

/** Guest descriptors the real GDT can hold below the VMM's own two. */
const GDT_GUEST_MAX: u32 = VMM_LDT_SEL >>> 3;
const TABLE_MAX: u32 = 8192;

/** Whether a linear address is the VMM's area (while the guest runs deprivileged). */
@inline export function trapOwnsLinear(lin: u32): bool {
  return lin - AREA_LINEAR < AREA_BYTES && tv(TV_ACTIVE) != 0;
}

/**
 * The TLB entry for the VMM's area: supervisor reads go to HV_TRAP (through the read-only
 * guest-physical mapping), supervisor writes are dropped, and user accesses page-fault as if
 * the page were a supervisor page.
 */
export function trapAreaEntry(lin: u32, write: bool, user: bool): u32 {
  if (user) {
    store<u32>(S_CR + 8, lin);
    raise(VEC_PF, <i32>(1 | (write ? 2 : 0) | 4));
    return 0;
  }
  return (lin & ~0xfff) | TLB_VALID | TLB_SLOW | TLB_NO_USER_READ | TLB_NO_USER_WRITE | TLB_NO_SUPER_WRITE;
}

/**
 * A guest table word, read as the CPU reads descriptor tables. A table the guest has not
 * mapped reads as zero (a not-present descriptor) without disturbing the guest: the fault
 * and CR2 are undone.
 */
function guestWord(lin: u32): u32 {
  const cr2 = load<u32>(S_CR + 8);
  const v = sysRead32(lin);
  if (!faulted) return v;
  clearFault();
  store<u32>(S_CR + 8, cr2);
  return 0;
}

/**
 * The shadow of a descriptor's high word: code and data segments and gates of DPL 0 get DPL 1
 * (ring compression); TSS and LDT descriptors are used only by instructions the VMM emulates
 * against the guest's own tables, so they are copied unchanged.
 */
@inline function shadowHigh(hi: u32): u32 {
  if ((hi & 0x6000) != 0) return hi;
  if ((hi & 0x1000) == 0) {
    const t = (hi >>> 8) & 0xf;
    if (t == 1 || t == 2 || t == 3 || t == 9 || t == 11) return hi;
  }
  return hi | 0x2000;
}

/** Copies `count` guest descriptors from `lin` into the shadow at `dst`, zeroing `stale` more. */
function copyTable(lin: u32, count: u32, dst: u32, stale: u32): void {
  for (let i: u32 = 0; i < count; i++) {
    const lo = guestWord(lin + (i << 3));
    const hi = guestWord(lin + (i << 3) + 4);
    store<u32>(dst + (i << 3), lo);
    store<u32>(dst + (i << 3) + 4, shadowHigh(hi));
  }
  for (let i = count; i < stale; i++) store<u64>(dst + (i << 3), 0);
}

@inline function entries(limit: u32, max: u32): u32 {
  const n = (limit + 1) >>> 3;
  return n < max ? n : max;
}

/** A system descriptor (type byte `access`) for one of the VMM's own tables. */
function writeSystemDescriptor(sel: u32, base: u32, limit: u32, access: u32): void {
  const at = areaHost(GDT_OFFSET) + (sel & 0xfff8);
  store<u32>(at, (limit & 0xffff) | (base << 16));
  store<u32>(at + 4, ((base >>> 16) & 0xff) | (access << 8) | (limit & 0xf0000) | (base & 0xff000000));
}

/** Rebuilds the shadow GDT from the guest's (after LGDT, or when the VMM takes over). */
export function copyGdt(): void {
  const n = tv(TV_GDTR_LIMIT) >= 7 ? entries(tv(TV_GDTR_LIMIT), GDT_GUEST_MAX) : 0;
  copyTable(tv(TV_GDTR_BASE), n, areaHost(GDT_OFFSET), load<u32>(S_TRAP_GDT_COPIED));
  store<u32>(S_TRAP_GDT_COPIED, n);
  writeSystemDescriptor(VMM_TSS_SEL, areaLinear(TSS_OFFSET), TSS_BYTES - 1, 0x8b);
  writeSystemDescriptor(VMM_LDT_SEL, areaLinear(LDT_OFFSET), ldtLimit(), 0x82);
}

/** The guest has an LDT: its LDTR holds a usable, non-null selector. */
@inline export function guestHasLdt(): bool {
  return (tv(TV_LDTR + 3) & TV_VALID) != 0 && (tv(TV_LDTR) & 0xfffc) != 0;
}

@inline function ldtLimit(): u32 {
  return guestHasLdt() ? tv(TV_LDTR + 2) : 0;
}

/** Rebuilds the shadow LDT from the guest's current one (after LLDT). */
export function copyLdt(): void {
  const n = guestHasLdt() ? entries(tv(TV_LDTR + 2), TABLE_MAX) : 0;
  copyTable(tv(TV_LDTR + 1), n, areaHost(LDT_OFFSET), load<u32>(S_TRAP_LDT_COPIED));
  store<u32>(S_TRAP_LDT_COPIED, n);
  writeSystemDescriptor(VMM_LDT_SEL, areaLinear(LDT_OFFSET), ldtLimit(), 0x82);
}

/** Rebuilds the whole shadow IDT (after LIDT). */
export function copyIdt(): void {
  copyTable(tv(TV_IDTR_BASE), entries(tv(TV_IDTR_LIMIT), 256), areaHost(IDT_OFFSET), 256);
}

/**
 * Refreshes one gate before the VMM delivers through it: the guest may rewrite its IDT at any
 * time without trapping (nanobench installs handlers after LIDT).
 */
export function refreshGate(vector: u32): void {
  if ((vector << 3) + 7 > tv(TV_IDTR_LIMIT)) return;
  copyTable(tv(TV_IDTR_BASE) + (vector << 3), 1, areaHost(IDT_OFFSET) + (vector << 3), 0);
}

/** The VMM's TSS: no I/O bitmap (every port access at CPL 1 traps). */
export function initTss(): void {
  const t = areaHost(TSS_OFFSET);
  for (let i: u32 = 0; i < TSS_BYTES; i += 4) store<u32>(t + i, 0);
  store<u16>(t + 0x66, <u16>TSS_BYTES);
}

/**
 * Ring 1's stack in the VMM's TSS is the guest kernel's ring-0 stack from the guest's TSS
 * (read again whenever the VMM runs: the guest may change ESP0 without trapping).
 */
export function syncKernelStack(): void {
  if ((tv(TV_TR + 3) & TV_VALID) == 0) return;
  const base = tv(TV_TR + 1);
  const is32 = (tv(TV_TR + 3) & 0x8) != 0;
  const cr2 = load<u32>(S_CR + 8);
  const esp0 = is32 ? sysRead32(base + 4) : sysRead16(base + 2);
  const ss0 = is32 ? sysRead16(base + 8) : sysRead16(base + 4);
  if (faulted) {
    clearFault();
    store<u32>(S_CR + 8, cr2);
    return;
  }
  const t = areaHost(TSS_OFFSET);
  store<u32>(t + 12, esp0);
  store<u32>(t + 16, (ss0 & 0xfffc) | 1);
}
