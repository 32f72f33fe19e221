// Crossing counters and the trace ring, in the hypervisor's memory so that the host reads them
// without calls (vmm/stats/core-stats.ts). Kinds and reasons are core/layout/abi.mjs's:
// exit reasons are the SDM's, hypercalls their EAX numbers, callouts the translator's kinds.

import { retiredSoFar } from "../cpu/rep";
import { getEip } from "../cpu/state";
import {
  EVENT_KINDS,
  EVENT_REASONS,
  HV_EVENTS_BASE,
  HV_TRACE_BASE,
  S_INSN_COUNT,
  S_TRACE_RECORDED,
  TRACE_ENTRIES,
  TRACE_ENTRY_WORDS,
} from "../generated/layout";

// Kinds and places are the ABI's (core/layout/abi.mjs); counting and tracing take them together.
export {
  KIND_CALLOUT,
  KIND_EPT_VIOLATION,
  KIND_EXIT,
  KIND_GUEST_INSTR,
  KIND_HYPERCALL,
  KIND_IO,
  KIND_MMIO,
  KIND_SHADOW_FAULT,
  KIND_TRANSLATION,
  KIND_TRAP,
  KIND_WALK_REF,
  WHERE_CORE,
  WHERE_HOST,
} from "../generated/abi";

/** Adds `n` to a counter (reasons past the table's end share its last cell). */
@inline export function countEvent(kind: u32, reason: u32, where: u32, n: u32 = 1): void {
  const r = reason < EVENT_REASONS ? reason : EVENT_REASONS - 1;
  const k = kind < EVENT_KINDS ? kind : EVENT_KINDS - 1;
  const p = HV_EVENTS_BASE + ((((k * EVENT_REASONS + r) << 1) + where) << 2);
  store<u32>(p, load<u32>(p) + n);
}

/** Counts a crossing and records it in the trace ring. */
export function traceEvent(kind: u32, reason: u32, where: u32, qualification: u32, gpa: u32): void {
  countEvent(kind, reason, where);
  const seq = load<u32>(S_TRACE_RECORDED);
  store<u32>(S_TRACE_RECORDED, seq + 1);
  const e = HV_TRACE_BASE + (seq & (TRACE_ENTRIES - 1)) * (TRACE_ENTRY_WORDS << 2);
  const t = load<u64>(S_INSN_COUNT) + <u64>retiredSoFar();
  store<u32>(e, kind | (where << 8) | (reason << 16));
  store<u32>(e + 4, qualification);
  store<u32>(e + 8, getEip());
  store<u32>(e + 12, gpa);
  store<u32>(e + 16, <u32>t);
  store<u32>(e + 20, <u32>(t >>> 32));
}
