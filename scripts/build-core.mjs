// Builds core.wasm: generates the layout, the dispatch and the binary translator's forms from
// their tables, then compiles the AssemblyScript core (raw bindings: the host instantiates it
// with its own imports and memory).
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";

execFileSync(process.execPath, ["scripts/gen-layout.mjs"], { stdio: "inherit" });
execFileSync(process.execPath, ["scripts/gen-dispatch.mjs"], { stdio: "inherit" });
execFileSync(process.execPath, ["scripts/gen-bt.mjs"], { stdio: "inherit" });
// CORE_OUT lets parallel builds (several developers in one tree) write their own core.wasm.
const out = process.env.CORE_OUT ?? "build/core.wasm";
const outDir = dirname(out);
if (!existsSync(outDir)) mkdirSync(outDir, { recursive: true });
const asc = "node_modules/assemblyscript/bin/asc.js";
const debug = process.argv.includes("--debug");
const result = spawnSync(
  process.execPath,
  [
    asc,
    "core/index.ts",
    "--outFile",
    out,
    "--textFile",
    out.replace(/\.wasm$/, ".wat"),
    "--runtime",
    "stub",
    "--importMemory",
    "--noExportMemory",
    "--initialMemory",
    "256",
    "--maximumMemory",
    "65536",
    "--noAssert",
    "--exportTable",
    "--use",
    "abort=core/index/abortCore",
    ...(debug ? ["--debug"] : ["-O3", "--converge"]),
  ],
  { stdio: ["inherit", "inherit", "pipe"], encoding: "utf8" },
);
// Binaryen's note that --converge stopped at a pass that did not shrink the module
// ("Last converge was suboptimal.") is not a problem: it is left out of what npm install shows.
const notes = (result.stderr ?? "")
  .split("\n")
  .filter((l) => l.trim() !== "" && l.trim() !== "Last converge was suboptimal.");
if (notes.length > 0) console.error(notes.join("\n"));
if (result.status !== 0) {
  console.error(`asc failed (${result.error?.message ?? `status ${result.status}`})`);
  process.exit(1);
}
console.log(`core: ${out}`);
