// oVirt's migration policies (its engine's MigrationPolicies config, applied by VDSM): each gives
// a starting downtime limit and a convergence schedule keyed by stalled iterations. The project's
// live migration (docs/migration.md) takes the downtime limit through QMP migrate-set-parameters
// at any time and reads it each pre-copy iteration, which is what the host agent does with these.
//
// Post-copy: oVirt's policy starts as pre-copy and switches to post-copy when it does not
// converge. The project has no post-copy, so here it runs the pre-copy part and aborts where it
// would switch; `note` says so, and the API returns it with the migration.

import type { MigrationPlan } from "./host-protocol.js";

export type PolicyName = MigrationPlan["policy"];

export const POLICIES: Record<PolicyName, { title: string; description: string }> = {
  minimal_downtime: {
    title: "Minimal downtime",
    description: "pre-copy; the downtime limit rises from 100 ms to 500 ms as the migration stalls, then it aborts",
  },
  suspend_workload: {
    title: "Suspend workload if needed",
    description:
      "pre-copy with auto-converge (the guest is throttled); after the same steps the downtime limit rises to 5 s, so the guest pauses as long as it takes",
  },
  post_copy: {
    title: "Post-copy migration",
    description:
      "oVirt switches to post-copy when pre-copy stalls; this project has no post-copy, so it runs the pre-copy steps and aborts where oVirt would switch",
  },
};

export function isPolicy(s: string): s is PolicyName {
  return s in POLICIES;
}

const MINIMAL = [
  { stalls: 1, downtimeMs: 150 },
  { stalls: 2, downtimeMs: 200 },
  { stalls: 3, downtimeMs: 300 },
  { stalls: 4, downtimeMs: 400 },
  { stalls: 6, downtimeMs: 500 },
];

export function migrationPlan(policy: PolicyName, bandwidthMib: number): { plan: MigrationPlan; note?: string } {
  const base = { policy, initialDowntimeMs: 100, bandwidthMib, timeoutMs: 120_000 };
  switch (policy) {
    case "minimal_downtime":
      return { plan: { ...base, autoConverge: false, convergence: [...MINIMAL, { stalls: -1, downtimeMs: "abort" }] } };
    case "suspend_workload":
      return {
        plan: {
          ...base,
          autoConverge: true,
          convergence: [...MINIMAL, { stalls: 8, downtimeMs: 5000 }, { stalls: -1, downtimeMs: "abort" }],
        },
      };
    case "post_copy":
      return {
        plan: { ...base, autoConverge: false, convergence: [...MINIMAL, { stalls: -1, downtimeMs: "abort" }] },
        note: "post-copy is not implemented in this project: the migration ran as pre-copy with the Minimal downtime schedule and aborts where oVirt would switch to post-copy",
      };
  }
}
