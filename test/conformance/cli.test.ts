// The CLI's contract: one line per file, "N passed, N failed" as the last line, exit status.

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { findSharedConformance, REPO_ROOT } from "./paths.js";

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(REPO_ROOT, "test/conformance/cli.ts"), ...args], {
    cwd: REPO_ROOT,
    encoding: "utf8",
    env: process.env,
  });
  return { status: r.status, lines: r.stdout.trimEnd().split("\n"), stderr: r.stderr };
}

const shared = findSharedConformance();
const sample386 = shared ? join(shared, "sst-80386-sample", "00.MOO") : "";

describe("conformance CLI", () => {
  it.skipIf(!shared || !existsSync(sample386))("prints a line per file and closes with the totals", () => {
    const r = cli(sample386);
    expect(r.lines[0]).toMatch(/00\.MOO: 500 passed, 0 failed, 0 excluded$/);
    expect(r.lines.at(-1)).toBe("500 passed, 0 failed");
    expect(r.status).toBe(0);
  });

  it("exits non-zero on an unexplained failure", () => {
    const dir = mkdtempSync(join(tmpdir(), "conformance-"));
    try {
      const regs = {
        eax: "0x1",
        ecx: "0x0",
        edx: "0x0",
        ebx: "0x1",
        esp: "0x2000ff00",
        ebp: "0x0",
        esi: "0x0",
        edi: "0x0",
      };
      const file = {
        format: "x86-vectors/1",
        env: "pm32-flat-user",
        tests: [
          {
            name: "add eax, ebx (wrong expectation)",
            bytes: "01d8",
            initial: { regs: { ...regs, eflags: "0x202" } },
            final: { regs: { ...regs, eax: "0x3", eflags: "0x202", eip: "0x10000002" }, ram: [] },
            exception: null,
            flags_mask: "0x0",
          },
        ],
      };
      writeFileSync(join(dir, "wrong.json"), JSON.stringify(file));
      const r = cli(dir);
      expect(r.lines.at(-1)).toBe("0 passed, 1 failed");
      expect(r.status).toBe(1);
      expect(cli(join(dir, "missing.json")).status).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
