// The floors of the core (docs/architecture.md, "Floors of the core"): a file imports only from
// its own floor or below. The upward imports that remain are listed here and in the doc; a new
// one fails this test.

import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { describe, expect, it } from "vitest";

const GROUND = ["cpu/state.ts", "cpu/fault.ts", "cpu/flags.ts", "cpu/rep.ts", "virt/events.ts", "virt/vmx.ts"];

/** The floor of a file, by its path under core/. */
function floor(file: string): number {
  if (file.startsWith("generated/") || file.startsWith("layout/") || file === "host.ts") return 0;
  if (GROUND.includes(file)) return 1;
  if (file.startsWith("mmu/")) return 2;
  if (file === "cpu/interp.ts") return 5;
  if (file === "run.ts") return 7;
  if (file.startsWith("cpu/") || file.startsWith("fpu/")) return 3;
  if (file === "virt/setup.ts" || file === "index.ts") return 7;
  if (file.startsWith("virt/")) return 4;
  if (file.startsWith("bt/") || file.startsWith("jit/")) return 6;
  throw new Error(`core/${file} has no floor: add it to docs/architecture.md and this test`);
}

/** Upward imports that remain until the files the JIT work reshapes change (see the doc). */
const KNOWN_UPWARD = new Set([
  "virt/vmx.ts -> cpu/decode.ts",
  "mmu/ept.ts -> cpu/decode.ts",
  "mmu/ept-exits.ts -> cpu/decode.ts",
  "virt/exits.ts -> cpu/interp.ts",
  "virt/trap.ts -> cpu/interp.ts",
  "mmu/tlb.ts -> virt/trap.ts",
]);

function sources(dir: string, base = dir): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sources(path, base));
    else if (name.endsWith(".ts")) out.push(path.slice(base.length + 1));
  }
  return out;
}

function imports(file: string): string[] {
  const text = readFileSync(join("core", file), "utf8");
  const out: string[] = [];
  for (const m of text.matchAll(/^(?:import|export)\s[^;]*?from\s+"(\.[^"]+)"/gm))
    out.push(normalize(join(dirname(file), `${m[1]}.ts`)));
  return out;
}

describe("floors of the core", () => {
  it("no file imports from a higher floor, except the listed ones", () => {
    const files = sources("core").filter((f) => !f.startsWith("generated/"));
    expect(files.length).toBeGreaterThan(50);
    const upward: string[] = [];
    for (const f of files) for (const to of imports(f)) if (floor(to) > floor(f)) upward.push(`${f} -> ${to}`);
    expect(upward.filter((e) => !KNOWN_UPWARD.has(e))).toEqual([]);
    // The two edges this floor plan removed stay removed.
    expect(imports("cpu/control.ts").filter((f) => f.startsWith("virt/"))).toEqual([]);
    expect(imports("cpu/state.ts")).toEqual(["generated/layout.ts"]);
  });
});
