// A running machine: the run control around a Vm that the command line, the monitor, QMP, the gdb
// stub and the library share. It runs the VM in slices (host work happens between them), can be
// paused and resumed, reboots on a guest reset (QEMU's behaviour; `noReboot` ends the run
// instead), and reports why it stopped. No Node built-ins: it runs in a browser too.

import type { Vm, VmStop } from "../vm.js";
import { Emitter } from "./emitter.js";
import { IdlePacer, yieldNow } from "./pacing.js";

/** What the machine passes to the VM it builds, so that output reaches its listeners. */
export interface MachineIo {
  onSerial(com: 1 | 2, byte: number): void;
  onDebugConsole(port: number, byte: number): void;
}

/** Builds the VM with its kernel or firmware loaded: at power-on and again at every reboot. */
export type BuildVm = (io: MachineIo) => Promise<Vm>;

/** Why the machine ended (it does not run again). */
export type MachineEnd =
  | { kind: "quit"; by: string }
  | { kind: "limit"; instructions: number }
  | { kind: "shutdown"; message: string; detail?: string }
  | { kind: "halted" }
  | { kind: "reset"; source: string }
  | { kind: "debug-exit"; status: number }
  | { kind: "powerdown" }
  | { kind: "vmexit"; reason: number; qualification: number; eip: number }
  | { kind: "error"; message: string };

/** Why the machine is paused. */
export type PauseReason = "user" | "startup" | "breakpoint" | "step" | "debugger";

export type MachineStatus = "running" | "paused" | "ended";

export interface MachineEvents {
  serial: [com: 1 | 2, byte: number];
  debugcon: [port: number, byte: number];
  /** Paused (QMP's STOP event). */
  stop: [reason: PauseReason];
  /** Running again (QMP's RESUME). */
  resume: [];
  /** The guest reset the machine and it rebooted (QMP's RESET). */
  reset: [source: string];
  /** The machine ended (QMP's SHUTDOWN). */
  end: [end: MachineEnd];
  /** A slice ran (for screens, logs, input pumps). */
  slice: [];
}

export interface MachineOptions {
  /** A guest reset ends the run instead of rebooting (QEMU's -no-reboot). */
  noReboot?: boolean;
  /** Start paused (QEMU's -S). */
  startPaused?: boolean;
  /** End after this many instructions (idle time counted as instructions), across reboots. */
  maxInstructions?: number;
  /** Per slice: instructions and wall time, and the run() step (see Vm.runSlice). */
  sliceInstructions?: number;
  sliceMs?: number;
  stepInstructions?: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class Machine extends Emitter<MachineEvents> {
  /** The VM now running (a new one after each reboot). */
  vm!: Vm;
  status: MachineStatus = "paused";
  pauseReason: PauseReason | undefined;
  /** Set once the machine has ended. */
  ended: MachineEnd | undefined;
  /** Reboots so far. */
  resets = 0;
  private readonly build: BuildVm;
  private readonly opts: Required<Omit<MachineOptions, "startPaused">>;
  /** Progress (instructions and idle time) of the VMs before the last reboot. */
  private progressBefore = 0;
  private wake: (() => void) | undefined;
  private resetPending: string | undefined;
  private running: Promise<MachineEnd> | undefined;
  private readonly pacer = new IdlePacer();
  private readonly io: MachineIo = {
    onSerial: (com, byte) => this.emit("serial", com, byte),
    onDebugConsole: (port, byte) => this.emit("debugcon", port, byte),
  };
  /** Called on each new VM (power-on and reboot): the gdb stub re-arms its breakpoints here. */
  readonly onVm: ((vm: Vm) => void)[] = [];

  private constructor(build: BuildVm, opts: MachineOptions) {
    super();
    this.build = build;
    this.opts = {
      noReboot: opts.noReboot ?? false,
      maxInstructions: opts.maxInstructions ?? Number.POSITIVE_INFINITY,
      sliceInstructions: opts.sliceInstructions ?? 1_000_000,
      sliceMs: opts.sliceMs ?? 25,
      stepInstructions: opts.stepInstructions ?? 20_000,
    };
    this.status = opts.startPaused ? "paused" : "running";
    this.pauseReason = opts.startPaused ? "startup" : undefined;
  }

  /** Builds the VM (power-on); call run() to start it. */
  static async create(build: BuildVm, opts: MachineOptions = {}): Promise<Machine> {
    const m = new Machine(build, opts);
    m.vm = await build(m.io);
    for (const f of m.onVm) f(m.vm);
    return m;
  }

  /** Instructions and idle time since power-on, across reboots. */
  get progress(): number {
    return this.progressBefore + this.vm.progress;
  }

  /** Pauses between slices; the run loop waits until resume(). */
  pause(reason: PauseReason = "user"): void {
    if (this.status !== "running") return;
    this.status = "paused";
    this.pauseReason = reason;
    this.emit("stop", reason);
  }

  resume(): void {
    if (this.status !== "paused") return;
    this.status = "running";
    this.pauseReason = undefined;
    this.emit("resume");
    this.wakeUp();
  }

  /** Reboots at the next slice boundary (the monitor's system_reset, QMP's system_reset). */
  requestReset(source = "monitor"): void {
    if (this.ended) return;
    this.resetPending = source;
    this.wakeUp();
  }

  /** Ends the machine (quit, power-off from the host). */
  end(why: MachineEnd): void {
    if (this.ended) return;
    this.ended = why;
    this.status = "ended";
    this.emit("end", why);
    this.wakeUp();
  }

  /**
   * Executes one instruction while paused (gdb's step): an interrupt due first is taken first,
   * as the CPU would. Returns how the step ended (a breakpoint or a guest stop may end it).
   */
  step(): VmStop {
    const stop = this.vm.run(1);
    this.emit("slice");
    if (stop.kind !== "limit" && stop.kind !== "debug") this.handleStop(stop);
    return stop;
  }

  /** Runs until the machine ends; resolves with why. Calling it twice returns the same promise. */
  run(): Promise<MachineEnd> {
    this.running ??= this.loop();
    return this.running;
  }

  private wakeUp(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private async loop(): Promise<MachineEnd> {
    while (!this.ended) {
      if (this.resetPending !== undefined) {
        const source = this.resetPending;
        this.resetPending = undefined;
        await this.reboot(source);
        continue;
      }
      if (this.status === "paused") {
        await new Promise<void>((r) => {
          this.wake = r;
        });
        continue;
      }
      const left = this.opts.maxInstructions - this.progress;
      if (left <= 0) {
        this.end({ kind: "limit", instructions: this.opts.maxInstructions });
        break;
      }
      let stop: VmStop;
      try {
        stop = this.vm.runSlice(
          Math.min(this.opts.sliceInstructions, left),
          this.opts.sliceMs,
          this.opts.stepInstructions,
        );
      } catch (err) {
        // A host bug must not leave the terminal raw: end, and say what happened.
        this.end({ kind: "error", message: err instanceof Error ? err.message : String(err) });
        break;
      }
      this.emit("slice");
      if (stop.kind === "limit") {
        await this.idle();
        continue;
      }
      if (stop.kind === "debug") {
        this.pause("breakpoint");
        continue;
      }
      if (stop.kind === "reset" && !this.opts.noReboot) {
        await this.reboot(stop.source);
        continue;
      }
      this.handleStop(stop);
    }
    return this.ended as MachineEnd;
  }

  /** Lets host input in; a guest waiting with nothing scheduled sees the host's wait as time. */
  private async idle(): Promise<void> {
    if (this.vm.waiting) {
      const t0 = performance.now();
      await sleep(5);
      this.vm.waitedIdle((performance.now() - t0) * 1e6);
    } else if (this.vm.idleSinceLastRun) {
      const ms = this.pacer.waitMs(this.vm.nowNs());
      await (ms > 0 ? sleep(ms) : yieldNow());
    } else await yieldNow();
  }

  private handleStop(stop: VmStop): void {
    switch (stop.kind) {
      case "limit":
      case "debug":
      case "stopped":
        return;
      case "reset":
        if (this.opts.noReboot) this.end({ kind: "reset", source: stop.source });
        else this.requestReset(stop.source);
        return;
      default:
        this.end(stop);
    }
  }

  private async reboot(source: string): Promise<void> {
    this.progressBefore += this.vm.progress;
    this.vm = await this.build(this.io);
    this.resets++;
    for (const f of this.onVm) f(this.vm);
    this.emit("reset", source);
  }
}
