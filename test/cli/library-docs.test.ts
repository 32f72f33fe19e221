// The examples of docs/library.md run as written: each ```ts block, with the package name
// pointing at this checkout's library entry, in its own process.

import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = new URL("../../", import.meta.url).pathname;
const dir = mkdtempSync(join(ROOT, "build", "library-docs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const blocks = [...readFileSync(join(ROOT, "docs/library.md"), "utf8").matchAll(/```ts\n([\s\S]*?)```/g)].map(
  (m) => m[1]!,
);

function run(file: string): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", file], { cwd: ROOT });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      out += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 100_000);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, out });
    });
  });
}

describe("docs/library.md", () => {
  it("has examples", () => {
    expect(blocks.length).toBeGreaterThanOrEqual(2);
  });

  it.each(blocks.map((b, i) => [i + 1, b] as const))(
    "example %i runs",
    async (i, block) => {
      const file = join(dir, `example-${i}.ts`);
      writeFileSync(file, block.replaceAll('"x86-hypervisor-lab"', JSON.stringify(join(ROOT, "vmm/lib/node.ts"))));
      const r = await run(file);
      expect(r.out).not.toMatch(/Error/);
      expect(r.status).toBe(0);
      expect(r.out.length).toBeGreaterThan(0);
    },
    120_000,
  );
});
