// Runs a built-in guest of the page headless in Node, on the same machine the Worker builds
// (web/src/guest-work.ts): the lab tests check each lab step against what this run did.

import { readFileSync } from "node:fs";
import { kernelFormat } from "../../vmm/boot/kernel.js";
import { loadLinux } from "../../vmm/boot/linux.js";
import { loadMultiboot } from "../../vmm/boot/multiboot.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { readCoreStats } from "../../vmm/stats/core-stats.js";
import type { MmuMode, VirtMode } from "../../vmm/virt/vmcs.js";
import { Vm, type VmStop } from "../../vmm/vm.js";
import { diskFor, ScriptTyper } from "../../web/src/guest-work.js";
import { guestById } from "../../web/src/guests.js";
import type { StepRun } from "../../web/src/labs/check.js";
import { diskFigures } from "../../web/src/labs/figures.js";
import { diskAllocation } from "../../web/src/qcow2-view.js";

const ROOT = new URL("../../", import.meta.url);
const file = (path: string) => new Uint8Array(readFileSync(new URL(path, ROOT)));

export interface GuestRun extends StepRun {
  stop: VmStop;
}

/** Boots guest `id` under the mode and runs it until it stops by itself (or `limit` instructions). */
export async function runGuest(id: string, mode: VirtMode, mmu: MmuMode, limit = 4_000_000_000): Promise<GuestRun> {
  const guest = guestById(id);
  if (!guest) throw new Error(`no built-in guest '${id}'`);
  const kernel = file(guest.kernelFile);
  let output = "";
  const typer = new ScriptTyper(guest.work?.script);
  const work = diskFor(guest.work);
  const bootFileBytes = work?.qcow2 ? diskAllocation(work.qcow2.image).fileBytes : 0;
  const vm = await Vm.create({
    module: loadCoreModule(),
    ramBytes: guest.memMiB << 20,
    clock: "icount",
    mode,
    mmu,
    pci: work?.pci,
    onSerial: (com, byte) => {
      if (com !== 1) return;
      output += String.fromCharCode(byte);
      typer.onByte(byte);
    },
  });
  if (kernelFormat(kernel) === "linux") {
    const initrd = guest.initrdFile ? file(guest.initrdFile) : undefined;
    loadLinux(vm.cpu, { kernel, initrd, cmdline: guest.cmdline });
  } else loadMultiboot(vm.cpu, { kernel, cmdline: guest.cmdline });
  let stop: VmStop;
  for (;;) {
    stop = vm.run(20_000_000);
    const script = typer.take();
    if (script) vm.devices.com1.receive(script);
    if (stop.kind !== "limit" || vm.cpu.retired > limit) break;
  }
  const q = work?.qcow2;
  const disk = q ? diskFigures(diskAllocation(q.image), bootFileBytes, q.guestBytesWritten) : undefined;
  return { output, counters: readCoreStats(vm.cpu).counters, stop, disk };
}
