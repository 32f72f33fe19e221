// Hosts that die in the middle of a live migration (npm run test:slow), with the engine and three
// host agent processes: the whole destination host dies (its agent and its VM processes, as a
// machine losing power), so the source's migration fails and the VM runs on at the source, its
// shell intact; then the source host dies mid-migration, so the destination's waiting process is
// removed and the highly available VM restarts on a host after the fence.

import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AgentProc,
  Client,
  type EngineProc,
  type Json,
  killAll,
  shell,
  startAgent,
  startEngine,
  tempDir,
  tinyLinuxXml,
  waitFor,
} from "./cluster-harness.js";

let engine: EngineProc;
let admin: Client;
const dir = tempDir("faults");
const agents: AgentProc[] = [];

/** The host dies: its agent and every VM process it runs, at once. */
function powerOff(a: AgentProc): void {
  a.child.kill("SIGKILL");
  for (const f of readdirSync(a.runDir))
    if (f.endsWith(".pid") && f !== "agent.pid")
      try {
        process.kill(Number(readFileSync(join(a.runDir, f), "utf8")), "SIGKILL");
      } catch {}
}

const hostOf = async (vm: string) => {
  const v = await admin.ok("GET", `/vms/${vm}`);
  return v.host ? ((await admin.ok("GET", `/hosts/${v.host.id}`)).name as string) : undefined;
};

async function migrateAndKill(to: string, victim: () => AgentProc): Promise<{ status: number; body: Json }> {
  const call = admin.call("POST", "/vms/web/migrate", { host: { name: to } });
  await waitFor(
    async () => ((await admin.ok("GET", "/vms/web")).status === "migrating" ? true : undefined),
    30_000,
    "migrating",
  );
  // The destination's process is waiting and pages flow at 1 MiB/s.
  await new Promise((r) => setTimeout(r, 1500));
  powerOff(victim());
  return call;
}

beforeAll(async () => {
  engine = await startEngine(`${dir}/db`, { heartbeatMs: 300, missed: 4 });
  admin = new Client(engine.api, "admin@internal", "admin-secret");
  for (const n of ["h1", "h2", "h3"]) agents.push(startAgent(n, engine.hostsPort, dir, 64));
  await admin.hostsUp(3);
  await admin.ok("PUT", "/clusters/Default", { migration: { bandwidth: { custom_value: 1 } } });
  await admin.ok("POST", "/vms", {
    domain_xml: tinyLinuxXml("web"),
    high_availability: { enabled: true, priority: 1 },
  });
  await admin.ok("POST", "/vms/web/start", { host: { name: "h1" } });
  const c = await admin.console("web");
  await shell(c, "Y=kept; echo set", /set/);
  c.close();
}, 180_000);

afterAll(async () => {
  killAll(agents);
  engine?.child.kill("SIGKILL");
  await engine?.exited;
  rmSync(dir, { recursive: true, force: true });
});

describe("a host dies mid-migration", () => {
  it("the destination: the migration fails, the VM runs on at the source with its state", async () => {
    const r = await migrateAndKill("h2", () => agents.find((a) => a.name === "h2") as AgentProc);
    expect(r.status).toBe(409);
    expect(r.body.detail).toMatch(/Migration of VM web (to host h2 )?failed/);
    const v = await admin.ok("GET", "/vms/web");
    expect(v.status).toBe("up");
    expect(await hostOf("web")).toBe("h1");
    expect(v.status_detail).toMatch(/migration to h2 failed/);
    const c = await admin.console("web");
    expect(await shell(c, "echo Y=$Y", /Y=kept/)).toMatch(/Y=kept/);
    c.close();
    await waitFor(
      async () => ((await admin.ok("GET", "/hosts/h2")).status === "down" ? true : undefined),
      30_000,
      "h2 fenced",
    );
  });

  it("the source: the destination's process is removed and the HA VM restarts after the fence", async () => {
    const r = await migrateAndKill("h3", () => agents.find((a) => a.name === "h1") as AgentProc);
    // 409 (the source's migration failed) or 503 (its host was gone before it was asked).
    expect([409, 503]).toContain(r.status);
    expect(r.body.detail).toMatch(/h1/);
    await waitFor(
      async () => ((await admin.ok("GET", "/hosts/h1")).status === "down" ? true : undefined),
      30_000,
      "h1 fenced",
    );
    await waitFor(
      async () => ((await admin.ok("GET", "/vms/web")).status === "up" ? true : undefined),
      90_000,
      "the HA restart",
    );
    expect(await hostOf("web")).toBe("h3");
    const c = await admin.console("web");
    expect(await shell(c, "echo fresh-$((3*3))", /fresh-9/)).toMatch(/fresh-9/);
    c.close();
    const events = (await admin.ok("GET", "/events?max=200")).event as Json[];
    expect(events.map((e) => e.code)).toEqual(
      expect.arrayContaining(["VM_MIGRATION_FAILED", "HOST_FENCED", "VM_HA_RESTARTED"]),
    );
  });
});
