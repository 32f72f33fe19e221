// The numbers of the hypercall ABI (docs/hypercalls.md): KVM's hypercall numbers and error
// values as Linux 6.1 uses them (include/uapi/linux/kvm_para.h), and the project's teaching range
// 64-79, kept below 128 so that each number has its own cell in the crossing counters.

// Errors are returned negated in EAX, as KVM does.
export const KVM_EPERM: u32 = 1;
export const EFAULT: u32 = 14;
export const EINVAL: u32 = 22;
export const KVM_EOPNOTSUPP: u32 = 95;
export const KVM_ENOSYS: u32 = 1000;

/** An error as the guest sees it in EAX. */
@inline export function err(e: u32): u32 {
  return <u32>-<i32>e;
}

// KVM's numbers (Linux Documentation/virt/kvm/x86/hypercalls.rst).
export const KVM_HC_KICK_CPU: u32 = 5;
export const KVM_HC_CLOCK_PAIRING: u32 = 9;
export const KVM_HC_SEND_IPI: u32 = 10;
export const KVM_HC_SCHED_YIELD: u32 = 11;
export const KVM_HC_MAP_GPA_RANGE: u32 = 12;

// The project's range, present only in the pv mode (an hvm guest is unmodified and never calls it).
export const PV_HC_FIRST: u32 = 64;
export const PV_HC_CONSOLE_WRITE: u32 = 64;
export const PV_HC_MMU_UPDATE: u32 = 65;
export const PV_HC_SET_SHARED_PAGE: u32 = 66;
export const PV_HC_YIELD: u32 = 67;
export const PV_HC_BLOCK: u32 = 68;
export const PV_HC_SET_TIMER: u32 = 69;
export const PV_HC_FPU_TASKSWITCH: u32 = 70;
export const PV_HC_LAST: u32 = 79;

/**
 * Entries one PV_HC_MMU_UPDATE may carry: one 4 KiB page of {pte_gpa, value} pairs, so the VMM's
 * copy of a batch has a fixed size and a guest cannot make one hypercall arbitrarily long.
 */
export const PV_MMU_BATCH_MAX: u32 = 512;

// The shared page: u32 event mask at offset 0 (1 = events masked), u32 pending flag at offset 4.
export const PV_SHARED_MASK: u32 = 0;
export const PV_SHARED_PENDING: u32 = 4;
