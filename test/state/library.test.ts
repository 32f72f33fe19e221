// The library's save() and restore(): a machine saved while it runs restores into a second one
// created with the same options, which goes on from there.

import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { createVm, VmStateError } from "../../vmm/lib/index.js";
import { multibootKernel } from "../vmm/cli-process.js";

const wasm = readFileSync(new URL("../../build/core.wasm", import.meta.url));
// At 0x100020: inc eax; jmp back (counts for ever).
const kernel = multibootKernel([0x40, 0xeb, 0xfd]);

it("save() and restore() through the library", async () => {
  const a = await createVm({ wasm, kernel, memoryMiB: 16, sampleMs: 0 });
  void a.run();
  await new Promise((r) => setTimeout(r, 50));
  a.pause();
  const file = await a.save();
  const eax = a.machine.vm.cpu.reg(0);
  expect(eax).toBeGreaterThan(0);
  const b = await createVm({ wasm, kernel, memoryMiB: 16, sampleMs: 0 });
  await b.restore(file);
  expect(b.machine.vm.cpu.reg(0)).toBe(eax);
  expect(b.stats().instructions).toBe(a.stats().instructions);
  const c = await createVm({ wasm, kernel, memoryMiB: 32, sampleMs: 0 });
  await expect(c.restore(file)).rejects.toThrow(VmStateError);
  a.stop();
});
