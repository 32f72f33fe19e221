// The inventory's rows as the database holds them, and the queries the engine runs on them.
// Data centers hold clusters, storage domains and logical networks; clusters hold hosts and VMs.

import type { Db } from "./db.js";

export interface DatacenterRow {
  id: string;
  name: string;
  description: string;
}
export interface ClusterRow {
  id: string;
  name: string;
  datacenter_id: string;
  cpu_type: string;
  migration_policy: string;
  migration_bandwidth_mib: number;
}
export type HostStatus =
  | "up"
  | "maintenance"
  | "preparing_for_maintenance"
  | "non_operational"
  | "non_responsive"
  | "connecting"
  | "down";
export interface HostRow {
  id: string;
  name: string;
  cluster_id: string;
  status: HostStatus;
  status_detail: string;
  address: string;
  memory_mib: number;
  cpus: number;
  cpu_type: string;
  agent_pid: number | null;
  last_heartbeat: number | null;
  updated: number;
}
export interface StorageDomainRow {
  id: string;
  name: string;
  datacenter_id: string;
  type: "data" | "iso";
  path: string;
  status: "active" | "inactive";
  status_detail: string;
}
export interface DiskRow {
  id: string;
  name: string;
  storage_domain_id: string;
  file: string;
  format: "raw" | "qcow2";
  sparse: boolean;
  provisioned_size: number;
  status: string;
}
export interface NetworkRow {
  id: string;
  name: string;
  datacenter_id: string;
  kind: "nat" | "isolated";
  description: string;
  xml: string;
}
export type VmStatus =
  | "down"
  | "wait_for_launch"
  | "powering_up"
  | "up"
  | "paused"
  | "powering_down"
  | "migrating"
  | "unknown";
/** A template's columns, which a VM has too. */
export interface TemplateRow {
  id: string;
  name: string;
  cluster_id: string;
  domain: unknown;
  domain_xml: string;
  memory_mib: number;
  vcpus: number;
  created: number;
}
export interface VmRow extends TemplateRow {
  status: VmStatus;
  status_detail: string;
  host_id: string | null;
  ha: boolean;
  ha_priority: number;
  template_id: string | null;
  run_pid: number | null;
  updated: number;
}
export interface SnapshotRow {
  id: string;
  vm_id: string;
  description: string;
  status: string;
  created: number;
}
export interface UserRow {
  id: string;
  name: string;
  password_hash: string;
  role: "admin" | "user";
}

export const newId = (): string => crypto.randomUUID();

/** The Default data center and cluster (oVirt creates both at setup). */
export async function ensureDefaults(db: Db, cpuType: string): Promise<void> {
  const { rows } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM datacenters");
  if (rows[0].n > 0) return;
  const dc = newId();
  await db.query("INSERT INTO datacenters (id, name, description) VALUES ($1, 'Default', 'The default Data Center')", [
    dc,
  ]);
  await db.query("INSERT INTO clusters (id, name, datacenter_id, cpu_type) VALUES ($1, 'Default', $2, $3)", [
    newId(),
    dc,
    cpuType,
  ]);
}

export async function one<T>(db: Db, sql: string, params: unknown[]): Promise<T | undefined> {
  const { rows } = await db.query<T>(sql, params);
  return rows[0];
}

/** Updates the named columns of one row (and its `updated` time). */
async function setRow<R>(db: Db, table: "vms" | "hosts", id: string, fields: Partial<R>, now: number): Promise<void> {
  const keys = Object.keys(fields) as (keyof R & string)[];
  const sets = keys.map((k, i) => `${k} = $${i + 2}`);
  await db.query(`UPDATE ${table} SET ${[...sets, `updated = $${keys.length + 2}`].join(", ")} WHERE id = $1`, [
    id,
    ...keys.map((k) => fields[k]),
    now,
  ]);
}

export const setVm = (db: Db, id: string, fields: Partial<VmRow>, now = Date.now()) =>
  setRow(db, "vms", id, fields, now);

export const setHost = (db: Db, id: string, fields: Partial<HostRow>, now = Date.now()) =>
  setRow(db, "hosts", id, fields, now);

/** Memory and vCPUs placed on each host: VMs running there, starting there or migrating there. */
export async function hostUsage(db: Db): Promise<Map<string, { mem: number; cpus: number }>> {
  const { rows } = await db.query<{ host: string; mem: number; cpus: number }>(
    `SELECT h AS host, sum(memory_mib)::int AS mem, sum(vcpus)::int AS cpus FROM (
       SELECT host_id AS h, memory_mib, vcpus FROM vms WHERE host_id IS NOT NULL AND status <> 'down'
       UNION ALL
       SELECT o.target_host_id, v.memory_mib, v.vcpus FROM operations o JOIN vms v ON v.id = o.vm_id
         WHERE o.kind = 'migrate' AND o.state IN ('pending', 'running') AND o.target_host_id IS NOT NULL
     ) AS placed GROUP BY h`,
  );
  return new Map(rows.map((r) => [r.host, { mem: r.mem, cpus: r.cpus }]));
}
