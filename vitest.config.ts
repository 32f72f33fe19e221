import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // One build of web/ per run for the browser tests (test/setup/web-build.ts).
    globalSetup: ["test/setup/web-build.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "threads",
    // Vitest's default is one worker fewer than the CPUs: on the 2-core machine `npm test` must fit,
    // that is one worker and every file in a row. Most files keep one core busy running a guest, so
    // two workers take about half the time.
    maxWorkers: 2,
    // The JSON report lets CI print one closing "N passed, N failed" line.
    reporters: ["default", ["json", { outputFile: "build/test-results.json" }]],
  },
});
