// Every case the fuzzer ever saved (fuzz/reproducers/*.json) is a regression test: replayed
// without the generator, it must now come out "ok" (no host exception, no hang, the modes agree).

import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { TARGETS } from "../../fuzz/targets/index.js";

const DIR = new URL("../../fuzz/reproducers/", import.meta.url);
const files = readdirSync(DIR).filter((f) => f.endsWith(".json"));
const ALL_MODES = ["native", "trap", "bt", "hvm", "pv"] as const;

describe("fuzz reproducers", () => {
  it("there are saved reproducers to replay", () => {
    expect(files.length).toBeGreaterThan(0);
  });
  for (const file of files) {
    const saved = JSON.parse(readFileSync(new URL(file, DIR), "utf8")) as {
      target: string;
      detail: string;
      reproducer: unknown;
    };
    it(`${file}: ${saved.detail}`, async () => {
      const target = TARGETS[saved.target];
      expect(target, `target ${saved.target}`).toBeDefined();
      const r = await target!.replay(saved.reproducer, { modes: ALL_MODES, wallMs: 60_000 });
      expect(r.verdict, r.detail).toBe("ok");
    });
  }
});
