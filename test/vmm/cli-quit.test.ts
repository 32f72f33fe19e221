// Ctrl-A X ends `npm start` within a bounded wall time whatever the guest does (issue 8): here a
// guest in `rep insb` with ECX = 0xFFFFFFFF, which once ran inside a single step for minutes so
// that host input was never looked at. Stdin is a pipe kept open until the keys are sent (a
// closed stdin quits the CLI by itself).

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { multibootKernel, spawnCli } from "./cli-process.js";

const dir = mkdtempSync(join(tmpdir(), "x86lab-quit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// mov al,'R'; out 0xe9,al (the guest runs); mov edi,0x200000; mov ecx,0xffffffff; mov dx,0x80;
// rep insb; hlt
const REP_INSB = [
  0xb0, 0x52, 0xe6, 0xe9, 0xbf, 0, 0, 0x20, 0, 0xb9, 0xff, 0xff, 0xff, 0xff, 0x66, 0xba, 0x80, 0, 0xf3, 0x6c, 0xf4,
];

/** Waits until `get()` matches `re`, polling; fails after `ms` with what it got. */
async function waitFor(get: () => string, re: RegExp, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!re.test(get())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${re} in:\n${get()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Starts the CLI on the kernel; once the guest has said it runs (and is in the loop, which 4 G
 * iterations keep it in for far longer than the test runs), asks the monitor for the registers,
 * then sends Ctrl-A X. Resolves with what happened and how long the quit took. (Waiting on the
 * guest's byte rather than a fixed time: tsx's start takes seconds more on a busy machine.)
 */
async function quitDuringRun(kernel: string, mode: string) {
  const { child, output, exited } = spawnCli(["-kernel", kernel, "--mode", mode, "-debugcon", "stdio"]);
  await waitFor(() => output.stdout, /^R/);
  const runningWhenSent = child.exitCode === null;
  // The monitor shows where the guest is (the monitor stops the run while it is open).
  child.stdin.write(Buffer.from("\x01cinfo registers\r"));
  await waitFor(() => output.stdout, /ECX=[0-9a-f]{8}/);
  const sent = performance.now();
  child.stdin.write(Uint8Array.of(0x01, 0x78));
  const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  const status = await exited;
  clearTimeout(killer);
  return { runningWhenSent, status, ...output, quitMs: performance.now() - sent };
}

describe("npm start: Ctrl-A X", () => {
  it("quits during rep insb with ECX = 0xFFFFFFFF (native, bt, hvm)", async () => {
    const kernel = join(dir, "rep-insb.bin");
    writeFileSync(kernel, multibootKernel(REP_INSB));
    const runs = await Promise.all(["native", "bt", "hvm"].map((mode) => quitDuringRun(kernel, mode)));
    for (const r of runs) {
      expect(r.runningWhenSent).toBe(true);
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect(r.stdout).toContain("[x86lab: quit]");
      expect(r.quitMs).toBeLessThan(3000);
      // Stopped inside the instruction: EIP still at the REP (load address + 32 + 18), ECX
      // counted down part of the way.
      expect(r.stdout).toMatch(/EIP=00100032/);
      const ecx = Number.parseInt(/ECX=([0-9a-f]{8})/.exec(r.stdout)?.[1] ?? "0", 16);
      expect(ecx).toBeGreaterThan(0);
      expect(ecx).toBeLessThan(0xffffffff);
    }
  }, 30_000);
});
