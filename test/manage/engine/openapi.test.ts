// docs/engine-openapi.json documents every route of the REST API (api.ts) and nothing else, with
// a summary and the faults; it is the document the engine builds (npm run engine -- --openapi),
// so a route added without updating the file fails here.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ROUTES } from "../../../manage/engine/api.js";
import { openApiDocument } from "../../../manage/engine/openapi.js";

const doc = JSON.parse(readFileSync(new URL("../../../docs/engine-openapi.json", import.meta.url), "utf8")) as {
  paths: Record<string, Record<string, { summary?: string; responses?: Record<string, unknown> }>>;
};

describe("docs/engine-openapi.json", () => {
  it("documents every route with a summary and its faults", () => {
    for (const r of ROUTES) {
      const op = doc.paths[r.path]?.[r.method.toLowerCase()];
      expect(op, `${r.method} ${r.path}`).toBeDefined();
      expect(op?.summary, `${r.method} ${r.path}`).toBe(r.summary);
      expect(Object.keys(op?.responses ?? {})).toEqual(expect.arrayContaining(["400", "401", "403", "404", "409"]));
    }
  });

  it("documents no route the API does not have", () => {
    const have = new Set(ROUTES.map((r) => `${r.method.toLowerCase()} ${r.path}`));
    for (const [path, ops] of Object.entries(doc.paths))
      for (const m of Object.keys(ops)) expect(have.has(`${m} ${path}`), `${m} ${path}`).toBe(true);
  });

  it("is the document the engine builds", () => {
    expect(doc).toEqual(JSON.parse(JSON.stringify(openApiDocument())));
  });
});
