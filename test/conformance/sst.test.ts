// SingleStepTests through the conformance runner: the 80286 real-mode subset (one test per
// opcode file, and the suite-wide pass rate) and the 80386 sample.

import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { findSharedConformance, isDataFile } from "./paths.js";
import type { FileResult } from "./results.js";
import { SstRunner } from "./sst.js";

const shared = findSharedConformance();
const dir286 = shared ? join(shared, "sst-80286-real") : "";
const files286 = shared && existsSync(dir286) ? readdirSync(dir286).filter(isDataFile).sort() : [];
const sample386 = shared ? join(shared, "sst-80386-sample", "00.MOO") : "";
if (!shared) console.warn("conformance: no shared/conformance directory above the repository: SingleStepTests skipped");

/** What a failing file reports: its counts and the first differences. */
function explain(r: FileResult): string {
  const lines = [
    `${r.key}: ${r.passed} passed, ${r.failed} failed, ${r.excluded} excluded${r.error ? ` (${r.error})` : ""}`,
  ];
  for (const f of r.failures.slice(0, 3)) lines.push(`  #${f.index} ${f.name} [${f.bytes}]: ${f.diff.join("; ")}`);
  return lines.join("\n");
}

let runner: SstRunner;
beforeAll(async () => {
  runner = await SstRunner.create(loadCoreModule());
});

describe.skipIf(files286.length === 0)("SingleStepTests 80286 real mode (test/conformance/data/sst-80286-real)", () => {
  const results: FileResult[] = [];

  it.each(files286)("%s", (name) => {
    const r = runner.runFile(join(dir286, name));
    results.push(r);
    expect(r.error, explain(r)).toBeUndefined();
    expect(r.failed, explain(r)).toBe(0);
  });

  it("passes at least 99.5% of the non-excluded tests, and every failure is explained by an exclusion", () => {
    expect(results.length).toBe(files286.length);
    let passed = 0;
    let failed = 0;
    let excluded = 0;
    for (const r of results) {
      passed += r.passed;
      failed += r.failed;
      excluded += r.excluded;
    }
    const total = passed + failed + excluded;
    expect(total).toBeGreaterThan(0);
    console.log(
      `80286 subset: ${passed} passed, ${failed} failed, ${excluded} excluded of ${total}` +
        ` (${((100 * passed) / (passed + failed)).toFixed(2)}% of non-excluded, ${((100 * passed) / total).toFixed(2)}% of all)`,
    );
    expect(failed, `${failed} failures no exclusion explains`).toBe(0);
    expect(
      passed / (passed + failed),
      `${passed} of ${passed + failed} non-excluded tests passed`,
    ).toBeGreaterThanOrEqual(0.995);
  });
});

describe.skipIf(!shared || !existsSync(sample386))("SingleStepTests 80386 sample (00.MOO, RG32)", () => {
  it("passes every test", () => {
    const r = runner.runFile(sample386);
    expect(r.error, explain(r)).toBeUndefined();
    expect(r.passed + r.failed + r.excluded).toBe(500);
    expect(r.failed, explain(r)).toBe(0);
    expect(r.excluded, explain(r)).toBe(0);
  });
});
