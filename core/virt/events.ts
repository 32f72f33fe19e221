// Crossing counters and the trace ring, in the hypervisor's memory so that the host reads them
// without calls (vmm/stats/core-stats.ts). Kinds and reasons are those of vmm/stats/events.ts:
// exit reasons are the SDM's, hypercalls their EAX numbers, callouts the translator's kinds.

import { retiredThisRun } from "../cpu/interp";
import { getEip } from "../cpu/state";
import {
  EVENT_KINDS,
  EVENT_REASONS,
  HV_EVENTS_BASE,
  HV_TRACE_BASE,
  S_INSN_COUNT,
  S_TRACE_RECORDED,
} from "../generated/layout";

export const KIND_EXIT: u32 = 0;
export const KIND_CALLOUT: u32 = 1;
export const KIND_HYPERCALL: u32 = 2;
export const KIND_SHADOW_FAULT: u32 = 3;
export const KIND_EPT_VIOLATION: u32 = 4;
export const KIND_WALK_REF: u32 = 5;
export const KIND_TRANSLATION: u32 = 6;
export const KIND_GUEST_INSTR: u32 = 7;
export const KIND_IO: u32 = 8;
export const KIND_MMIO: u32 = 9;
export const KIND_TRAP: u32 = 10;

export const WHERE_CORE: u32 = 0;
export const WHERE_HOST: u32 = 1;

const TRACE_ENTRIES: u32 = 256;

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
  const e = HV_TRACE_BASE + ((seq & (TRACE_ENTRIES - 1)) << 5);
  const t = load<u64>(S_INSN_COUNT) + <u64>retiredThisRun();
  store<u32>(e, kind | (where << 8) | (reason << 16));
  store<u32>(e + 4, qualification);
  store<u32>(e + 8, getEip());
  store<u32>(e + 12, gpa);
  store<u32>(e + 16, <u32>t);
  store<u32>(e + 20, <u32>(t >>> 32));
}
