// Bad command-line input and bad files (issue 8): every flag's value is checked with a one-line
// error and exit status 2, files are checked for type and size before a byte is read (a FIFO
// would block, /dev/zero never ends), and an idle guest still ends under --max-instructions.

import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseArgs, parseInstructionCount, parseMemSize } from "../../vmm/node/args.js";
import { UserInputError } from "../../vmm/node/files.js";
import { multibootKernel, spawnCli } from "./cli-process.js";

const dir = mkdtempSync(join(tmpdir(), "x86lab-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `npm start` to its end (stdin open, never closed), killing it after `timeoutMs`. */
async function start(args: string[], timeoutMs = 30_000): Promise<Result> {
  const t0 = performance.now();
  const { child, output, exited } = spawnCli(args);
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const status = await exited;
  clearTimeout(timer);
  return { status, stdout: output.stdout, stderr: output.stderr, ms: performance.now() - t0 };
}

function expectOneLineError(r: Result, pattern: RegExp): void {
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr.trim().split("\n")).toHaveLength(1);
  expect(r.stderr).not.toMatch(/^\s+at /m);
}

describe("npm start: flag values", () => {
  const refuses = (argv: string[], pattern: RegExp) => {
    expect(() => parseArgs(argv)).toThrow(UserInputError);
    expect(() => parseArgs(argv)).toThrow(pattern);
  };

  it("reads -m as QEMU does (MiB by default, M and G suffixes) and refuses anything else", () => {
    expect(parseMemSize("128")).toBe(128);
    expect(parseMemSize("128M")).toBe(128);
    expect(parseMemSize("2G")).toBe(2048);
    expect(parseMemSize("1.5g")).toBe(1536);
    expect(parseMemSize("size=256m")).toBe(256);
    for (const bad of ["64G", "100x", "", "0x40", "12", "64 M", "-64", "1.0000001G", "Infinity"]) {
      expect(() => parseMemSize(bad)).toThrow(UserInputError);
    }
    refuses(["-m", "64G"], /-m 64G: give 16 to 3072 MiB/);
    refuses(["-m", "100x"], /-m 100x: give a size in MiB/);
  });

  it("takes the same -m range under every mode (the frame table covers all 4 GiB)", () => {
    for (const mode of ["native", "trap", "bt", "hvm", "pv"]) {
      expect(parseArgs(["-m", "513", "--mode", mode]).memMiB).toBe(513);
      expect(parseArgs(["-m", "3G", "--mode", mode]).memMiB).toBe(3072);
    }
  });

  it("takes --max-instructions as a positive whole number", () => {
    expect(parseInstructionCount("--max-instructions", "5000000")).toBe(5_000_000);
    for (const bad of ["abc", "0", "-5", "1.5", "1e6", "", "99999999999999999999"]) {
      expect(() => parseInstructionCount("--max-instructions", bad)).toThrow(UserInputError);
    }
    refuses(["--max-instructions", "abc"], /--max-instructions abc: give a positive whole number/);
  });

  it("says in one line what is wrong with other flags", () => {
    refuses(["-serial", "tcp:1"], /use stdio, none or file:PATH/);
    refuses(["-boot", "xyz"], /use drive letters/);
    refuses(["--clock", "fast"], /use icount or realtime/);
    refuses(["-kernel"], /-kernel needs a value/);
    refuses(["--bogus"], /unknown option '--bogus'/);
    for (const argv of [["--bogus"], ["-kernel"]]) {
      try {
        parseArgs(argv);
      } catch (err) {
        expect((err as Error).message).not.toContain("\n");
      }
    }
  });

  it("boots -m 513 under hvm, bt and pv (it once died with a RangeError and a stack trace)", async () => {
    const runs = await Promise.all(
      ["hvm", "bt", "pv"].map((mode) => start(["-m", "513", "--mode", mode, "--max-instructions", "3000000"])),
    );
    for (const r of runs) {
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
    }
  }, 60_000);

  it("exits with status 2 and no stack trace for a bad value", async () => {
    expectOneLineError(await start(["--max-instructions", "abc"]), /--max-instructions abc/);
  }, 60_000);
});

describe("npm start: files are checked before they are read", () => {
  it("refuses a FIFO as -kernel, -initrd, -hda and -serial file: without blocking", async () => {
    const fifo = join(dir, "fifo");
    execFileSync("mkfifo", [fifo]);
    const kernel = join(dir, "idle.bin");
    writeFileSync(kernel, multibootKernel([0xf4]));
    const runs = await Promise.all([
      start(["-kernel", fifo], 20_000),
      start(["-kernel", kernel, "-initrd", fifo], 20_000),
      start(["-hda", fifo], 20_000),
      start(["-kernel", kernel, "-serial", `file:${fifo}`], 20_000),
    ]);
    expectOneLineError(runs[0], /kernel '.*fifo' is a FIFO, not a regular file/);
    expectOneLineError(runs[1], /initrd '.*fifo' is a FIFO, not a regular file/);
    expectOneLineError(runs[2], /disk image '.*fifo' is a FIFO, not a regular file/);
    expectOneLineError(runs[3], /-serial file:.*fifo: ENXIO/);
  }, 60_000);

  it("refuses /dev/zero as -kernel and an initrd larger than the guest's RAM", async () => {
    const big = join(dir, "big-initrd");
    writeFileSync(big, "");
    truncateSync(big, 65 * 2 ** 20); // sparse: nothing is written
    const [zero, initrd] = await Promise.all([start(["-kernel", "/dev/zero"]), start(["-m", "64", "-initrd", big])]);
    expectOneLineError(zero, /kernel '\/dev\/zero' is a character device, not a regular file/);
    expectOneLineError(initrd, /initrd '.*' is 68157440 bytes; the guest's RAM \(-m 64\) \(64 MiB\) is the most/);
  }, 60_000);
});

describe("npm start: an idle guest ends under --max-instructions", () => {
  const limitLine = /\[x86lab: stopped after 200000000 instructions and idle time \(--max-instructions\)\]/;

  it("STI; HLT with no timer (icount and realtime): wall time waited counts as virtual time", async () => {
    const kernel = join(dir, "sti-hlt.bin");
    writeFileSync(kernel, multibootKernel([0xfb, 0xf4, 0xeb, 0xfd])); // sti; hlt; jmp hlt
    const runs = await Promise.all(
      ["icount", "realtime"].map((clock) =>
        start(["-kernel", kernel, "--clock", clock, "--max-instructions", "200000000"]),
      ),
    );
    for (const r of runs) {
      expect(r.stdout).toMatch(limitLine);
      expect(r.status).toBe(0);
      // 200 M instructions' worth of idle time is 0.2 s of waiting (1 ns each) plus start-up.
      expect(r.ms).toBeLessThan(15_000);
    }
  }, 60_000);

  it("SeaBIOS after 'No bootable device.' (an empty disk)", async () => {
    const disk = join(dir, "empty.img");
    writeFileSync(disk, new Uint8Array(1 << 20));
    const r = await start(["-hda", disk, "--max-instructions", "400000000"], 40_000);
    expect(r.stdout).toContain("No bootable device.");
    expect(r.stdout).toMatch(/\[x86lab: stopped after 400000000 instructions/);
    expect(r.status).toBe(0);
  }, 60_000);
});
