// A lab step's automatic check: what the guest printed and what the counters say it did,
// compared with what the step's file expects. Pure: the page and the tests call it alike.

import type { CounterRow } from "../../../vmm/stats/stats.js";
import type { Check, CompareOp, CounterRef, DiskFigure, MigrationFigure, Step } from "./format.js";

/** What one run of a step left behind. */
export interface StepRun {
  output: string;
  counters: CounterRow[];
  /** The qcow2 disk's figures when the run ended (a machine with a qcow2 disk). */
  disk?: Record<DiskFigure, number>;
  /** The live migration's figures (a step with `migrate`). */
  migration?: Record<MigrationFigure, number>;
}

export interface CheckResult {
  check: Check;
  pass: boolean;
  /** The value compared (a count, or the text the pattern captured); undefined when absent. */
  observed: string | undefined;
}

export function countOf(counters: readonly CounterRow[], ref: CounterRef): number {
  let n = 0;
  for (const r of counters) {
    if (r.kind !== ref.kind || (ref.reason !== undefined && r.reason !== ref.reason)) continue;
    n += ref.where === "core" ? r.core : ref.where === "host" ? r.host : r.core + r.host;
  }
  return n;
}

function compare(a: number, op: CompareOp, b: number): boolean {
  switch (op) {
    case ">":
      return a > b;
    case ">=":
      return a >= b;
    case "<":
      return a < b;
    case "<=":
      return a <= b;
    case "==":
      return a === b;
  }
}

/** Checks one run; `others` holds the runs of the lab's other steps (for comparisons). */
export function checkStep(step: Step, run: StepRun, others: Readonly<Record<string, StepRun>>): CheckResult[] {
  return step.checks.map((check) => {
    if ("output" in check) {
      const m = new RegExp(check.output, "m").exec(run.output.replace(/\r\n/g, "\n"));
      return { check, pass: m !== null, observed: m ? (m[1] ?? m[0]) : undefined };
    }
    if ("disk" in check || "migration" in check) {
      const of = (r: StepRun | undefined) =>
        "disk" in check ? r?.disk?.[check.disk] : r?.migration?.[(check as { migration: MigrationFigure }).migration];
      const n = of(run);
      if (n === undefined) return { check, pass: false, observed: undefined };
      if ("value" in check) return { check, pass: compare(n, check.op, check.value), observed: String(n) };
      const m = of(others[check.step]);
      if (m === undefined) return { check, pass: false, observed: String(n) };
      const target = m * (check.factor ?? 1);
      return { check, pass: compare(n, check.op, target), observed: `${n} / ${target}` };
    }
    const n = countOf(run.counters, check.counter);
    if ("value" in check) return { check, pass: compare(n, check.op, check.value), observed: String(n) };
    const other = others[check.step];
    if (!other) return { check, pass: false, observed: String(n) };
    const m = countOf(other.counters, check.of ?? check.counter) * (check.factor ?? 1);
    return { check, pass: compare(n, check.op, m), observed: `${n} / ${m}` };
  });
}
