// Summarises a V8 CPU profile (.cpuprofile from `node --cpu-prof`) by self time per function,
// to see where the interpreter spends its time. Wasm functions appear under their names when
// core.wasm carries a name section (asc keeps one unless told otherwise).
//
//   CORE_WASM=... node --cpu-prof --cpu-prof-dir=build/prof --import tsx bench/cpu.ts --only int --no-write
//   npx tsx bench/profile.ts build/prof/*.cpuprofile [--top 30] [--wat build/x/core.wat]
//
// The -O3 core has no name section, so V8 reports "wasm-function[N]"; --wat names N from the
// text file the build writes beside core.wasm (imports first, then functions in order).

import { readFileSync } from "node:fs";
import {
  type CommandLine,
  exitOnCommandLineError,
  integerOption,
  parseOrExit,
  stringOption,
  usage,
} from "../vmm/node/command-line.js";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
}

const COMMAND_LINE: CommandLine = {
  program: "npx tsx bench/profile.ts",
  positionals: "FILE.cpuprofile...",
  options: {
    top: { type: "string", value: "N", help: "functions to list (default 30)" },
    wat: { type: "string", value: "FILE", help: "core.wat, to name the wasm functions" },
  },
};
const parsed = parseOrExit(COMMAND_LINE, process.argv.slice(2));
let top = 30;
try {
  top = integerOption(parsed, "top", 30, 1, 100_000);
} catch (err) {
  exitOnCommandLineError(err);
}
const wat: string | null = stringOption(parsed, "wat") ?? null;
const files: string[] = parsed.positionals;

/** wasm function index -> name, from the .wat (imported functions take the first indices). */
const watNames: string[] = [];
if (wat) {
  for (const line of readFileSync(wat, "utf8").split("\n")) {
    const imp = /^ \(import "[^"]*" "[^"]*" \(func \$(\S+)/.exec(line);
    const fn = /^ \(func \$(\S+)/.exec(line);
    if (imp) watNames.push(imp[1]);
    else if (fn) watNames.push(fn[1]);
  }
}
if (files.length === 0) {
  console.error(`${usage(COMMAND_LINE)}\n(give at least one file)`);
  process.exit(2);
}

const self = new Map<string, number>();
let total = 0;
for (const f of files) {
  const p = JSON.parse(readFileSync(f, "utf8")) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const name = (n: ProfileNode) => {
    let fn = n.callFrame.functionName || "(anonymous)";
    const m = /^wasm-function\[(\d+)\]$/.exec(fn);
    if (m && watNames[Number(m[1])]) fn = watNames[Number(m[1])];
    const where = n.callFrame.url.includes("wasm") ? "wasm" : (n.callFrame.url.split("/").pop() ?? "");
    return where ? `${fn} [${where}]` : fn;
  };
  // Time per sample where available, else hit counts.
  if (p.samples && p.timeDeltas) {
    for (let i = 0; i < p.samples.length; i++) {
      const n = byId.get(p.samples[i]);
      if (!n) continue;
      const dt = p.timeDeltas[i + 1] ?? 0;
      self.set(name(n), (self.get(name(n)) ?? 0) + dt);
      total += dt;
    }
  } else {
    for (const n of p.nodes) {
      const h = n.hitCount ?? 0;
      self.set(name(n), (self.get(name(n)) ?? 0) + h);
      total += h;
    }
  }
}
self.delete("(idle)");
total = [...self.values()].reduce((a, b) => a + b, 0);
const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
console.log(`${"self %".padStart(7)}  function`);
for (const [fn, t] of rows) console.log(`${((100 * t) / total).toFixed(1).padStart(6)}%  ${fn}`);
