// The engine's Db on a PostgreSQL server (Debian's postgresql 15, started here in a temporary
// directory): the schema migrates once (two engines starting together take turns), values come
// back as PGlite returns them (numbers, booleans, jsonb), a transaction that throws leaves nothing,
// an engine restarted on the same server finds its inventory, and an unreachable server is a clear
// error. The whole flow with host processes runs on a server in npm run test:slow.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM } from "../../../manage/engine/auth.js";
import type { Db } from "../../../manage/engine/db.js";
import { openPostgres } from "../../../manage/engine/db-pg-node.js";
import { Engine } from "../../../manage/engine/engine.js";
import type { VmRow } from "../../../manage/engine/inventory.js";
import { migrate, SCHEMA_VERSION } from "../../../manage/engine/migrations.js";
import { type PgServer, startPostgres, tinyLinuxXml } from "./cluster-harness.js";

let pg: PgServer;
let a: Db;
let b: Db;

beforeAll(async () => {
  pg = await startPostgres();
  a = await openPostgres(pg.url);
  b = await openPostgres(pg.url);
}, 60_000);

afterAll(async () => {
  await a?.close();
  await b?.close();
  pg?.stop();
});

describe("engine database on a PostgreSQL server", () => {
  it("two engines migrating at once apply each version once", async () => {
    const [x, y] = await Promise.all([migrate(a), migrate(b)]);
    expect([...x, ...y].sort()).toEqual([SCHEMA_VERSION]);
    const { rows } = await a.query<{ version: number }>("SELECT version FROM schema_version");
    expect(rows.map((r) => r.version)).toEqual([SCHEMA_VERSION]);
  });

  it("keeps the inventory across an engine restart, with PGlite's value types", async () => {
    let e = new Engine(a, { heartbeatMs: 100 });
    await e.start();
    const v = await e.vms.add(SYSTEM, { xml: tinyLinuxXml("pg-vm"), ha: true, haPriority: 7 });
    await e.close();
    e = new Engine(b, { heartbeatMs: 100 });
    await e.start();
    const again = await e.vm(SYSTEM, "pg-vm");
    expect(again.id).toBe(v.id);
    expect(again.ha).toBe(true);
    expect(again.ha_priority).toBe(7);
    expect(again.memory_mib).toBe(32);
    expect(typeof again.created).toBe("number");
    expect((again.domain as { name: string }).name).toBe("pg-vm");
    await e.close();
  });

  it("a transaction that throws leaves nothing behind", async () => {
    await expect(
      a.transaction(async (tx) => {
        await tx.query("UPDATE vms SET status = 'up' WHERE name = 'pg-vm'");
        throw new Error("midway");
      }),
    ).rejects.toThrow("midway");
    const { rows } = await a.query<VmRow>("SELECT * FROM vms WHERE name = 'pg-vm'");
    expect(rows[0].status).toBe("down");
  });

  it("an unreachable server is an error naming it", async () => {
    await expect(openPostgres("postgres://postgres@127.0.0.1:1/postgres")).rejects.toThrow(/ECONNREFUSED|connect/);
  });
});
