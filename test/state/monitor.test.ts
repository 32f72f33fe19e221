// The monitor's savevm, loadvm, delvm and info snapshots on a stopped machine.

import { expect, it } from "vitest";
import { loadKernel } from "../../vmm/boot/kernel.js";
import { Machine } from "../../vmm/lib/machine.js";
import { Monitor } from "../../vmm/monitor/monitor.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { Vm } from "../../vmm/vm.js";
import { multibootKernel } from "../vmm/cli-process.js";

// At 0x100020: inc eax; jmp back (counts for ever).
const COUNT = [0x40, 0xeb, 0xfd];

it("savevm, info snapshots, loadvm and delvm", async () => {
  const machine = await Machine.create(
    async (io) => {
      const vm = await Vm.create({ module: loadCoreModule(), ramBytes: 16 << 20, ...io });
      loadKernel(vm.cpu, multibootKernel(COUNT), undefined, "");
      return vm;
    },
    { startPaused: true },
  );
  const written = new Map<string, Uint8Array>();
  const monitor = new Monitor(machine, {
    quit: () => {},
    writeBytes: (path, data) => {
      if (path.startsWith("/nonexistent/")) throw new Error(`ENOENT: no such file or directory, open '${path}'`);
      written.set(path, data);
    },
  });
  machine.vm.run(1000);
  const eax = machine.vm.cpu.reg(0);
  expect(await monitor.execute("info snapshots")).toBe("There is no snapshot available.\n");
  expect(await monitor.execute("savevm first")).toBe("");
  expect(await monitor.execute("info snapshots")).toMatch(
    /^List of snapshots present on all disks:\nID +TAG +VM SIZE +DATE +VM CLOCK +ICOUNT\n1 +first +[\d.]+ (KiB|MiB) +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +\d\d:\d\d:\d\d\.\d{3}/,
  );
  machine.vm.run(1000);
  expect(machine.vm.cpu.reg(0)).not.toBe(eax);
  expect(await monitor.execute("loadvm first")).toBe("");
  expect(machine.vm.cpu.reg(0)).toBe(eax);
  expect(await monitor.execute("loadvm other")).toMatch(/no state named 'other'/);
  expect(await monitor.execute("delvm first")).toBe("");
  expect(await monitor.execute("delvm first")).toMatch(/no state named/);
  // migrate file:PATH writes the same kind of file; a path that cannot be written is one line.
  expect(await monitor.execute("migrate file:vm.x86vm")).toBe("");
  expect(new TextDecoder().decode(written.get("vm.x86vm")!.subarray(0, 7))).toBe("X86VMST");
  expect(await monitor.execute("migrate file:/nonexistent/vm")).toMatch(/^migrate: ENOENT/);
  expect(await monitor.execute("migrate tcp:1.2.3.4")).toMatch(/use migrate file:PATH/);
});
