// The live-migration panel under the modes npm test leaves out (test/browser/migrate.test.ts runs
// hvm with EPT's dirty log and native with write tracking, both dirtying): pv with EPT and bt with
// shadow paging, idle. npm run test:slow.

import { describe, it } from "vitest";
import { useHarness } from "./harness.js";
import { migrateRunning } from "./migrate-steps.js";

describe("live migration in Chromium under pv and bt", () => {
  const h = useHarness();
  for (const [mode, mmu] of [
    ["pv", "ept"],
    ["bt", "shadow"],
  ] as const) {
    it(`migrates an idle guest under ${mode} (${mmu === "ept" ? "the EPT log" : "the write-tracking dirty log"}); the shell answers after`, async () => {
      await migrateRunning(h, mode, mmu, { dirty: false, bandwidth: 16 });
    }, 300_000);
  }
});
