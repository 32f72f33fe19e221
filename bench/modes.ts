// npm run bench:modes: nanobench and the tiny Linux boot under every mode that applies (native,
// trap, bt, hvm with shadow paging, hvm with EPT, pv), on the icount clock. Prints and writes a
// table (guest instructions, crossings by kind, modeled cycles per profile, host milliseconds) and
// checks the published claims about the modes that these workloads cover (bench/modes/claims.ts).
// Results: bench/results/modes-<time>.json and .txt, and modes-latest.{json,txt}.
//
//   npm run bench:modes [-- --jit on|off]     (the JIT on by default; off: the interpreter alone,
//                                              written as modes-nojit-*; the crossings must match)

import { mkdirSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { KIND_NAMES } from "../vmm/stats/events.js";
import { PROFILES } from "../vmm/stats/profiles.js";
import { type BootTable, type ClaimLine, checkClaims, type NanoTable } from "./modes/claims.js";
import { bootLinux } from "./modes/linux-boot.js";
import { MODES, type ModeConfig, perKind, priceAll } from "./modes/measure.js";
import { runNanobench } from "./modes/nanobench.js";

/** Which nanobench build each mode runs: the pv mode runs the para-virtual build. */
function nanobenchElf(m: ModeConfig): string {
  return m.mode === "pv" ? "nanobench/nanobench-pv.elf" : "nanobench/nanobench.elf";
}

/** Modes the tiny Linux boots under (trap runs lab kernels only). */
const LINUX_MODES = MODES.filter((m) => m.mode !== "trap");

interface RunRow {
  workload: string;
  mode: string;
  ok: boolean;
  error?: string;
  guestInstructions?: number;
  hostMs?: number;
  crossings?: Partial<Record<string, number>>;
  modeledCycles?: Record<string, number>;
  unpriced?: Record<string, string[]>;
  detail?: Record<string, unknown>;
}

function fmt(n: number | undefined): string {
  if (n === undefined) return "-";
  if (!Number.isInteger(n) && Math.abs(n) < 10) return n.toFixed(2);
  return Math.round(n).toLocaleString("en-US");
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { jit: { type: "string", default: "on" } } });
  if (values.jit !== "on" && values.jit !== "off") throw new Error(`--jit ${values.jit}: use on or off`);
  const jit = values.jit === "on";
  const rows: RunRow[] = [];
  const nano: NanoTable = {};
  const boot: BootTable = {};
  const log = (s: string) => process.stdout.write(`${s}\n`);

  for (const m of MODES) {
    const elf = nanobenchElf(m);
    try {
      const r = await runNanobench(m.mode, m.mmu, elf, jit);
      const complete = r.stop.kind === "debug-exit" && r.output.includes("nanobench done");
      for (const b of r.results) {
        const byMode = nano[b.name] ?? {};
        byMode[m.label] = { iterations: b.iterations, perOp: b.perOp, crossings: b.crossings };
        nano[b.name] = byMode;
      }
      rows.push({
        workload: "nanobench",
        mode: m.label,
        ok: complete,
        error: complete ? undefined : `stopped: ${JSON.stringify(r.stop)}; ${r.output.slice(-200)}`,
        hostMs: r.hostMs,
        detail: { elf, benchmarks: r.results.length },
      });
      log(
        `nanobench ${m.label}: ${complete ? "done" : "INCOMPLETE"} (${r.results.length} benchmarks, ${r.hostMs.toFixed(0)} ms)`,
      );
    } catch (err) {
      rows.push({ workload: "nanobench", mode: m.label, ok: false, error: String(err).slice(0, 400) });
      log(`nanobench ${m.label}: failed: ${String(err).split("\n")[0]}`);
    }
  }

  for (const m of LINUX_MODES) {
    try {
      const r = await bootLinux(m.mode, m.mmu, undefined, jit);
      boot[m.label] = { crossings: r.crossings, refsPerMiss: r.walk.refsPerMiss, instructions: r.instructionsToPrompt };
      const priced = priceAll(r.crossings);
      rows.push({
        workload: "linux-boot",
        mode: m.label,
        ok: true,
        guestInstructions: r.instructionsToPrompt,
        hostMs: r.hostMsToPrompt,
        crossings: perKind(r.crossings),
        modeledCycles: priced.cycles,
        unpriced: priced.unpriced,
        detail: { clocksource: r.clocksource, tlbMisses: r.walk.tlbMisses, refsPerMiss: r.walk.refsPerMiss },
      });
      log(`linux-boot ${m.label}: shell in ${r.hostMsToPrompt.toFixed(0)} ms, clocksource ${r.clocksource}`);
    } catch (err) {
      rows.push({ workload: "linux-boot", mode: m.label, ok: false, error: String(err).slice(0, 400) });
      log(`linux-boot ${m.label}: failed: ${String(err).split("\n")[0]}`);
    }
  }

  const claims = checkClaims(nano, boot);
  const text = report(rows, nano, claims);
  log("");
  log(text);
  const stamp = new Date()
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  const dir = new URL("./results/", import.meta.url);
  mkdirSync(dir, { recursive: true });
  const json = JSON.stringify(
    { date: new Date().toISOString(), jit, rows, nanobench: summarizeNano(nano), claims },
    null,
    1,
  );
  const base = jit ? "modes" : "modes-nojit";
  for (const name of [`${base}-${stamp}`, `${base}-latest`]) {
    writeFileSync(new URL(`${name}.json`, dir), json);
    writeFileSync(new URL(`${name}.txt`, dir), `${text}\n`);
  }
  log(`\nwritten: bench/results/${base}-${stamp}.json and .txt (and ${base}-latest.*)`);
}

function summarizeNano(nano: NanoTable) {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [name, byMode] of Object.entries(nano)) {
    out[name] = {};
    for (const [mode, p] of Object.entries(byMode)) {
      if (!p) continue;
      const priced = priceAll(p.crossings, p.iterations);
      out[name]![mode] = {
        iterations: p.iterations,
        guestCyclesPerOp: p.perOp,
        crossingsPerOp: perKind(p.crossings, p.iterations),
        modeledExtraCyclesPerOp: priced.cycles,
        unpriced: priced.unpriced,
      };
    }
  }
  return out;
}

function report(rows: RunRow[], nano: NanoTable, claims: ClaimLine[]): string {
  const out: string[] = [];
  const labels = MODES.map((m) => m.label);
  out.push("bench:modes: icount clock (1 guest instruction = 1 TSC tick); modeled cycles come from counted crossings");
  out.push("priced by cost profiles (vmm/stats/profiles.ts), never measured; host ms is this emulator on this host.");
  out.push("");
  out.push("Nanobench (guests/labs/nanobench; pv runs nanobench-pv): per operation");
  out.push("  guest cycles/op (icount) | crossings/op by kind | modeled extra cycles/op, pentium4-2006");
  for (const [name, byMode] of Object.entries(nano)) {
    out.push(`  ${name}`);
    for (const l of labels) {
      const p = byMode[l];
      if (!p) continue;
      const k = perKind(p.crossings, p.iterations);
      const kinds = Object.entries(k)
        .map(([kind, n]) => `${kind} ${fmt(n)}`)
        .join(", ");
      const priced = priceAll(p.crossings, p.iterations);
      out.push(
        `    ${l.padEnd(11)} ${fmt(p.perOp).padStart(6)} | ${(kinds || "none").padEnd(58)} | ${fmt(priced.cycles["pentium4-2006"]).padStart(9)}`,
      );
    }
  }
  out.push("");
  out.push("Tiny Linux boot, from power-on to the shell prompt: guest instructions, host time, crossings by kind");
  const head = ["workload", "mode", "guest insns", "host ms", ...KIND_NAMES.filter((k) => k !== "io" && k !== "mmio")];
  out.push(`  ${head.map((h, i) => (i < 2 ? h.padEnd(11) : h.padStart(14))).join("")}`);
  for (const r of rows) {
    if (!r.ok) {
      out.push(`  ${r.workload.padEnd(11)}${r.mode.padEnd(11)} FAILED: ${r.error?.split("\n")[0]}`);
      continue;
    }
    if (r.workload !== "linux-boot") continue;
    const cells = [fmt(r.guestInstructions), fmt(r.hostMs)];
    for (const k of head.slice(4)) cells.push(fmt(r.crossings?.[k] ?? 0));
    out.push(`  ${r.workload.padEnd(11)}${r.mode.padEnd(11)}${cells.map((c) => c.padStart(14)).join("")}`);
  }
  out.push("");
  out.push("  modeled crossing cycles of the boot, per profile (unpriced kinds listed):");
  for (const r of rows) {
    if (r.workload !== "linux-boot" || !r.ok) continue;
    const cols = PROFILES.map((p) => {
      const u = r.unpriced?.[p.id] ?? [];
      return `${p.id} ${fmt(r.modeledCycles?.[p.id])}${u.length ? ` (unpriced: ${u.join(", ")})` : ""}`;
    });
    out.push(`    ${r.mode.padEnd(11)} ${cols.join("; ")}`);
  }
  out.push("");
  out.push("Claims (published results about the modes; sources in bench/modes/claims.ts)");
  for (const c of claims) out.push(`  [${c.status}] ${c.claim}\n      ${c.numbers}`);
  return out.join("\n");
}

await main();
