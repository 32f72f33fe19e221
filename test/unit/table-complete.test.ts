// Every routine the instruction table names exists in the core: the dispatch generator lists
// the missing ones (dispatched to #UD) in core/generated/missing.json at build time.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { entries, isSized, sizedHandler } from "../../core/isa/table.mjs";

describe("instruction table", () => {
  it("has a routine for every form", () => {
    const missing = JSON.parse(readFileSync(new URL("../../core/generated/missing.json", import.meta.url), "utf8"));
    expect(missing).toEqual([]);
  });

  it("describes each (map, opcode, group slot, exact ModRM) once", () => {
    const seen = new Set<string>();
    for (const e of entries) {
      const key = `${e.map}:${e.op}:${e.reg}:${e.modrmExact}`;
      expect(seen.has(key), key).toBe(false);
      seen.add(key);
    }
  });

  it("names sized routines for both operand sizes", () => {
    for (const e of entries.filter(isSized)) {
      expect(sizedHandler(e, 16)).toMatch(/_16$/);
      expect(sizedHandler(e, 32)).toMatch(/_32$/);
    }
  });
});
