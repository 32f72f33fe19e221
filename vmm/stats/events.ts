// Event kinds the hypervisor reports into the stats module (issue 4, item 4).
//
// Every event has a kind, a reason (a number whose meaning depends on the kind) and the place it
// was handled (in the core, i.e. inside the Wasm CPU without leaving it, or in the host, i.e. in
// the TypeScript VMM). Numbers are the architectural ones where they exist: VMX exit reasons are
// the SDM's basic exit reasons (Vol. 3C Appendix C; reference/virtualization.md section 5.1),
// hypercall reasons are the hypercall numbers in EAX (KVM's numbers, section 6.3, plus the
// project range).
//
// The kinds, reasons and their names are defined once in core/layout/abi.mjs (the core counts
// with the same numbers); this file adds the human names of reasons. It imports only generated
// constants: it runs in Node and in a browser Worker.

import {
  CALLOUT_NAMES,
  EPT_ACCESS_NAMES,
  EXEC_KIND_NAMES,
  EXIT_REASON_NAMES,
  HYPERCALL_NAMES,
  KIND_NAMES,
  Kind,
  SHADOW_FAULT_NAMES,
  TRANSLATION_KIND_NAMES,
  TRAP_NAMES,
  WALK_REF_NAMES,
  type WHERE_NAMES,
} from "../generated/abi.js";

// The numbers and names themselves are core/layout/abi.mjs's, generated for both sides.
export {
  CALLOUT_NAMES,
  EPT_ACCESS_NAMES,
  EptAccess,
  EXEC_KIND_NAMES,
  EXIT_REASON_NAMES,
  ExecKind,
  ExitReason,
  HYPERCALL_NAMES,
  KIND_NAMES,
  Kind,
  SHADOW_FAULT_NAMES,
  ShadowFault,
  TRANSLATION_KIND_NAMES,
  TRAP_NAMES,
  TranslationKind,
  WALK_REF_NAMES,
  WalkRef,
  WHERE_NAMES,
  Where,
} from "../generated/abi.js";

export type KindName = (typeof KIND_NAMES)[number];
export type WhereName = (typeof WHERE_NAMES)[number];
export const KIND_COUNT = KIND_NAMES.length;

/** Binary-translation callouts by name: Callout["mov to CR3"] is its number. */
export const Callout = Object.fromEntries(CALLOUT_NAMES.map((name, i) => [name, i])) as {
  readonly [K in (typeof CALLOUT_NAMES)[number]]: number;
};

function hex(n: number, width: number): string {
  return "0x" + n.toString(16).padStart(width, "0");
}

/** A human name for a reason of a kind; unknown numbers are named by number, never rejected. */
export function reasonName(kind: Kind, reason: number): string {
  switch (kind) {
    case Kind.exit:
      return EXIT_REASON_NAMES[reason] ?? `exit reason ${reason}`;
    case Kind.callout:
      return CALLOUT_NAMES[reason] ?? `callout ${reason}`;
    case Kind.hypercall:
      return HYPERCALL_NAMES[reason] ?? `hypercall ${reason}`;
    case Kind.shadowFault:
      return SHADOW_FAULT_NAMES[reason] ?? `shadow fault ${reason}`;
    case Kind.eptViolation:
      return EPT_ACCESS_NAMES[reason] ?? `EPT access ${reason}`;
    case Kind.walkRef:
      return WALK_REF_NAMES[reason] ?? `walk reference ${reason}`;
    case Kind.translation:
      return TRANSLATION_KIND_NAMES[reason] ?? `translation ${reason}`;
    case Kind.guestInstr:
      return EXEC_KIND_NAMES[reason] ?? `execution ${reason}`;
    case Kind.io:
      return "port " + hex(reason, 4);
    case Kind.mmio:
      return "MMIO region " + hex(reason, 5);
    case Kind.trap:
      return TRAP_NAMES[reason] ?? `vector ${reason}`;
    default:
      return String(reason);
  }
}

export function kindByName(name: KindName): Kind {
  return Kind[name];
}
