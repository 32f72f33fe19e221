// Switching the CPU between the real state the trap VMM runs the guest in (CPL 1 for the guest
// kernel, IF 1, IOPL 0, the VMM's descriptor tables, SYSENTER_CS 0) and the guest's view of it
// (the virtual registers), for the one instruction the VMM emulates. Also where the VMM takes
// over a guest that has entered protected mode, and lets go when it leaves.

import { setCpl } from "../cpu/control";
import { modrm, opcode } from "../cpu/decode";
import {
  CR0_PE,
  CS,
  cpl,
  FLAG_IF,
  FLAG_IOPL,
  LDTR,
  mode,
  segAttr,
  segBase,
  segLimit,
  segSel,
  setSegmentCache,
  SS,
  TR,
} from "../cpu/state";
import {
  HV_TRAP_BASE,
  PHYS_ROM,
  S_CR,
  S_EFLAGS,
  S_GDTR_BASE,
  S_GDTR_LIMIT,
  S_IDTR_BASE,
  S_IDTR_LIMIT,
  S_MSR_SYSENTER_CS,
  S_SEG_VALID,
} from "../generated/layout";
import { mapPhysical } from "../mmu/physical";
import { tlbFlush } from "../mmu/tlb";
import { copyGdt, copyIdt, copyLdt, guestHasLdt, initTss, syncKernelStack } from "./trap-tables";
import {
  AREA_BYTES,
  AREA_LINEAR,
  areaLinear,
  realIf,
  GDT_OFFSET,
  IDT_OFFSET,
  LDT_OFFSET,
  REAL_GDT_LIMIT,
  setTv,
  TSS_BYTES,
  TSS_OFFSET,
  tv,
  VMM_LDT_SEL,
  VMM_TSS_SEL,
} from "./trap-state";
import {
  TV_ACTIVE,
  TV_CPL,
  TV_FLAGS,
  TV_GDTR_BASE,
  TV_GDTR_LIMIT,
  TV_IDTR_BASE,
  TV_IDTR_LIMIT,
  TV_LDTR,
  TV_SYSENTER_CS,
  TV_TR,
  TV_VALID,
} from "../generated/abi";

const VFLAGS: u32 = FLAG_IF | FLAG_IOPL;

@inline function setFlagsRaw(bits: u32): void {
  store<u32>(S_EFLAGS, (load<u32>(S_EFLAGS) & ~VFLAGS) | (bits & VFLAGS));
}

@inline function segValid(s: u32): bool {
  return load<u32>(S_SEG_VALID + (s << 2)) != 0;
}

/** Changes the RPL of CS and SS and a DPL-0 or DPL-1 cache to `pl` (0 or 1). */
function setRing(pl: u32): void {
  for (let i: u32 = 0; i < 2; i++) {
    const s: u32 = i == 0 ? CS : SS;
    let attr = segAttr(s);
    if (((attr >>> 5) & 3) <= 1) attr = (attr & ~0x60) | (pl << 5);
    setSegmentCache(s, (segSel(s) & 0xfffc) | pl, segBase(s), segLimit(s), attr, segValid(s));
  }
  setCpl(pl);
}

/** A guest kernel found at CPL 0 runs at CPL 1 from now on. */
export function deprivilege(): void {
  if (cpl() == 0 || (cpl() == 1 && (segSel(CS) & 3) != 1)) setRing(1);
  setTv(TV_CPL, cpl() == 1 ? 0 : cpl());
}

@inline function loadSystemCache(s: u32, at: u32): void {
  const attr = tv(at + 3);
  setSegmentCache(s, tv(at), tv(at + 1), tv(at + 2), attr & 0xffff, (attr & TV_VALID) != 0);
}

@inline function saveSystemCache(s: u32, at: u32): void {
  setTv(at, segSel(s));
  setTv(at + 1, segBase(s));
  setTv(at + 2, segLimit(s));
  setTv(at + 3, segAttr(s) | (segValid(s) ? TV_VALID : 0));
}

/** Points the real registers the VMM owns at its own tables; IF 1, IOPL 0, SYSENTER_CS 0. */
function installVmmState(): void {
  setFlagsRaw(realIf());
  store<u32>(S_GDTR_BASE, areaLinear(GDT_OFFSET));
  store<u32>(S_GDTR_LIMIT, REAL_GDT_LIMIT);
  store<u32>(S_IDTR_BASE, areaLinear(IDT_OFFSET));
  store<u32>(S_IDTR_LIMIT, tv(TV_IDTR_LIMIT));
  if (guestHasLdt()) setSegmentCache(LDTR, VMM_LDT_SEL, areaLinear(LDT_OFFSET), tv(TV_LDTR + 2), 0x82, true);
  else setSegmentCache(LDTR, 0, 0, 0, 0, false);
  setSegmentCache(TR, VMM_TSS_SEL, areaLinear(TSS_OFFSET), TSS_BYTES - 1, 0x8b, true);
  store<u32>(S_MSR_SYSENTER_CS, 0);
  // Crossings from ring 3 that bypass the VMM (call gates) need the kernel stack too.
  syncKernelStack();
}

/** Puts the guest's virtual registers into the real ones (and the guest kernel at CPL 0). */
export function enterGuestView(): void {
  setFlagsRaw(tv(TV_FLAGS));
  store<u32>(S_GDTR_BASE, tv(TV_GDTR_BASE));
  store<u32>(S_GDTR_LIMIT, tv(TV_GDTR_LIMIT));
  store<u32>(S_IDTR_BASE, tv(TV_IDTR_BASE));
  store<u32>(S_IDTR_LIMIT, tv(TV_IDTR_LIMIT));
  loadSystemCache(LDTR, TV_LDTR);
  loadSystemCache(TR, TV_TR);
  store<u32>(S_MSR_SYSENTER_CS, tv(TV_SYSENTER_CS));
  if (cpl() == 1) setRing(0);
}

/**
 * After the emulated instruction: what it changed becomes the virtual state (the shadow tables
 * follow LGDT, LIDT and LLDT), then the VMM's state comes back and the kernel is deprivileged.
 * An instruction that left protected mode ends the virtualization: the real registers keep
 * the guest's values.
 */
export function leaveGuestView(): void {
  const lgdt = opcode == 0x01 && ((modrm >>> 3) & 7) == 2;
  const lidt = opcode == 0x01 && ((modrm >>> 3) & 7) == 3;
  const lldt = opcode == 0x00 && ((modrm >>> 3) & 7) == 2;
  if ((load<u32>(S_CR) & CR0_PE) == 0 || mode() != 1) {
    setTv(TV_ACTIVE, 0);
    setTv(TV_CPL, cpl());
    return;
  }
  setTv(TV_FLAGS, load<u32>(S_EFLAGS) & VFLAGS);
  const gdtChanged = load<u32>(S_GDTR_BASE) != tv(TV_GDTR_BASE) || load<u32>(S_GDTR_LIMIT) != tv(TV_GDTR_LIMIT);
  const idtChanged = load<u32>(S_IDTR_BASE) != tv(TV_IDTR_BASE) || load<u32>(S_IDTR_LIMIT) != tv(TV_IDTR_LIMIT);
  const ldtChanged = segSel(LDTR) != tv(TV_LDTR) || segBase(LDTR) != tv(TV_LDTR + 1) || segLimit(LDTR) != tv(TV_LDTR + 2);
  setTv(TV_GDTR_BASE, load<u32>(S_GDTR_BASE));
  setTv(TV_GDTR_LIMIT, load<u32>(S_GDTR_LIMIT));
  setTv(TV_IDTR_BASE, load<u32>(S_IDTR_BASE));
  setTv(TV_IDTR_LIMIT, load<u32>(S_IDTR_LIMIT));
  saveSystemCache(LDTR, TV_LDTR);
  saveSystemCache(TR, TV_TR);
  setTv(TV_SYSENTER_CS, load<u32>(S_MSR_SYSENTER_CS));
  if (gdtChanged || lgdt) copyGdt();
  if (idtChanged || lidt) copyIdt();
  if (ldtChanged || lldt) copyLdt();
  installVmmState();
  deprivilege();
}

/**
 * The guest is in protected mode and the VMM takes it over (the guest set CR0.PE, or the host
 * loaded a protected-mode state, as the Multiboot loader does). Every owned register that does
 * not hold the VMM's value holds the guest's: it becomes virtual. Safe to repeat.
 */
export function takeOver(): void {
  const active = tv(TV_ACTIVE) != 0;
  const flags = load<u32>(S_EFLAGS) & VFLAGS;
  if (!active || flags != realIf()) setTv(TV_FLAGS, flags);
  if (!active || load<u32>(S_GDTR_BASE) != areaLinear(GDT_OFFSET)) {
    setTv(TV_GDTR_BASE, load<u32>(S_GDTR_BASE));
    setTv(TV_GDTR_LIMIT, load<u32>(S_GDTR_LIMIT));
  }
  if (!active || load<u32>(S_IDTR_BASE) != areaLinear(IDT_OFFSET)) {
    setTv(TV_IDTR_BASE, load<u32>(S_IDTR_BASE));
    setTv(TV_IDTR_LIMIT, load<u32>(S_IDTR_LIMIT));
  }
  if (!active || (segSel(LDTR) != VMM_LDT_SEL && (segSel(LDTR) & 0xfffc) != 0)) saveSystemCache(LDTR, TV_LDTR);
  if (!active || segSel(TR) != VMM_TSS_SEL) saveSystemCache(TR, TV_TR);
  if (!active || load<u32>(S_MSR_SYSENTER_CS) != 0) setTv(TV_SYSENTER_CS, load<u32>(S_MSR_SYSENTER_CS));
  setTv(TV_ACTIVE, 1);
  mapPhysical(AREA_LINEAR, AREA_BYTES, PHYS_ROM, HV_TRAP_BASE);
  initTss();
  copyGdt();
  copyIdt();
  copyLdt();
  installVmmState();
  deprivilege();
  tlbFlush(false);
}

/** The guest left protected mode behind the VMM's back (the host changed CR0): hand back. */
export function giveBack(): void {
  enterGuestView();
  setTv(TV_ACTIVE, 0);
}
