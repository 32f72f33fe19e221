// The library: a typed API to run the emulator from a program, in Node or a browser. createVm
// builds a machine from images in memory (a kernel and initrd for direct boot, disks), runs it
// in slices off the caller's event loop, and reports what happens through events: serial output,
// stops and reboots, the end of the run, and periodic samples of the crossing counters. It also
// takes input (serial bytes, keys) and answers the monitor's commands. docs/library.md shows it
// in use. In Node, `createVm` from the package's node entry (node.ts) fills in core.wasm and the
// tiny Linux.

import { bytesSource, CowDisk } from "../../devices/storage/block.js";
import { loadKernel } from "../boot/kernel.js";
import { Monitor } from "../monitor/monitor.js";
import { readCoreStats } from "../stats/index.js";
import type { StatsSnapshot } from "../stats/stats.js";
import type { MmuMode, VirtMode } from "../virt/vmcs.js";
import { type ClockMode, Vm, type VmPciOptions } from "../vm.js";
import { Emitter } from "./emitter.js";
import { Machine, type MachineEnd, type MachineStatus, type PauseReason } from "./machine.js";

export { VmStateError } from "../state/container.js";
export type { ClockMode, MachineEnd, MachineStatus, MmuMode, PauseReason, StatsSnapshot, VirtMode };

export interface CreateVmOptions {
  /** The emulator's core: build/core.wasm, compiled or as bytes (the package exports it as ./core.wasm). */
  wasm: WebAssembly.Module | BufferSource;
  /** A Linux bzImage or a Multiboot kernel, loaded directly (as QEMU's -kernel). */
  kernel: Uint8Array;
  /** The initrd (Linux) or the module (Multiboot). */
  initrd?: Uint8Array;
  /** The kernel command line (default "console=ttyS0"). */
  cmdline?: string;
  /** Guest RAM in MiB (default 64; 16 to 3072). */
  memoryMiB?: number;
  /** How the guest runs: native (default), trap, bt, hvm, pv. */
  mode?: VirtMode;
  /** Memory virtualization for the hypervisor modes: shadow or ept. */
  mmu?: MmuMode;
  /** Virtual time: icount (reproducible, default) or realtime. */
  clock?: ClockMode;
  /** Compile hot guest code to WebAssembly (default true). */
  jit?: boolean;
  /** IDE disks as raw images; the guest's writes stay in memory (the arrays are not changed). */
  disks?: { hda?: Uint8Array; hdb?: Uint8Array; hdc?: Uint8Array; hdd?: Uint8Array };
  /** A guest reset ends the run instead of rebooting (QEMU's -no-reboot). */
  noReboot?: boolean;
  /** End the run after this many instructions (idle time counted). */
  maxInstructions?: number;
  /** Milliseconds between `sample` events (default 1000; 0: none). */
  sampleMs?: number;
}

/** A periodic sample: progress and the crossing totals by kind. */
export interface Sample {
  instructions: number;
  virtualNs: number;
  crossings: StatsSnapshot["totals"];
}

export interface VmEvents {
  /** A byte the guest wrote to COM1. */
  serial: [byte: number];
  /** The CPU stopped (pause(), a breakpoint). */
  stop: [reason: PauseReason];
  resume: [];
  /** The guest (or reset()) rebooted the machine. */
  reset: [source: string];
  /** The run ended. */
  end: [end: MachineEnd];
  sample: [sample: Sample];
}

export interface VmStats {
  instructions: number;
  virtualNs: number;
  exceptions: number[];
  crossings: StatsSnapshot;
}

/** A virtual machine made by createVm. */
export class LabVm extends Emitter<VmEvents> {
  private lastSample = 0;

  constructor(
    readonly machine: Machine,
    private readonly sampleMs: number,
  ) {
    super();
    this.monitor = new Monitor(machine, { quit: () => this.stop() });
    machine.on("serial", (com, byte) => {
      if (com === 1) this.emit("serial", byte);
    });
    machine.on("stop", (r) => this.emit("stop", r));
    machine.on("resume", () => this.emit("resume"));
    machine.on("reset", (s) => this.emit("reset", s));
    machine.on("end", (e) => this.emit("end", e));
    machine.on("slice", () => this.maybeSample());
  }

  /** The monitor (help, info ..., x, xp ...), for `command()`. */
  private readonly monitor: Monitor;

  get status(): MachineStatus {
    return this.machine.status;
  }

  /** Runs the machine; resolves when the run ends (quit, guest power-off, a limit...). */
  run(): Promise<MachineEnd> {
    return this.machine.run();
  }

  pause(): void {
    this.machine.pause("user");
  }

  resume(): void {
    this.machine.resume();
  }

  /** Reboots (the kernel loads again). */
  reset(): void {
    this.machine.requestReset("library");
  }

  /** Ends the run. */
  stop(): void {
    this.machine.end({ kind: "quit", by: "library" });
  }

  /** Bytes (or text) for the guest's COM1, delivered as its UART takes them. */
  sendSerial(data: string | Uint8Array): void {
    this.machine.vm.devices.com1.receive(data);
  }

  /** A key on the PS/2 keyboard, by DOM KeyboardEvent.code ("KeyA", "Enter"); false if unknown. */
  sendKey(code: string, down: boolean): boolean {
    return this.machine.vm.devices.i8042.keyboard.keyByCode(code, down);
  }

  /**
   * The whole VM as one saved-state file (docs/state.md): CPU, RAM, devices, disk overlays and
   * the virtual clock, taken between two slices even while the machine runs.
   */
  save(): Promise<Uint8Array> {
    return this.machine.vm.save();
  }

  /**
   * Loads a file from save() into this VM (built with the same options: memory, mode, disks);
   * a file that does not fit is refused with a VmStateError and the VM goes on unchanged.
   */
  restore(file: Uint8Array): Promise<void> {
    return this.machine.vm.restore(file);
  }

  /** A monitor command ("info registers", "xp /4wx 0x1000"); returns its text. */
  command(line: string): Promise<string> {
    return this.monitor.execute(line);
  }

  stats(): VmStats {
    const vm = this.machine.vm;
    return {
      instructions: Number(vm.cpu.instructions),
      virtualNs: vm.nowNs(),
      exceptions: vm.cpu.exceptionCounts(),
      crossings: readCoreStats(vm.cpu),
    };
  }

  private maybeSample(): void {
    if (this.sampleMs <= 0) return;
    const now = performance.now();
    if (now - this.lastSample < this.sampleMs) return;
    this.lastSample = now;
    const s = this.stats();
    this.emit("sample", { instructions: s.instructions, virtualNs: s.virtualNs, crossings: s.crossings.totals });
  }
}

const ideDisk = (bytes: Uint8Array | undefined, name: string) =>
  bytes ? { kind: "disk" as const, disk: new CowDisk(bytesSource(bytes), { name }) } : undefined;

/** Builds a VM (not yet running: call run()). */
export async function createVm(opts: CreateVmOptions): Promise<LabVm> {
  const module = opts.wasm instanceof WebAssembly.Module ? opts.wasm : await WebAssembly.compile(opts.wasm);
  const memoryMiB = opts.memoryMiB ?? 64;
  if (!Number.isInteger(memoryMiB) || memoryMiB < 16 || memoryMiB > 3072) {
    throw new RangeError(`memoryMiB ${memoryMiB}: 16 to 3072`);
  }
  const d = opts.disks ?? {};
  const machine = await Machine.create(
    async (io) => {
      const pci: VmPciOptions = {
        hda: ideDisk(d.hda, "hda"),
        hdb: ideDisk(d.hdb, "hdb"),
        hdc: ideDisk(d.hdc, "hdc"),
        hdd: ideDisk(d.hdd, "hdd"),
      };
      const vm = await Vm.create({
        module,
        ramBytes: memoryMiB * 2 ** 20,
        mode: opts.mode,
        mmu: opts.mmu,
        clock: opts.clock,
        jit: opts.jit,
        pci,
        ...io,
      });
      loadKernel(vm.cpu, opts.kernel, opts.initrd, opts.cmdline ?? "console=ttyS0");
      return vm;
    },
    { noReboot: opts.noReboot, maxInstructions: opts.maxInstructions },
  );
  return new LabVm(machine, opts.sampleMs ?? 1000);
}
