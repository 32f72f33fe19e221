// `npm run fuzz -- --mode all --seconds N`: a fuzz campaign over the targets (cpu, devices,
// images) in worker threads; findings are saved as reproducers in fuzz/reproducers/ and the
// figures written to bench/results/fuzz-<time>.{json,txt} and fuzz-latest.{json,txt}.

import { mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { VIRT_MODES, type VirtMode } from "../vmm/virt/vmcs.js";
import { formatSummary, runCampaign } from "./runner.js";
import { TARGETS } from "./targets/index.js";

const USAGE = `usage: npm run fuzz -- [--mode all|MODE[,MODE...]] [--seconds N] [--targets cpu,devices,images]
                      [--seed N] [--workers N] [--wall-ms N] [--out DIR]
  --mode      virtualization modes every case runs under (default all: ${VIRT_MODES.join(", ")})
  --seconds   length of the campaign (default 60)
  --targets   which targets, taking turns (default all: ${Object.keys(TARGETS).join(", ")})
  --seed      seed of each target's first case (default 1); case n has seed + n
  --workers   worker threads (default: the machine's cores)
  --wall-ms   watchdog per case: a case that runs longer is a hang (default 60000)
  --out       where the summary goes (default bench/results)`;

function fail(message: string): never {
  console.error(`fuzz: ${message}\n${USAGE}`);
  process.exit(2);
}

function positiveInt(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (!/^\d+$/.test(v) || Number(v) < 1) fail(`--${name} ${v}: give a positive whole number`);
  return Number(v);
}

function main(): Promise<void> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      options: {
        mode: { type: "string" },
        seconds: { type: "string" },
        targets: { type: "string" },
        seed: { type: "string" },
        workers: { type: "string" },
        "wall-ms": { type: "string" },
        out: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    fail((err as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const modeArg = (values.mode as string | undefined) ?? "all";
  const modes = modeArg === "all" ? [...VIRT_MODES] : modeArg.split(",");
  for (const m of modes)
    if (!(VIRT_MODES as readonly string[]).includes(m)) fail(`--mode ${m}: use all or ${VIRT_MODES.join(", ")}`);
  const targets = ((values.targets as string | undefined) ?? Object.keys(TARGETS).join(",")).split(",");
  for (const t of targets) if (!TARGETS[t]) fail(`--targets ${t}: use ${Object.keys(TARGETS).join(", ")}`);
  const seconds = positiveInt("seconds", values.seconds as string | undefined, 60);
  const firstSeed = positiveInt("seed", values.seed as string | undefined, 1);
  const workers = positiveInt("workers", values.workers as string | undefined, availableParallelism());
  const wallMs = positiveInt("wall-ms", values["wall-ms"] as string | undefined, 60_000);
  const out = (values.out as string | undefined) ?? "bench/results";
  const reproducerDir = new URL("./reproducers", import.meta.url).pathname;

  return runCampaign({
    targets,
    opts: { modes: modes as VirtMode[], wallMs },
    seconds,
    firstSeed,
    workers,
    reproducerDir,
    log: (line) => console.log(line),
  }).then((summary) => {
    const text = formatSummary(summary);
    process.stdout.write(text);
    mkdirSync(out, { recursive: true });
    const stamp = summary.startedAt.replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
    for (const name of [`fuzz-${stamp}`, "fuzz-latest"]) {
      writeFileSync(`${out}/${name}.json`, `${JSON.stringify(summary, null, 2)}\n`);
      writeFileSync(`${out}/${name}.txt`, text);
    }
    const bad = summary.findings.length;
    process.exit(bad === 0 ? 0 : 1);
  });
}

void main();
