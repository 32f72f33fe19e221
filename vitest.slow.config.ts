import { defineConfig } from "vitest/config";

// npm run test:slow: checks too long for npm test's ten minutes (test/**/*.slow.ts).
export default defineConfig({
  test: {
    include: ["test/**/*.slow.ts"],
    testTimeout: 600_000,
    hookTimeout: 120_000,
    pool: "threads",
    maxWorkers: 2,
  },
});
