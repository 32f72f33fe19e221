// A lab step's automatic check: what the guest printed and what the counters say it did,
// compared with what the step's file expects. Pure: the page and the tests call it alike.

import type { CounterRow } from "../../../vmm/stats/stats.js";
import type { Check, CompareOp, CounterRef, Step } from "./format.js";

/** What one run of a step left behind. */
export interface StepRun {
  output: string;
  counters: CounterRow[];
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
    const n = countOf(run.counters, check.counter);
    if ("value" in check) return { check, pass: compare(n, check.op, check.value), observed: String(n) };
    const other = others[check.step];
    if (!other) return { check, pass: false, observed: String(n) };
    const m = countOf(other.counters, check.of ?? check.counter) * (check.factor ?? 1);
    return { check, pass: compare(n, check.op, m), observed: `${n} / ${m}` };
  });
}
