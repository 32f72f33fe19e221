// The Done-when flow (flow.ts) on a PostgreSQL server (Debian's postgresql 15 in a temporary
// directory, started here): npm run test:slow.

import { describe } from "vitest";
import { startPostgres } from "./cluster-harness.js";
import { engineFlow } from "./flow.js";

describe("engine and three host processes, PostgreSQL server", () => {
  engineFlow(
    async () => {
      const pg = await startPostgres();
      return { db: pg.url, stop: pg.stop };
    },
    { midMigration: true },
  );
});
