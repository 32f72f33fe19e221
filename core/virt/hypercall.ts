// VMCALL (0F 01 C1), the hypercall instruction of KVM's paravirtual interface on Intel
// processors. Without the interface (a bare P6) it is #UD, as on hardware without VMX. With it,
// the KVM ABI applies (Linux Documentation/virt/kvm/x86/hypercalls.rst): number in EAX, result
// in EAX; from CPL > 0 the result is -KVM_EPERM; a number the hypervisor does not implement
// returns -KVM_ENOSYS. No hypercall is implemented yet: the pv mode will add them here.

import { ud } from "../cpu/fault";
import { cpl, EAX, setReg32 } from "../cpu/state";
import { kvmParavirt } from "./kvm-paravirt";

const KVM_ENOSYS: u32 = 1000;
const KVM_EPERM: u32 = 1;

export function VMCALL(): void {
  if (!kvmParavirt()) {
    ud();
    return;
  }
  setReg32(EAX, cpl() != 0 ? <u32>-<i32>KVM_EPERM : <u32>-<i32>KVM_ENOSYS);
}
