// Live-migration benchmark: the tiny Linux booted to its shell prompt, then migrated over a
// loopback TCP socket (the same stream and code as `migrate tcp:` between two processes; here
// both machines are in this process, so the guest, the sender and the receiver share one thread)
// to a fresh machine, which becomes the source of the next run. For each mode: an idle guest, a
// web server under load (busybox httpd serving a 16 KiB file to four HTTP clients in this
// process through a port forward of the shared virtual network, migrate-web.ts: requests served
// during the migration and the longest pause they saw), and a guest dirtying memory in a busybox
// loop (dd rewriting a 1 MiB file in the initramfs with new contents each time), each without and
// with auto-converge. Prints QEMU's `info migrate`
// figures (total time, downtime, pages per iteration, bytes, iterations, throttle) and claim 13's
// line, and writes bench/results/migrate-*.{json,txt}.
//
//   npm run bench:migrate [-- --modes native,hvm] [--workloads idle,web,dirty] [--bandwidth MiB/s]
//                         [--downtime ms] [--no-write]

import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs as parseCli } from "node:util";
import { Machine } from "../vmm/lib/machine.js";
import { parseArgs } from "../vmm/node/args.js";
import { planBoot } from "../vmm/node/boot-vm.js";
import { loadCoreModule } from "../vmm/node/load-core.js";
import { useNodeCodec } from "../vmm/node/migration-control.js";
import { connectMigration, listenMigration, socketChannel } from "../vmm/node/migration-socket.js";
import { dirtyTracker } from "../vmm/state/dirty-tracker.js";
import { receiveMigration } from "../vmm/state/incoming.js";
import { DEFAULT_PARAMETERS, type MigrationInfo, OutgoingMigration } from "../vmm/state/outgoing.js";
import {
  lastFailure,
  startWebLoad,
  startWebNetwork,
  WEB_SERVER_SETUP,
  type WebFigures,
  type WebLoad,
  webFigures,
} from "./migrate-web.js";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const { values } = parseCli({
  options: {
    modes: { type: "string", default: "native,hvm" },
    workloads: { type: "string", default: "idle,web,dirty" },
    bandwidth: { type: "string", default: "1" },
    downtime: { type: "string", default: String(DEFAULT_PARAMETERS["downtime-limit"]) },
    "no-write": { type: "boolean", default: false },
  },
});
const modes = values.modes.split(",");
// The dirtying loop never stops: it runs last.
const workloads = ["idle", "web", "dirty"].filter((w) => values.workloads.split(",").includes(w));
const bandwidth = Number(values.bandwidth) * 2 ** 20;
const downtimeLimit = Number(values.downtime);
const module = loadCoreModule();
useNodeCodec();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Guest {
  machine: Machine;
  out: { text: string };
}

let port = 47000 + Math.floor(Math.random() * 1000);
// Every machine joins the shared network (the web guest needs it; the others carry the NIC too).
const web = workloads.includes("web") ? await startWebNetwork(port++) : undefined;

async function build(mode: string): Promise<Guest> {
  const plan = planBoot(parseArgs(["-accel", mode, "-m", "64", ...(web?.nicArgs ?? [])]));
  const machine = await Machine.create(plan.build, { startPaused: true });
  const out = { text: "" };
  machine.on("serial", (com, b) => {
    if (com === 1) out.text += String.fromCharCode(b);
  });
  void machine.run();
  return { machine, out };
}

async function until(g: Guest, text: string, from: number, ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  while (!g.out.text.includes(text, from)) {
    if (Date.now() > end) throw new Error(`no '${text}' in time; output ends:\n${g.out.text.slice(-500)}`);
    await sleep(20);
  }
}

async function sh(g: Guest, cmd: string): Promise<string> {
  const from = g.out.text.length;
  // The marker the shell prints is not in the echoed command line (which may wrap at 80 columns).
  g.machine.vm.devices.com1.receive(`${cmd}; echo @@$((40+2))\r`);
  await until(g, "@@42", from);
  return g.out.text.slice(from, g.out.text.indexOf("@@42", from));
}

/** Pages the guest dirties per second, over 2 s of host time (the tracker the migration uses). */
async function dirtyRate(g: Guest): Promise<number> {
  const t = dirtyTracker(g.machine.vm);
  for (const f of t.start()) t.sent(f);
  const t0 = performance.now();
  await sleep(2000);
  const n = t.collect().length;
  t.stop();
  return (n * 1000) / (performance.now() - t0);
}

interface Row {
  mode: string;
  workload: string;
  autoConverge: boolean;
  dirtyPagesPerSec: number;
  info: MigrationInfo;
  shellAfter: boolean;
  downtimeCpuMs: number;
  web?: WebFigures;
}

let downtimeCpuMs = Number.NaN;
/** Host times of the last migration's start and of the destination's guest running. */
let window = { start: 0, end: 0 };

async function migrate(src: Guest, mode: string, autoConverge: boolean): Promise<{ info: MigrationInfo; dst: Guest }> {
  const dst = await build(mode);
  const addr = { kind: "tcp" as const, host: "127.0.0.1", port: port++ };
  const { accepted } = await listenMigration(addr);
  const socket = await connectMigration(addr);
  const incoming = accepted.then((s) => receiveMigration(dst.machine, socketChannel(s), module));
  const job = new OutgoingMigration(src.machine, socketChannel(socket), module, {
    "max-bandwidth": bandwidth,
    "downtime-limit": downtimeLimit,
    "auto-converge": autoConverge,
  });
  // Host CPU time of this process (both sides) from the pause to the end: on a host with more
  // runnable threads than cores the wall-clock downtime also counts the waits for a core.
  let cpuAtPause: NodeJS.CpuUsage | undefined;
  src.machine.on("stop", () => {
    cpuAtPause ??= process.cpuUsage();
  });
  const start = performance.now();
  const info = await job.run();
  const used = cpuAtPause ? process.cpuUsage(cpuAtPause) : undefined;
  downtimeCpuMs = used ? (used.user + used.system) / 1000 : Number.NaN;
  if (info.status !== "completed") throw new Error(`migration ${info.status}: ${info.error}`);
  await incoming;
  window = { start, end: performance.now() };
  src.machine.end({ kind: "quit", by: "bench" });
  return { info, dst };
}

const rows: Row[] = [];
for (const mode of modes) {
  let g = await build(mode);
  g.machine.resume();
  await until(g, "~ # ", 0, 300_000);
  await sleep(1500);
  await sh(g, "X=migrated");
  for (const workload of workloads) {
    let load: WebLoad | undefined;
    if (workload === "web" && web) {
      const up = await sh(g, WEB_SERVER_SETUP);
      if (!up.includes("httpd-up")) throw new Error(`httpd did not start in the guest:\n${up}`);
      load = startWebLoad(web.hostPort);
      const end = Date.now() + 120_000;
      while (load.done.length === 0 && Date.now() < end) await sleep(100);
      if (load.done.length === 0) {
        await load.stop();
        const net = await sh(g, "ip addr show eth0; ping -c 1 -W 2 192.168.122.1; netstat -ltn");
        throw new Error(
          `no HTTP response from the guest in 120 s (${load.failed.length} failed, the last: ${lastFailure}); the guest:\n${net}`,
        );
      }
      console.log(
        `  web: first response after ${load.failed.length} failed requests (the last: ${lastFailure || "-"})`,
      );
      // Steady load for 3 s before the first migration (the "before" rate is over those).
      await sleep(3000);
    }
    if (workload === "dirty") {
      // A 256-page file rewritten again and again from /bin/busybox at a shifting offset:
      // every page it writes differs from what was sent (a writable working set of 1 MiB that
      // the guest rewrites several times a second).
      await sh(
        g,
        "(i=0; while :; do i=$((i+1)); dd if=/bin/busybox of=/tmp/d bs=4k count=256 skip=$((i%8)) conv=notrunc 2>/dev/null; done) & true",
      );
    }
    for (const autoConverge of [false, true]) {
      const rate = await dirtyRate(g);
      const { info, dst } = await migrate(g, mode, autoConverge);
      g = dst;
      const shellAfter = (await sh(g, "echo X=$X")).includes("X=migrated");
      // The clients' view: 1 s after the end is part of the window, so a stall right after shows.
      if (load) await sleep(1000);
      const webNow = load ? webFigures(load, window.start, window.end) : undefined;
      rows.push({ mode, workload, autoConverge, dirtyPagesPerSec: rate, info, shellAfter, downtimeCpuMs, web: webNow });
      if (webNow)
        console.log(
          `  web: ${webNow.servedDuring} responses during the migration (${webNow.ratePerSecBefore.toFixed(1)}/s before it), longest pause ${Math.round(webNow.longestPauseMs)} ms, ${webNow.failed} failed (${load!.failed.length} since the load started)`,
        );
      const its = info.iterations.map((i) => i.pages).join("/");
      console.log(
        `${mode.padEnd(6)} ${workload.padEnd(5)} ac=${autoConverge ? "on " : "off"} dirty ${Math.round(rate)} p/s: total ${Math.round(info.totalTimeMs)} ms, downtime ${Math.round(info.downtimeMs ?? 0)} ms (CPU ${Math.round(downtimeCpuMs)} ms), ended ${info.stopReason}, iterations ${info.iterations.length} (${its}), stop ${info.stopPages} pages, state ${info.stateBytes} B in ${Math.round(info.stateMs ?? 0)} ms, ${(info.transferredBytes / 2 ** 20).toFixed(1)} MiB, throttle max ${Math.max(0, ...info.iterations.map((i) => i.throttle))}%, shell ${shellAfter ? "ok" : "LOST"}`,
      );
    }
    await load?.stop();
  }
  g.machine.end({ kind: "quit", by: "bench" });
}
web?.close();

// Claim 13 (the reference, after Clark et al. 2005): few rounds and small downtime for guests that
// dirty little; no convergence for high dirty rates without throttling.
const idle = rows.filter((r) => r.workload === "idle" && !r.autoConverge);
const dirtyNoAc = rows.filter((r) => r.workload === "dirty" && !r.autoConverge);
const dirtyAc = rows.filter((r) => r.workload === "dirty" && r.autoConverge);
const webRows = rows.filter((r) => r.workload === "web");
// Wall time on a host with more runnable threads than cores counts the waits for a core too;
// there the downtime is judged by the CPU time it took (both are printed).
const busy = os.loadavg()[0]! > os.cpus().length;
const downtimeOf = (r: Row) => (busy ? r.downtimeCpuMs : (r.info.downtimeMs ?? Number.POSITIVE_INFINITY));
const lowOk = idle.every((r) => r.info.iterations.length <= 5 && downtimeOf(r) <= downtimeLimit);
const highNoConverge = dirtyNoAc.every((r) => r.info.stopReason !== "converged");
const acConverges = dirtyAc.every((r) => r.info.stopReason === "converged");
const fmt = (rs: Row[]) =>
  rs
    .map(
      (r) =>
        `${r.mode}: ${r.info.iterations.length} iterations (${r.info.stopReason}), downtime ${Math.round(r.info.downtimeMs ?? 0)} ms (CPU ${Math.round(r.downtimeCpuMs)} ms), ${(r.info.transferredBytes / 2 ** 20).toFixed(1)} MiB sent of ${r.info.ramBytes >> 20} MiB`,
    )
    .join("; ");
const claim = [
  `claim 13 (live migration: few rounds and small downtime for low-dirtying guests; no convergence for high dirty rates without throttling): ${lowOk && highNoConverge ? "holds" : "does not hold"} (max-bandwidth ${values.bandwidth} MiB/s, downtime-limit ${downtimeLimit} ms)`,
  `  idle guest: ${fmt(idle)} (at most 5 rounds and downtime within ${downtimeLimit} ms${busy ? ` of CPU time, load ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} cores` : ""}: ${lowOk ? "yes" : "no"})`,
  ...(webRows.length
    ? [
        `  web server under load (4 HTTP clients, 16 KiB file): ${webRows
          .map(
            (r) =>
              `${r.mode} auto-converge ${r.autoConverge ? "on" : "off"}: ${r.info.iterations.length} iterations (${r.info.stopReason}), downtime ${Math.round(r.info.downtimeMs ?? 0)} ms, ${r.web!.servedDuring} responses during the migration (${r.web!.ratePerSecBefore.toFixed(1)}/s before), longest pause ${Math.round(r.web!.longestPauseMs)} ms`,
          )
          .join("; ")}; requests failed during the migrations: ${webRows.map((r) => r.web!.failed).join(", ")}`,
      ]
    : []),
  `  dirtying guest without auto-converge: ${fmt(dirtyNoAc)} (pre-copy never converged, ended by max-iterations or 3x RAM: ${highNoConverge ? "yes" : "no"})`,
  `  dirtying guest with auto-converge: ${fmt(dirtyAc)} (converged: ${acConverges ? "yes" : "no"})`,
  "  Clark et al. (NSDI 2005, Xen, 100-500 Mbit/s): Apache ~165 ms downtime, SPECweb99 210 ms, Quake 3 60 ms; MMuncher (writable working set above the link rate) did not converge: ~3.5 s downtime after the round limit",
].join("\n");
console.log(`\n${claim}`);

const table = [
  "| mode | guest | auto-converge | dirty pages/s | total ms | downtime ms (CPU ms) | iterations (ended by) | pages per iteration | stop-and-copy pages | MiB sent | max throttle | dirty log | shell after | HTTP responses during (longest pause ms, failed) |",
  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  ...rows.map(
    (r) =>
      `| ${r.mode} | ${r.workload} | ${r.autoConverge ? "on" : "off"} | ${Math.round(r.dirtyPagesPerSec)} | ${Math.round(r.info.totalTimeMs)} | ${Math.round(r.info.downtimeMs ?? 0)} (${Math.round(r.downtimeCpuMs)}) | ${r.info.iterations.length} (${r.info.stopReason}) | ${r.info.iterations.map((i) => i.pages).join(", ")} | ${r.info.stopPages} | ${(r.info.transferredBytes / 2 ** 20).toFixed(1)} | ${Math.max(0, ...r.info.iterations.map((i) => i.throttle))}% | ${r.info.tracker} | ${r.shellAfter ? "yes" : "no"} | ${r.web ? `${r.web.servedDuring} (${Math.round(r.web.longestPauseMs)}, ${r.web.failed})` : "-"} |`,
  ),
].join("\n");
console.log(`\n${table}`);

if (!values["no-write"]) {
  const stamp = new Date()
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  const dir = `${repoRoot}bench/results`;
  mkdirSync(dir, { recursive: true });
  const meta = {
    date: new Date().toISOString(),
    cpus: os.cpus()[0]?.model,
    load: os.loadavg()[0],
    bandwidth,
    downtimeLimit,
  };
  const text = `npm run bench:migrate -- --modes ${values.modes} --workloads ${workloads.join(",")} --bandwidth ${values.bandwidth} --downtime ${downtimeLimit}\n64 MiB tiny Linux, loopback TCP, both machines in one process (load ${meta.load.toFixed(1)})\n\n${table}\n\n${claim}\n`;
  writeFileSync(`${dir}/migrate-${stamp}.json`, `${JSON.stringify({ meta, rows, claim }, null, 2)}\n`);
  writeFileSync(`${dir}/migrate-${stamp}.txt`, text);
  writeFileSync(`${dir}/migrate-latest.txt`, text);
  console.log(`\nwrote bench/results/migrate-${stamp}.{json,txt}`);
}
process.exit(0);
