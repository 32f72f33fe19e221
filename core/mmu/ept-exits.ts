// The two EPT-induced VM exits, recorded in the VMCS and counted like every other exit. Neither
// aborts the instruction: an EPT violation is handled in the core by the VMM's fault-in
// (ept-fault-in.ts) and the access is retried at once, which is what the guest would see after
// the VMM's VM entry restarted the instruction; an EPT misconfiguration is the host's device
// model emulating the access, which it does through the existing MMIO path in physical.ts.

import { insnEip } from "../cpu/decode";
import {
  S_VMCS_EXIT_QUALIFICATION,
  S_VMCS_EXIT_REASON,
  S_VMCS_GUEST_LINEAR_ADDRESS,
  S_VMCS_GUEST_PHYSICAL_ADDRESS,
  S_VMCS_GUEST_RIP,
  S_VMX_EXITS,
} from "../generated/layout";
import { countEvent, KIND_EPT_VIOLATION, KIND_EXIT, traceEvent, WHERE_CORE, WHERE_HOST } from "../virt/events";
import { EXIT_EPT_MISCONFIG, EXIT_EPT_VIOLATION } from "../generated/abi";

// EPT-violation exit qualification (SDM vol. 3C, table 27-7). Bits 0-2 are the access kind
// (1 << EPT_ACCESS_*), bits 3-5 the permissions the walk granted (R, W, X ANDed over the entries
// it used; 0 when an entry was not present).
const QUAL_LINEAR_VALID: u32 = 1 << 7;
/** With bit 7: the access was to the translated address, not to a guest paging-structure entry. */
const QUAL_FINAL_TRANSLATION: u32 = 1 << 8;

function recordExit(reason: u32, qualification: u32, gpa: u32, linear: u32): void {
  store<u32>(S_VMCS_EXIT_REASON, reason);
  store<u32>(S_VMCS_EXIT_QUALIFICATION, qualification);
  store<u32>(S_VMCS_GUEST_PHYSICAL_ADDRESS, gpa);
  store<u32>(S_VMCS_GUEST_LINEAR_ADDRESS, linear);
  store<u32>(S_VMCS_GUEST_RIP, insnEip);
  store<u64>(S_VMX_EXITS, load<u64>(S_VMX_EXITS) + 1);
}

/** An EPT violation (exit 48) on `access` (EPT_ACCESS_*) to `gpa`, made for linear `linear`. */
export function eptViolationExit(gpa: u32, access: u32, pagingStructure: bool, linear: u32, permissions: u32): u32 {
  // A guest paging-structure access that A/D flags make a write sets both the read and the
  // write bit (SDM, exit qualification for EPT violations, footnote to bit 1).
  const both = pagingStructure && (1 << access) == 2;
  const qual: u32 =
    (1 << access) |
    (both ? 1 : 0) |
    ((permissions & 7) << 3) |
    QUAL_LINEAR_VALID |
    (pagingStructure ? 0 : QUAL_FINAL_TRANSLATION);
  recordExit(EXIT_EPT_VIOLATION, qual, gpa, linear);
  traceEvent(KIND_EXIT, EXIT_EPT_VIOLATION, WHERE_CORE, qual, gpa);
  countEvent(KIND_EPT_VIOLATION, access, WHERE_CORE);
  return qual;
}

/**
 * An EPT misconfiguration (exit 49): one guest access to a page behind a misconfigured leaf,
 * which the host's device model emulates. Called once per access that reaches a device or
 * open bus while EPT is on.
 */
export function eptMisconfigExit(gpa: u32): void {
  recordExit(EXIT_EPT_MISCONFIG, 0, gpa, 0);
  traceEvent(KIND_EXIT, EXIT_EPT_MISCONFIG, WHERE_HOST, 0, gpa);
}
