// Schema versions. Each migration runs once, in its own transaction, and its number goes into
// schema_version; an engine opening a database written by a newer engine (a version it does not
// know) refuses to run rather than guess. Two engines starting on one server take turns through
// a transaction-scoped advisory lock.
//
// Times are double precision milliseconds, counts and sizes integer or double precision, and JSON
// is jsonb: see db.ts for why.

import type { Db } from "./db.js";

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "inventory",
    sql: `
CREATE TABLE users (
  id text PRIMARY KEY,
  name text UNIQUE NOT NULL,
  password_hash text NOT NULL,
  role text NOT NULL CHECK (role IN ('admin', 'user'))
);
CREATE TABLE datacenters (
  id text PRIMARY KEY,
  name text UNIQUE NOT NULL,
  description text NOT NULL DEFAULT ''
);
CREATE TABLE clusters (
  id text PRIMARY KEY,
  name text UNIQUE NOT NULL,
  datacenter_id text NOT NULL REFERENCES datacenters(id),
  cpu_type text NOT NULL,
  migration_policy text NOT NULL DEFAULT 'minimal_downtime',
  migration_bandwidth_mib integer NOT NULL DEFAULT 128
);
CREATE TABLE hosts (
  id text PRIMARY KEY,
  name text UNIQUE NOT NULL,
  cluster_id text NOT NULL REFERENCES clusters(id),
  status text NOT NULL,
  status_detail text NOT NULL DEFAULT '',
  address text NOT NULL DEFAULT '',
  memory_mib integer NOT NULL DEFAULT 0,
  cpus integer NOT NULL DEFAULT 0,
  cpu_type text NOT NULL DEFAULT '',
  agent_pid integer,
  last_heartbeat double precision,
  updated double precision NOT NULL
);
CREATE TABLE storage_domains (
  id text PRIMARY KEY,
  name text UNIQUE NOT NULL,
  datacenter_id text NOT NULL REFERENCES datacenters(id),
  type text NOT NULL CHECK (type IN ('data', 'iso')),
  path text NOT NULL,
  status text NOT NULL DEFAULT 'active',
  status_detail text NOT NULL DEFAULT ''
);
CREATE TABLE disks (
  id text PRIMARY KEY,
  name text NOT NULL,
  storage_domain_id text NOT NULL REFERENCES storage_domains(id),
  file text NOT NULL,
  format text NOT NULL CHECK (format IN ('raw', 'qcow2')),
  sparse boolean NOT NULL,
  provisioned_size double precision NOT NULL,
  status text NOT NULL DEFAULT 'ok',
  UNIQUE (storage_domain_id, file)
);
CREATE TABLE networks (
  id text PRIMARY KEY,
  name text UNIQUE NOT NULL,
  datacenter_id text NOT NULL REFERENCES datacenters(id),
  kind text NOT NULL CHECK (kind IN ('nat', 'isolated')),
  description text NOT NULL DEFAULT '',
  xml text NOT NULL DEFAULT ''
);
CREATE TABLE templates (
  id text PRIMARY KEY,
  name text UNIQUE NOT NULL,
  cluster_id text NOT NULL REFERENCES clusters(id),
  domain jsonb NOT NULL,
  domain_xml text NOT NULL,
  memory_mib integer NOT NULL,
  vcpus integer NOT NULL,
  created double precision NOT NULL
);
CREATE TABLE vms (
  id text PRIMARY KEY,
  name text UNIQUE NOT NULL,
  cluster_id text NOT NULL REFERENCES clusters(id),
  domain jsonb NOT NULL,
  domain_xml text NOT NULL,
  memory_mib integer NOT NULL,
  vcpus integer NOT NULL,
  status text NOT NULL,
  status_detail text NOT NULL DEFAULT '',
  host_id text REFERENCES hosts(id),
  ha boolean NOT NULL DEFAULT false,
  ha_priority integer NOT NULL DEFAULT 1,
  template_id text REFERENCES templates(id),
  run_pid integer,
  created double precision NOT NULL,
  updated double precision NOT NULL
);
CREATE TABLE snapshots (
  id text PRIMARY KEY,
  vm_id text NOT NULL REFERENCES vms(id) ON DELETE CASCADE,
  description text NOT NULL,
  status text NOT NULL,
  created double precision NOT NULL
);
CREATE TABLE permissions (
  user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  vm_id text NOT NULL REFERENCES vms(id) ON DELETE CASCADE,
  role text NOT NULL DEFAULT 'UserRole',
  PRIMARY KEY (user_id, vm_id)
);
CREATE TABLE events (
  id serial PRIMARY KEY,
  time double precision NOT NULL,
  severity text NOT NULL CHECK (severity IN ('normal', 'warning', 'error', 'alert')),
  code text NOT NULL,
  description text NOT NULL,
  vm_id text,
  host_id text,
  user_name text
);
CREATE INDEX events_vm ON events (vm_id);
-- Operations in flight (start, stop, migrate, maintenance, fence, HA restart) are rows with a
-- state, so an engine restarted mid-operation finds them and ends or resumes each.
CREATE TABLE operations (
  id text PRIMARY KEY,
  kind text NOT NULL,
  vm_id text,
  host_id text,
  target_host_id text,
  state text NOT NULL CHECK (state IN ('pending', 'running', 'done', 'failed')),
  message text NOT NULL DEFAULT '',
  params jsonb NOT NULL DEFAULT '{}',
  created double precision NOT NULL,
  updated double precision NOT NULL
);
CREATE INDEX operations_open ON operations (state) WHERE state IN ('pending', 'running');
`,
  },
];

/** The newest schema version this engine knows. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

export class SchemaError extends Error {}

/** Brings the database to SCHEMA_VERSION; returns the versions it applied. */
export async function migrate(db: Db, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  const applied: number[] = [];
  for (const m of migrations) {
    const done = await db.transaction(async (tx) => {
      // One engine at a time past this point (released at the end of the transaction); the
      // version table's own creation too, which two servers' sessions would otherwise race.
      await tx.query("SELECT pg_advisory_xact_lock(15015015)");
      await tx.exec(`CREATE TABLE IF NOT EXISTS schema_version (
  version integer PRIMARY KEY,
  name text NOT NULL,
  applied double precision NOT NULL
)`);
      const { rows } = await tx.query<{ version: number }>("SELECT version FROM schema_version ORDER BY version");
      const have = rows.map((r) => r.version);
      const newest = have.length ? have[have.length - 1] : 0;
      const known = migrations[migrations.length - 1].version;
      if (newest > known)
        throw new SchemaError(`the database has schema version ${newest}; this engine knows up to ${known}`);
      if (have.includes(m.version)) return false;
      await tx.exec(m.sql);
      await tx.query("INSERT INTO schema_version (version, name, applied) VALUES ($1, $2, $3)", [
        m.version,
        m.name,
        Date.now(),
      ]);
      return true;
    });
    if (done) applied.push(m.version);
  }
  return applied;
}
