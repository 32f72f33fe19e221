// npm run bench:engine-ha [-- --runs 3 --heartbeat-ms 500 --missed 3]: high availability as the
// engine does it, timed. The engine (PGlite in a directory) and three host agent processes on this
// machine; a highly available tiny Linux runs on one host with a second, ordinary VM; the host's
// agent is killed (SIGKILL). Measured from the kill, by the engine's event times: detection (the
// host declared NonResponsive after the missed heartbeats), fencing (its processes killed and
// confirmed gone), the HA VM running on another host (its process up, QMP answering), and its
// shell prompt on the console (the guest booted). Results: bench/results/engine-ha.{json,txt}.

import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import {
  type AgentProc,
  Client,
  type Json,
  killAll,
  shell,
  startAgent,
  startEngine,
  tempDir,
  tinyLinuxXml,
  waitFor,
} from "../test/manage/engine/cluster-harness.js";

const { values } = parseArgs({
  options: { runs: { type: "string" }, "heartbeat-ms": { type: "string" }, missed: { type: "string" } },
});
const RUNS = Number(values.runs ?? 3);
const HB = Number(values["heartbeat-ms"] ?? 500);
const MISSED = Number(values.missed ?? 3);

interface Run {
  detectMs: number;
  fenceMs: number;
  vmUpMs: number;
  shellMs: number;
  downReported: boolean;
}

const at = (events: Json[], code: string, after: number) =>
  events.map((e) => ({ code: e.code as string, t: Date.parse(e.time) })).find((e) => e.code === code && e.t >= after)
    ?.t;

async function main(): Promise<void> {
  const dir = tempDir("bench-ha");
  const engine = await startEngine(`${dir}/db`, { heartbeatMs: HB, missed: MISSED });
  const admin = new Client(engine.api, "admin@internal", "admin-secret");
  const agents: AgentProc[] = ["h1", "h2", "h3"].map((n) => startAgent(n, engine.hostsPort, dir, 128));
  const runs: Run[] = [];
  try {
    await admin.hostsUp(3);
    await admin.ok("POST", "/vms", {
      domain_xml: tinyLinuxXml("ha-vm"),
      high_availability: { enabled: true, priority: 10 },
    });
    await admin.ok("POST", "/vms", { domain_xml: tinyLinuxXml("plain-vm") });
    for (let i = 0; i < RUNS; i++) {
      if ((await admin.ok("GET", "/vms/ha-vm")).status !== "up") await admin.ok("POST", "/vms/ha-vm/start");
      const host = (await admin.ok("GET", `/hosts/${(await admin.ok("GET", "/vms/ha-vm")).host.id}`)).name as string;
      if ((await admin.ok("GET", "/vms/plain-vm")).status === "up") await admin.ok("POST", "/vms/plain-vm/stop");
      await admin.ok("POST", "/vms/plain-vm/start", { host: { name: host } });
      const c0 = await admin.console("ha-vm");
      await shell(c0, "echo ready", /ready/, 300_000);
      c0.close();
      const agent = agents.find((a) => a.name === host) as AgentProc;
      const killed = Date.now();
      agent.child.kill("SIGKILL");
      // Down first (the VM's row says up until the host is found silent), then the VM up again.
      await waitFor(
        async () => ((await admin.ok("GET", `/hosts/${host}`)).status === "down" ? true : undefined),
        60_000,
        "the fence",
      );
      await waitFor(
        async () => ((await admin.ok("GET", "/vms/ha-vm")).status === "up" ? true : undefined),
        300_000,
        "HA restart",
      );
      const c = await admin.console("ha-vm");
      await shell(c, "echo back", /back/, 300_000);
      const shellAt = Date.now();
      c.close();
      const events = (await admin.ok("GET", "/events?max=100")).event as Json[];
      const run: Run = {
        detectMs: (at(events, "HOST_NON_RESPONSIVE", killed) ?? Number.NaN) - killed,
        fenceMs: (at(events, "HOST_FENCED", killed) ?? Number.NaN) - killed,
        vmUpMs: (at(events, "VM_HA_RESTARTED", killed) ?? Number.NaN) - killed,
        shellMs: shellAt - killed,
        downReported: (await admin.ok("GET", "/vms/plain-vm")).status === "down",
      };
      runs.push(run);
      console.log(`run ${i + 1}: ${JSON.stringify(run)}`);
      agents.splice(agents.indexOf(agent), 1, startAgent(host, engine.hostsPort, dir, 128));
      await waitFor(
        async () => ((await admin.ok("GET", `/hosts/${host}`)).status === "up" ? true : undefined),
        60_000,
        "host back",
      );
    }
  } finally {
    killAll(agents);
    engine.child.kill("SIGKILL");
    await engine.exited;
    rmSync(dir, { recursive: true, force: true });
  }
  const med = (k: keyof Run) => {
    const v = runs.map((r) => r[k] as number).sort((a, b) => a - b);
    return v[Math.floor(v.length / 2)];
  };
  const lines = [
    `engine HA on this machine: heartbeat ${HB} ms, NonResponsive after ${MISSED} missed (${HB * MISSED} ms), ${runs.length} runs, medians from the host's kill:`,
    `  detected (NonResponsive)   ${med("detectMs")} ms`,
    `  fenced (processes gone)    ${med("fenceMs")} ms`,
    `  HA VM running elsewhere    ${med("vmUpMs")} ms`,
    `  its shell prompt           ${med("shellMs")} ms`,
    `  other VM reported Down     ${runs.every((r) => r.downReported) ? "every run" : "NOT every run"}`,
    `  runs: ${runs.map((r) => `${r.detectMs}/${r.fenceMs}/${r.vmUpMs}/${r.shellMs}`).join("  ")} (detect/fence/up/shell ms)`,
    `  load average at the end: ${(await import("node:os"))
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  ];
  console.log(lines.join("\n"));
  mkdirSync("bench/results", { recursive: true });
  writeFileSync(
    "bench/results/engine-ha.json",
    `${JSON.stringify({ heartbeatMs: HB, missed: MISSED, runs }, null, 2)}\n`,
  );
  writeFileSync("bench/results/engine-ha.txt", `${lines.join("\n")}\n`);
}

main().catch((e: Error) => {
  console.error(e.message);
  process.exit(1);
});
