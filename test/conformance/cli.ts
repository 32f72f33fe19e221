// npm run conformance -- [--verbose] [--failures N] PATH...
//
// PATH is a .MOO/.MOO.gz (SingleStepTests) or .json/.json.gz (x86-vectors/1) file, or a
// directory searched recursively for them. Prints one line per file and closes with
// "N passed, N failed". Exits 1 when a failure is not explained by test/conformance/exclusions.ts
// (or a file cannot be run), 2 on bad usage. CORE_WASM selects the core build.

import { existsSync } from "node:fs";
import { relative } from "node:path";
import {
  type CommandLine,
  exitOnCommandLineError,
  integerOption,
  parseOrExit,
  usage,
} from "../../vmm/node/command-line.js";
import type { FileResult, TestFailure } from "./results.js";
import { ConformanceRunner, totals } from "./run.js";

const COMMAND_LINE: CommandLine = {
  program: "npm run conformance --",
  positionals: "PATH...",
  options: {
    verbose: { type: "boolean", short: "v", help: "show the first failures of each file" },
    failures: { type: "string", value: "N", help: "failures shown per file (implies --verbose; default 3)" },
    summary: { type: "boolean", help: "only the totals" },
  },
};

const parsed = parseOrExit(COMMAND_LINE, process.argv.slice(2));
let perFile = 3;
try {
  perFile = integerOption(parsed, "failures", 3, 0, 1_000_000);
} catch (err) {
  exitOnCommandLineError(err);
}
const verbose = parsed.values.verbose === true || parsed.values.failures !== undefined;
const summary = parsed.values.summary === true;
const paths = parsed.positionals;
if (paths.length === 0) {
  console.error(`${usage(COMMAND_LINE)}\n(give at least one PATH)`);
  process.exit(2);
}
for (const p of paths) {
  if (!existsSync(p)) {
    console.error(`conformance: no such file or directory: ${p}`);
    process.exit(2);
  }
}

function show(f: TestFailure): void {
  console.log(`    #${f.index} ${f.name} [${f.bytes}]${f.excludedBy ? ` (excluded: ${f.excludedBy})` : ""}`);
  for (const d of f.diff) console.log(`      ${d}`);
}

const runner = new ConformanceRunner();
const started = performance.now();
const results: FileResult[] = await runner.runPaths(paths, (r) => {
  const name = relative(process.cwd(), r.file) || r.file;
  if (r.error) {
    console.log(`${name}: ERROR ${r.error}`);
    return;
  }
  console.log(`${name}: ${r.passed} passed, ${r.failed} failed, ${r.excluded} excluded`);
  if (verbose) {
    for (const f of r.failures.slice(0, perFile)) show(f);
    if (r.failed === 0) for (const f of r.excludedFailures.slice(0, Math.min(perFile, 1))) show(f);
  }
});
const t = totals(results);

if (summary) {
  // Failures by file (opcode), with one example each: the list the CPU's authors work from.
  const failing = results.filter((r) => r.failed > 0).sort((a, b) => b.failed - a.failed);
  if (failing.length > 0) console.log("\nfailures by file:");
  for (const r of failing) {
    const f = r.failures[0];
    console.log(
      `  ${r.key.padEnd(12)} ${String(r.failed).padStart(5)}  #${f.index} ${f.name} [${f.bytes}]: ${f.diff.join("; ")}`,
    );
  }
}

if (summary && t.excluded > 0) {
  // Excluded failures by rule, with the files each rule covered.
  const byReason = new Map<string, { count: number; keys: string[] }>();
  for (const r of results) {
    for (const [reason, n] of Object.entries(r.excludedByReason)) {
      const e = byReason.get(reason) ?? { count: 0, keys: [] };
      e.count += n;
      e.keys.push(r.key.slice(r.key.indexOf(":") + 1));
      byReason.set(reason, e);
    }
  }
  console.log("\nexcluded by rule:");
  for (const [reason, e] of [...byReason].sort((a, b) => b[1].count - a[1].count)) {
    const keys =
      e.keys.length > 12 ? `${e.keys.slice(0, 12).join(" ")} ... (${e.keys.length} files)` : e.keys.join(" ");
    console.log(`  ${String(e.count).padStart(5)}  ${reason}\n         ${keys}`);
  }
}

const seconds = ((performance.now() - started) / 1000).toFixed(1);
console.log(
  `# ${results.length} files, ${t.excluded} excluded, ${t.errors} unreadable, ${seconds} s` +
    (t.passed + t.failed > 0
      ? `, ${((100 * t.passed) / (t.passed + t.failed)).toFixed(2)}% of non-excluded passed`
      : ""),
);
console.log(`${t.passed} passed, ${t.failed} failed`);
process.exitCode = t.failed > 0 || t.errors > 0 ? 1 : 0;
