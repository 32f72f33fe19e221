// Live migration's destination side: a VM built from the same command line, paused, takes the
// source's stream. The source's machine description and CPUID are checked before any page is
// taken (a mismatch is refused with every difference named, on both sides); pages are written
// into RAM (which starts zeroed: pages that stayed zero are not sent), and the guest runs only
// once the CPU and device state has been read and applied. A stream that ends early, a bad
// frame or the source's cancel ends the job with a MigrationError and the VM never runs: the
// source, which has not been told Done, runs on.
//
// After the guest runs here, each NIC announces the guest's MAC address (QEMU's self-announce:
// RARP broadcasts), so a switch that learned the address on the source's port forwards to this
// one and the guest's TCP connections go on.

import type { NetBackend } from "../../devices/net/backend.js";
import { FrameReceiver, type MigrationChannel } from "./channel.js";
import { type CpuidLeaves, cpuidDifferences, probeCpuid } from "./cpuid-check.js";
import { applyPages, encodeFrame, FrameType, MigrationError, streamHeader, textFrame } from "./migration-stream.js";
import type { MigratingMachine } from "./outgoing.js";
import {
  describeMachine,
  type MachineDescription,
  machineDifferences,
  pciFunctions,
  restoreStateBytes,
  stateBytes,
} from "./vm-state.js";

export interface IncomingResult {
  pages: number;
  bytes: number;
  /** Host time from the first frame to the guest running here. */
  totalMs: number;
  /** Host time from the state frame's arrival to the guest running here. */
  restoreMs: number;
}

/** A broadcast RARP request from `mac` (what QEMU sends to announce a migrated guest). */
export function rarpAnnounce(mac: Uint8Array): Uint8Array {
  const f = new Uint8Array(60);
  f.fill(0xff, 0, 6);
  f.set(mac, 6);
  f.set([0x80, 0x35, 0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x03], 12);
  f.set(mac, 22);
  f.set(mac, 32);
  return f;
}

/** The VM's NICs: their backends and MAC addresses. */
function nics(machine: MigratingMachine): { backend: NetBackend; mac: Uint8Array }[] {
  const out: { backend: NetBackend; mac: Uint8Array }[] = [];
  for (const [, f] of pciFunctions(machine.vm)) {
    for (const dev of [f, (f as { device?: unknown }).device]) {
      const d = dev as { backend?: NetBackend; mac?: Uint8Array } | undefined;
      if (d?.backend && typeof d.backend.transmit === "function" && d.mac instanceof Uint8Array)
        out.push({ backend: d.backend, mac: d.mac });
    }
  }
  return out;
}

/**
 * Receives the source's VM into `machine` (paused, built from the same configuration). Resolves
 * once the guest runs here; rejects with a MigrationError (the VM has not run) otherwise.
 */
export async function receiveMigration(
  machine: MigratingMachine,
  channel: MigrationChannel,
  module: WebAssembly.Module,
  opts: {
    timeoutMs?: number;
    /**
     * Run the guest once it is here (default; QEMU's -S leaves it paused). A function is asked
     * when the state has loaded (a `cont` while waiting turns QEMU's autostart on).
     */
    resume?: boolean | (() => boolean);
  } = {},
): Promise<IncomingResult> {
  const timeout = opts.timeoutMs ?? 60_000;
  const rx = new FrameReceiver(channel, "source");
  const vm = machine.vm;
  const t0 = performance.now();
  let pages = 0;
  const refuse = async (message: string) => {
    try {
      await Promise.race([channel.write(textFrame(FrameType.Error, message)), new Promise((r) => setTimeout(r, 50))]);
    } catch {
      // The source is gone already.
    }
    channel.close();
  };
  try {
    await channel.write(streamHeader());
    const hello = await rx.next(timeout);
    if (hello.type !== FrameType.Hello)
      throw new MigrationError(`the stream starts with frame type ${hello.type}, not hello`);
    let offer: { machine: MachineDescription; cpuid: CpuidLeaves };
    try {
      offer = JSON.parse(new TextDecoder().decode(hello.payload));
      if (typeof offer.machine !== "object" || typeof offer.cpuid !== "object") throw new Error("fields");
    } catch {
      throw new MigrationError("the source's hello is not a machine description");
    }
    const diff = [
      ...machineDifferences(offer.machine, describeMachine(vm)).map((d) => d.replace("saved", "source")),
      ...cpuidDifferences(offer.cpuid, await probeCpuid(vm, module)),
    ];
    if (diff.length > 0)
      throw new MigrationError(`the source's machine does not fit this one:\n  ${diff.join("\n  ")}`);
    // This VM's own state read back into it (a no-op) warms the restore's code for the downtime.
    await restoreStateBytes(vm, await stateBytes(vm, { ram: false }), { ram: false });
    // Pages that are zero on the source are not sent: RAM starts as zeros (the kernel this
    // command line loaded is not the guest's).
    vm.cpu.ram.fill(0);
    await channel.write(encodeFrame(FrameType.Ready, new Uint8Array()));
    for (;;) {
      const f = await rx.next(timeout);
      if (f.type === FrameType.Pages) {
        pages += applyPages(f.payload, vm.cpu.ram).pages;
      } else if (f.type === FrameType.State) {
        const tState = performance.now();
        try {
          await restoreStateBytes(vm, f.payload, { ram: false });
        } catch (e) {
          throw new MigrationError(`the source's VM state does not load: ${(e as Error).message}`);
        }
        await channel.write(encodeFrame(FrameType.Done, new Uint8Array()));
        channel.close();
        if (typeof opts.resume === "function" ? opts.resume() : opts.resume !== false) machine.resume();
        const announce = nics(machine);
        // QEMU's announce: five rounds, 50 ms apart at first and 100 ms more each time.
        for (const delay of [0, 50, 200, 450, 800]) {
          setTimeout(() => {
            for (const n of announce) n.backend.transmit(rarpAnnounce(n.mac));
          }, delay);
        }
        const now = performance.now();
        return { pages, bytes: 0, totalMs: now - t0, restoreMs: now - tState };
      } else {
        throw new MigrationError(`unexpected frame type ${f.type} in the migration stream`);
      }
    }
  } catch (e) {
    const err = e instanceof MigrationError ? e : new MigrationError((e as Error).message);
    await refuse(err.message);
    throw err;
  }
}
