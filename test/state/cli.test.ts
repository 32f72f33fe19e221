// The command line's side: the monitor's migrate file:PATH writes a saved VM, -incoming
// file:PATH starts from it, savevm with -state-dir keeps a state that -loadvm starts from, and a
// state that does not fit the command line's machine is a one-line error with status 2.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { multibootKernel, spawnCli } from "../vmm/cli-process.js";

const dir = mkdtempSync(join(tmpdir(), "x86lab-state-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// inc ebx; jmp back: EBX counts as the guest runs.
const kernel = join(dir, "count.bin");
writeFileSync(kernel, multibootKernel([0x43, 0xeb, 0xfd]));

const ebx = (text: string) => [...text.matchAll(/EBX=([0-9a-f]{8})/g)].map((m) => m[1]);

it("migrate file:PATH, -incoming file:PATH, savevm and -loadvm", async () => {
  const file = join(dir, "vm.x86vm");
  const states = join(dir, "states");
  const first = spawnCli(["-kernel", kernel, "-monitor", "stdio", "-state-dir", states]);
  first.child.stdin.write(`stop\ninfo registers\nmigrate file:${file}\nsavevm one\ninfo snapshots\nquit\n`);
  expect(await first.exited).toBe(0);
  const saved = ebx(first.output.stdout)[0];
  expect(saved).toBeDefined();
  expect(saved).not.toBe("00000000");
  expect(first.output.stdout).toMatch(/\n1 +one +[\d.]+ KiB /);

  const second = spawnCli(["-kernel", kernel, "-monitor", "stdio", "-S", "-incoming", `file:${file}`]);
  second.child.stdin.write("info registers\nquit\n");
  expect(await second.exited).toBe(0);
  expect(ebx(second.output.stdout)[0]).toBe(saved);

  const third = spawnCli(["-kernel", kernel, "-monitor", "stdio", "-S", "-state-dir", states, "-loadvm", "one"]);
  third.child.stdin.write("info registers\nquit\n");
  expect(await third.exited).toBe(0);
  expect(ebx(third.output.stdout)[0]).toBe(saved);

  const other = spawnCli(["-kernel", kernel, "-m", "96", "-monitor", "stdio", "-S", "-incoming", `file:${file}`]);
  other.child.stdin.end();
  expect(await other.exited).toBe(2);
  expect(other.output.stderr).toMatch(/x86lab: saved VM is from a different machine configuration:\n {2}ramBytes/);
}, 60_000);
