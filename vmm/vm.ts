// A virtual machine: one CPU core, guest RAM, the PC devices and a virtual clock. Its run loop
// executes a slice of instructions, brings the devices up to the new virtual time, handles
// what the slice returned, and repeats. Pause and inspection happen only between slices.

import type { Clock } from "../devices/clock.js";
import type { FwCfg } from "../devices/fw-cfg/fw-cfg.js";
import type { IdeDeviceSpec } from "../devices/ide/channel.js";
import { PcDevices } from "../devices/pc.js";
import type { PciFunction } from "../devices/pci/pci.js";
import { Vga } from "../devices/vga/vga.js";
import type { VirtioDevice } from "../devices/virtio/device.js";
import { VirtioPci } from "../devices/virtio/virtio-pci.js";
import { Cpu, type RunReason } from "./cpu.js";
import { PHYS_MMIO, PHYS_NONE, PHYSMAP_BASE } from "./generated/layout.js";
import { CpuGuestMemory } from "./guest-memory.js";
import { restoreStateBytes, stateBytes } from "./state/vm-state.js";
import { handleHostExit } from "./virt/exit-handler.js";
import { PvHost, pulseSharedIrq } from "./virt/pv-host.js";
import { configureVirtualization, defaultMmu, type MmuMode, type VirtMode } from "./virt/vmcs.js";

export type ClockMode = "icount" | "realtime";

export interface VmOptions {
  module: WebAssembly.Module;
  ramBytes: number;
  /** icount: virtual time = retired instructions x nsPerInstruction (reproducible runs). */
  clock?: ClockMode;
  /** icount speed: virtual nanoseconds per retired instruction (default 1: a 1 GHz guest). */
  nsPerInstruction?: number;
  onSerial?: (com: 1 | 2, byte: number) => void;
  onDebugConsole?: (port: number, byte: number) => void;
  /** Attach a VGA (text mode at 0xB8000 and its ports); firmware boot always has one. */
  vga?: boolean;
  /** How the guest is virtualized (default native: no hypervisor). */
  mode?: VirtMode;
  /** Memory virtualization for the hypervisor modes (default: shadow for trap/bt, EPT for hvm/pv). */
  mmu?: MmuMode;
  /**
   * Wall-clock seconds at virtual time 0: where the RTC starts and what kvmclock reports (QEMU's
   * -rtc base=). Default: under icount a fixed 2024-01-01 00:00:00 UTC, so a run is the same
   * every time; under realtime the host's now.
   */
  wallClockSeconds?: number;
  /** Hypercalls the core forwards to the host (the pv console and the like); returns EAX. */
  onHypercall?: (nr: number, vm: Vm) => number | "stop";
  /**
   * The PCI side of QEMU's `pc` machine (i440FX, PIIX3, PIIX3 IDE): present unless `false`.
   * IDE drives as QEMU's -hda..-hdd (-cdrom is hdc); with no drive given at all, hdc is an
   * empty CD-ROM drive (QEMU's default; the command line keeps it whenever hdc is free).
   */
  pci?: false | VmPciOptions;
  /** Compile hot guest code to WebAssembly (default true); false: the interpreter alone. */
  jit?: boolean;
  /** Interpreted visits to an address before its block is compiled (1: at once). */
  jitThreshold?: number;
}

export interface VmPciOptions {
  hda?: IdeDeviceSpec;
  hdb?: IdeDeviceSpec;
  hdc?: IdeDeviceSpec;
  hdd?: IdeDeviceSpec;
  /** virtio devices, each on the PCI transport in the next free slot from 2 (QEMU's -device). */
  virtio?: VirtioDevice[];
  /** Offer the legacy virtio interface too (transitional devices, QEMU's default): default true. */
  virtioTransitional?: boolean;
  /** Other PCI functions (an emulated NIC), each in the next free slot after the virtio devices. */
  functions?: PciFunction[];
}

/** Why run() returned. */
export type VmStop =
  | { kind: "shutdown"; message: string; detail?: string }
  | { kind: "reset"; source: string }
  | { kind: "debug-exit"; status: number }
  | { kind: "halted" }
  | { kind: "stopped" }
  /** A host breakpoint (the gdb stub's) was reached: the CPU is at its address. */
  | { kind: "debug" }
  | { kind: "limit" }
  | { kind: "vmexit"; reason: number; qualification: number; eip: number };

const MAX_SLICE = 200_000;
/** The icount clock's default wall-clock start: 2024-01-01 00:00:00 UTC (the RTC's own default). */
export const ICOUNT_EPOCH_SECONDS = Date.UTC(2024, 0, 1) / 1000;

export class Vm {
  readonly cpu: Cpu;
  readonly devices: PcDevices;
  readonly clockMode: ClockMode;
  /** The virtualization mode and memory virtualization this VM runs under. */
  readonly mode: VirtMode;
  readonly mmu: MmuMode;
  /** The VGA, when the machine has one. */
  vga: Vga | undefined;
  /** Guest memory as devices see it for DMA (bounds-checked, writes tracked). */
  readonly memory: CpuGuestMemory;
  /** The pv mode's host hypercalls (undefined in the other modes). */
  pvHost: PvHost | undefined;
  /**
   * Whether PCI still needs what firmware does before an OS (BARs, IRQ routing): true until the
   * first run() does it, or firmware boot (installFirmware) takes that job.
   */
  pciSetupPending: boolean;
  /** The virtio devices on the PCI bus, in slot order. */
  readonly virtio: VirtioPci[] = [];
  /** Guest-physical pages mapped as device memory for decoded PCI memory BARs. */
  private readonly pciPages = new Set<number>();
  private readonly nsPerInsn: number;
  private startMs: number;
  private stopRequest: VmStop | null = null;
  /** The last run() spent time halted (the host may sleep instead of spinning). */
  idleSinceLastRun = false;
  /**
   * Sees each port I/O exit the host handles (hvm, pv), by port, as the exit counters count them
   * (a REP INS/OUTS is one exit, not one per element): benchmarks attribute exits to devices.
   */
  onIoExit: ((port: number, string: boolean) => void) | undefined;
  /**
   * The last run() returned because the CPU is halted with interrupts on and nothing scheduled
   * can wake it (or the clock is realtime): only the host (input, `waitedIdle`) moves it on.
   */
  waiting = false;
  /** Virtual time spent halted, which no instruction accounts for (part of nowNs under icount). */
  private idleNs = 0;
  /** The firmware's fw_cfg device, when firmware boot installed one (saved with the VM). */
  fwCfg: FwCfg | undefined;

  /** The whole VM as one saved-state file (vmm/state/); call between run() calls. */
  save(): Promise<Uint8Array> {
    return stateBytes(this);
  }

  /**
   * Restores a saved-state file into this VM, which must be built with the same configuration;
   * a file that does not fit throws a VmStateError and leaves the VM as it was.
   */
  restore(file: Uint8Array): Promise<void> {
    return restoreStateBytes(this, file);
  }

  /** The Vm's own part of a saved state (vmm/state/): the virtual clock's idle time and setup. */
  runState(): { idleNs: number; pciSetupPending: boolean; nowNs: number } {
    return { idleNs: this.idleNs, pciSetupPending: this.pciSetupPending, nowNs: this.nowNs() };
  }
  setRunState(s: { idleNs: number; pciSetupPending: boolean; nowNs: number }): void {
    this.idleNs = s.idleNs;
    // The realtime clock goes on from the saved time (icount's follows from the restored counts).
    if (this.clockMode === "realtime") this.startMs = performance.now() - s.nowNs / 1e6;
    this.pciSetupPending = s.pciSetupPending;
    this.stopRequest = null;
    this.waiting = false;
  }

  private constructor(
    cpu: Cpu,
    devices: PcDevices,
    mode: ClockMode,
    nsPerInsn: number,
    virt: { mode: VirtMode; mmu: MmuMode },
  ) {
    this.cpu = cpu;
    this.devices = devices;
    this.clockMode = mode;
    this.mode = virt.mode;
    this.mmu = virt.mmu;
    this.nsPerInsn = nsPerInsn;
    this.startMs = performance.now();
    this.memory = new CpuGuestMemory(cpu);
    this.pciSetupPending = devices.pci !== undefined;
  }

  static async create(opts: VmOptions): Promise<Vm> {
    const mode = opts.clock ?? "icount";
    const nsPerInsn = opts.nsPerInstruction ?? 1;
    let vm: Vm | undefined;
    const clock: Clock = { nowNs: () => (vm ? vm.nowNs() : 0) };
    // One wall-clock start for the RTC and kvmclock; the host's time only on the realtime clock.
    const wallSeconds =
      opts.wallClockSeconds ?? (mode === "icount" ? ICOUNT_EPOCH_SECONDS : Math.floor(Date.now() / 1000));
    const devices = new PcDevices({
      clock,
      wallClockMs: () => wallSeconds * 1000,
      onSerial: opts.onSerial,
      onDebugConsole: opts.onDebugConsole,
      onIntr: (level) => vm?.cpu.setIntr(level),
      onA20: (enabled) => vm?.cpu.setA20(enabled),
      onReset: (source) => vm?.requestStop({ kind: "reset", source }),
      onDebugExit: (status) => vm?.requestStop({ kind: "debug-exit", status }),
    });
    if (opts.pci !== false) {
      const drives = opts.pci ?? {};
      const none = !drives.hda && !drives.hdb && !drives.hdc && !drives.hdd;
      devices.attachPci({
        ...drives,
        hdc: none ? { kind: "cdrom" } : drives.hdc,
        onReset: () => vm?.requestStop({ kind: "reset", source: "PIIX3 0xCF9" }),
        onMemoryDecode: (base, size, decoded) => vm?.pciMemoryDecode(base, size, decoded),
      });
    }
    const cpu = await Cpu.create(opts.module, opts.ramBytes, devices.cpuHost(), {
      jit: opts.jit,
      jitThreshold: opts.jitThreshold,
    });
    cpu.tscPerInstruction = Math.max(1, Math.round(nsPerInsn));
    const virtMode = opts.mode ?? "native";
    const mmu = opts.mmu ?? defaultMmu(virtMode);
    configureVirtualization(cpu, virtMode, mmu);
    cpu.setKvmWallClock(wallSeconds);
    const v = new Vm(cpu, devices, mode, nsPerInsn, { mode: virtMode, mmu });
    vm = v;
    devices.pci?.ide.setMemory(v.memory);
    if (opts.pci) {
      for (const dev of opts.pci.virtio ?? []) {
        const fn = new VirtioPci(dev, { memory: v.memory, transitional: opts.pci.virtioTransitional });
        devices.addPciFunction(fn);
        v.virtio.push(fn);
      }
      for (const fn of opts.pci.functions ?? []) devices.addPciFunction(fn);
    }
    // The pv mode's own hypercalls (console, timer) unless the caller handles hypercalls itself.
    const pvHost =
      virtMode === "pv"
        ? new PvHost({
            cpu,
            memory: v.memory,
            console: (b) => opts.onSerial?.(1, b),
            pulseIrq0: () => pulseSharedIrq(devices.pic, 0),
            nowNs: () => v.nowNs(),
            virtioNotify: (devfn, queue) => {
              const fn = v.virtio.find((f) => f.bus?.get(devfn >> 3, devfn & 7) === f);
              if (!fn || queue >= fn.device.queueSizes.length) return false;
              fn.kick(queue);
              return true;
            },
          })
        : undefined;
    if (pvHost) devices.timed.push(pvHost.timer);
    v.pvHost = pvHost;
    const hypercall: VmOptions["onHypercall"] = opts.onHypercall ?? (pvHost ? (nr) => pvHost.hypercall(nr) : undefined);
    const onHypercall = hypercall
      ? (nr: number) => {
          const r = hypercall(nr, v);
          if (r === "stop" && !v.stopRequest) v.requestStop({ kind: "vmexit", ...cpu.lastExit });
          return r;
        }
      : undefined;
    // One context for every host exit: nothing is allocated per exit.
    const exitContext = {
      cpu,
      ports: {
        read: (p: number, n: number) => devices.ioRead(p, n),
        write: (p: number, n: number, x: number) => devices.ioWrite(p, n, x),
      },
      hypercall: onHypercall,
      onIoExit: (port: number, string: boolean) => v.onIoExit?.(port, string),
    };
    cpu.setHost({ vmExit: () => handleHostExit(exitContext) });
    cpu.setA20(devices.a20Enabled);
    if (opts.vga) vm.attachVga();
    return vm;
  }

  /** Attaches a VGA (once): its ports, and the legacy window 0xA0000-0xBFFFF as device memory. */
  attachVga(): Vga {
    if (this.vga) return this.vga;
    const vga = new Vga();
    vga.attach(this.devices.ports, this.devices.mmio);
    this.cpu.mapPhysical(0xa0000, 0x20000, PHYS_MMIO);
    this.vga = vga;
    return vga;
  }

  /**
   * A PCI memory BAR decodes (or stops decoding) at [base, base + size): its pages become device
   * memory for the core, so that accesses reach the MMIO bus. Only pages that were open bus are
   * taken (RAM and ROM win over a BAR placed on them, as the i440FX decodes DRAM first).
   */
  pciMemoryDecode(base: number, size: number, decoded: boolean): void {
    for (let page = Math.floor(base / 4096); page < Math.ceil((base + size) / 4096); page++) {
      if (decoded) {
        const kind = this.cpu.u32(PHYSMAP_BASE + page * 4) & 0xf;
        if (kind !== PHYS_NONE) continue;
        this.cpu.mapPhysical(page * 4096, 4096, PHYS_MMIO);
        this.pciPages.add(page);
      } else if (this.pciPages.delete(page)) {
        this.cpu.mapPhysical(page * 4096, 4096, PHYS_NONE);
      }
    }
  }

  /** The icount clock's virtual nanoseconds per retired instruction. */
  get nowNsPerInstruction(): number {
    return this.nsPerInsn;
  }

  /** Virtual time in nanoseconds. */
  nowNs(): number {
    if (this.clockMode === "icount") return this.cpu.retired * this.nsPerInsn + this.idleNs;
    return (performance.now() - this.startMs) * 1e6;
  }

  /**
   * Instructions retired plus idle time counted as the instructions it stands for (nanoseconds /
   * nsPerInstruction): what run()'s `maxInstructions` limits, for callers keeping their own total.
   */
  get progress(): number {
    return this.cpu.retired + this.idleNs / this.nsPerInsn;
  }

  /**
   * The host waited `ns` of wall time while the guest was `waiting`. Under icount the virtual
   * clock advances by as much (as QEMU's icount sleep does), so a guest waiting for input with no
   * timer still sees time pass and still uses up `maxInstructions`; devices catch up.
   */
  waitedIdle(ns: number): void {
    if (!(ns > 0)) return;
    this.idleNs += ns;
    if (this.clockMode === "icount") this.cpu.addTscTicks(ns / this.nsPerInsn);
    this.advanceDevices();
  }

  /** Ends run() after the current instruction (callable from device callbacks). */
  requestStop(why: VmStop): void {
    this.stopRequest = why;
    this.cpu.requestStop();
  }

  /**
   * Runs until the guest stops the machine, `requestStop` is called, or `maxInstructions` have
   * retired (then returns "limit"). `onSlice` runs between slices (for host input and output).
   */
  run(maxInstructions = Number.POSITIVE_INFINITY, onSlice?: () => void): VmStop {
    if (this.pciSetupPending) {
      // No firmware ran (direct kernel boot): the VMM does PCI's power-on setup in its place.
      this.pciSetupPending = false;
      this.devices.setupPciLikeFirmware();
    }
    // Idle time counts toward the limit as the instructions it stands for (icount), so that a
    // guest halted with interrupts on cannot keep run() going without end.
    const start = this.progress;
    this.idleSinceLastRun = false;
    this.waiting = false;
    for (;;) {
      if (this.stopRequest) {
        const why = this.stopRequest;
        this.stopRequest = null;
        return why;
      }
      const done = this.progress - start;
      if (done >= maxInstructions) return { kind: "limit" };
      const now = this.nowNs();
      const deadline = this.nextDeadlineNs();
      let budget = MAX_SLICE;
      if (Number.isFinite(deadline))
        budget = Math.min(budget, Math.max(1, Math.ceil((deadline - now) / this.nsPerInsn)));
      budget = Math.min(budget, Math.max(1, Math.ceil(maxInstructions - done)));
      const reason: RunReason = this.cpu.run(budget);
      this.advanceDevices();
      onSlice?.();
      switch (reason) {
        case "halt": {
          this.idleSinceLastRun = true;
          const idle = this.idle();
          if (idle === "halted") return { kind: "halted" };
          if (idle === "wait") {
            this.waiting = true;
            return { kind: "limit" };
          }
          break;
        }
        case "shutdown":
          return { kind: "shutdown", message: "triple fault", detail: this.describeLastException() };
        case "exception":
          return { kind: "shutdown", message: `unexpected exception stop (vector ${this.cpu.lastException.vector})` };
        case "debug":
          return { kind: "debug" };
        case "vmexit":
          if (this.stopRequest) break;
          return { kind: "vmexit", ...this.cpu.lastExit };
        default:
          break;
      }
    }
  }

  /**
   * One slice for a host that services its own input between slices (the CLI, the page's
   * Worker): run() in steps of `step` instructions until `maxInstructions` (idle time included)
   * have passed, `wallMs` of host time has, the guest waits with nothing scheduled, or it stops.
   * The wall-time bound keeps the host responsive whatever an instruction costs it (each
   * iteration of a REP INSB is a port read in the host). `idleSinceLastRun` then says whether
   * any step was idle.
   */
  runSlice(maxInstructions: number, wallMs: number, step = 20_000): VmStop {
    const start = this.progress;
    const end = performance.now() + wallMs;
    let idled = false;
    let stop: VmStop;
    do {
      // Steps end at multiples of `step` in virtual time, wherever the wall clock ended the
      // last slice, so the same guest meets the same run() boundaries every time (a REP string
      // instruction's chunks, and so its I/O exits, fall at the same places).
      const p = this.progress;
      const toBoundary = (Math.floor(p / step) + 1) * step - p;
      stop = this.run(Math.min(toBoundary, maxInstructions - (p - start)));
      idled ||= this.idleSinceLastRun;
    } while (
      stop.kind === "limit" &&
      !this.waiting &&
      this.progress - start < maxInstructions &&
      performance.now() < end
    );
    this.idleSinceLastRun = idled;
    return stop;
  }

  private nextDeadlineNs(): number {
    let d = Number.POSITIVE_INFINITY;
    for (const t of this.devices.timed) d = Math.min(d, t.nextDeadlineNs());
    return d;
  }

  private advanceDevices(): void {
    const now = this.nowNs();
    for (const t of this.devices.timed) t.advance(now);
  }

  /**
   * HLT: the CPU waits for an interrupt. "halted": interrupts are off, so nothing but an NMI can
   * wake it (the guest has stopped itself). Under icount, virtual time jumps to the next device
   * deadline and the CPU goes on ("continue"); with no deadline (only host input can wake it),
   * or on the realtime clock, run() returns so the host can wait ("wait").
   */
  private idle(): "halted" | "wait" | "continue" {
    if ((this.cpu.eflags & 0x200) === 0) return "halted";
    const deadline = this.nextDeadlineNs();
    if (this.clockMode === "realtime" || !Number.isFinite(deadline)) {
      this.advanceDevices();
      return "wait";
    }
    const skip = Math.max(0, deadline - this.nowNs());
    this.idleNs += skip;
    this.cpu.addTscTicks(skip / this.nsPerInsn);
    this.advanceDevices();
    return "continue";
  }

  private describeLastException(): string {
    const e = this.cpu.lastException;
    const err = e.error === null ? "" : `, error code 0x${e.error.toString(16)}`;
    return `last exception: vector ${e.vector}${err}, at EIP 0x${e.eip.toString(16)}`;
  }
}
