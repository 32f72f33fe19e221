// The engine's database: one small interface over PostgreSQL, so the same engine keeps its
// inventory in PGlite (PostgreSQL compiled to WebAssembly: a directory in Node, `memory://`, or
// `idb://name` in a browser) or in a PostgreSQL server (db-pg-node.ts, by connection string).
//
// Conventions every query in manage/engine keeps, so both backends return the same values:
// times are `double precision` milliseconds since the epoch (pg returns int8 as a string),
// JSON goes in as a string cast with `$n::jsonb` (pg would turn a JS array into a SQL array).

import type { PGlite, Transaction } from "@electric-sql/pglite";

export interface Db {
  query<T>(sql: string, params?: unknown[]): Promise<{ rows: T[] }>;
  /** Runs one or more statements without parameters (schema changes). */
  exec(sql: string): Promise<void>;
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** A Db over one PGlite instance or one of its transactions. */
class PgliteDb implements Db {
  constructor(
    private readonly pg: PGlite | Transaction,
    private readonly root?: PGlite,
  ) {}

  async query<T>(sql: string, params?: unknown[]): Promise<{ rows: T[] }> {
    const r = await this.pg.query<T>(sql, params);
    return { rows: r.rows };
  }

  async exec(sql: string): Promise<void> {
    await this.pg.exec(sql);
  }

  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    // PGlite has one connection; a nested transaction runs inside the outer one.
    if (!this.root) return fn(this);
    return this.root.transaction((tx) => fn(new PgliteDb(tx)));
  }

  async close(): Promise<void> {
    if (this.root && !this.root.closed) await this.root.close();
  }
}

/**
 * Opens PGlite at `dataDir`: a directory in Node (created if missing), `memory://` for a
 * database that lives as long as the process, `idb://name` for IndexedDB in a browser.
 */
export async function openPglite(dataDir = "memory://"): Promise<Db> {
  const { PGlite } = await import("@electric-sql/pglite");
  const pg = await PGlite.create(dataDir);
  return new PgliteDb(pg, pg);
}

/** True when `where` names a PostgreSQL server (a connection string) rather than PGlite's storage. */
export function isServerUrl(where: string): boolean {
  return /^postgres(ql)?:\/\//.test(where);
}
