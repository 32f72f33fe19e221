// A live migration from this host, driven as VDSM drives QEMU's: the policy's starting downtime
// limit and bandwidth through QMP migrate-set-parameters, auto-converge if the policy has it, then
// `migrate` and a watch of query-migrate. An iteration in which the remaining memory did not
// shrink is a stall; each convergence step raises the downtime limit once its stall count is
// reached, and the `abort` step (stalls -1: after the last numbered step) cancels: the source runs
// on. The project's migration reads the limit each pre-copy iteration (docs/migration.md).

import type { MigrationPlan } from "../engine/host-protocol.js";
import type { QmpClient } from "../libvirt/qmp-client.js";

export interface Progress {
  status: string;
  transferredBytes: number;
  remainingBytes: number;
  downtimeLimitMs: number;
}

interface QueryMigrate {
  status?: string;
  "total-time"?: number;
  downtime?: number;
  "error-desc"?: string;
  ram?: { transferred?: number; remaining?: number; "dirty-sync-count"?: number };
}

export class MigrationAborted extends Error {}

export async function migrateOut(
  q: QmpClient,
  uri: string,
  plan: MigrationPlan,
  progress: (p: Progress) => void,
): Promise<{ downtimeMs?: number; totalMs?: number; stalls: number; downtimeLimitMs: number }> {
  let limit = plan.initialDowntimeMs;
  await q.execute("migrate-set-parameters", {
    "max-bandwidth": plan.bandwidthMib * 1024 * 1024,
    "downtime-limit": limit,
  });
  await q.execute("migrate-set-capabilities", {
    capabilities: [{ capability: "auto-converge", state: plan.autoConverge }],
  });
  await q.execute("migrate", { uri });
  const steps = plan.convergence.filter((s) => s.stalls > 0).sort((a, b) => a.stalls - b.stalls);
  const lastStep = steps.length ? steps[steps.length - 1].stalls : 0;
  const abortAfterLast = plan.convergence.some((s) => s.stalls < 0 && s.downtimeMs === "abort");
  const started = Date.now();
  let stalls = 0;
  let lastSync = -1;
  let lastRemaining = Number.POSITIVE_INFINITY;
  let lastReport = 0;
  for (;;) {
    await new Promise((r) => setTimeout(r, 50));
    const m = (await q.execute("query-migrate")) as QueryMigrate;
    const ram = m.ram ?? {};
    if (Date.now() - lastReport > 500) {
      lastReport = Date.now();
      progress({
        status: m.status ?? "unknown",
        transferredBytes: ram.transferred ?? 0,
        remainingBytes: ram.remaining ?? 0,
        downtimeLimitMs: limit,
      });
    }
    if (m.status === "completed")
      return { downtimeMs: m.downtime, totalMs: m["total-time"], stalls, downtimeLimitMs: limit };
    if (m.status === "failed" || m.status === "cancelled")
      throw new Error(`migration ${m.status}: ${m["error-desc"] ?? "no reason given"}`);
    const sync = ram["dirty-sync-count"] ?? 0;
    if (sync !== lastSync && lastSync >= 0) {
      const remaining = ram.remaining ?? 0;
      if (remaining >= lastRemaining) {
        stalls++;
        if (abortAfterLast && stalls > lastStep) {
          await q.execute("migrate_cancel").catch(() => {});
          throw new MigrationAborted(
            `the ${plan.policy} policy aborted the migration after ${stalls} stalled iterations (downtime limit ${limit} ms); the VM runs on at the source`,
          );
        }
        const step = steps.filter((s) => s.stalls <= stalls).pop();
        if (step && typeof step.downtimeMs === "number" && step.downtimeMs !== limit) {
          limit = step.downtimeMs;
          await q.execute("migrate-set-parameters", { "downtime-limit": limit });
        }
      }
      lastRemaining = remaining;
    }
    if (sync !== lastSync) lastSync = sync;
    if (Date.now() - started > plan.timeoutMs) {
      await q.execute("migrate_cancel").catch(() => {});
      throw new MigrationAborted(
        `the migration did not finish in ${plan.timeoutMs} ms; cancelled, the VM runs on at the source`,
      );
    }
  }
}
