// The cost model (issue 4, item 5): modeled cycles = sum over priced event kinds of
// (count of that kind) x (the profile's published cost per event of that kind). Nothing is fitted:
// the result emerges from the counted events. Modeled cycles are what the modeled hardware would
// pay; they are always shown beside the measured host time of this emulator, never instead of it.

import { KIND_NAMES, type KindName } from "./events.js";
import { PRICED_KINDS, type PricedKind, type Profile } from "./profiles.js";
import type { StatsSnapshot } from "./stats.js";

/**
 * Kinds counted but not priced by design: the crossing that delivers them is priced instead
 * (an EPT violation arrives by an exit with reason 48; a port or MMIO access by an exit, a callout
 * or inline code in the translation cache).
 */
export const COUNTED_ONLY: Readonly<Partial<Record<KindName, string>>> = {
  eptViolation: "priced through the exit (reason 48) that delivered it",
  io: "priced through the exit or callout that delivered it",
  mmio: "priced through the exit or callout that delivered it",
};

/**
 * Reasons of priced kinds that are counted but priced through another crossing: a write to a
 * shadowed page table reaches the VMM as a #PF exit (hvm), a #PF trap (trap) or a translator
 * callout (bt), each counted and priced under its own kind.
 */
export const COUNTED_ONLY_REASONS: Readonly<Partial<Record<KindName, Readonly<Record<number, string>>>>> = {
  shadowFault: { 2: "priced through the exit, trap or callout that delivered the page-table write" },
};

export interface PricedLine {
  kind: PricedKind;
  count: number;
  cyclesPerEvent: number;
  cycles: number;
  source: string;
}

export interface UnpricedLine {
  kind: KindName;
  count: number;
  why: string;
}

export interface Pricing {
  profile: string;
  modeledCycles: number;
  /** One line per priced kind with a non-zero count. */
  breakdown: PricedLine[];
  /** Kinds with a non-zero count that this profile cannot price (no published figure, or counted only). */
  unpriced: UnpricedLine[];
}

function isPriced(kind: KindName): kind is PricedKind {
  return (PRICED_KINDS as readonly string[]).includes(kind);
}

export function price(snapshot: StatsSnapshot, profile: Profile): Pricing {
  const breakdown: PricedLine[] = [];
  const unpriced: UnpricedLine[] = [];
  let modeledCycles = 0;
  for (const kind of KIND_NAMES) {
    let count = snapshot.totals[kind] ?? 0;
    const excluded = COUNTED_ONLY_REASONS[kind];
    if (excluded) {
      for (const row of snapshot.counters) {
        if (row.kind === kind && row.reason in excluded) count -= row.core + row.host;
      }
    }
    if (count === 0) continue;
    if (!isPriced(kind)) {
      unpriced.push({ kind, count, why: COUNTED_ONLY[kind] ?? "not priced" });
      continue;
    }
    const figure = profile.costs[kind];
    // Reasons with their own figure (an indirect-branch lookup, a #PF exit) are priced apart from the kind's.
    let special = 0;
    const byReason = profile.byReason?.[kind];
    if (byReason) {
      for (const row of snapshot.counters) {
        const f = row.kind === kind && !excluded?.[row.reason] ? byReason[row.reason] : undefined;
        if (!f || f.cycles === null) continue;
        const n = row.core + row.host;
        special += n;
        modeledCycles += n * f.cycles;
        breakdown.push({ kind, count: n, cyclesPerEvent: f.cycles, cycles: n * f.cycles, source: f.source });
      }
    }
    const rest = count - special;
    if (rest === 0) continue;
    if (figure.cycles === null) {
      unpriced.push({ kind, count: rest, why: figure.source });
      continue;
    }
    const cycles = rest * figure.cycles;
    modeledCycles += cycles;
    breakdown.push({ kind, count: rest, cyclesPerEvent: figure.cycles, cycles, source: figure.source });
  }
  return { profile: profile.id, modeledCycles, breakdown, unpriced };
}

function num(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

function pad(s: string, w: number, right = false): string {
  return right ? s.padStart(w) : s.padEnd(w);
}

/**
 * A plain-text table: counts by kind and reason (core / host), modeled cycles per profile, and the
 * measured host time the caller passes in. The two are labelled and never merged.
 */
export function formatReport(snapshot: StatsSnapshot, profiles: readonly Profile[], measuredHostMs: number): string {
  const lines: string[] = [];
  lines.push(
    pad("Counted events (kind / reason)", 40) + pad("core", 11, true) + pad("host", 13, true) + pad("total", 13, true),
  );
  for (const row of snapshot.counters) {
    const label = `${row.kind} ${row.reason} ${row.name}`;
    lines.push(
      pad(label.length > 40 ? label.slice(0, 39) + "~" : label, 40) +
        pad(num(row.core), 11, true) +
        pad(num(row.host), 13, true) +
        pad(num(row.core + row.host), 13, true),
    );
  }
  if (snapshot.counters.length === 0) lines.push("(no events)");
  lines.push("");
  lines.push("Modeled cycles (cost model: what the modeled hardware would pay, not measured)");
  for (const profile of profiles) {
    const p = price(snapshot, profile);
    lines.push(pad(`  modeled, ${profile.id}`, 40) + pad(num(p.modeledCycles), 37, true) + " cycles");
    for (const line of p.breakdown) {
      lines.push(
        pad(`    ${line.kind} ${num(line.count)} x ${num(line.cyclesPerEvent)}`, 40) + pad(num(line.cycles), 37, true),
      );
    }
    if (p.unpriced.length > 0) {
      lines.push(
        "    unpriced (no published figure or counted only): " +
          p.unpriced.map((u) => `${u.kind} ${num(u.count)}`).join(", "),
      );
    }
  }
  lines.push("");
  lines.push(`Measured host time (this emulator on this host, not modeled): ${measuredHostMs.toFixed(3)} ms`);
  return lines.join("\n");
}
