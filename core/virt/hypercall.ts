// VMCALL (0F 01 C1), the hypercall instruction of KVM's paravirtual interface on Intel
// processors, and the VMM's hypercall dispatcher. The full ABI is docs/hypercalls.md.
//
// Outside VMX non-root operation VMCALL is #UD, as on hardware without VMX. In non-root
// operation it always exits (SDM 26.1.2); the VMM follows KVM's convention (Linux
// Documentation/virt/kvm/x86/hypercalls.rst): number in EAX, arguments in EBX, ECX, EDX, ESI,
// result in EAX, negative results are -errno (KVM_ENOSYS 1000 for an unknown number, KVM_EPERM 1
// from CPL > 0, EINVAL 22 and EFAULT 14 for bad arguments). No other register changes.
//
// KVM's numbers: KICK_CPU 5 and SCHED_YIELD 11 return 0 (one vCPU: nobody to wake or yield to),
// SEND_IPI 10 returns 0 destinations reached (there is no local APIC yet), CLOCK_PAIRING 9
// returns -KVM_EOPNOTSUPP as KVM does without a TSC clocksource on the host, MAP_GPA_RANGE 12
// returns -KVM_ENOSYS because it is not advertised in CPUID.
//
// The project's range 64-79 exists in the pv mode only:
//   64 console write (EBX buffer GPA, ECX length <= 4096): host; returns the length written
//   65 batched page-table update (EBX list GPA, ECX count <= 512): core/virt/pv-mmu.ts
//   66 set shared page (EBX page GPA, 0 = none): core/virt/pv-events.ts
//   67 yield: returns 0
//   68 block until an event (STI; HLT, unmasking the shared page): core/virt/pv-events.ts
//   69 set one-shot timer (EBX:ECX deadline in kvmclock ns low:high, 0 cancels): host
//   70 FPU task switch (EBX 1 sets CR0.TS, 0 clears it; Xen's fpu_taskswitch)
//   71 virtio notify (EBX PCI devfn on bus 0, ECX queue): host; one exit per kick, as the
//      notify register's write would be, but without the MMIO decode or the I/O instruction
// A hypercall is counted as a hypercall by number (not also as exit 18), where it was handled:
// WHERE_CORE in this file, WHERE_HOST for the ones forwarded to the host's exit handler.

import { ud } from "../cpu/fault";
import { setCr0 } from "../cpu/control";
import { cpl, EAX, EBX, ECX, reg32, setEip, setReg32 } from "../cpu/state";
import { hostVmExit } from "../host";
import {
  S_CR,
  S_STOP_REQUEST,
  S_VIRT_MODE,
  S_VMCS_CR0_SHADOW,
  S_VMCS_EXIT_INSN_LEN,
  S_VMCS_GUEST_RIP,
  S_VMX_NONROOT,
  VIRT_PV,
  VMX_ACTION_STOP,
} from "../generated/layout";
import { KIND_HYPERCALL, traceEvent, WHERE_CORE, WHERE_HOST } from "./events";
import { err } from "./pv-abi";
import { pvBlock, pvSetSharedPage } from "./pv-events";
import { pvMmuUpdate } from "./pv-mmu";
import { vmExit } from "./vmx";
import {
  EINVAL,
  EXIT_VMCALL,
  KVM_ENOSYS,
  KVM_EOPNOTSUPP,
  KVM_EPERM,
  KVM_HC_CLOCK_PAIRING,
  KVM_HC_KICK_CPU,
  KVM_HC_SCHED_YIELD,
  KVM_HC_SEND_IPI,
  PV_HC_BLOCK,
  PV_HC_CONSOLE_WRITE,
  PV_HC_FIRST,
  PV_HC_FPU_TASKSWITCH,
  PV_HC_LAST,
  PV_HC_MMU_UPDATE,
  PV_HC_SET_SHARED_PAGE,
  PV_HC_SET_TIMER,
  PV_HC_VIRTIO_NOTIFY,
  PV_HC_YIELD,
} from "../generated/abi";

const CR0_TS: u32 = 1 << 3;

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
  const pv = load<u32>(S_VIRT_MODE) == VIRT_PV && nr >= PV_HC_FIRST && nr <= PV_HC_LAST;
  if (pv && cpl() == 0 && (nr == PV_HC_CONSOLE_WRITE || nr == PV_HC_SET_TIMER || nr == PV_HC_VIRTIO_NOTIFY)) {
    traceEvent(KIND_HYPERCALL, nr, WHERE_HOST, nr, reg32(EBX));
    forwardToHost();
    return true;
  }
  traceEvent(KIND_HYPERCALL, nr, WHERE_CORE, nr, reg32(EBX));
  setReg32(EAX, cpl() != 0 ? err(KVM_EPERM) : pv ? pvHypercall(nr) : kvmHypercall(nr));
  return true;
}

function kvmHypercall(nr: u32): u32 {
  switch (nr) {
    case KVM_HC_KICK_CPU:
    case KVM_HC_SCHED_YIELD:
    case KVM_HC_SEND_IPI:
      return 0;
    case KVM_HC_CLOCK_PAIRING:
      return err(KVM_EOPNOTSUPP);
    default:
      return err(KVM_ENOSYS);
  }
}

function pvHypercall(nr: u32): u32 {
  switch (nr) {
    case PV_HC_MMU_UPDATE:
      return pvMmuUpdate(reg32(EBX), reg32(ECX));
    case PV_HC_SET_SHARED_PAGE:
      return pvSetSharedPage(reg32(EBX));
    case PV_HC_YIELD:
      return 0;
    case PV_HC_BLOCK:
      return pvBlock();
    case PV_HC_FPU_TASKSWITCH:
      return fpuTaskSwitch(reg32(EBX));
    default:
      return err(KVM_ENOSYS);
  }
}

/**
 * The pv replacement for CLTS (and for setting TS with MOV to CR0): the guest owns CR0.TS, so the
 * read shadow follows what it asked for.
 */
function fpuTaskSwitch(set: u32): u32 {
  if (set > 1) return err(EINVAL);
  const cr0 = load<u32>(S_CR);
  setCr0(set != 0 ? cr0 | CR0_TS : cr0 & ~CR0_TS);
  const shadow = load<u32>(S_VMCS_CR0_SHADOW);
  store<u32>(S_VMCS_CR0_SHADOW, set != 0 ? shadow | CR0_TS : shadow & ~CR0_TS);
  return 0;
}

/**
 * The host reads the arguments and sets EAX itself (vmm/virt/exit-handler.ts). When it asks to
 * stop, the hypercall has still completed: run() ends after it, as for any host stop request.
 */
function forwardToHost(): void {
  if (hostVmExit() == VMX_ACTION_STOP) store<u32>(S_STOP_REQUEST, 1);
}
