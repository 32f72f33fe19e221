import { defineConfig } from "vitest/config";

// npm run test:media: boots the real-world media that guests/fetch.sh builds (never committed).
export default defineConfig({
  test: {
    include: ["test/media/**/*.media.ts"],
    testTimeout: 600_000,
    pool: "threads",
  },
});
