import { defineConfig } from "vitest/config";

// npm run test:media: boots the real-world media that guests/fetch.sh builds and Debian's kernel
// that scripts/fetch-bench-guest.sh fetches (never committed; a missing file fails with the script to run).
export default defineConfig({
  test: {
    include: ["test/media/**/*.media.ts"],
    testTimeout: 600_000,
    pool: "threads",
  },
});
