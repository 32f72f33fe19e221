// The engine's Db on a PostgreSQL server (npm `pg`), by connection string:
// postgres://user:password@host:port/database. A pool of connections; a transaction holds one.

import pg from "pg";
import type { Db } from "./db.js";

class PgClientDb implements Db {
  constructor(private readonly client: pg.PoolClient) {}
  async query<T>(sql: string, params?: unknown[]): Promise<{ rows: T[] }> {
    const r = await this.client.query(sql, params as unknown[]);
    return { rows: r.rows as T[] };
  }
  async exec(sql: string): Promise<void> {
    await this.client.query(sql);
  }
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    return fn(this); // already inside the outer transaction
  }
  async close(): Promise<void> {}
}

class PgPoolDb implements Db {
  constructor(private readonly pool: pg.Pool) {}

  async query<T>(sql: string, params?: unknown[]): Promise<{ rows: T[] }> {
    const r = await this.pool.query(sql, params as unknown[]);
    return { rows: r.rows as T[] };
  }

  async exec(sql: string): Promise<void> {
    await this.pool.query(sql);
  }

  async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN");
      const out = await fn(new PgClientDb(client));
      await client.query("COMMIT");
      return out;
    } catch (e) {
      await client.query("ROLLBACK").catch(() => {});
      throw e;
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** Connects to a PostgreSQL server; fails here (not at the first query) when it cannot. */
export async function openPostgres(connectionString: string): Promise<Db> {
  const pool = new pg.Pool({ connectionString, max: 4 });
  // An idle client's error (the server went away) must not end the engine's process.
  pool.on("error", () => {});
  const c = await pool.connect();
  c.release();
  return new PgPoolDb(pool);
}

/** Opens a connection string with pg, anything else (a directory, memory://) with PGlite. */
export async function openDbNode(where: string): Promise<Db> {
  const { isServerUrl, openPglite } = await import("./db.js");
  return isServerUrl(where) ? openPostgres(where) : openPglite(where);
}
