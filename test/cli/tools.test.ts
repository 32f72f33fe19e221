// The benchmarks and tools share the CLI's parser: --help on stdout with status 0, a bad flag or
// value one line on stderr with status 2 and no stack trace.

import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";

const ROOT = new URL("../../", import.meta.url).pathname;

function run(script: string, args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", script, ...args], { cwd: ROOT });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

const TOOLS: [string, string[], RegExp][] = [
  ["bench/cpu.ts", ["--runs", "x"], /--runs x: give a whole number/],
  ["bench/io.ts", ["--mib", "99"], /--mib 99: give a whole number from 1 to 16/],
  ["bench/profile.ts", ["--top"], /--top needs a value/],
  ["test/conformance/cli.ts", ["--bogus"], /unknown option '--bogus'/],
  ["test/native/generate.ts", ["--scale", "abc"], /--scale abc: give a number/],
  ["vmm/node/jit-diff.ts", ["--mode", "x"], /--mode x: use native, trap, bt, hvm, pv/],
];

describe("the tools' command lines", () => {
  it("print --help on stdout and refuse bad flags in one line with status 2", async () => {
    const results = await Promise.all(
      TOOLS.flatMap(([script, bad, re]) => [
        run(script, ["--help"]).then((r) => ({ script, r, re: /^usage: / })),
        run(script, bad).then((r) => ({ script, r, re })),
      ]),
    );
    for (const { script, r, re } of results) {
      if (re.source === "^usage: ") {
        expect(r.status, script).toBe(0);
        expect(r.stdout, script).toMatch(re);
      } else {
        expect(r.status, script).toBe(2);
        expect(r.stderr, script).toMatch(re);
        expect(r.stderr.trim().split("\n"), script).toHaveLength(1);
      }
    }
  }, 60_000);
});
