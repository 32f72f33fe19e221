// Builds core.wasm: generates the layout and the dispatch from their tables, then compiles the
// AssemblyScript core (raw bindings: the host instantiates it with its own imports and memory).
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";

execFileSync(process.execPath, ["scripts/gen-layout.mjs"], { stdio: "inherit" });
execFileSync(process.execPath, ["scripts/gen-dispatch.mjs"], { stdio: "inherit" });
if (!existsSync("build")) mkdirSync("build");
const asc = "node_modules/assemblyscript/bin/asc.js";
const debug = process.argv.includes("--debug");
execFileSync(
  process.execPath,
  [
    asc,
    "core/index.ts",
    "--outFile",
    "build/core.wasm",
    "--textFile",
    "build/core.wat",
    "--runtime",
    "stub",
    "--importMemory",
    "--noExportMemory",
    "--initialMemory",
    "256",
    "--maximumMemory",
    "65536",
    "--noAssert",
    "--use",
    "abort=core/index/abortCore",
    ...(debug ? ["--debug"] : ["-O3", "--converge"]),
  ],
  { stdio: "inherit" },
);
console.log("core: build/core.wasm");
