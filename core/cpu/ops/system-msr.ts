// Model-specific registers, the time-stamp and performance counters, and the fast system
// calls: RDMSR/WRMSR (0F 32/0F 30), RDTSC (0F 31), RDPMC (0F 33), SYSENTER/SYSEXIT
// (0F 34/0F 35). The MSR set is a P6 family processor's (SDM vol. 4, table 2-3 "MSRs in the
// P6 Family Processors") restricted to what CPUID advertises: no APIC, no MTRRs, no PAT, no
// machine-check architecture.

import { exitIf, msrExits, nonRoot, procControl } from "../../virt/vmx";
import { isKvmMsr, kvmReadMsr, kvmWriteMsr } from "./kvm-paravirt";
import { retiredSoFar } from "../rep";
import {
  S_CR,
  S_MSR_DEBUGCTL,
  S_MSR_PERFCTR,
  S_MSR_PERFEVTSEL,
  S_MSR_SYSENTER_CS,
  S_MSR_SYSENTER_EIP,
  S_MSR_SYSENTER_ESP,
  S_TSC,
  S_TSC_PER_INSN,
} from "../../generated/layout";
import { cr4, setCpl, writeEflags } from "../control";
import { invalidateFetch, setNextEip } from "../decode";
import { gp } from "../fault";
import {
  ATTR_ACCESSED,
  ATTR_CODE,
  ATTR_DB,
  ATTR_G,
  ATTR_P,
  ATTR_RW,
  ATTR_S,
  CR0_PE,
  CR4_TSD,
  CS,
  cpl,
  ECX,
  EDX,
  EAX,
  ESP,
  FLAG_IF,
  FLAG_RF,
  FLAG_VM,
  mode,
  reg32,
  setReg32,
  setSegmentCache,
  SS,
} from "../state";
import { requireCpl0 } from "./system";
import {
  EXIT_RDMSR,
  EXIT_RDPMC,
  EXIT_RDTSC,
  EXIT_WRMSR,
  PROC_RDPMC_EXITING,
  PROC_RDTSC_EXITING,
} from "../../generated/abi";

// MSR addresses (SDM vol. 4, tables 2-2 and 2-3).
export const MSR_P5_MC_ADDR: u32 = 0x0;
export const MSR_P5_MC_TYPE: u32 = 0x1;
export const MSR_TSC: u32 = 0x10;
export const MSR_PLATFORM_ID: u32 = 0x17;
export const MSR_APIC_BASE: u32 = 0x1b;
export const MSR_EBL_CR_POWERON: u32 = 0x2a;
export const MSR_BIOS_UPDT_TRIG: u32 = 0x79;
export const MSR_BIOS_SIGN_ID: u32 = 0x8b;
export const MSR_PERFCTR0: u32 = 0xc1;
export const MSR_PERFCTR1: u32 = 0xc2;
export const MSR_SYSENTER_CS: u32 = 0x174;
export const MSR_SYSENTER_ESP: u32 = 0x175;
export const MSR_SYSENTER_EIP: u32 = 0x176;
export const MSR_PERFEVTSEL0: u32 = 0x186;
export const MSR_PERFEVTSEL1: u32 = 0x187;
export const MSR_DEBUGCTL: u32 = 0x1d9;
export const MSR_LASTBRANCH_FROM: u32 = 0x1db;
export const MSR_LASTINT_TO: u32 = 0x1de;

/** P6 performance counters are 40 bits wide. */
const PERFCTR_MASK: u64 = 0xff_ffff_ffff;

/** The time-stamp counter now. */
@inline export function currentTsc(): u64 {
  // S_TSC is brought up to date when run() returns; add what this slice has retired so far.
  return load<u64>(S_TSC) + <u64>retiredSoFar() * <u64>load<u32>(S_TSC_PER_INSN);
}

/**
 * The value of an MSR, or false in `msrOk` when this processor has no such MSR (the caller
 * raises #GP(0)). Values: P5_MC_ADDR/TYPE, PLATFORM_ID, EBL_CR_POWERON and the last-branch
 * records read 0; BIOS_SIGN_ID reads 0 (microcode revision 0 in the high half).
 */
export let msrOk: bool = false;

export function readMsr(n: u32): u64 {
  msrOk = true;
  switch (n) {
    case MSR_TSC:
      return currentTsc();
    case MSR_SYSENTER_CS:
      return <u64>load<u32>(S_MSR_SYSENTER_CS);
    case MSR_SYSENTER_ESP:
      return <u64>load<u32>(S_MSR_SYSENTER_ESP);
    case MSR_SYSENTER_EIP:
      return <u64>load<u32>(S_MSR_SYSENTER_EIP);
    case MSR_PERFEVTSEL0:
    case MSR_PERFEVTSEL1:
      return <u64>load<u32>(S_MSR_PERFEVTSEL + ((n - MSR_PERFEVTSEL0) << 2));
    case MSR_PERFCTR0:
    case MSR_PERFCTR1:
      return load<u64>(S_MSR_PERFCTR + ((n - MSR_PERFCTR0) << 3));
    case MSR_DEBUGCTL:
      return <u64>load<u32>(S_MSR_DEBUGCTL);
    case MSR_P5_MC_ADDR:
    case MSR_P5_MC_TYPE:
    case MSR_PLATFORM_ID:
    case MSR_EBL_CR_POWERON:
    case MSR_BIOS_SIGN_ID:
      return 0;
    default:
      if (n >= MSR_LASTBRANCH_FROM && n <= MSR_LASTINT_TO) return 0;
      if (isKvmMsr(n)) return kvmReadMsr(n);
      // APIC_BASE: CPUID.01H:EDX.APIC is 0, so the MSR is absent (#GP), like MTRRs, PAT and
      // MCG_* (MTRR, PAT and MCA not advertised) and MISC_ENABLE (not a P6 MSR).
      msrOk = false;
      return 0;
  }
}

/** Writes an MSR; false when this processor has no such MSR or the value is invalid (#GP(0)). */
export function writeMsr(n: u32, v: u64): bool {
  const lo = <u32>v;
  switch (n) {
    case MSR_TSC:
      // P6: only the low 32 bits can be written; the high 32 bits are cleared (SDM vol. 3,
      // 17.17 "Time-Stamp Counter").
      store<u64>(S_TSC, <u64>lo - <u64>retiredSoFar() * <u64>load<u32>(S_TSC_PER_INSN));
      return true;
    case MSR_SYSENTER_CS:
      store<u32>(S_MSR_SYSENTER_CS, lo);
      return true;
    case MSR_SYSENTER_ESP:
      store<u32>(S_MSR_SYSENTER_ESP, lo);
      return true;
    case MSR_SYSENTER_EIP:
      store<u32>(S_MSR_SYSENTER_EIP, lo);
      return true;
    case MSR_PERFEVTSEL0:
    case MSR_PERFEVTSEL1:
      store<u32>(S_MSR_PERFEVTSEL + ((n - MSR_PERFEVTSEL0) << 2), lo);
      return true;
    case MSR_PERFCTR0:
    case MSR_PERFCTR1:
      store<u64>(S_MSR_PERFCTR + ((n - MSR_PERFCTR0) << 3), v & PERFCTR_MASK);
      return true;
    case MSR_DEBUGCTL:
      store<u32>(S_MSR_DEBUGCTL, lo & 3);
      return true;
    case MSR_BIOS_UPDT_TRIG:
    case MSR_BIOS_SIGN_ID:
    case MSR_EBL_CR_POWERON:
      return true; // accepted and ignored (no microcode updates, power-on configuration fixed)
    default:
      if (isKvmMsr(n)) {
        kvmWriteMsr(n, v, currentTsc());
        return true;
      }
      return false;
  }
}

/** RDMSR (0F 32): EDX:EAX = MSR[ECX]. Privileged; an MSR this processor lacks is #GP(0). */
export function RDMSR(): void {
  if (!requireCpl0()) return;
  if (exitIf(msrExits(reg32(ECX), false), EXIT_RDMSR, 0)) return;
  const v = readMsr(reg32(ECX));
  if (!msrOk) {
    gp(0);
    return;
  }
  setReg32(EAX, <u32>v);
  setReg32(EDX, <u32>(v >>> 32));
}

/** WRMSR (0F 30): MSR[ECX] = EDX:EAX. Privileged; an MSR this processor lacks is #GP(0). */
export function WRMSR(): void {
  if (!requireCpl0()) return;
  if (exitIf(msrExits(reg32(ECX), true), EXIT_WRMSR, 0)) return;
  const v = (<u64>reg32(EDX) << 32) | <u64>reg32(EAX);
  if (!writeMsr(reg32(ECX), v)) gp(0);
}

/**
 * RDTSC (0F 31): EDX:EAX = TSC. SDM vol. 2B "RDTSC": #GP(0) when CR4.TSD = 1 and CPL > 0
 * (virtual-8086 mode runs at CPL 3); always allowed in real-address mode.
 */
/** RDTSC must go the slow way: #GP (CR4.TSD outside ring 0) or a VM exit (RDTSC exiting). */
export function rdtscIntercepted(): bool {
  return (mode() != 0 && (cr4() & CR4_TSD) != 0 && cpl() != 0) || (procControl(PROC_RDTSC_EXITING) && nonRoot());
}

export function RDTSC(): void {
  if (mode() != 0 && (cr4() & CR4_TSD) != 0 && cpl() != 0) {
    gp(0);
    return;
  }
  if (exitIf(procControl(PROC_RDTSC_EXITING), EXIT_RDTSC, 0)) return;
  const t = currentTsc();
  setReg32(EAX, <u32>t);
  setReg32(EDX, <u32>(t >>> 32));
}

/**
 * RDPMC (0F 33): EDX:EAX = performance counter ECX. SDM vol. 2B "RDPMC" for the P6 family:
 * ECX must be 0 or 1, else #GP(0); at CPL > 0 (and in virtual-8086 mode) it needs CR4.PCE,
 * which this processor does not implement, so #GP(0).
 */
export function RDPMC(): void {
  const c = reg32(ECX);
  if (c > 1 || (mode() != 0 && cpl() != 0)) {
    gp(0);
    return;
  }
  if (exitIf(procControl(PROC_RDPMC_EXITING), EXIT_RDPMC, 0)) return;
  const v = load<u64>(S_MSR_PERFCTR + (c << 3));
  setReg32(EAX, <u32>v);
  setReg32(EDX, <u32>(v >>> 32) & 0xff);
}

// ---- SYSENTER / SYSEXIT -----------------------------------------------------------------

/** Attributes of the flat 4 GiB code and data segments SYSENTER/SYSEXIT load. */
const FLAT_CODE: u32 = ATTR_P | ATTR_S | ATTR_CODE | ATTR_RW | ATTR_ACCESSED | ATTR_DB | ATTR_G;
const FLAT_DATA: u32 = ATTR_P | ATTR_S | ATTR_RW | ATTR_ACCESSED | ATTR_DB | ATTR_G;

/**
 * SYSENTER (0F 34). SDM vol. 2B "SYSENTER": #GP(0) in real-address mode or when
 * IA32_SYSENTER_CS[15:2] = 0. Clears VM, IF and RF; CS = SYSENTER_CS & FFFCH and SS = CS + 8,
 * both flat (base 0, limit 4 GiB, 32-bit) at DPL 0, without reading the GDT; CPL 0;
 * ESP = SYSENTER_ESP, EIP = SYSENTER_EIP.
 */
export function SYSENTER(): void {
  const cs = load<u32>(S_MSR_SYSENTER_CS) & 0xffff;
  if ((load<u32>(S_CR) & CR0_PE) == 0 || (cs & 0xfffc) == 0) {
    gp(0);
    return;
  }
  writeEflags(0, FLAG_VM | FLAG_IF | FLAG_RF); // leaving virtual-8086 mode updates MODE
  setCpl(0);
  setSegmentCache(CS, cs & 0xfffc, 0, 0xffffffff, FLAT_CODE, true);
  setSegmentCache(SS, (cs & 0xfffc) + 8, 0, 0xffffffff, FLAT_DATA, true);
  setReg32(ESP, load<u32>(S_MSR_SYSENTER_ESP));
  setNextEip(load<u32>(S_MSR_SYSENTER_EIP));
  invalidateFetch();
}

/**
 * SYSEXIT (0F 35). SDM vol. 2B "SYSEXIT": #GP(0) when IA32_SYSENTER_CS[15:2] = 0, in
 * real-address mode, or at CPL > 0 (virtual-8086 mode included). CS = (SYSENTER_CS + 16) | 3,
 * SS = (SYSENTER_CS + 24) | 3, both flat at DPL 3; CPL 3; ESP = ECX, EIP = EDX.
 */
export function SYSEXIT(): void {
  const cs = load<u32>(S_MSR_SYSENTER_CS) & 0xffff;
  if ((cs & 0xfffc) == 0 || mode() != 1 || cpl() != 0) {
    gp(0);
    return;
  }
  const dpl3: u32 = 0x60;
  setCpl(3);
  setSegmentCache(CS, ((cs + 16) | 3) & 0xffff, 0, 0xffffffff, FLAT_CODE | dpl3, true);
  setSegmentCache(SS, ((cs + 24) | 3) & 0xffff, 0, 0xffffffff, FLAT_DATA | dpl3, true);
  setReg32(ESP, reg32(ECX));
  setNextEip(reg32(EDX));
  invalidateFetch();
}
