// The engine with in-process hosts (fake-host.ts) on PGlite in memory: placement by room, the
// error when nothing fits, migration and its failure, maintenance, HA after missed heartbeats,
// bad domain XML, the schema's version table and an engine restarted on the same database.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM } from "../../../manage/engine/auth.js";
import { type Db, openPglite } from "../../../manage/engine/db.js";
import { Engine, type FenceTarget } from "../../../manage/engine/engine.js";
import type { HostRow, VmRow } from "../../../manage/engine/inventory.js";
import { MIGRATIONS, migrate, SCHEMA_VERSION } from "../../../manage/engine/migrations.js";
import { domainXml, FakeHost } from "./fake-host.js";

let db: Db;
let engine: Engine;
const hosts: FakeHost[] = [];
const fenced: FenceTarget[] = [];

const until = async (what: () => Promise<boolean>, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!(await what())) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
};
const vm = async (name: string) => (await db.query<VmRow>("SELECT * FROM vms WHERE name = $1", [name])).rows[0];
const host = async (name: string) => (await db.query<HostRow>("SELECT * FROM hosts WHERE name = $1", [name])).rows[0];

function connect(h: FakeHost): void {
  engine.acceptHost(h.link);
  h.hello();
}

beforeAll(async () => {
  db = await openPglite("memory://");
  engine = new Engine(db, {
    heartbeatMs: 100,
    missedHeartbeats: 4,
    log: (l) => process.env.ENGINE_LOG && console.log(l),
    fencer: {
      async fence(t) {
        fenced.push(t);
        return { ok: true, message: "test fence" };
      },
    },
  });
  await engine.start();
  for (const [n, m] of [
    ["h1", 256],
    ["h2", 256],
    ["h3", 256],
  ] as const)
    hosts.push(new FakeHost(n, m));
  FakeHost.landed = (id) => {
    for (const h of hosts) {
      const v = h.vms.get(id);
      if (v) v.state = "running";
    }
  };
  for (const h of hosts) connect(h);
  await until(async () => (await db.query("SELECT 1 FROM hosts WHERE status = 'up'")).rows.length === 3);
}, 60_000);

afterAll(async () => {
  for (const h of hosts) h.kill();
  await engine.close();
  await db.close();
});

describe("engine with in-process hosts", () => {
  it("records its schema version", async () => {
    const { rows } = await db.query<{ version: number }>("SELECT version FROM schema_version");
    expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
    expect(await migrate(db)).toEqual([]);
    expect(SCHEMA_VERSION).toBe(1);
    // A database from a newer engine is refused, not guessed at.
    await db.query("INSERT INTO schema_version (version, name, applied) VALUES (99, 'future', 0)");
    await expect(migrate(db)).rejects.toThrow(/schema version 99; this engine knows up to 1/);
    await db.query("DELETE FROM schema_version WHERE version = 99");
  });

  it("refuses bad domain XML with the element named", async () => {
    await expect(engine.vms.add(SYSTEM, { xml: "<domain><name>x</name>" })).rejects.toThrow(/invalid domain XML/);
    await expect(engine.vms.add(SYSTEM, { xml: "<domain type='kvm'><name>x</name></domain>" })).rejects.toThrow(
      /<memory>/,
    );
  });

  it("places VMs by room and says why when nothing fits", async () => {
    await engine.vms.add(SYSTEM, { xml: domainXml("big", 150), ha: true, haPriority: 5 });
    await engine.vms.add(SYSTEM, { xml: domainXml("small", 100) });
    await engine.vms.add(SYSTEM, { xml: domainXml("huge", 300) });
    const big = await engine.vms.start(SYSTEM, "big");
    expect(big.status).toBe("up");
    const small = await engine.vms.start(SYSTEM, "small");
    expect(small.host_id).not.toBe(big.host_id); // the most free memory
    await expect(engine.vms.start(SYSTEM, "huge")).rejects.toThrow(
      /no host that satisfies.*h1: 106 MiB free, the VM needs 300 MiB/,
    );
    expect((await vm("huge")).status).toBe("down");
  });

  it("migrates, and a failed migration leaves the VM on its host", async () => {
    const before = await vm("small");
    const src = hosts.find((h) => h.vms.has(before.id)) as FakeHost;
    src.failMigration = "destination closed the stream";
    await expect(engine.vms.migrate(SYSTEM, "small")).rejects.toThrow(/destination closed the stream/);
    const after = await vm("small");
    expect(after.status).toBe("up");
    expect(after.host_id).toBe(before.host_id);
    const r = await engine.vms.migrate(SYSTEM, "small", { policy: "post_copy" });
    expect(r.note).toMatch(/post-copy is not implemented/);
    expect(r.vm.host_id).not.toBe(before.host_id);
  });

  it("maintenance moves every VM away", async () => {
    const small = await vm("small");
    const h = (await db.query<HostRow>("SELECT * FROM hosts WHERE id = $1", [small.host_id])).rows[0];
    const done = await engine.vms.deactivateHost(SYSTEM, h.name);
    expect(done.status).toBe("maintenance");
    expect((await vm("small")).host_id).not.toBe(h.id);
    await engine.vms.activateHost(SYSTEM, h.name);
    expect((await host(h.name)).status).toBe("up");
  });

  it("fences a silent host and restarts its HA VM elsewhere", async () => {
    const big = await vm("big");
    const small = await vm("small");
    const dead = hosts.find((h) => h.vms.has(big.id)) as FakeHost;
    // Put small there too, so the failover has a non-HA VM to report Down.
    if (!dead.vms.has(small.id)) await engine.vms.migrate(SYSTEM, "small", { hostId: dead.name });
    expect(dead.vms.has(small.id)).toBe(true);
    dead.kill();
    await until(async () => (await host(dead.name)).status === "down");
    await until(async () => (await vm("big")).status === "up");
    const bigNow = await vm("big");
    expect(bigNow.host_id).not.toBe((await host(dead.name)).id);
    expect((await vm("small")).status).toBe("down");
    expect((await vm("small")).status_detail).toMatch(/was fenced/);
    expect(fenced.map((f) => f.name)).toEqual([dead.name]);
    const f = engine.watch.failovers[0];
    expect(f.detectedAt - f.lastSeen).toBeGreaterThanOrEqual(400);
    const ev = await db.query<{ code: string }>("SELECT code FROM events ORDER BY id");
    expect(ev.rows.map((r) => r.code)).toEqual(
      expect.arrayContaining(["HOST_NON_RESPONSIVE", "HOST_FENCED", "VM_HA_RESTARTED"]),
    );
  });

  it("a restarted engine on the same database finds its inventory", async () => {
    const count = (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM vms")).rows[0].n;
    await engine.close();
    engine = new Engine(db, { heartbeatMs: 50 });
    await engine.start();
    expect((await db.query<{ n: number }>("SELECT count(*)::int AS n FROM vms")).rows[0].n).toBe(count);
  });

  it("a heartbeat from before a start, handled after its reply, does not mark the VM down", async () => {
    const h = new FakeHost("h5", 512);
    h.staleBeatOnStart = true;
    hosts.push(h);
    connect(h);
    await until(async () => (await host("h5"))?.status === "up");
    for (let i = 0; i < 4; i++) {
      await engine.vms.add(SYSTEM, { xml: domainXml(`race${i}`, 32) });
      expect((await engine.vms.start(SYSTEM, `race${i}`, { hostId: "h5" })).status).toBe("up");
    }
    await new Promise((r) => setTimeout(r, 300)); // a few fresh heartbeats
    for (let i = 0; i < 4; i++) expect((await vm(`race${i}`)).status).toBe("up");
  });
});
