// The Done-when flow, with the engine and three host agent processes on this machine, on
// any database (PGlite's directory or a PostgreSQL server's URL): define a VM from domain XML,
// start it, open its console and see the shell, live-migrate it (the shell's variable survives),
// put its host in maintenance (it moves), kill the host process under it and a second VM (the HA
// VM restarts elsewhere, the other is reported down), kill the engine mid-migration and start it
// again (inventory intact, the VM runs on one of the two hosts), and
// the role test (a user cannot read, start or open the console of another's VM). Used by
// flow-pglite.test.ts (npm test) and flow-postgres.slow.ts (npm run test:slow).

import { rmSync } from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  type AgentProc,
  Client,
  type EngineProc,
  killAll,
  shell,
  startAgent,
  startEngine,
  tempDir,
  tinyLinuxXml,
  waitFor,
} from "./cluster-harness.js";

export interface FlowTimings {
  detectMs?: number;
  restartMs?: number;
}

/**
 * `midMigration`: the engine is killed (SIGKILL) in the middle of a live migration before it
 * starts again (npm run test:slow); otherwise it is stopped (SIGTERM) between operations, which
 * takes less of npm test's time.
 */
export function engineFlow(
  database: () => Promise<{ db: string; stop(): void }>,
  o: { midMigration: boolean },
  timings: FlowTimings = {},
): void {
  const HB = 300;
  const MISSED = 4;
  let db: { db: string; stop(): void };
  let engine: EngineProc;
  let admin: Client;
  const agents: AgentProc[] = [];
  const runRoot = tempDir("hosts");
  const hostOf = async (vm: string) => {
    const v = await admin.ok("GET", `/vms/${vm}`);
    if (!v.host) return undefined;
    return (await admin.ok("GET", `/hosts/${v.host.id}`)).name as string;
  };

  beforeAll(async () => {
    db = await database();
    engine = await startEngine(db.db, { heartbeatMs: HB, missed: MISSED });
    admin = new Client(engine.api, "admin@internal", "admin-secret");
    for (const n of ["h1", "h2", "h3"]) agents.push(startAgent(n, engine.hostsPort, runRoot, 64));
    await admin.hostsUp(3);
    await admin.ok("POST", "/users", { user_name: "alice@internal", password: "alice-pw" });
    await admin.ok("POST", "/users", { user_name: "bob@internal", password: "bob-pw" });
  }, 180_000);

  afterAll(async () => {
    killAll(agents);
    engine?.child.kill("SIGKILL");
    await engine?.exited;
    db?.stop();
    rmSync(runRoot, { recursive: true, force: true });
  });

  it("refuses invalid XML with the element named, and a VM that fits no host", async () => {
    const bad = await admin.call("POST", "/vms", {
      domain_xml: "<domain type='kvm'><name>x</name><memory>oops</memory></domain>",
    });
    expect(bad.status).toBe(400);
    expect(bad.body.detail).toMatch(/invalid domain XML: .*memory/);
    await admin.ok("POST", "/vms", { domain_xml: tinyLinuxXml("too-big", 512) });
    const nofit = await admin.call("POST", "/vms/too-big/start");
    expect(nofit.status).toBe(409);
    expect(nofit.body.detail).toMatch(/no host that satisfies.*h1: 64 MiB free, the VM needs 512 MiB/);
    expect((await admin.ok("GET", "/vms/too-big")).status).toBe("down");
  });

  it("defines a VM from domain XML, starts it and shows its shell on the console", async () => {
    const a = await admin.ok("POST", "/vms", {
      domain_xml: tinyLinuxXml("web"),
      high_availability: { enabled: true, priority: 50 },
    });
    expect(a.status).toBe("down");
    await admin.ok("POST", `/vms/${a.id}/permissions`, { user: { name: "alice" } });
    const started = await admin.ok("POST", "/vms/web/start", { host: { name: "h1" } });
    expect(started.vm.status).toBe("up");
    const c = await admin.console("web");
    expect(c.status).toBe(200);
    expect(await shell(c, "X=before-migration; echo $((6*7))", /42/)).toMatch(/42/);
    c.close();
  });

  it("live-migrates it: the guest's shell variable is there on the new host", async () => {
    const r = await admin.ok("POST", "/vms/web/migrate", { host: { name: "h2" } });
    expect(r.vm.status).toBe("up");
    expect(await hostOf("web")).toBe("h2");
    const c = await admin.console("web");
    expect(await shell(c, "echo X=$X", /X=before-migration/)).toMatch(/X=before-migration/);
    c.close();
  });

  it("maintenance moves the VM off its host", async () => {
    const r = await admin.ok("POST", "/hosts/h2/deactivate");
    expect(r.host.status).toBe("maintenance");
    const now = await hostOf("web");
    expect(now === "h1" || now === "h3").toBe(true);
    expect((await admin.ok("GET", "/vms/web")).status).toBe("up");
    expect((await admin.ok("POST", "/hosts/h2/activate")).host.status).toBe("up");
  });

  it("a killed host: its HA VM restarts on another host, its other VM is reported down", async () => {
    const where = (await hostOf("web")) as string;
    await admin.ok("POST", "/vms", { domain_xml: tinyLinuxXml("batch") });
    await admin.ok("POST", "/vms/batch/start", { host: { name: where } });
    const agent = agents.find((a) => a.name === where) as AgentProc;
    const killedAt = Date.now();
    agent.child.kill("SIGKILL");
    const detected = await waitFor(
      async () =>
        (await admin.ok("GET", `/hosts/${where}`)).status === "non_responsive" ||
        (await admin.ok("GET", `/hosts/${where}`)).status === "down"
          ? Date.now()
          : undefined,
      30_000,
      "the host to be found not responding",
    );
    await waitFor(
      async () => ((await admin.ok("GET", `/hosts/${where}`)).status === "down" ? true : undefined),
      30_000,
      "the fence",
    );
    const up = await waitFor(
      async () => {
        const v = await admin.ok("GET", "/vms/web");
        return v.status === "up" ? Date.now() : undefined;
      },
      90_000,
      "the HA VM to run again",
    );
    timings.detectMs = detected - killedAt;
    timings.restartMs = up - killedAt;
    const newHost = await hostOf("web");
    expect(newHost).not.toBe(where);
    const batch = await admin.ok("GET", "/vms/batch");
    expect(batch.status).toBe("down");
    expect(batch.status_detail).toMatch(/was fenced/);
    const c = await admin.console("web");
    expect(await shell(c, "echo restarted-$((1+1))", /restarted-2/)).toMatch(/restarted-2/);
    c.close();
    const events = (await admin.ok("GET", "/events?max=50")).event as { code: string }[];
    expect(events.map((e) => e.code)).toEqual(
      expect.arrayContaining(["HOST_NON_RESPONSIVE", "HOST_FENCED", "VM_HA_RESTARTED", "VM_DOWN"]),
    );
    // The host process comes back (a new agent): the host is Up again.
    agents.splice(agents.indexOf(agent), 1, startAgent(where, engine.hostsPort, runRoot, 64));
    await waitFor(
      async () => ((await admin.ok("GET", `/hosts/${where}`)).status === "up" ? true : undefined),
      60_000,
      "the host back up",
    );
  });

  it(`the engine ${o.midMigration ? "killed mid-migration" : "stopped"} and started again: inventory intact, the VM's state taken from the hosts`, async () => {
    const before = ((await admin.ok("GET", "/vms")).vm as { name: string }[]).map((v) => v.name);
    const events = ((await admin.ok("GET", "/events?max=1000")).event as unknown[]).length;
    const from = (await hostOf("web")) as string;
    const to = ["h1", "h2", "h3"].find((h) => h !== from) as string;
    // 1 MiB/s: the migration takes seconds, and the engine dies in the middle of it.
    await admin.ok("PUT", "/clusters/Default", { migration: { bandwidth: { custom_value: 1 } } });
    const migrating = admin.call("POST", "/vms/web/migrate", { host: { name: to } }).catch((e: Error) => e);
    await waitFor(
      async () => ((await admin.ok("GET", "/vms/web")).status === "migrating" ? true : undefined),
      30_000,
      "the migration to start",
    );
    await new Promise((r) => setTimeout(r, 1000));
    engine.child.kill("SIGKILL");
    await engine.exited;
    expect(await migrating).toBeInstanceOf(Error); // the connection went with the engine
    engine = await startEngine(db.db, { heartbeatMs: HB, missed: MISSED, hostsPort: engine.hostsPort });
    admin = new Client(engine.api, "admin@internal", "admin-secret");
    await admin.hostsUp(3).catch(async (e: Error) => {
      throw new Error(`${e.message}: ${JSON.stringify((await admin.ok("GET", "/hosts")).host)}\n${engine.out.text}`);
    });
    const vm = await waitFor(
      async () => {
        const v = await admin.ok("GET", "/vms/web");
        return v.status === "up" ? v : undefined;
      },
      90_000,
      "the VM's state from its hosts",
    );
    expect([from, to]).toContain(await hostOf("web"));
    expect(vm.status_detail).toBeUndefined();
    expect(((await admin.ok("GET", "/vms")).vm as { name: string }[]).map((v) => v.name)).toEqual(before);
    const after = (await admin.ok("GET", "/events?max=1000")).event as { code: string; description: string }[];
    expect(after.length).toBeGreaterThan(events);
    expect(after.find((e) => e.code === "OPERATION_INTERRUPTED")?.description).toMatch(
      /migrate of VM web: the engine restarted/,
    );
    const c = await admin.console("web");
    expect(await shell(c, "echo still-$((2+3))", /still-5/)).toMatch(/still-5/);
    c.close();
    if (o.midMigration) await admin.ok("PUT", "/clusters/Default", { migration: { bandwidth: { custom_value: 128 } } });
  });

  it("roles: a user sees only the VMs granted; another user gets 404 on read, start and console", async () => {
    const alice = new Client(engine.api, "alice@internal", "alice-pw");
    const bob = new Client(engine.api, "bob@internal", "bob-pw");
    expect(((await alice.ok("GET", "/vms")).vm as { name: string }[]).map((v) => v.name)).toEqual(["web"]);
    expect((await alice.ok("GET", "/vms/web")).status).toBe("up");
    expect((await bob.ok("GET", "/vms")).vm).toEqual([]);
    expect((await bob.call("GET", "/vms/web")).status).toBe(404);
    expect((await bob.call("POST", "/vms/batch/start")).status).toBe(404);
    expect((await bob.call("POST", "/vms/web/stop")).status).toBe(404);
    const c = await bob.console("web");
    expect(c.status).toBe(404);
    expect((await bob.call("GET", "/hosts")).status).toBe(403);
    expect((await new Client(engine.api, "bob@internal", "wrong").call("GET", "/vms")).status).toBe(401);
    expect((await admin.ok("GET", "/vms/web")).status).toBe("up");
  });
}
