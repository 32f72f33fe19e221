// KVM's paravirtual interface as Linux's KVM_GUEST code expects it (Linux
// Documentation/virt/kvm/x86/cpuid.rst and msr.rst): the hypervisor-present bit in
// CPUID.01H:ECX, the "KVMKVMKVM" signature at leaf 0x40000000, the feature leaf 0x40000001,
// and kvmclock: writing MSR_KVM_SYSTEM_TIME_NEW with a guest-physical address fills a
// pvclock_vcpu_time_info there. Present only when KVM_PARAVIRT is set (the hvm and pv modes).
//
// The icount clock makes one TSC tick one nanosecond (a 1 GHz TSC), so the structure scales the
// TSC by exactly 1 (mul 0x80000000, shift 1) and kvmclock time is the TSC.

import { S_KVM_PARAVIRT, S_KVM_SYSTEM_TIME, S_KVM_WALL_SEC } from "../../generated/layout";
import { physWrite32 } from "../../mmu/physical";

export const KVM_CPUID_SIGNATURE: u32 = 0x40000000;
export const KVM_CPUID_FEATURES: u32 = 0x40000001;
export const MSR_KVM_WALL_CLOCK_NEW: u32 = 0x4b564d00;
export const MSR_KVM_SYSTEM_TIME_NEW: u32 = 0x4b564d01;

/** CPUID.01H:ECX bit 31: "a hypervisor is present". */
export const CPUID1_ECX_HYPERVISOR: u32 = 1 << 31;
const KVM_FEATURE_CLOCKSOURCE2: u32 = 1 << 3;
const KVM_FEATURE_CLOCKSOURCE_STABLE_BIT: u32 = 1 << 24;
const PVCLOCK_TSC_STABLE_BIT: u32 = 1;

@inline export function kvmParavirt(): bool {
  return load<u32>(S_KVM_PARAVIRT) != 0;
}

/** Leaves 0x40000000-0x40000001 when the interface is on: EAX:EBX:ECX:EDX, or false. */
export function kvmCpuid(leaf: u32): bool {
  if (!kvmParavirt()) return false;
  if (leaf == KVM_CPUID_SIGNATURE) {
    kvmResult(KVM_CPUID_FEATURES, 0x4b4d564b, 0x564b4d56, 0x4d); // "KVMKVMKVM\0\0\0"
    return true;
  }
  if (leaf == KVM_CPUID_FEATURES) {
    kvmResult(KVM_FEATURE_CLOCKSOURCE2 | KVM_FEATURE_CLOCKSOURCE_STABLE_BIT, 0, 0, 0);
    return true;
  }
  return false;
}

export let resultEax: u32 = 0;
export let resultEbx: u32 = 0;
export let resultEcx: u32 = 0;
export let resultEdx: u32 = 0;
function kvmResult(a: u32, b: u32, c: u32, d: u32): void {
  resultEax = a;
  resultEbx = b;
  resultEcx = c;
  resultEdx = d;
}

/** True when `n` is one of the KVM MSRs and the interface is on. */
export function isKvmMsr(n: u32): bool {
  return kvmParavirt() && (n == MSR_KVM_WALL_CLOCK_NEW || n == MSR_KVM_SYSTEM_TIME_NEW);
}

export function kvmReadMsr(n: u32): u64 {
  return n == MSR_KVM_SYSTEM_TIME_NEW ? <u64>load<u32>(S_KVM_SYSTEM_TIME) : 0;
}

/** WRMSR to a KVM MSR; `tsc` is the current time-stamp counter. */
export function kvmWriteMsr(n: u32, v: u64, tsc: u64): void {
  const lo = <u32>v;
  if (n == MSR_KVM_WALL_CLOCK_NEW) {
    // pvclock_wall_clock {u32 version; u32 sec; u32 nsec}: the wall-clock time at kvmclock 0.
    physWrite32(lo, 2);
    physWrite32(lo + 4, load<u32>(S_KVM_WALL_SEC));
    physWrite32(lo + 8, 0);
    return;
  }
  store<u32>(S_KVM_SYSTEM_TIME, lo);
  if ((lo & 1) == 0) return; // disabled
  const gpa = lo & ~1;
  // pvclock_vcpu_time_info: version, pad, tsc_timestamp, system_time, tsc_to_system_mul,
  // tsc_shift, flags. An even version: consistent (nothing updates it concurrently here).
  physWrite32(gpa, 2);
  physWrite32(gpa + 4, 0);
  physWrite32(gpa + 8, <u32>tsc);
  physWrite32(gpa + 12, <u32>(tsc >> 32));
  physWrite32(gpa + 16, <u32>tsc);
  physWrite32(gpa + 20, <u32>(tsc >> 32));
  physWrite32(gpa + 24, 0x80000000);
  physWrite32(gpa + 28, 1 | (PVCLOCK_TSC_STABLE_BIT << 8));
}
