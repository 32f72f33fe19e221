// VMX non-root operation: the controls that decide whether an event exits, and the exit itself.
// Instruction handlers ask "does this exit?" (SDM vol. 3C, 26.1 "Instructions That Cause VM
// Exits Conditionally"); privilege checks come first, as on hardware. An exit aborts the
// instruction like a fault (nothing has changed yet) and records the SDM's exit information in
// the VMCS area of the state block; the run loop then hands it to the exit handlers
// (core/virt/exits.ts), which handle it in the core or pass it to the host. Exit reasons and
// control bits are the ABI's (core/layout/abi.mjs -> core/generated/abi.ts).

import { faulted, raise } from "../cpu/fault";
import { insnEip, nextEip } from "../cpu/decode";
import {
  HV_IO_BITMAP_BASE,
  HV_MSR_BITMAP_BASE,
  S_CR,
  S_VMCS_CR0_MASK,
  S_VMCS_CR3_TARGET,
  S_VMCS_CR3_TARGET_COUNT,
  S_VMCS_CR4_MASK,
  S_VMCS_EXIT_INSN_LEN,
  S_VMCS_EXIT_QUALIFICATION,
  S_VMCS_EXIT_REASON,
  S_VMCS_GUEST_LINEAR_ADDRESS,
  S_VMCS_GUEST_PHYSICAL_ADDRESS,
  S_VMCS_GUEST_RIP,
  S_VMCS_PIN_CONTROLS,
  S_VMCS_PROC2_CONTROLS,
  S_VMCS_PROC_CONTROLS,
  S_VMX_NONROOT,
} from "../generated/layout";
import {
  PROC_ACTIVATE_SECONDARY,
  PROC_CR3_LOAD_EXITING,
  PROC_UNCONDITIONAL_IO_EXITING,
  PROC_USE_IO_BITMAPS,
  PROC_USE_MSR_BITMAPS,
} from "../generated/abi";

/** Pseudo-vector of a pending VM exit in the fault record: not an exception, never delivered. */
export const VEC_VMEXIT: u32 = 0x100;

/** Set while the VMM's instruction emulator re-executes an exiting instruction. */
export let exitsSuppressed: bool = false;
export function setExitsSuppressed(on: bool): void {
  exitsSuppressed = on;
}

/** The vCPU is in VMX non-root operation and exits are not suppressed. */
@inline export function nonRoot(): bool {
  return load<u32>(S_VMX_NONROOT) != 0 && !exitsSuppressed;
}

@inline export function procControl(bit: u32): bool {
  return (load<u32>(S_VMCS_PROC_CONTROLS) & bit) != 0;
}

@inline export function pinControl(bit: u32): bool {
  return (load<u32>(S_VMCS_PIN_CONTROLS) & bit) != 0;
}

@inline export function proc2Control(bit: u32): bool {
  return procControl(PROC_ACTIVATE_SECONDARY) && (load<u32>(S_VMCS_PROC2_CONTROLS) & bit) != 0;
}

/**
 * An instruction-caused VM exit: records reason, qualification, RIP and the instruction length,
 * then aborts the instruction (it has changed nothing) for the run loop's exit handler.
 */
export function vmExit(reason: u32, qualification: u32): void {
  if (faulted) return;
  store<u32>(S_VMCS_EXIT_REASON, reason);
  store<u32>(S_VMCS_EXIT_QUALIFICATION, qualification);
  store<u32>(S_VMCS_GUEST_RIP, insnEip);
  store<u32>(S_VMCS_EXIT_INSN_LEN, nextEip - insnEip);
  store<u32>(S_VMCS_GUEST_LINEAR_ADDRESS, 0);
  store<u32>(S_VMCS_GUEST_PHYSICAL_ADDRESS, 0);
  raise(VEC_VMEXIT, -1);
}

/** Shorthand for the unconditional and the simple conditional exits: true when it exited. */
export function exitIf(cond: bool, reason: u32, qualification: u32): bool {
  if (!cond || !nonRoot()) return false;
  vmExit(reason, qualification);
  return true;
}

/** Whether a port access exits: unconditional I/O exiting, or any byte's bit in the I/O bitmaps. */
export function ioExits(port: u32, size: u32): bool {
  if (!nonRoot()) return false;
  if (procControl(PROC_USE_IO_BITMAPS)) {
    for (let i: u32 = 0; i < size; i++) {
      const p = (port + i) & 0xffff;
      if (((load<u8>(HV_IO_BITMAP_BASE + (p >>> 3)) >>> (p & 7)) & 1) != 0) return true;
    }
    return false;
  }
  return procControl(PROC_UNCONDITIONAL_IO_EXITING);
}

/**
 * I/O exit qualification (SDM table 27-5): size - 1, direction (1 = IN), string, REP, operand
 * encoding (1 = immediate), port in bits 31:16.
 */
export function ioQualification(port: u32, size: u32, input: bool, str: bool, rep: bool, imm: bool): u32 {
  return (size - 1) | (input ? 8 : 0) | (str ? 16 : 0) | (rep ? 32 : 0) | (imm ? 64 : 0) | (port << 16);
}

/** Whether RDMSR/WRMSR of `msr` exits (SDM 26.1.3): no bitmaps, outside the ranges, or the bit. */
export function msrExits(msr: u32, write: bool): bool {
  if (!nonRoot()) return false;
  if (!procControl(PROC_USE_MSR_BITMAPS)) return true;
  let base: u32;
  if (msr <= 0x1fff) base = 0;
  else if (msr >= 0xc0000000 && msr <= 0xc0001fff) base = 0x400;
  else return true;
  if (write) base += 0x800;
  const bit = msr & 0x1fff;
  return ((load<u8>(HV_MSR_BITMAP_BASE + base + (bit >>> 3)) >>> (bit & 7)) & 1) != 0;
}

/**
 * MOV to CR0 (or CLTS/LMSW, which pass the CR0 they would produce) exits when it would change
 * an owned bit (one set in the guest/host mask) to a value other than the read shadow's. This
 * VMM runs the guest with the CR0 it asked for and keeps the read shadow equal to it (the exit
 * handler updates VMCS_CR0_SHADOW), so the guest's current CR0 is the shadow; comparing with it
 * also stays right when the host itself loads CR0 (boot loaders).
 */
export function cr0WriteExits(value: u32): bool {
  if (!nonRoot()) return false;
  return ((value ^ load<u32>(S_CR)) & load<u32>(S_VMCS_CR0_MASK)) != 0;
}

export function cr4WriteExits(value: u32): bool {
  if (!nonRoot()) return false;
  return ((value ^ load<u32>(S_CR + 16)) & load<u32>(S_VMCS_CR4_MASK)) != 0;
}

/** MOV to CR3 exits with CR3-load exiting unless the value is one of the CR3-target values. */
export function cr3LoadExits(value: u32): bool {
  if (!nonRoot() || !procControl(PROC_CR3_LOAD_EXITING)) return false;
  const n = load<u32>(S_VMCS_CR3_TARGET_COUNT);
  for (let i: u32 = 0; i < n && i < 4; i++) if (load<u32>(S_VMCS_CR3_TARGET + (i << 2)) == value) return false;
  return true;
}

/**
 * Control-register access qualification (SDM table 27-3): CR number, access type (0 MOV to CR,
 * 1 MOV from CR, 2 CLTS, 3 LMSW), LMSW operand type, general register, LMSW source data.
 */
export function crQualification(cr: u32, access: u32, gpr: u32, lmswMemory: bool, lmswData: u32): u32 {
  return cr | (access << 4) | (lmswMemory ? 64 : 0) | (gpr << 8) | (lmswData << 16);
}
