// The conformance material again with the JIT compiling every block from its first execution
// (threshold 1): the native corpus (pm32-flat-user, checked against the host CPU) and a quarter
// of the SingleStepTests 80286 real-mode subset. Compiled code must give exactly what the interpreter
// gives; the tests and their expectations are the conformance suites' own.

import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { collectFiles, findSharedConformance, isDataFile, REPO_ROOT } from "../conformance/paths.js";
import type { FileResult } from "../conformance/results.js";
import { SstRunner } from "../conformance/sst.js";
import { VectorRunner } from "../conformance/vectors.js";

const FORCED = { jit: true, jitThreshold: 1 };
const CORPUS = join(REPO_ROOT, "test", "native", "corpus");
const corpusFiles = existsSync(CORPUS) ? collectFiles([CORPUS]) : [];
const shared = findSharedConformance();
const dir286 = shared ? join(shared, "sst-80286-real") : "";
// Every fourth opcode file of the subset (the whole subset runs interpreted in sst.test.ts), to
// keep npm test short: compiling a block per test is the slow part.
const files286 = (shared && existsSync(dir286) ? readdirSync(dir286).filter(isDataFile).sort() : []).filter(
  (_, i) => i % 4 === 0,
);

function explain(r: FileResult): string {
  const lines = [`${r.file}: ${r.passed} passed, ${r.failed} failed${r.error ? ` (${r.error})` : ""}`];
  for (const f of r.failures.slice(0, 5)) lines.push(`  #${f.index} ${f.name} [${f.bytes}]: ${f.diff.join("; ")}`);
  return lines.join("\n");
}

let vectors: VectorRunner;
let sst: SstRunner;
beforeAll(async () => {
  vectors = await VectorRunner.create(loadCoreModule(), FORCED);
  sst = await SstRunner.create(loadCoreModule(), FORCED);
});

describe("native corpus with the JIT forced", () => {
  it("has files to run", () => expect(corpusFiles.length).toBeGreaterThan(0));
  it.each(corpusFiles.map((f) => [f.slice(CORPUS.length + 1), f]))("%s", (_name, file) => {
    const r = vectors.runFile(file);
    expect(r.error, explain(r)).toBeUndefined();
    expect(r.passed + r.failed).toBeGreaterThan(0);
    expect(r.failed, explain(r)).toBe(0);
  });
  it("ran the tests as compiled code", () => {
    // Every test starts at a block the JIT compiled on sight (the counters in the state block
    // start over at each test's reset; the compiler's own do not).
    const stats = vectors.cpu.jit!.stats;
    expect(stats.blocksCompiled).toBeGreaterThan(corpusFiles.length * 100);
    expect(stats.inlineInstructions).toBeGreaterThan(0);
  });
});

describe.skipIf(files286.length === 0)("SingleStepTests 80286 real mode with the JIT forced", () => {
  it.each(files286)("%s", (name) => {
    const r = sst.runFile(join(dir286, name));
    expect(r.error, explain(r)).toBeUndefined();
    expect(r.failed, explain(r)).toBe(0);
  });
});
