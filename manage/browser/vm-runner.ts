// One VM on a host Worker of the in-page datacenter, run with the project's library (the run
// control of vmm/lib/machine.ts, the same one the CLI and QMP drive). It knows nothing of the
// engine's protocol: the host agent (host-agent.ts) turns its messages into these calls. Several
// runners share one Worker: each runs in slices off the Worker's event loop, so they interleave.

import { loadKernel } from "../../vmm/boot/kernel.js";
import { Machine, type MachineEnd, type MachineStatus } from "../../vmm/lib/machine.js";
import { receiveMigration } from "../../vmm/state/incoming.js";
import { type MigrationInfo, type MigrationParameters, OutgoingMigration } from "../../vmm/state/outgoing.js";
import type { MmuMode, VirtMode } from "../../vmm/virt/vmcs.js";
import { Vm } from "../../vmm/vm.js";
import { PortChannel } from "../../web/src/migration-port.js";

/** What a VM needs to boot in the page: its files by URL (resolved by the host agent) and its shape. */
export interface VmSpec {
  name: string;
  kernelUrl: string;
  initrdUrl?: string;
  cmdline: string;
  memoryMiB: number;
  mode?: VirtMode;
  mmu?: MmuMode;
}

export type RunnerState = "starting" | "running" | "paused" | "migrating" | "down";

export interface RunnerEvents {
  state(state: RunnerState, detail?: string): void;
  /** Bytes the guest wrote to COM1 since the last slice. */
  console(bytes: Uint8Array): void;
}

const files = new Map<string, Promise<Uint8Array>>();

/** A file by URL, fetched once per Worker (every VM of a host boots the same tiny Linux). */
function fetchFile(url: string): Promise<Uint8Array> {
  let p = files.get(url);
  if (!p) {
    p = fetch(url).then(async (res) => {
      if (!res.ok) throw new Error(`${url} answered ${res.status} ${res.statusText}`);
      return new Uint8Array(await res.arrayBuffer());
    });
    p.catch(() => files.delete(url));
    files.set(url, p);
  }
  return p;
}

export class VmRunner {
  private machine: Machine | undefined;
  private outgoing: OutgoingMigration | undefined;
  state: RunnerState = "starting";

  constructor(
    readonly spec: VmSpec,
    private readonly module: WebAssembly.Module,
    private readonly events: RunnerEvents,
  ) {}

  /**
   * Builds the VM and starts it (paused with `incoming`: a migration's destination); resolves once
   * it runs, with the promise of its end. A file that cannot be fetched fails the start itself.
   */
  async start(incoming?: MessagePort): Promise<{ ended: Promise<void> }> {
    const { spec } = this;
    const [kernel, initrd] = await Promise.all([
      fetchFile(spec.kernelUrl),
      spec.initrdUrl ? fetchFile(spec.initrdUrl) : Promise.resolve(undefined),
    ]);
    const machine = await Machine.create(
      async (io) => {
        const vm = await Vm.create({
          module: this.module,
          ramBytes: spec.memoryMiB * 2 ** 20,
          mode: spec.mode,
          mmu: spec.mmu,
          clock: "icount",
          ...io,
        });
        loadKernel(vm.cpu, kernel, initrd, spec.cmdline);
        return vm;
      },
      { startPaused: incoming !== undefined },
    );
    this.machine = machine;
    let pending: number[] = [];
    machine.on("serial", (com, byte) => {
      if (com === 1) pending.push(byte);
    });
    machine.on("slice", () => {
      if (pending.length === 0) return;
      const bytes = Uint8Array.from(pending);
      pending = [];
      this.events.console(bytes);
    });
    const run = machine.run();
    if (incoming) {
      this.setState("migrating", "incoming");
      receiveMigration(machine, new PortChannel(incoming), this.module).then(
        () => this.setState("running"),
        (e: unknown) => {
          machine.end({ kind: "error", message: (e as Error).message });
          this.setState("down", `the incoming migration failed: ${(e as Error).message}`);
        },
      );
    } else this.setState("running");
    const ended = run.then((end) => {
      if (this.state !== "down") this.setState("down", describeEnd(end));
    });
    return { ended };
  }

  /** Bytes typed on the VM's serial console. */
  input(bytes: Uint8Array): void {
    this.machine?.vm.devices.com1.receive(bytes);
  }

  pause(): void {
    this.machine?.pause("user");
    if (this.machine?.status === "paused") this.setState("paused");
  }

  resume(): void {
    this.machine?.resume();
    if (this.machine?.status === "running") this.setState("running");
  }

  /** Cancels an outgoing migration (the guest runs on here). */
  cancelMigration(): void {
    this.outgoing?.cancel();
  }

  /** Ends the run at once (virsh destroy; the tiny Linux has no ACPI shutdown to ask for). */
  stop(by: string): void {
    this.outgoing?.cancel();
    this.machine?.end({ kind: "quit", by });
  }

  /**
   * Live-migrates the guest over `port` to a runner started with `start(port)` on another host;
   * resolves with the migration's figures. The source ends once the destination runs the guest.
   */
  async migrate(
    port: MessagePort,
    params: Partial<MigrationParameters>,
    progress?: (info: MigrationInfo) => void,
  ): Promise<MigrationInfo> {
    const machine = this.machine;
    if (!machine || machine.status === "ended") throw new Error(`${this.spec.name} is not running`);
    this.setState("migrating", "outgoing");
    const job = new OutgoingMigration(machine, new PortChannel(port), this.module, params);
    this.outgoing = job;
    const tick = progress && setInterval(() => progress(job.info), 250);
    try {
      const info = await job.run();
      if (info.status !== "completed") throw new Error(info.error ?? `migration ${info.status}`);
      this.state = "down";
      machine.end({ kind: "quit", by: "migration" });
      return info;
    } catch (e) {
      // (Read again: the migration changed it while this awaited.)
      if ((machine.status as MachineStatus) !== "ended") {
        machine.resume();
        this.setState("running", `the migration failed: ${(e as Error).message}`);
      }
      throw e;
    } finally {
      clearInterval(tick);
      this.outgoing = undefined;
    }
  }

  private setState(state: RunnerState, detail?: string): void {
    this.state = state;
    this.events.state(state, detail);
  }
}

function describeEnd(end: MachineEnd): string {
  switch (end.kind) {
    case "quit":
      return `stopped by ${end.by}`;
    case "shutdown":
      return `shut down: ${end.message}`;
    case "error":
      return end.message;
    default:
      return end.kind;
  }
}
