// The VMM programs the VMCS for a mode (issue 4): which events exit and how memory is
// virtualized. Field and bit names follow the SDM (vol. 3C, chapter 24); the choices follow what
// KVM does on Intel hosts, simplified where the reason is given.

import type { Cpu } from "../cpu.js";
import { PIN, PROC, PROC2 } from "../generated/abi.js";
import * as L from "../generated/layout.js";

export type VirtMode = "native" | "trap" | "bt" | "hvm" | "pv";
export type MmuMode = "direct" | "shadow" | "ept";
export const VIRT_MODES: readonly VirtMode[] = ["native", "trap", "bt", "hvm", "pv"];
export const MMU_MODES: readonly MmuMode[] = ["direct", "shadow", "ept"];

const VIRT_CODES: Record<VirtMode, number> = {
  native: L.VIRT_NATIVE,
  trap: L.VIRT_TRAP,
  bt: L.VIRT_BT,
  hvm: L.VIRT_HVM,
  pv: L.VIRT_PV,
};
const MMU_CODES: Record<MmuMode, number> = { direct: L.MMU_DIRECT, shadow: L.MMU_SHADOW, ept: L.MMU_EPT };

// Control bits: PIN, PROC and PROC2 (SDM tables 24-5 to 24-7) from core/layout/abi.mjs.
export { PIN, PROC, PROC2 };

const CR0_PE = 1 << 0;
const CR0_WP = 1 << 16;
const CR0_NW = 1 << 29;
const CR0_CD = 1 << 30;
const CR0_PG = 1 << 31;
const CR4_PSE = 1 << 4;
const CR4_PAE = 1 << 5;
const CR4_PGE = 1 << 7;
const CR4_VMXE = 1 << 13;

/** MSRs a guest may read and write without exiting (KVM passes SYSENTER through as well). */
const PASSTHROUGH_MSRS = [0x174, 0x175, 0x176];

/** The memory virtualization a mode uses when none is asked for. */
export function defaultMmu(mode: VirtMode): MmuMode {
  if (mode === "native") return "direct";
  if (mode === "trap" || mode === "bt") return "shadow";
  return "ept";
}

/** Checks a mode/MMU pair; returns an error message or null. */
export function checkModes(mode: VirtMode, mmu: MmuMode): string | null {
  if (mode === "native" && mmu !== "direct") return "--mmu applies to the trap, bt, hvm and pv modes, not native";
  if (mode !== "native" && mmu === "direct") return `--mode ${mode} needs --mmu shadow or ept`;
  if ((mode === "trap" || mode === "bt") && mmu !== "shadow")
    return `--mode ${mode} uses shadow page tables (no EPT without VMX)`;
  return null;
}

/** Puts the core into a mode: resets the hypervisor's structures and programs the VMCS. */
export function configureVirtualization(cpu: Cpu, mode: VirtMode, mmu: MmuMode = defaultMmu(mode)): void {
  const err = checkModes(mode, mmu);
  if (err) throw new RangeError(err);
  if (mode !== "native" && cpu.ramBytes > L.HV_FRAME_BYTES * 1024) {
    throw new RangeError(`--mode ${mode} supports at most ${L.HV_FRAME_BYTES / 1024} MiB of RAM`);
  }
  const vmx = mode === "hvm" || mode === "pv";
  const shadow = mmu === "shadow";
  const u8 = new Uint8Array(cpu.memory.buffer);
  let pin = 0;
  let proc = 0;
  let proc2 = 0;
  let cr0Mask = 0;
  let cr4Mask = 0;
  if (vmx) {
    pin = PIN.externalInterruptExiting;
    // Every port access exits (the I/O bitmaps could let some through; hvm's point is that none do).
    // RDTSC does not exit and there is no TSC offset: the guest reads the icount TSC directly.
    proc = PROC.hltExiting | PROC.unconditionalIoExiting | PROC.useMsrBitmaps | PROC.activateSecondary;
    if (shadow) proc |= PROC.cr3LoadExiting | PROC.cr3StoreExiting | PROC.invlpgExiting;
    if (mmu === "ept") proc2 |= PROC2.enableEpt;
    // CR0/CR4 bits the VMM owns: caching and paging-mode bits (shadow paging must follow WP, PSE,
    // PGE). Under pv every CR0/CR4 write is a privileged operation that traps.
    cr0Mask = CR0_PE | CR0_PG | CR0_CD | CR0_NW | (shadow ? CR0_WP : 0);
    cr4Mask = CR4_PAE | CR4_VMXE | (shadow ? CR4_PSE | CR4_PGE : 0);
    if (mode === "pv") {
      cr0Mask = 0xffffffff;
      cr4Mask = 0xffffffff;
    }
    // MSR bitmaps: every MSR exits except the pass-through ones.
    u8.fill(0xff, L.HV_MSR_BITMAP_BASE, L.HV_MSR_BITMAP_BASE + L.HV_MSR_BITMAP_BYTES);
    for (const msr of PASSTHROUGH_MSRS) {
      for (const base of [0, 0x800]) u8[L.HV_MSR_BITMAP_BASE + base + (msr >>> 3)] &= ~(1 << (msr & 7));
    }
    u8.fill(0xff, L.HV_IO_BITMAP_BASE, L.HV_IO_BITMAP_BASE + L.HV_IO_BITMAP_BYTES);
  }
  cpu.setU32(L.S_VMCS_PIN_CONTROLS, pin);
  cpu.setU32(L.S_VMCS_PROC_CONTROLS, proc);
  cpu.setU32(L.S_VMCS_PROC2_CONTROLS, proc2);
  cpu.setU32(L.S_VMCS_EXCEPTION_BITMAP, vmx && shadow ? 1 << 14 : 0);
  cpu.setU32(L.S_VMCS_PF_ERROR_MASK, 0);
  cpu.setU32(L.S_VMCS_PF_ERROR_MATCH, 0);
  cpu.setU32(L.S_VMCS_CR3_TARGET_COUNT, 0);
  cpu.setU32(L.S_VMCS_CR0_MASK, cr0Mask);
  cpu.setU32(L.S_VMCS_CR4_MASK, cr4Mask);
  cpu.setU32(L.S_VMCS_CR0_SHADOW, cpu.cr(0));
  cpu.setU32(L.S_VMCS_CR4_SHADOW, cpu.cr(4));
  cpu.setVirtualization(VIRT_CODES[mode], MMU_CODES[mmu]);
}

/** The mode a core is in (read back from its state). */
export function currentModes(cpu: Cpu): { mode: VirtMode; mmu: MmuMode } {
  return { mode: VIRT_MODES[cpu.u32(L.S_VIRT_MODE)] ?? "native", mmu: MMU_MODES[cpu.u32(L.S_MMU_MODE)] ?? "direct" };
}
