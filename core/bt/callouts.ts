// Callouts: the VMM routines sensitive guest-kernel instructions become in the translation cache.
// Each is counted by kind (and the rarer ones traced); the instruction's effect on the virtual
// CPU is then emulated by executing it once through the interpreter from its copy in the cache,
// as KVM's instruction emulator does for an exit: CLI, STI and POPF act on the virtual IF (which
// is EFLAGS.IF in this core, so a pending interrupt is noticed by the run loop), MOV to CR3
// reaches the shadow MMU through setCr3's hook, IN and OUT reach the device models.

import { step } from "../cpu/interp";
import { CALLOUT_PUSHF } from "../generated/bt-forms";
import { countEvent, KIND_CALLOUT, traceEvent, WHERE_CORE } from "../virt/events";

/** Runs the callout `kind` (CALLOUT_*) for the instruction at EIP, fetched from the cache. */
export function btCallout(kind: u32): void {
  countCallout(kind);
  step();
}

/** Counts callout `kind`, from the cache or from compiled code (compiled.ts). */
export function countCallout(kind: u32): void {
  // CLI, STI, POPF and PUSHF come by the thousand: counted, not traced.
  if (kind <= CALLOUT_PUSHF) countEvent(KIND_CALLOUT, kind, WHERE_CORE);
  else traceEvent(KIND_CALLOUT, kind, WHERE_CORE, 0, 0);
}
