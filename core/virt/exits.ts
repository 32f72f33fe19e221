// The VMM's exit handlers: what happens after the vCPU leaves non-root operation. Exits handled
// here are KVM's "in-kernel" path (CPUID policy, MSRs, control registers, INVLPG, RDTSC, HLT,
// exceptions, interrupt injection); the rest go to the host through a synchronous import, its
// "userspace" path (port I/O, device hypercalls). Each exit is counted and traced with where it
// was handled.
//
// Instructions that exit are emulated by re-executing them with exits suppressed: the core's
// interpreter is this VMM's instruction emulator (KVM has its own in arch/x86/kvm/emulate.c).
// VMM policy that differs from the bare machine (shadow page tables on CR3 loads and INVLPG,
// KVM's CPUID leaves and MSRs) lives in the code those instructions reach.

import { emulateOnce } from "../cpu/interp";
import { deliver } from "../cpu/interrupts";
import { FLAG_IF, getEip, setEip } from "../cpu/state";
import { NO_ERROR } from "../cpu/fault";
import { hostAckInterrupt, hostVmExit } from "../host";
import {
  S_CR,
  S_EFLAGS,
  S_HALTED,
  S_INT_SHADOW,
  S_IRQ_COUNT,
  S_VMCS_CR0_SHADOW,
  S_VMCS_CR4_SHADOW,
  S_VMCS_ENTRY_INTR_INFO,
  S_VMCS_EXCEPTION_BITMAP,
  S_VMCS_EXIT_INSN_LEN,
  S_VMCS_EXIT_INTR_ERROR,
  S_VMCS_EXIT_INTR_INFO,
  S_VMCS_EXIT_QUALIFICATION,
  S_VMCS_EXIT_REASON,
  S_VMCS_GUEST_ACTIVITY,
  S_VMCS_GUEST_PHYSICAL_ADDRESS,
  S_VMCS_GUEST_RIP,
  S_VMCS_PF_ERROR_MASK,
  S_VMCS_PF_ERROR_MATCH,
  S_VMCS_PROC_CONTROLS,
  S_VMX_EXITS,
  S_VMX_PENDING_VECTOR,
  VMX_ACTION_EMULATE,
  VMX_ACTION_STOP,
} from "../generated/layout";
import { KIND_EXIT, traceEvent, WHERE_CORE, WHERE_HOST } from "./events";
import { hypercallExit } from "./hypercall";
import { pvEventsAdmitted } from "./pv-events";
import { nonRoot, pinControl, procControl } from "./vmx";
import {
  EXIT_CPUID,
  EXIT_CR_ACCESS,
  EXIT_EXCEPTION_OR_NMI,
  EXIT_EXTERNAL_INTERRUPT,
  EXIT_HLT,
  EXIT_INTERRUPT_WINDOW,
  EXIT_INVLPG,
  EXIT_RDMSR,
  EXIT_RDPMC,
  EXIT_RDTSC,
  EXIT_VMCALL,
  EXIT_WRMSR,
  PIN_EXTERNAL_INTERRUPT_EXITING,
  PROC_INTERRUPT_WINDOW_EXITING,
} from "../generated/abi";

/** A host handler asked run() to stop (RUN_VMEXIT). */
export let exitStop: bool = false;
export function clearExitStop(): void {
  exitStop = false;
}

@inline function countExit(): void {
  store<u64>(S_VMX_EXITS, load<u64>(S_VMX_EXITS) + 1);
}

/** Handles the instruction-caused exit recorded in the VMCS; false when run() must stop. */
export function handleVmExit(): bool {
  const reason = load<u32>(S_VMCS_EXIT_REASON);
  countExit();
  if (reason == EXIT_VMCALL) return hypercallExit();
  const qual = load<u32>(S_VMCS_EXIT_QUALIFICATION);
  const gpa = load<u32>(S_VMCS_GUEST_PHYSICAL_ADDRESS);
  switch (reason) {
    case EXIT_HLT:
      traceEvent(KIND_EXIT, reason, WHERE_CORE, qual, gpa);
      // The vCPU enters the HLT activity state; the run loop reports it to the host as idle.
      setEip(load<u32>(S_VMCS_GUEST_RIP) + load<u32>(S_VMCS_EXIT_INSN_LEN));
      store<u32>(S_VMCS_GUEST_ACTIVITY, 1);
      store<u32>(S_HALTED, 1);
      return true;
    case EXIT_CR_ACCESS: {
      traceEvent(KIND_EXIT, reason, WHERE_CORE, qual, gpa);
      if (!emulateOnce()) return false;
      // The guest owns what it wrote: the read shadows follow the emulated value.
      store<u32>(S_VMCS_CR0_SHADOW, load<u32>(S_CR));
      store<u32>(S_VMCS_CR4_SHADOW, load<u32>(S_CR + 16));
      return true;
    }
    case EXIT_CPUID:
    case EXIT_INVLPG:
    case EXIT_RDPMC:
    case EXIT_RDTSC:
    case EXIT_RDMSR:
    case EXIT_WRMSR:
      traceEvent(KIND_EXIT, reason, WHERE_CORE, qual, gpa);
      return emulateOnce();
    default: {
      traceEvent(KIND_EXIT, reason, WHERE_HOST, qual, gpa);
      const action = hostVmExit();
      if (action == VMX_ACTION_EMULATE) return emulateOnce();
      if (action == VMX_ACTION_STOP) {
        exitStop = true;
        return false;
      }
      return true;
    }
  }
}

/**
 * Exception bitmap (SDM 25.2): an exception whose bit is set exits instead of being delivered.
 * For #PF the error code decides with the mask/match fields: with bit 14 set it exits when
 * (error & mask) == match, with bit 14 clear when they differ. This VMM reflects the exception:
 * the exit is counted and the entry that resumes the guest injects it, which the caller does
 * by delivering it at once. Returns true when it exited.
 */
export function exceptionExits(vector: u32, error: i32): bool {
  if (!nonRoot() || vector >= 32) return false;
  const bit = ((load<u32>(S_VMCS_EXCEPTION_BITMAP) >>> vector) & 1) != 0;
  if (vector == 14) {
    const matches = (<u32>error & load<u32>(S_VMCS_PF_ERROR_MASK)) == load<u32>(S_VMCS_PF_ERROR_MATCH);
    if (bit != matches) return false;
  } else if (!bit) return false;
  countExit();
  // Exit interruption information: vector, type (3 hardware exception, 6 software exception
  // for INT3 and INTO), error-code valid, valid.
  const type: u32 = vector == 3 || vector == 4 ? 6 : 3;
  const info: u32 = vector | (type << 8) | (error != NO_ERROR ? 1 << 11 : 0) | (1 << 31);
  store<u32>(S_VMCS_EXIT_REASON, EXIT_EXCEPTION_OR_NMI);
  store<u32>(S_VMCS_EXIT_INTR_INFO, info);
  store<u32>(S_VMCS_EXIT_INTR_ERROR, <u32>error);
  store<u32>(S_VMCS_EXIT_QUALIFICATION, vector == 14 ? load<u32>(S_CR + 8) : 0);
  traceEvent(KIND_EXIT, EXIT_EXCEPTION_OR_NMI, WHERE_CORE, info, 0);
  return true;
}

/** VMX_PENDING_VECTOR: an external-interrupt exit was taken and its injection waits. */
const PENDING_INTERRUPT: u32 = 0x200;

/**
 * Between instructions in non-root operation with external-interrupt exiting: an interrupt the
 * PIC raises exits (reason 1). The VMM acknowledges the (virtual) PIC only when it injects, as
 * KVM does for its emulated PIC, so the guest's masking and priorities keep their meaning: if
 * the guest can take the interrupt it is injected on this entry, else the VMM asks for an
 * interrupt-window exit (reason 7) and injects then, if the PIC still asks for it.
 * Returns true when this path owns interrupt delivery.
 */
export function serviceVirtualInterrupts(intr: bool): bool {
  if (!nonRoot() || !pinControl(PIN_EXTERNAL_INTERRUPT_EXITING)) return false;
  if (intr && load<u32>(S_VMX_PENDING_VECTOR) == 0) {
    // A halted vCPU is not in the guest: its HLT exit (or PV_HC_BLOCK) left it waiting in the
    // VMM, so the interrupt that wakes it is injected on the entry that ends the wait, with no
    // exit of its own (as KVM's halt blocks the vCPU in the host). Only an interrupt that
    // arrives while the guest runs is an external-interrupt exit.
    if (load<u32>(S_HALTED) == 0) {
      countExit();
      store<u32>(S_VMCS_EXIT_REASON, EXIT_EXTERNAL_INTERRUPT);
      traceEvent(KIND_EXIT, EXIT_EXTERNAL_INTERRUPT, WHERE_CORE, 0, 0);
    }
    store<u32>(S_VMX_PENDING_VECTOR, PENDING_INTERRUPT);
  }
  const pending = load<u32>(S_VMX_PENDING_VECTOR);
  if (pending == 0) return true;
  if (!intr) {
    // The PIC withdrew the request (masked, or served by polling): nothing to inject.
    store<u32>(S_VMX_PENDING_VECTOR, 0);
    return true;
  }
  // Last, so that the pv shared page is only consulted for an interrupt IF would let in.
  const canTake = (load<u32>(S_EFLAGS) & FLAG_IF) != 0 && load<u32>(S_INT_SHADOW) == 0 && pvEventsAdmitted();
  if (!canTake) {
    store<u32>(S_VMCS_PROC_CONTROLS, load<u32>(S_VMCS_PROC_CONTROLS) | PROC_INTERRUPT_WINDOW_EXITING);
    return true;
  }
  if (procControl(PROC_INTERRUPT_WINDOW_EXITING)) {
    countExit();
    store<u32>(S_VMCS_EXIT_REASON, EXIT_INTERRUPT_WINDOW);
    traceEvent(KIND_EXIT, EXIT_INTERRUPT_WINDOW, WHERE_CORE, 0, 0);
    store<u32>(S_VMCS_PROC_CONTROLS, load<u32>(S_VMCS_PROC_CONTROLS) & ~PROC_INTERRUPT_WINDOW_EXITING);
  }
  store<u32>(S_VMX_PENDING_VECTOR, 0);
  const vector = hostAckInterrupt() & 0xff;
  store<u32>(S_IRQ_COUNT, load<u32>(S_IRQ_COUNT) + 1);
  store<u32>(S_VMCS_EXIT_INTR_INFO, vector | (1 << 31));
  // VM entry with event injection: type 0 (external interrupt), valid.
  store<u32>(S_VMCS_ENTRY_INTR_INFO, vector | (1 << 31));
  store<u32>(S_HALTED, 0);
  store<u32>(S_VMCS_GUEST_ACTIVITY, 0);
  deliver(vector, NO_ERROR, false, true, getEip());
  store<u32>(S_VMCS_ENTRY_INTR_INFO, 0);
  return true;
}
