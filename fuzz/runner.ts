// The fuzz campaign: runs numbered cases of each target in worker threads until the time is up,
// with a wall-clock watchdog per case. A case that does not answer in time is a hang: its worker
// is ended and replaced. Every case that is not ok is saved as a reproducer under
// fuzz/reproducers/ (which test/fuzz/reproducers.test.ts replays), and the campaign's figures go
// to a summary.

import { mkdirSync, writeFileSync } from "node:fs";
import { relative } from "node:path";
import { Worker } from "node:worker_threads";
import type { CaseOptions, CaseResult, CaseVerdict } from "./target.js";
import { TARGETS } from "./targets/index.js";
import type { WorkerRequest, WorkerResponse } from "./worker.js";

export interface CampaignOptions {
  targets: string[];
  opts: CaseOptions;
  seconds: number;
  /** The first case's seed; case n of a target has seed firstSeed + n. */
  firstSeed: number;
  workers: number;
  /** Where reproducers are written (a folder). */
  reproducerDir: string;
  log?: (line: string) => void;
}

export interface Finding {
  target: string;
  seed: number;
  verdict: CaseVerdict;
  detail: string;
  file: string;
}

export interface TargetFigures {
  cases: number;
  instructions: number;
  verdicts: Record<CaseVerdict, number>;
  /** Details of ok cases that say something ("not compared: ..."), counted. */
  notes: Record<string, number>;
  /** The slowest case, in milliseconds. */
  slowestMs: number;
}

export interface CampaignSummary {
  startedAt: string;
  seconds: number;
  firstSeed: number;
  workers: number;
  modes: readonly string[];
  wallMsPerCase: number;
  targets: Record<string, TargetFigures>;
  findings: Finding[];
}

function emptyFigures(): TargetFigures {
  return { cases: 0, instructions: 0, verdicts: { ok: 0, crash: 0, hang: 0, divergence: 0 }, notes: {}, slowestMs: 0 };
}

const BOOT = new URL("./worker-boot.mjs", import.meta.url);

class Slot {
  worker: Worker;
  busy: { req: WorkerRequest; timer: NodeJS.Timeout; started: number } | undefined;

  constructor(private readonly onDone: (slot: Slot, res: WorkerResponse) => void) {
    this.worker = this.spawn();
  }

  spawn(): Worker {
    const w = new Worker(BOOT);
    w.on("message", (res: WorkerResponse) => this.onDone(this, res));
    w.on("error", (err) => {
      // An exception escaped the worker's own loop (it catches the targets'): a crash of the case.
      const busy = this.busy;
      if (busy) this.onDone(this, { id: busy.req.id, result: crash(`worker error: ${err.message}`), ms: 0 });
    });
    return w;
  }
}

function crash(detail: string): CaseResult {
  return { verdict: "crash", instructions: 0, detail };
}

export async function runCampaign(c: CampaignOptions): Promise<CampaignSummary> {
  const log = c.log ?? (() => {});
  const summary: CampaignSummary = {
    startedAt: new Date().toISOString(),
    seconds: 0,
    firstSeed: c.firstSeed,
    workers: c.workers,
    modes: c.opts.modes,
    wallMsPerCase: c.opts.wallMs,
    targets: Object.fromEntries(c.targets.map((t) => [t, emptyFigures()])),
    findings: [],
  };
  const start = performance.now();
  const deadline = start + c.seconds * 1000;
  const nextSeed = Object.fromEntries(c.targets.map((t) => [t, c.firstSeed]));
  let turn = 0;
  let nextId = 1;
  let finish: () => void = () => {};
  const finished = new Promise<void>((r) => {
    finish = r;
  });
  const slots: Slot[] = [];

  const record = (req: WorkerRequest, result: CaseResult, ms: number) => {
    const fig = summary.targets[req.target]!;
    fig.cases++;
    fig.instructions += result.instructions;
    fig.verdicts[result.verdict]++;
    fig.slowestMs = Math.max(fig.slowestMs, ms);
    if (result.verdict === "ok") {
      if (result.detail) fig.notes[result.detail] = (fig.notes[result.detail] ?? 0) + 1;
      return;
    }
    const target = TARGETS[req.target]!;
    const reproducer = result.reproducer ?? target.generate(req.seed, req.opts);
    mkdirSync(c.reproducerDir, { recursive: true });
    const path = `${c.reproducerDir}/${req.target}-${req.seed}.json`;
    const file = relative(process.cwd(), path);
    const saved = { target: req.target, seed: req.seed, verdict: result.verdict, detail: result.detail, reproducer };
    writeFileSync(path, `${JSON.stringify(saved)}\n`);
    summary.findings.push({ target: req.target, seed: req.seed, verdict: result.verdict, detail: result.detail, file });
    log(`${result.verdict}: ${req.target} seed ${req.seed}: ${result.detail} (saved ${file})`);
  };

  const dispatch = (slot: Slot) => {
    if (performance.now() >= deadline) {
      slot.busy = undefined;
      if (slots.every((s) => !s.busy)) finish();
      return;
    }
    const target = c.targets[turn++ % c.targets.length]!;
    const req: WorkerRequest = { id: nextId++, target, seed: nextSeed[target]!++, opts: c.opts };
    const timer = setTimeout(() => {
      // No answer in time: a hang. End the worker (its run() cannot be interrupted) and go on.
      void slot.worker.terminate();
      record(req, { verdict: "hang", instructions: 0, detail: `no answer within ${c.opts.wallMs} ms` }, c.opts.wallMs);
      slot.worker = slot.spawn();
      dispatch(slot);
    }, c.opts.wallMs);
    slot.busy = { req, timer, started: performance.now() };
    slot.worker.postMessage(req);
  };

  const onDone = (slot: Slot, res: WorkerResponse) => {
    const busy = slot.busy;
    if (!busy || busy.req.id !== res.id) return;
    clearTimeout(busy.timer);
    record(busy.req, res.result, performance.now() - busy.started);
    dispatch(slot);
  };

  for (let i = 0; i < c.workers; i++) slots.push(new Slot(onDone));
  for (const s of slots) dispatch(s);
  await finished;
  await Promise.all(slots.map((s) => s.worker.terminate()));
  summary.seconds = (performance.now() - start) / 1000;
  return summary;
}

/** The summary as the text file beside the JSON. */
export function formatSummary(s: CampaignSummary): string {
  const lines = [
    `fuzz campaign ${s.startedAt}: ${s.seconds.toFixed(0)} s, ${s.workers} workers, modes ${s.modes.join(" ")}, seeds from ${s.firstSeed}, watchdog ${s.wallMsPerCase} ms per case`,
  ];
  let cases = 0;
  let instructions = 0;
  const totals = { crash: 0, hang: 0, divergence: 0 };
  for (const [name, f] of Object.entries(s.targets)) {
    cases += f.cases;
    instructions += f.instructions;
    totals.crash += f.verdicts.crash;
    totals.hang += f.verdicts.hang;
    totals.divergence += f.verdicts.divergence;
    lines.push(
      `  ${name.padEnd(8)} ${f.cases.toLocaleString("en-US").padStart(8)} cases ${f.instructions.toLocaleString("en-US").padStart(16)} guest instructions   crashes ${f.verdicts.crash}  hangs ${f.verdicts.hang}  divergences ${f.verdicts.divergence}  slowest case ${(f.slowestMs / 1000).toFixed(1)} s`,
    );
    for (const [note, n] of Object.entries(f.notes)) lines.push(`           ${n.toLocaleString("en-US")} x ${note}`);
  }
  lines.push(
    `  total    ${cases.toLocaleString("en-US").padStart(8)} cases ${instructions.toLocaleString("en-US").padStart(16)} guest instructions   crashes ${totals.crash}  hangs ${totals.hang}  divergences ${totals.divergence}`,
  );
  for (const f of s.findings) lines.push(`  ${f.verdict}: ${f.target} seed ${f.seed}: ${f.detail} -> ${f.file}`);
  return `${lines.join("\n")}\n`;
}
