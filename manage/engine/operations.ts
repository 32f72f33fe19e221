// Operations in flight as rows: what was asked, on which VM and hosts, and how far it got. An
// engine that stops mid-operation finds the open rows when it starts again (engine-recovery.ts).

import type { Db } from "./db.js";
import { newId } from "./inventory.js";

export type OpKind = "start" | "stop" | "shutdown" | "migrate" | "maintenance" | "fence" | "ha_restart";

export interface OperationRow {
  id: string;
  kind: OpKind;
  vm_id: string | null;
  host_id: string | null;
  target_host_id: string | null;
  state: "pending" | "running" | "done" | "failed";
  message: string;
  params: Record<string, unknown>;
  created: number;
  updated: number;
}

export async function beginOp(
  db: Db,
  kind: OpKind,
  f: { vmId?: string; hostId?: string; targetHostId?: string; params?: Record<string, unknown> },
): Promise<string> {
  const id = newId();
  const now = Date.now();
  await db.query(
    `INSERT INTO operations (id, kind, vm_id, host_id, target_host_id, state, params, created, updated)
     VALUES ($1, $2, $3, $4, $5, 'running', $6::jsonb, $7, $7)`,
    [id, kind, f.vmId ?? null, f.hostId ?? null, f.targetHostId ?? null, JSON.stringify(f.params ?? {}), now],
  );
  return id;
}

export async function endOp(db: Db, id: string, state: "done" | "failed", message = ""): Promise<void> {
  await db.query("UPDATE operations SET state = $2, message = $3, updated = $4 WHERE id = $1", [
    id,
    state,
    message,
    Date.now(),
  ]);
}

export async function openOps(db: Db): Promise<OperationRow[]> {
  const { rows } = await db.query<OperationRow>(
    "SELECT * FROM operations WHERE state IN ('pending', 'running') ORDER BY created",
  );
  return rows;
}
