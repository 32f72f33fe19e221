// `npm start` with the virtualization flags: bad combinations are refused with a one-line error
// and exit status 2; --stats prints the crossings the run made, by kind and reason.

import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

const ROOT = new URL("../../", import.meta.url).pathname;

function start(args: string[]) {
  return spawnSync(process.execPath, ["--import", "tsx", "vmm/node/cli.ts", ...args], {
    cwd: ROOT,
    input: "",
    encoding: "utf8",
    timeout: 60_000,
  });
}

describe("npm start --mode/--mmu/--stats", () => {
  it("refuses an unknown mode and a mode/MMU pair that does not exist", () => {
    const bad = start(["--mode", "turbo"]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--mode turbo: use native, trap, bt, hvm, pv/);
    const noEpt = start(["--mode", "bt", "--mmu", "ept"]);
    expect(noEpt.status).toBe(2);
    expect(noEpt.stderr).toMatch(/shadow page tables/);
  });

  it("boots under hvm and prints the exits it took with --stats", () => {
    const r = start(["--mode", "hvm", "--stats", "--max-instructions", "3000000"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("mode: hvm (memory: ept)");
    // The kernel's first million instructions touch fresh guest-physical pages: EPT violations.
    expect(r.stdout).toMatch(/exit 48 EPT violation\s+[\d,]+\s+0\s+[\d,]+/);
    expect(r.stdout).toMatch(/modeled, pentium4-2006\s+[\d,]+ cycles/);
    expect(r.stdout).toMatch(/Measured host time \(this emulator on this host, not modeled\)/);
    // The device side of the crossings, per device (none yet: the kernel is still decompressing).
    expect(r.stdout).toMatch(/device accesses \(port and MMIO, by owner\):\r\nno device accesses/);
  });
});
