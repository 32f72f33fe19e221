// VMCALL (0F 01 C1), the hypercall instruction of KVM's paravirtual interface on Intel
// processors. Outside VMX non-root operation it is #UD, as on hardware without VMX. In non-root
// operation it always exits (SDM 26.1.2); the VMM then follows the KVM ABI (Linux
// Documentation/virt/kvm/x86/hypercalls.rst): number in EAX, arguments in EBX, ECX, EDX, ESI,
// result in EAX; from CPL > 0 the result is -KVM_EPERM; an unknown number returns -KVM_ENOSYS.
// A hypercall is counted as a hypercall (by number), not also as exit 18.

import { ud } from "../cpu/fault";
import { cpl, EAX, reg32, setEip, setReg32 } from "../cpu/state";
import { S_VMCS_GUEST_RIP, S_VMCS_EXIT_INSN_LEN, S_VMX_NONROOT } from "../generated/layout";
import { KIND_HYPERCALL, traceEvent, WHERE_CORE } from "./events";
import { EXIT_VMCALL, vmExit } from "./vmx";

export const KVM_ENOSYS: u32 = 1000;
export const KVM_EPERM: u32 = 1;

export const KVM_HC_KICK_CPU: u32 = 5;
export const KVM_HC_SCHED_YIELD: u32 = 11;

export function VMCALL(): void {
  if (load<u32>(S_VMX_NONROOT) == 0) {
    ud();
    return;
  }
  vmExit(EXIT_VMCALL, 0);
}

/** The VMCALL exit: the VMM's hypercall dispatcher. False when run() must stop. */
export function hypercallExit(): bool {
  setEip(load<u32>(S_VMCS_GUEST_RIP) + load<u32>(S_VMCS_EXIT_INSN_LEN));
  const nr = reg32(EAX);
  traceEvent(KIND_HYPERCALL, nr, WHERE_CORE, nr, 0);
  if (cpl() != 0) {
    setReg32(EAX, <u32>-<i32>KVM_EPERM);
    return true;
  }
  switch (nr) {
    case KVM_HC_KICK_CPU: // one vCPU: nobody to wake
    case KVM_HC_SCHED_YIELD: // one vCPU: nobody to yield to
      setReg32(EAX, 0);
      return true;
    default:
      setReg32(EAX, <u32>-<i32>KVM_ENOSYS);
      return true;
  }
}
