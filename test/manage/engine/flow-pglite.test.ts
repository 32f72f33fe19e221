// The Done-when flow (flow.ts) on the engine's default database: PGlite in a directory.

import { rmSync } from "node:fs";
import { describe } from "vitest";
import { tempDir } from "./cluster-harness.js";
import { engineFlow } from "./flow.js";

describe("engine and three host processes, PGlite", () => {
  engineFlow(
    async () => {
      const dir = tempDir("pglite");
      return { db: `${dir}/db`, stop: () => rmSync(dir, { recursive: true, force: true }) };
    },
    { midMigration: false },
  );
});
