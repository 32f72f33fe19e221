// Virtual interrupts of the pv mode, after Xen's event delivery (Barham et al. section 3.2): a
// page the guest and the VMM share holds a mask the guest sets instead of executing CLI (a plain
// store, no crossing) and a pending flag the VMM sets when the mask held an interrupt back. The
// VMM injects an external interrupt only while EFLAGS.IF = 1 and the mask is 0.
//
// Shared page layout (guest-physical, 4 KiB-aligned): u32 mask at 0, u32 pending at 4.

import { FLAG_IF } from "../cpu/state";
import { S_EFLAGS, S_HALTED, S_PV_SHARED_PAGE, S_VMCS_GUEST_ACTIVITY } from "../generated/layout";
import { physRead32, physWrite32 } from "../mmu/physical";
import { err } from "./pv-abi";
import { guestRamRange } from "./pv-mmu";
import { EFAULT, EINVAL, PV_SHARED_MASK, PV_SHARED_PENDING } from "../generated/abi";

/** PV_HC_SET_SHARED_PAGE: registers the page (0 unregisters it); returns EAX. */
export function pvSetSharedPage(gpa: u32): u32 {
  if ((gpa & 0xfff) != 0) return err(EINVAL);
  if (gpa != 0 && !guestRamRange(gpa, 0x1000)) return err(EFAULT);
  store<u32>(S_PV_SHARED_PAGE, gpa);
  return 0;
}

/**
 * Asked by the VMM when EFLAGS.IF and the interrupt shadow would let an interrupt in: whether the
 * virtual mask does too (always, without a shared page). Masked: the pending flag tells the guest
 * that something waits. Unmasked: the interrupt is injected now, so nothing waits any more.
 */
export function pvEventsAdmitted(): bool {
  const page = load<u32>(S_PV_SHARED_PAGE);
  if (page == 0) return true;
  const admitted = physRead32(page + PV_SHARED_MASK) == 0;
  // Asked before every instruction while an interrupt waits: write only when the flag changes
  // (a write-tracked page would pay for every store).
  const pending: u32 = admitted ? 0 : 1;
  if (physRead32(page + PV_SHARED_PENDING) != pending) physWrite32(page + PV_SHARED_PENDING, pending);
  return admitted;
}

/**
 * PV_HC_BLOCK: waits for the next event, as STI; HLT does. Like Xen's SCHEDOP_block it unmasks
 * events as it blocks, so a guest that masked them to test "anything to do?" cannot sleep
 * through the interrupt that arrives between its test and the hypercall.
 */
export function pvBlock(): u32 {
  store<u32>(S_EFLAGS, load<u32>(S_EFLAGS) | FLAG_IF);
  const page = load<u32>(S_PV_SHARED_PAGE);
  if (page != 0) physWrite32(page + PV_SHARED_MASK, 0);
  store<u32>(S_VMCS_GUEST_ACTIVITY, 1);
  store<u32>(S_HALTED, 1);
  return 0;
}
