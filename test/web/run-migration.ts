// Runs a lab step that migrates its guest (format.ts `migrate`) headless in Node: the built-in
// guest boots on one Machine, and once it prints the step's `when` it migrates to a second
// Machine built from the same guest, over an in-memory channel pair, with the step's parameters
// (the same OutgoingMigration and receiveMigration the page's Workers and the CLI use); then the
// step's `after` is typed on the destination, whose run ends when the guest reboots.

import { readFileSync } from "node:fs";
import { kernelFormat } from "../../vmm/boot/kernel.js";
import { loadLinux } from "../../vmm/boot/linux.js";
import { type BuildVm, Machine } from "../../vmm/lib/machine.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { receiveMigration } from "../../vmm/state/incoming.js";
import { OutgoingMigration } from "../../vmm/state/outgoing.js";
import { readCoreStats } from "../../vmm/stats/core-stats.js";
import type { MmuMode, VirtMode } from "../../vmm/virt/vmcs.js";
import { Vm } from "../../vmm/vm.js";
import { diskFor, ScriptTyper } from "../../web/src/guest-work.js";
import { guestById } from "../../web/src/guests.js";
import { migrationFigures } from "../../web/src/labs/figures.js";
import type { StepMigration } from "../../web/src/labs/format.js";
import { migrationParameters } from "../../web/src/labs/session.js";
import { memoryChannelPair } from "../state/memory-channel.js";
import type { GuestRun } from "./run-guest.js";

const ROOT = new URL("../../", import.meta.url);
const file = (path: string) => new Uint8Array(readFileSync(new URL(path, ROOT)));

const until = async (what: string, ok: () => boolean, ms: number) => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

export async function runMigratingGuest(
  id: string,
  mode: VirtMode,
  mmu: MmuMode,
  spec: StepMigration,
): Promise<GuestRun> {
  const guest = guestById(id);
  if (!guest) throw new Error(`no built-in guest '${id}'`);
  const module = loadCoreModule();
  const kernel = file(guest.kernelFile);
  if (kernelFormat(kernel) !== "linux") throw new Error(`${id}: a migrating step needs a Linux guest`);
  const initrd = guest.initrdFile ? file(guest.initrdFile) : undefined;
  const build: BuildVm = async (io) => {
    const vm = await Vm.create({
      module,
      ramBytes: guest.memMiB << 20,
      clock: "icount",
      mode,
      mmu,
      pci: diskFor(guest.work)?.pci,
      onSerial: io.onSerial,
    });
    loadLinux(vm.cpu, { kernel, initrd, cmdline: guest.cmdline });
    return vm;
  };
  let output = "";
  const typer = new ScriptTyper(guest.work?.script);
  const source = await Machine.create(build, { noReboot: true });
  source.on("serial", (com, byte) => {
    if (com !== 1) return;
    output += String.fromCharCode(byte);
    typer.onByte(byte);
  });
  source.on("slice", () => {
    const script = typer.take();
    if (script) source.vm.devices.com1.receive(script);
  });
  const sourceEnd = source.run();
  await until(`'${spec.when}' on the source`, () => output.includes(spec.when) || source.ended !== undefined, 300_000);
  if (source.ended) throw new Error(`the source ended before '${spec.when}': ${JSON.stringify(source.ended)}`);

  const destination = await Machine.create(build, { noReboot: true, startPaused: true });
  destination.on("serial", (com, byte) => {
    if (com === 1) output += String.fromCharCode(byte);
  });
  const destinationEnd = destination.run();
  const [a, b] = memoryChannelPair();
  const incoming = receiveMigration(destination, b, module);
  const info = await new OutgoingMigration(source, a, module, migrationParameters(spec)).run();
  source.end({ kind: "quit", by: "migrated" });
  await sourceEnd;
  if (info.status !== "completed") {
    destination.end({ kind: "quit", by: "migration failed" });
    await incoming.catch(() => undefined);
    return { output, counters: [], stop: { kind: "stopped" }, migration: migrationFigures(info) };
  }
  await incoming;
  destination.vm.devices.com1.receive(new TextEncoder().encode(`${spec.after}\r`));
  const end = await Promise.race([
    destinationEnd,
    new Promise<never>((_, fail) => setTimeout(() => fail(new Error("the destination did not end")), 300_000)),
  ]);
  const stop = end.kind === "reset" ? { kind: "reset" as const, source: end.source } : { kind: "stopped" as const };
  return { output, counters: readCoreStats(destination.vm.cpu).counters, stop, migration: migrationFigures(info) };
}
