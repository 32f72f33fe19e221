// core.wasm: the CPU (and, later, the hypervisor's in-kernel half). The host drives it through
// these exports and reads its state directly at the addresses in generated/layout.ts.

import { setCpl, setCr0, setCr3, setCr4, updateMode, writeEflags } from "./cpu/control";
import { updateDebugArmed } from "./cpu/debug";
import { invalidateFetch } from "./cpu/decode";
import { clearFault, faulted } from "./cpu/fault";
import { getEflags, materializeFlags } from "./cpu/flags";
import { clearShutdown } from "./cpu/interrupts";
import { retiredThisRun } from "./cpu/interp";
import { run as runLoop } from "./run";
import { jitReset } from "./jit/blocks";
import { CS, EDX, setReg32, setSegmentCache } from "./cpu/state";
import { fpuReset } from "./fpu/fpu";
import {
  S_A20_MASK,
  S_CR,
  S_DR,
  S_EFLAGS,
  S_FLAGS_LAZY,
  S_GDTR_LIMIT,
  S_HALTED,
  S_IDTR_LIMIT,
  S_INSN_COUNT,
  S_MODE,
  S_RAM_SIZE,
  S_TSC_PER_INSN,
  S_KVM_PARAVIRT,
  S_VIRT_MODE,
  S_VMCS_ENTRY_INTR_INFO,
  S_BT_ACTIVE,
  S_JIT_ON,
  S_JIT_TABLE_BASE,
  S_JIT_THRESHOLD,
  S_MMU_MODE,
  STATE_BASE,
  STATE_USED,
} from "./generated/layout";
import { mapPhysical as mapPhys, resetPhysicalMap } from "./mmu/physical";
import { linearToPhysical, tlbFlush } from "./mmu/tlb";
import { hostWrote } from "./mmu/write-tracking";
import { setVirtualization as setVirtMode } from "./virt/setup";

/** The P6 signature reported in EDX at reset and by CPUID leaf 1: family 6, model 3 (Pentium II). */
export const CPU_SIGNATURE: u32 = 0x0633;

/** Called by AssemblyScript only if the core is built with checks; reported as a host error. */
export function abortCore(message: usize, file: usize, line: u32, column: u32): void {
  unreachable();
}

/** Sets the RAM size and the default physical map (RAM at 0, open bus elsewhere). */
export function configure(ramBytes: u32): void {
  store<u32>(S_RAM_SIZE, ramBytes);
  resetPhysicalMap();
  tlbFlush(false);
}

/** Maps guest-physical pages as RAM, ROM, MMIO, open bus or tracked (PHYS_* kinds). */
export function mapPhysical(start: u32, len: u32, kind: u32, host: u32): void {
  mapPhys(start, len, kind, host);
  tlbFlush(false);
}

/** Power-on / RESET state (SDM vol. 3, 9.1.1, table 9-1). */
export function reset(): void {
  for (let a: u32 = STATE_BASE; a < STATE_BASE + STATE_USED; a += 4) {
    // The machine's configuration survives RESET: RAM size, clock rate, and how the VM is
    // virtualized (mode, MMU mode and the VMCS controls the VMM programmed).
    if (a == S_RAM_SIZE || a == S_TSC_PER_INSN || a == S_KVM_PARAVIRT) continue;
    if (a >= S_VIRT_MODE && a < S_VMCS_ENTRY_INTR_INFO) continue;
    if (a == S_BT_ACTIVE || a == S_JIT_ON || a == S_JIT_THRESHOLD || a == S_JIT_TABLE_BASE) continue;
    store<u32>(a, 0);
  }
  clearFault();
  clearShutdown();
  store<u32>(S_EFLAGS, 2);
  store<u32>(S_FLAGS_LAZY, 0);
  store<u32>(S_CR, 0x60000010);
  store<u32>(S_DR + 24, 0xffff0ff0);
  store<u32>(S_DR + 28, 0x400);
  store<u32>(S_A20_MASK, 0xffffffff);
  store<u32>(S_MODE, 0);
  store<u32>(S_GDTR_LIMIT, 0xffff);
  store<u32>(S_IDTR_LIMIT, 0xffff);
  for (let s: u32 = 0; s < 8; s++) setSegmentCache(s, 0, 0, 0xffff, 0x93, true);
  setSegmentCache(6, 0, 0, 0xffff, 0x82, true);
  setSegmentCache(7, 0, 0, 0xffff, 0x8b, true);
  setSegmentCache(CS, 0xf000, 0xffff0000, 0xffff, 0x9b, true);
  store<u32>(S_CR, 0x60000010);
  setReg32(EDX, CPU_SIGNATURE);
  store<u32>(0x10020, 0xfff0); // EIP (S_EIP)
  fpuReset();
  setCpl(0);
  updateMode();
  // The hypervisor's caches (shadow roots, EPT tables, translations) do not survive a reset.
  setVirtualization(load<u32>(S_VIRT_MODE), load<u32>(S_MMU_MODE));
  tlbFlush(false);
  invalidateFetch();
}

/** End of AssemblyScript's static data: must stay below the state block (checked by the host). */
export function staticDataEnd(): usize {
  return __heap_base;
}

/**
 * Instructions retired since reset, including those of a run() in progress: device callbacks
 * made during run() use it to read an instruction-counted clock.
 */
export function retired(): f64 {
  return <f64>load<u64>(S_INSN_COUNT) + <f64>retiredThisRun();
}

/** Runs up to `budget` instructions; returns a RUN_* reason. */
export function run(budget: i32): u32 {
  return runLoop(budget);
}

/**
 * The host changed DR7 or its breakpoint or watchpoint lists (HOST_BP, HOST_WP): re-arms the
 * checks (DEBUG_ARMED and the TLB masks that route accesses to the data-breakpoint check).
 */
export function debugChanged(): void {
  updateDebugArmed();
}

/** Drops every compiled block (the host changed guest code behind the core's back, or reset). */
export function jitFlush(): void {
  jitReset();
}
export { jitLink, jitStep } from "./jit/enter";
export { btJitCallout, btJitIndirect } from "./bt/compiled";
export { jitCondition, jitRdtsc, jitShift } from "./jit/callbacks";

/** Host-side segment load (loaders, test harnesses): sets the cache as given. */
export function setSegment(seg: u32, sel: u32, base: u32, limit: u32, attr: u32): void {
  setSegmentCache(seg, sel, base, limit, attr, true);
  invalidateFetch();
}

/** Host-side control register write, with the same side effects as MOV CRn. */
export function setControlRegister(n: u32, v: u32): void {
  if (n == 0) setCr0(v);
  else if (n == 2) store<u32>(S_CR + 8, v);
  else if (n == 3) setCr3(v);
  else if (n == 4) setCr4(v);
}

export function setPrivilegeLevel(level: u32): void {
  setCpl(level);
}

export function getFlags(): u32 {
  return getEflags();
}

/** Host-side EFLAGS write (all bits). */
export function setFlags(v: u32): void {
  writeEflags(v, 0xffffffff);
  updateMode();
}

export function setA20(enabled: bool): void {
  store<u32>(S_A20_MASK, enabled ? 0xffffffff : 0xffefffff);
  tlbFlush(false);
}

export function flushTlb(): void {
  tlbFlush(false);
}

/** Guest-physical address of a linear address, or 0xFFFFFFFF if it is not mapped. */
export function translate(lin: u32, write: bool, user: bool): u32 {
  const p = linearToPhysical(lin, write, user);
  if (faulted) {
    clearFault();
    return 0xffffffff;
  }
  return p;
}

export function wake(): void {
  store<u32>(S_HALTED, 0);
}

export { materializeFlags };
/** Sets how the VM is virtualized; the hypervisor's caches and compiled code start over. */
export function setVirtualization(mode: u32, mmu: u32): void {
  setVirtMode(mode, mmu);
  jitReset();
}

/** The host wrote guest RAM directly (loaders, DMA): write-tracked frames in the range are told. */
export function hostWroteGuest(gpa: u32, len: u32): void {
  hostWrote(gpa, len);
}
// The dirty-page log (core/mmu/dirty-log.ts); eptCollectDirty and eptDirtyLog are its older names.
export {
  dirtyLogAddress,
  dirtyLogAddress as eptDirtyLog,
  dirtyLogCollect,
  dirtyLogCollect as eptCollectDirty,
  dirtyLogStart,
  dirtyLogStop,
} from "./mmu/dirty-log";
