// The event/audit log: one row per thing that happened (oVirt's audit_log), newest last.

import type { Db } from "./db.js";

export type Severity = "normal" | "warning" | "error" | "alert";

export interface EventRow {
  id: number;
  time: number;
  severity: Severity;
  code: string;
  description: string;
  vm_id: string | null;
  host_id: string | null;
  user_name: string | null;
}

export interface NewEvent {
  severity: Severity;
  /** A short stable name of the kind of event (VM_STARTED, HOST_FENCED, ...). */
  code: string;
  description: string;
  vmId?: string;
  hostId?: string;
  user?: string;
}

export async function logEvent(db: Db, e: NewEvent, time = Date.now()): Promise<void> {
  await db.query(
    "INSERT INTO events (time, severity, code, description, vm_id, host_id, user_name) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    [time, e.severity, e.code, e.description, e.vmId ?? null, e.hostId ?? null, e.user ?? null],
  );
}
