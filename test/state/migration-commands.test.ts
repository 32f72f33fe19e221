// The monitor's and QMP's migration commands on a machine whose host has the CLI's migration
// control (no destination needed): parameters and capabilities are set and shown, a bad address
// and a refused connection are one-line errors, and the machine runs on.

import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Machine } from "../../vmm/lib/machine.js";
import { Monitor } from "../../vmm/monitor/monitor.js";
import { QmpSession } from "../../vmm/monitor/qmp.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { NodeMigrationControl } from "../../vmm/node/migration-control.js";
import { listenMigration, socketChannel } from "../../vmm/node/migration-socket.js";
import { receiveMigration } from "../../vmm/state/incoming.js";
import { Vm } from "../../vmm/vm.js";

async function setup() {
  const machine = await Machine.create(() => Vm.create({ module: loadCoreModule(), ramBytes: 1 << 20 }), {
    startPaused: true,
  });
  const migration = new NodeMigrationControl(machine);
  const monitor = new Monitor(machine, { quit: () => undefined, migration });
  return { machine, monitor, migration };
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe("migration commands", () => {
  it("monitor: set parameters, info migrate, bad addresses", async () => {
    const { monitor, migration } = await setup();
    expect(await monitor.execute("migrate_set_parameter max-bandwidth 16")).toBe("");
    expect(await monitor.execute("migrate_set_parameter downtime-limit 100")).toBe("");
    expect(await monitor.execute("migrate_set_capability auto-converge on")).toBe("");
    expect(migration.parameters["max-bandwidth"]).toBe(16 << 20);
    const info = await monitor.execute("info migrate");
    expect(info).toContain("capabilities: auto-converge: on");
    expect(info).toContain("max-bandwidth: 16777216 bytes/second downtime-limit: 100 ms");
    expect(info).not.toContain("Migration status");
    expect(await monitor.execute("migrate_set_parameter downtime-limit soon")).toMatch(/positive number/);
    expect(await monitor.execute("migrate tcp:nowhere")).toMatch(
      /not a migration address: use tcp:HOST:PORT or unix:PATH/,
    );
    expect(await monitor.execute("migrate ftp://x")).toMatch(
      /use migrate \[-d\] file:PATH, tcp:HOST:PORT or unix:PATH/,
    );
    const port = await closedPort();
    expect(await monitor.execute(`migrate tcp:127.0.0.1:${port}`)).toMatch(
      new RegExp(`migrate: tcp:127.0.0.1:${port}: connect ECONNREFUSED`),
    );
    expect(await monitor.execute("migrate_cancel")).toBe("migrate_cancel: no migration is running\n");
  });

  it("QMP: migrate-set-parameters, -capabilities, query-migrate, migrate errors", async () => {
    const { machine, monitor, migration } = await setup();
    const out: Record<string, unknown>[] = [];
    const qmp = new QmpSession(
      machine,
      monitor,
      (l) => out.push(JSON.parse(l)),
      () => undefined,
    );
    const run = async (cmd: object) => {
      await qmp.receive(JSON.stringify(cmd));
      return out.at(-1)!;
    };
    await run({ execute: "qmp_capabilities" });
    expect(
      await run({ execute: "migrate-set-parameters", arguments: { "max-bandwidth": 1048576, "downtime-limit": 50 } }),
    ).toEqual({ return: {} });
    expect(migration.parameters["max-bandwidth"]).toBe(1 << 20);
    expect(migration.parameters["downtime-limit"]).toBe(50);
    expect(
      await run({
        execute: "migrate-set-capabilities",
        arguments: { capabilities: [{ capability: "auto-converge", state: true }] },
      }),
    ).toEqual({ return: {} });
    expect(migration.parameters["auto-converge"]).toBe(true);
    expect(await run({ execute: "query-migrate" })).toEqual({ return: {} });
    const port = await closedPort();
    const r = (await run({ execute: "migrate", arguments: { uri: `tcp:127.0.0.1:${port}` } })) as {
      error?: { desc: string };
    };
    expect(r.error?.desc).toMatch(/ECONNREFUSED/);
    qmp.close();
  });

  it("migrates a machine over a Unix socket in this process: RAM and registers arrive, the source stays paused", async () => {
    const dir = mkdtempSync(join(tmpdir(), "x86lab-mig-"));
    try {
      const src = await setup();
      const dst = await setup();
      const ram = src.machine.vm.cpu.ram;
      for (let i = 0; i < ram.length; i += 4099) ram[i] = (i >>> 3) & 0xff;
      src.machine.vm.cpu.setReg(3, 0x12345678);
      const path = join(dir, "mig.sock");
      const { accepted } = await listenMigration({ kind: "unix", path });
      const incoming = accepted.then((s) =>
        receiveMigration(dst.machine, socketChannel(s), loadCoreModule(), { resume: false }),
      );
      const { done } = await src.migration.start(`unix:${path}`);
      const info = await done;
      await incoming;
      expect(info.status).toBe("completed");
      expect(info.error).toBeUndefined();
      expect(Buffer.compare(dst.machine.vm.cpu.ram, src.machine.vm.cpu.ram)).toBe(0);
      expect(dst.machine.vm.cpu.reg(3)).toBe(0x12345678);
      expect(await src.monitor.execute("info migrate")).toMatch(
        /Migration status: completed[\s\S]*dirty log: write-track/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
