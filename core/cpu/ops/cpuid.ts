// CPUID (0F A2): identifies a family-6 (P6) processor whose feature bits are exactly what this
// core implements (SDM vol. 2A "CPUID"). Leaf 0: maximum basic leaf and "GenuineIntel";
// leaf 1: signature and features; leaf 2: cache and TLB descriptors of a Pentium II. A leaf
// above the maximum (extended leaves 8000_0000H and up included: the P6 has none) returns the
// data of the highest basic leaf, as Intel processors do.

import { exitIf } from "../../virt/vmx";
import {
  CPUID1_ECX_HYPERVISOR,
  kvmCpuid,
  kvmParavirt,
  resultEax,
  resultEbx,
  resultEcx,
  resultEdx,
} from "./kvm-paravirt";
import { EAX, EBX, ECX, EDX, reg32, setReg32 } from "../state";
import { EXIT_CPUID } from "../../generated/abi";

/** Family 6, model 3, stepping 3 (Pentium II "Klamath"); core/index.ts CPU_SIGNATURE. */
export const CPUID_SIGNATURE: u32 = 0x0633;
export const CPUID_MAX_LEAF: u32 = 2;

// CPUID.01H:EDX feature bits (SDM vol. 2A, table 3-11).
export const FEAT_FPU: u32 = 1 << 0;
export const FEAT_VME: u32 = 1 << 1;
export const FEAT_DE: u32 = 1 << 2;
export const FEAT_PSE: u32 = 1 << 3;
export const FEAT_TSC: u32 = 1 << 4;
export const FEAT_MSR: u32 = 1 << 5;
export const FEAT_CX8: u32 = 1 << 8;
export const FEAT_SEP: u32 = 1 << 11;
export const FEAT_PGE: u32 = 1 << 13;
export const FEAT_CMOV: u32 = 1 << 15;

/** Exactly the features implemented; PAE, MCE, APIC, MTRR, MCA, PAT, MMX, FXSR, SSE are not. */
export const CPUID_FEATURES_EDX: u32 =
  FEAT_FPU | FEAT_VME | FEAT_DE | FEAT_PSE | FEAT_TSC | FEAT_MSR | FEAT_CX8 | FEAT_SEP | FEAT_PGE | FEAT_CMOV;

/**
 * Leaf 2 descriptors of a Pentium II with a 512 KiB L2 (SDM vol. 2A, table 3-12): AL = 01
 * (one iteration); 01H ITLB 4 KiB 32 entries, 02H ITLB 4 MiB 2 entries, 03H DTLB 4 KiB 64
 * entries; 43H L2 512 KiB, 08H L1I 16 KiB, 04H DTLB 4 MiB 8 entries, 0CH L1D 16 KiB.
 */
const LEAF2_EAX: u32 = 0x03020101;
const LEAF2_EDX: u32 = 0x0c040843;

// "GenuineIntel" in EBX, EDX, ECX.
const VENDOR_EBX: u32 = 0x756e6547; // "Genu"
const VENDOR_EDX: u32 = 0x49656e69; // "ineI"
const VENDOR_ECX: u32 = 0x6c65746e; // "ntel"

function setResult(a: u32, b: u32, c: u32, d: u32): void {
  setReg32(EAX, a);
  setReg32(EBX, b);
  setReg32(ECX, c);
  setReg32(EDX, d);
}

export function cpuidLeaf(leaf: u32): void {
  if (kvmCpuid(leaf)) {
    setResult(resultEax, resultEbx, resultEcx, resultEdx);
    return;
  }
  if (leaf > CPUID_MAX_LEAF) leaf = CPUID_MAX_LEAF;
  switch (leaf) {
    case 0:
      setResult(CPUID_MAX_LEAF, VENDOR_EBX, VENDOR_ECX, VENDOR_EDX);
      return;
    case 1:
      // EBX: brand index, CLFLUSH size, logical count and APIC ID are all 0 on this model.
      setResult(CPUID_SIGNATURE, 0, kvmParavirt() ? CPUID1_ECX_HYPERVISOR : 0, CPUID_FEATURES_EDX);
      return;
    default:
      setResult(LEAF2_EAX, 0, 0, LEAF2_EDX);
      return;
  }
}

/** CPUID: not privileged; the leaf is EAX (ECX is ignored by these leaves). */
export function CPUID(): void {
  if (exitIf(true, EXIT_CPUID, 0)) return;
  cpuidLeaf(reg32(EAX));
}
