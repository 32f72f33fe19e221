// `npm start` as a user runs it: --help on stdout, bad kernels named precisely with status 2,
// a guest reset reboots unless -no-reboot, a triple fault and isa-debug-exit give the exit
// status, -debugcon shows port 0xE9, and piped stdin drives the guest's shell.

import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { TRIPLE_FAULT_STATUS } from "../../vmm/node/exit-status.js";
import { multibootKernel, spawnCli } from "../vmm/cli-process.js";

const ROOT = new URL("../../", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "x86lab-cli-run-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

async function start(args: string[], input?: string, timeoutMs = 60_000): Promise<Result> {
  const { child, output, exited } = spawnCli(args);
  if (input !== undefined) child.stdin.end(input);
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const status = await exited;
  clearTimeout(timer);
  return { status, ...output };
}

function kernelFile(name: string, code: number[]): string {
  const path = join(dir, name);
  writeFileSync(path, multibootKernel(code));
  return path;
}

function expectOneLineError(r: Result, pattern: RegExp): void {
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr.trim().split("\n")).toHaveLength(1);
}

// mov al,'R'; out 0xe9,al; mov al,0xfe; out 0x64,al (the i8042 pulses reset); hlt
const RESET = [0xb0, 0x52, 0xe6, 0xe9, 0xb0, 0xfe, 0xe6, 0x64, 0xf4];
// lidt [0x100028] (a zero-limit IDT); int3 -> #GP -> #DF -> shutdown; the 6 zero bytes follow
const TRIPLE = [0x0f, 0x01, 0x1d, 0x28, 0x00, 0x10, 0x00, 0xcc, 0, 0, 0, 0, 0, 0];
// mov al,5; out 0xf4,al; hlt
const DEBUG_EXIT = [0xb0, 0x05, 0xe6, 0xf4, 0xf4];

describe("npm start: help and bad kernels", () => {
  it("prints --help on stdout with status 0", async () => {
    const r = await start(["--help"]);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/^usage: npm start -- \[options\]/);
    expect(r.stdout).toContain("-no-reboot");
  });

  it("names an empty kernel, a truncated bzImage, a vmlinux-like ELF and trap mode with Linux", async () => {
    const empty = join(dir, "empty");
    writeFileSync(empty, "");
    const bz = readFileSync(join(ROOT, "guests/linux/bzImage"));
    const half = join(dir, "half-bzImage");
    writeFileSync(half, bz.subarray(0, bz.length >> 1));
    const elf = join(dir, "vmlinux");
    writeFileSync(elf, Uint8Array.from([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1, ...new Array(100).fill(0)]));
    const emptyInitrd = join(dir, "empty.cpio");
    writeFileSync(emptyInitrd, "");
    const [e, t, v, trap, ei] = await Promise.all([
      start(["-kernel", empty]),
      start(["-kernel", half]),
      start(["-kernel", elf]),
      start(["--mode", "trap"]),
      start(["-initrd", emptyInitrd]),
    ]);
    expectOneLineError(e, /kernel '.*empty' is empty \(0 bytes\)/);
    expectOneLineError(t, new RegExp(`is truncated: its header says \\d+ bytes .*the file has ${bz.length >> 1}`));
    expectOneLineError(v, /an ELF file without a Multiboot header \(a vmlinux\? boot the bzImage\)/);
    expectOneLineError(trap, /--mode trap runs the lab kernels .* not Linux.*use --mode bt, hvm or pv/);
    expectOneLineError(ei, /initrd '.*empty.cpio' is empty/);
  }, 60_000);
});

/** A Multiboot a.out-kludge kernel loaded at `load` (below 1 MiB too) whose code follows the header. */
function multibootAt(load: number, code: number[]): Uint8Array {
  const flags = 0x10000;
  const words = [0x1badb002, flags, -(0x1badb002 + flags) >>> 0, load, load, 0, 0, load + 32];
  const img = new Uint8Array(32 + code.length);
  for (const [i, w] of words.entries()) new DataView(img.buffer).setUint32(i * 4, w, true);
  img.set(code, 32);
  return img;
}

// Prints the Multiboot command line (info + 16) on port 0xE9, then cli; hlt.
const PRINT_CMDLINE = [0x8b, 0x73, 0x10, 0x8a, 0x06, 0x84, 0xc0, 0x74, 0x05, 0xe6, 0xe9, 0x46, 0xeb, 0xf5, 0xfa, 0xf4];

describe("npm start: Multiboot kernels as GRUB and QEMU load them", () => {
  it("loads a kernel at 64 KiB and passes 'kernel-path args' as its command line", async () => {
    const path = join(dir, "low.bin");
    writeFileSync(path, multibootAt(0x10000, PRINT_CMDLINE));
    const [withArgs, bare] = await Promise.all([
      start(["-kernel", path, "-append", "hello world", "-debugcon", "stdio"], ""),
      start(["-kernel", path, "-debugcon", "stdio"], ""),
    ]);
    expect(withArgs.stderr).toBe("");
    expect(withArgs.status).toBe(0);
    expect(withArgs.stdout).toMatch(new RegExp(`^${path} hello world\r\nguest halted`));
    expect(bare.stdout).toMatch(new RegExp(`^${path}\r\nguest halted`));
  }, 60_000);

  it("refuses a segment over the EBDA, VGA and BIOS area", async () => {
    const path = join(dir, "vga.bin");
    writeFileSync(path, multibootAt(0xa0000, PRINT_CMDLINE));
    expectOneLineError(await start(["-kernel", path]), /overlaps the EBDA, VGA and BIOS area \(0x9FC00-0xFFFFF\)/);
  }, 30_000);

  it("logs POST codes and the reset state with -d post,cpu_reset -D FILE", async () => {
    const log = join(dir, "d.log");
    // mov al,0x42; out 0x80,al; cli; hlt
    const r = await start(
      ["-kernel", kernelFile("post.bin", [0xb0, 0x42, 0xe6, 0x80, 0xfa, 0xf4]), "-d", "post,cpu_reset", "-D", log],
      "",
    );
    expect(r.status).toBe(0);
    const text = readFileSync(log, "utf8");
    expect(text).toMatch(/CPU Reset \(CPU 0\)\nEAX=2badb002/);
    expect(text).toContain("POST code 0x42");
  }, 30_000);
});

describe("npm start: how a run ends", () => {
  it("reboots on a guest reset, and with -no-reboot ends with 'guest reset'", async () => {
    const k = kernelFile("reset.bin", RESET);
    const [again, once] = await Promise.all([
      start(["-kernel", k, "-debugcon", "stdio", "--max-instructions", "100"], ""),
      start(["-kernel", k, "-debugcon", "stdio", "-no-reboot"], ""),
    ]);
    expect(again.status).toBe(0);
    // Each boot prints one R: at 5 instructions a boot, many boots fit in 100.
    expect((again.stdout.match(/R/g) ?? []).length).toBeGreaterThan(10);
    expect(once.status).toBe(0);
    expect(once.stdout).toMatch(/^R\r\nguest reset \(i8042; -no-reboot\)/);
  }, 60_000);

  it("says 'triple fault' with a non-zero status, and follows isa-debug-exit", async () => {
    const [tf, de] = await Promise.all([
      start(["-kernel", kernelFile("triple.bin", TRIPLE)], ""),
      start(["-kernel", kernelFile("exit.bin", DEBUG_EXIT), "-device", "isa-debug-exit,iobase=0xf4"], ""),
    ]);
    expect(tf.status).toBe(TRIPLE_FAULT_STATUS);
    expect(tf.stdout).toMatch(/guest shutdown \(triple fault\)/);
    expect(de.status).toBe(11);
  }, 60_000);

  it("logs exceptions (-d int) and VM exits (-d exits)", async () => {
    const intLog = join(dir, "int.log");
    const exitLog = join(dir, "exits.log");
    await Promise.all([
      start(["-kernel", kernelFile("triple2.bin", TRIPLE), "-d", "int", "-D", intLog], ""),
      start(
        ["-kernel", kernelFile("reset3.bin", RESET), "--mode", "hvm", "-no-reboot", "-d", "exits", "-D", exitLog],
        "",
      ),
    ]);
    expect(readFileSync(intLog, "utf8")).toMatch(/exceptions at insn \d+: #13 x\d+; last: vector \d+/);
    expect(readFileSync(exitLog, "utf8")).toMatch(/exit #1 exit .*eip=0x10002/);
  }, 60_000);

  it("writes the debug console to a file with -device isa-debugcon,chardev=file:", async () => {
    const log = join(dir, "debugcon.txt");
    const r = await start(
      [
        "-kernel",
        kernelFile("reset2.bin", RESET),
        "-device",
        `isa-debugcon,iobase=0xe9,chardev=file:${log}`,
        "-no-reboot",
      ],
      "",
    );
    expect(r.status).toBe(0);
    expect(readFileSync(log, "utf8")).toBe("R");
  }, 60_000);

  it("feeds piped stdin to the guest's shell and keeps running after its end", async () => {
    // stdin ends at once: the guest still boots, and the command reaches its shell.
    const child = spawn(process.execPath, ["--import", "tsx", "vmm/node/cli.ts", "--max-instructions", "700000000"], {
      cwd: ROOT,
      stdio: ["pipe", "pipe", "pipe"],
    });
    child.stdin.end("uname -a\n");
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    const status = await new Promise((r) => child.on("close", r));
    expect(status).toBe(0);
    expect(out).toMatch(/# uname -a\r?\nLinux tiny [^\n]* i686 GNU\/Linux/);
  }, 120_000);
});
