// The Done-when flow (flow.ts) on PGlite with the engine killed (SIGKILL) mid-migration: the
// directory PGlite left is opened again and the migration's outcome is taken from the hosts.

import { rmSync } from "node:fs";
import { describe } from "vitest";
import { tempDir } from "./cluster-harness.js";
import { engineFlow } from "./flow.js";

describe("engine and three host processes, PGlite, engine killed mid-migration", () => {
  engineFlow(
    async () => {
      const dir = tempDir("pglite");
      return { db: `${dir}/db`, stop: () => rmSync(dir, { recursive: true, force: true }) };
    },
    { midMigration: true },
  );
});
