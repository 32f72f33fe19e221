// What bench:modes measures for one (workload, mode) pair, as plain data: the workload's own
// figures, the crossings counted by kind, the modeled cycles per cost profile (priced from the
// counts, never fitted), and the host time this emulator took.

import { COUNTED_ONLY, price } from "../../vmm/stats/cost-model.js";
import { Callout, ExitReason, KIND_NAMES, type KindName } from "../../vmm/stats/events.js";
import { PROFILES } from "../../vmm/stats/profiles.js";
import type { StatsSnapshot } from "../../vmm/stats/stats.js";
import type { MmuMode, VirtMode } from "../../vmm/virt/vmcs.js";

/** A mode as the bench names it: "native", "trap", "bt", "hvm-shadow", "hvm-ept", "pv". */
export interface ModeConfig {
  label: string;
  mode: VirtMode;
  mmu?: MmuMode;
}

export const MODES: readonly ModeConfig[] = [
  { label: "native", mode: "native" },
  { label: "trap", mode: "trap", mmu: "shadow" },
  { label: "bt", mode: "bt", mmu: "shadow" },
  { label: "hvm-shadow", mode: "hvm", mmu: "shadow" },
  { label: "hvm-ept", mode: "hvm", mmu: "ept" },
  { label: "pv", mode: "pv", mmu: "ept" },
];

export interface Priced {
  /** Modeled cycles of the counted crossings per profile id (kinds without a figure add nothing). */
  cycles: Record<string, number>;
  /** Kinds with counts that a profile could not price, per profile id. */
  unpriced: Record<string, string[]>;
}

export function priceAll(snap: StatsSnapshot, divisor = 1): Priced {
  const cycles: Record<string, number> = {};
  const unpriced: Record<string, string[]> = {};
  for (const p of PROFILES) {
    const r = price(snap, p);
    cycles[p.id] = r.modeledCycles / divisor;
    // Counted-only kinds are priced through the crossing that delivered them: not missing figures.
    unpriced[p.id] = r.unpriced.filter((u) => u.count > 0 && !(u.kind in COUNTED_ONLY)).map((u) => u.kind);
  }
  return { cycles, unpriced };
}

/** Crossing totals by kind divided by `divisor` (per operation), zero kinds left out. */
export function perKind(snap: StatsSnapshot, divisor = 1): Partial<Record<KindName, number>> {
  const out: Partial<Record<KindName, number>> = {};
  for (const k of KIND_NAMES) {
    const n = snap.totals[k] ?? 0;
    if (n !== 0) out[k] = n / divisor;
  }
  return out;
}

/** The n most frequent (kind, reason) rows of a snapshot. */
export function topReasons(
  snap: StatsSnapshot,
  kind: KindName,
  n: number,
): { reason: number; name: string; count: number }[] {
  return snap.counters
    .filter((r) => r.kind === kind)
    .map((r) => ({ reason: r.reason, name: r.name, count: r.core + r.host }))
    .sort((a, b) => b.count - a.count)
    .slice(0, n);
}

/**
 * Every crossing to the hypervisor (exits + callouts + hypercalls) and the ones I/O caused:
 * I/O-instruction and EPT-misconfiguration (MMIO) exits, IN/OUT callouts under bt.
 */
export function ioCrossings(s: StatsSnapshot): { all: number; io: number } {
  let io = 0;
  for (const c of s.counters) {
    const n = c.core + c.host;
    if (c.kind === "exit" && (c.reason === ExitReason.ioInstruction || c.reason === ExitReason.eptMisconfig)) io += n;
    if (c.kind === "callout" && (c.reason === Callout.in || c.reason === Callout.out)) io += n;
  }
  return { all: s.totals.exit + s.totals.callout + s.totals.hypercall, io };
}
