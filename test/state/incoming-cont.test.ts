// `cont` on a destination still waiting for its migration (-incoming tcp:, -S). QEMU's qmp_cont
// does not start the guest there (it would run the command line's kernel, not the source's
// guest): it turns autostart on, so the guest runs once the migration is in. Before that the
// status is "paused (inmigrate)" and the CPU has not moved; afterwards the guest runs although
// -S was given. Without the `cont`, -S keeps it paused (the live-migration test covers that).

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { type CliProcess, freePort, multibootKernel, spawnCli } from "../vmm/cli-process.js";

const dir = mkdtempSync(join(tmpdir(), "x86lab-incoming-cont-"));
const children: CliProcess[] = [];
afterAll(() => {
  for (const c of children) c.child.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});
// inc ebx; jmp back: EBX counts as the guest runs.
const kernel = join(dir, "count.bin");
writeFileSync(kernel, multibootKernel([0x43, 0xeb, 0xfd]));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(p: CliProcess, pattern: RegExp, from: number, ms = 60_000): Promise<string> {
  const end = Date.now() + ms;
  while (!pattern.test(p.output.stdout.slice(from))) {
    if (Date.now() > end) throw new Error(`no ${pattern}; stdout:\n${p.output.stdout}\nstderr:\n${p.output.stderr}`);
    await sleep(50);
  }
  return p.output.stdout.slice(from);
}

it("cont while waiting for an incoming migration: not run now, run once the migration is in", async () => {
  const port = await freePort();
  const vm = ["-kernel", kernel, "-m", "16", "-monitor", "stdio"];
  const dest = spawnCli([...vm, "-S", "-incoming", `tcp:127.0.0.1:${port}`]);
  children.push(dest);
  while (!dest.output.stderr.includes("waiting for a migration")) await sleep(50);
  dest.child.stdin.write("info status\ncont\ninfo status\ninfo registers\n");
  const waiting = await until(dest, /EBX=/, 0);
  expect(waiting.match(/VM status: paused \(inmigrate\)/g)).toHaveLength(2);
  // Still at the kernel's entry with the loader's EBX (the Multiboot information).
  expect(waiting).toMatch(/EIP=00100020 /);
  const loaderEbx = /EBX=([0-9a-f]{8})/.exec(waiting)![1];
  await sleep(500);
  const mark = dest.output.stdout.length;
  dest.child.stdin.write("info registers\n");
  const later = await until(dest, /EIP=/, mark);
  expect(later).toMatch(/EIP=00100020 /);
  expect(later).toContain(`EBX=${loaderEbx}`);

  const source = spawnCli(vm);
  children.push(source);
  source.child.stdin.write(`migrate tcp:127.0.0.1:${port}\ninfo status\n`);
  await until(source, /VM status: paused \(postmigrate\)/, 0);
  while (!dest.output.stderr.includes("migration in:")) await sleep(50);
  const from = dest.output.stdout.length;
  dest.child.stdin.write("info status\n");
  expect(await until(dest, /VM status: \w+/, from)).toMatch(/VM status: running/);
  // The guest counts on from where the source stopped.
  const regs = () => {
    const at = dest.output.stdout.length;
    dest.child.stdin.write("info registers\n");
    return until(dest, /EBX=[0-9a-f]{8}/, at).then((t) => Number.parseInt(/EBX=([0-9a-f]{8})/.exec(t)![1]!, 16));
  };
  const a = await regs();
  await sleep(300);
  expect(await regs()).toBeGreaterThan(a);
  source.child.stdin.write("quit\n");
  dest.child.stdin.write("quit\n");
  expect(await dest.exited).toBe(0);
}, 90_000);
