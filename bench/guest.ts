// npm run bench:guest: the stock Debian 686 kernel and the bench initramfs (bench/guest/init)
// booted under this project, v86 and QEMU TCG, back to back, for several rounds. Times, on the
// host, when each marker line appears on the serial console; prints the median per marker, our
// time over each peer's and the load average, and writes bench/results/guest-<time>.{txt,json}
// and guest-latest.{txt,json}.
//
//   npm run bench:guest [-- --rounds N] [--only ours,v86,qemu] [--timeout SECONDS] [--mem-mib N]
//                       [--no-write] [-- FLAGS FOR OUR EMULATOR, e.g. --jit on]

import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { type GuestFiles, peerCommand } from "./guest/peers.js";
import { formatTable, outputMismatches, PEERS, type Peer, ratio, summarize } from "./guest/report.js";
import { type RunResult, runGuest } from "./guest/run.js";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const CMDLINE = "console=ttyS0";

class UsageError extends Error {}

function options() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      rounds: { type: "string", default: "3" },
      only: { type: "string", default: PEERS.join(",") },
      timeout: { type: "string", default: "3600" },
      "mem-mib": { type: "string", default: "256" },
      "no-write": { type: "boolean", default: false },
    },
  });
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) throw new UsageError(`--rounds ${values.rounds}: a whole number >= 1`);
  const timeout = Number(values.timeout);
  if (!(timeout > 0)) throw new UsageError(`--timeout ${values.timeout}: seconds per run, > 0`);
  const memMiB = Number(values["mem-mib"]);
  if (!Number.isInteger(memMiB) || memMiB < 64) throw new UsageError(`--mem-mib ${values["mem-mib"]}: >= 64`);
  const only = values.only.split(",").filter(Boolean);
  for (const p of only) {
    if (!(PEERS as readonly string[]).includes(p)) throw new UsageError(`--only ${p}: use ${PEERS.join(", ")}`);
  }
  // the order stays ours, v86, qemu whatever order --only lists them in
  const peers = PEERS.filter((p) => only.includes(p));
  return { rounds, timeoutMs: timeout * 1000, memMiB, peers, write: !values["no-write"], ourFlags: positionals };
}

/** Fetches or reuses the kernel and initramfs (scripts/fetch-bench-guest.sh); returns its folder. */
function prepareGuest(): string {
  const r = spawnSync("sh", [`${repoRoot}scripts/fetch-bench-guest.sh`], { stdio: ["ignore", "pipe", "inherit"] });
  if (r.status !== 0) throw new Error("scripts/fetch-bench-guest.sh failed (see above)");
  const lines = r.stdout.toString().trim().split("\n");
  return lines[lines.length - 1]!;
}

function versions(peers: readonly Peer[]): Record<string, string> {
  const v: Record<string, string> = {};
  const run = (file: string, args: string[]) => {
    try {
      return execFileSync(file, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    } catch {
      return "unknown";
    }
  };
  v.ours = `git ${run("git", ["-C", repoRoot, "rev-parse", "--short", "HEAD"])}`;
  if (peers.includes("v86")) {
    const pkg = createRequire(import.meta.url)("v86/package.json") as { version: string };
    v.v86 = `v86 ${pkg.version} (npm)`;
  }
  if (peers.includes("qemu")) v.qemu = run("qemu-system-i386", ["--version"]).split("\n")[0] ?? "unknown";
  return v;
}

const load = () => os.loadavg().map((x) => Number(x.toFixed(2)));

async function main(): Promise<void> {
  const o = options();
  const dir = prepareGuest();
  const guest: GuestFiles = {
    kernel: `${dir}/vmlinuz-686`,
    initrd: `${dir}/initramfs.cpio.gz`,
    cmdline: CMDLINE,
    memMiB: o.memMiB,
  };
  const manifest = readFileSync(`${dir}/MANIFEST`, "utf8").trim();
  const log = (s: string) => process.stdout.write(`${s}\n`);
  const run: BenchRun = {
    o,
    manifest,
    ver: versions(o.peers),
    started: new Date(),
    loadBefore: load(),
    runs: {},
    runLoads: [],
  };
  log(`bench:guest: ${o.rounds} round(s) of ${o.peers.join(", ")}; load average before ${run.loadBefore.join(" ")}`);
  let bad = false;
  for (let round = 1; round <= o.rounds; round++) {
    for (const peer of o.peers) {
      run.runLoads.push({ round, peer, loadBefore: load() });
      // progress on stderr: our emulator takes minutes per run
      const r = await runGuest(peerCommand(peer, guest, o.ourFlags), o.timeoutMs, (ev) => {
        if (ev.kind !== "out")
          process.stderr.write(`  ${peer} ${(ev.atMs / 1000).toFixed(1)} s: ${ev.kind} ${ev.name ?? ""}\n`);
      });
      run.runs[peer] = [...(run.runs[peer] ?? []), r];
      log(
        `round ${round} ${peer}: ${r.ok ? "ok" : `FAILED: ${r.error}`}; /init at ${r.boot?.toFixed(1) ?? "-"} s, ` +
          `${r.workloads.length} workloads done, end at ${r.total?.toFixed(1) ?? "-"} s`,
      );
      if (!r.ok) log(`  last console lines: ${r.console.trim().split("\n").slice(-5).join("\n  ")}`);
    }
    // after every round, so that a run cut short keeps the rounds it finished
    const rep = report(run, round);
    bad = rep.bad;
    if (round === o.rounds) log(`\n${rep.text}`);
    if (o.write) log(`wrote ${rep.wrote}`);
  }
  if (bad) process.exitCode = 1;
}

interface BenchRun {
  o: ReturnType<typeof options>;
  manifest: string;
  ver: Record<string, string>;
  started: Date;
  loadBefore: number[];
  runs: Partial<Record<Peer, RunResult[]>>;
  runLoads: { round: number; peer: Peer; loadBefore: number[] }[];
}

/** The table and the files for the rounds done so far. */
function report(run: BenchRun, roundsDone: number): { text: string; bad: boolean; wrote: string } {
  const { o, runs } = run;
  const loadAfter = load();
  const rows = summarize(runs);
  const mismatches = outputMismatches(runs);
  const failures = o.peers.flatMap((p) =>
    (runs[p] ?? []).flatMap((r, i) => (r.ok ? [] : [`${p} round ${i + 1}: ${r.error}`])),
  );
  const date = new Date().toISOString();
  const partial = roundsDone < o.rounds ? ` (${roundsDone} of ${o.rounds} done so far)` : "";
  const text = [
    `bench:guest ${date}`,
    `host: ${os.cpus()[0]?.model ?? "unknown"} x${os.cpus().length}, node ${process.version}`,
    `guest: ${CMDLINE}, ${o.memMiB} MiB RAM, direct kernel boot; median of ${roundsDone} round(s)${partial}, seconds of host time`,
    ...run.manifest.split("\n").filter((l) => !l.startsWith("#")),
    `emulators: ${o.peers.map((p) => `${p} = ${run.ver[p]}`).join("; ")}`,
    `our flags: ${o.ourFlags.length ? o.ourFlags.join(" ") : "(defaults: native mode, icount clock)"}`,
    `load average (1, 5, 15 min) before: ${run.loadBefore.join(" ")}, after: ${loadAfter.join(" ")}`,
    "",
    formatTable(rows, o.peers),
    "",
    mismatches.length ? `OUTPUTS DIFFER:\n${mismatches.join("\n")}` : "outputs: every run computed the same results",
    ...(failures.length ? ["FAILED RUNS:", ...failures] : []),
  ].join("\n");
  const bad = failures.length > 0 || mismatches.length > 0;
  if (!o.write) return { text, bad, wrote: "" };
  const out = `${repoRoot}bench/results`;
  mkdirSync(out, { recursive: true });
  const stamp = run.started
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  const doc = {
    benchmark: "guest",
    date,
    host: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, node: process.version },
    guest: { cmdline: CMDLINE, memMiB: o.memMiB, manifest: run.manifest },
    emulators: run.ver,
    ourFlags: o.ourFlags,
    rounds: o.rounds,
    roundsDone,
    loadBefore: run.loadBefore,
    loadAfter,
    rows: rows.map((r) => ({ ...r, usOverV86: ratio(r, "v86"), usOverQemu: ratio(r, "qemu") })),
    runs: Object.fromEntries(
      Object.entries(runs).map(([p, list]) => [p, list.map(({ console: _c, ...rest }) => rest)]),
    ),
    runLoads: run.runLoads,
    outputMismatches: mismatches,
    failures,
  };
  const json = `${JSON.stringify(doc, null, 2)}\n`;
  writeFileSync(`${out}/guest-${stamp}.txt`, `${text}\n`);
  writeFileSync(`${out}/guest-${stamp}.json`, json);
  writeFileSync(`${out}/guest-latest.txt`, `${text}\n`);
  writeFileSync(`${out}/guest-latest.json`, json);
  return { text, bad, wrote: `bench/results/guest-${stamp}.{txt,json} and guest-latest.{txt,json}` };
}

main().catch((err: unknown) => {
  console.error(`bench:guest: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(err instanceof UsageError ? 2 : 1);
});
