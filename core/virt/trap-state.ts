// The trap VMM's virtual CPU (the guest's view of the registers the VMM owns) and where its own
// tables live. The words are TRAP_VIRTUAL in the state block, so the host reads them without
// calls (vmm/virt/trap-state.ts reads them with the same generated names).

import { TV_FLAGS } from "../generated/abi";
import { HV_TRAP_BASE, S_HALTED, S_TRAP_VIRTUAL } from "../generated/layout";

// Words of TRAP_VIRTUAL: TV_* in core/layout/abi.mjs (the host reads them by the same names).
@inline export function tv(i: u32): u32 {
  return load<u32>(S_TRAP_VIRTUAL + (i << 2));
}
@inline export function setTv(i: u32, v: u32): void {
  store<u32>(S_TRAP_VIRTUAL + (i << 2), v);
}

/**
 * The real IF the VMM runs the guest with: 1, except while the guest sits in HLT with its IF
 * clear, so that the host sees a CPU stopped for good (Vm.idle reads the real EFLAGS).
 */
@inline export function realIf(): u32 {
  return load<u32>(S_HALTED) != 0 && (tv(TV_FLAGS) & 0x200) == 0 ? 0 : 0x200;
}

// The VMM's area: its GDT, the shadow LDT, the shadow IDT and its TSS, in HV_TRAP, mapped at
// the top 4 MiB of the guest-physical and linear space (where VMware's monitor lived), which
// the lab kernels never use.
export const AREA_LINEAR: u32 = 0xffc00000;
export const AREA_BYTES: u32 = 0x80000;
export const GDT_OFFSET: u32 = 0x00000;
export const LDT_OFFSET: u32 = 0x10000;
export const IDT_OFFSET: u32 = 0x20000;
export const TSS_OFFSET: u32 = 0x20800;
export const TSS_BYTES: u32 = 104;
/** The real GDT spans 64 KiB: the guest's descriptors (shadowed) first, the VMM's at the end. */
export const REAL_GDT_LIMIT: u32 = 0xffff;
export const VMM_LDT_SEL: u32 = 0xfff0;
export const VMM_TSS_SEL: u32 = 0xfff8;

@inline export function areaHost(offset: u32): u32 {
  return HV_TRAP_BASE + offset;
}
@inline export function areaLinear(offset: u32): u32 {
  return AREA_LINEAR + offset;
}
