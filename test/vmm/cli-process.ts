// Helpers for the tests that run `npm start` as a user would: a child process with stdin an open
// pipe (a closed stdin quits the CLI), and tiny Multiboot kernels built from raw code.

import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { type AddressInfo, createServer } from "node:net";

const ROOT = new URL("../../", import.meta.url).pathname;

export interface CliProcess {
  child: ChildProcessWithoutNullStreams;
  /** What the process printed so far. */
  output: { stdout: string; stderr: string };
  /** Resolves with the exit status. */
  exited: Promise<number | null>;
}

/** Starts the CLI with `args`; stdin stays open until the test writes to or ends it. */
export function spawnCli(args: string[]): CliProcess {
  const child = spawn(process.execPath, ["--import", "tsx", "vmm/node/cli.ts", ...args], {
    cwd: ROOT,
    stdio: ["pipe", "pipe", "pipe"],
  });
  const output = { stdout: "", stderr: "" };
  child.stdout.on("data", (d) => {
    output.stdout += d;
  });
  child.stderr.on("data", (d) => {
    output.stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  return { child, output, exited };
}

/** A Multiboot a.out-kludge kernel loaded at 1 MiB whose code follows the 32-byte header. */
export function multibootKernel(code: number[]): Uint8Array {
  const LOAD = 0x100000;
  const flags = 0x10000;
  const words = [0x1badb002, flags, -(0x1badb002 + flags) >>> 0, LOAD, LOAD, 0, 0, LOAD + 32];
  const img = new Uint8Array(32 + code.length);
  const dv = new DataView(img.buffer);
  for (const [i, w] of words.entries()) dv.setUint32(i * 4, w, true);
  img.set(code, 32);
  return img;
}

/** A loopback TCP port free a moment ago. */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const p = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return p;
}
