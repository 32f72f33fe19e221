import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "threads",
    // The JSON report lets CI print one closing "N passed, N failed" line.
    reporters: ["default", ["json", { outputFile: "build/test-results.json" }]],
  },
});
