// The hypercall ABI (docs/hypercalls.md). Its numbers (KVM's hypercall numbers and error values
// as Linux 6.1 uses them, include/uapi/linux/kvm_para.h, and the project's range 64-79) are
// defined once in core/layout/abi.mjs and generated into core/generated/abi.ts.

/** An error as the guest sees it in EAX: KVM returns errors negated. */
@inline export function err(e: u32): u32 {
  return <u32>-<i32>e;
}
