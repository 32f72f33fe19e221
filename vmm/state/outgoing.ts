// Live migration's source side, pre-copy (Clark et al., NSDI 2005; QEMU's RAM migration): the
// guest keeps running in the machine's own run loop while this job sends pages between its
// slices. Iteration 0 sends every page the destination lacks; each later iteration sends what
// the guest dirtied during the previous one (dirty-tracker.ts, every mode). Stop rules, as
// QEMU's and Xen's: stop and copy once the expected downtime (what is dirty over the measured
// bandwidth) is within downtime-limit, or after max-iterations, or once 3x RAM has been sent
// (Xen). Auto-converge (QEMU's): when the guest dirtied more than half of what an iteration sent,
// twice, the guest is throttled 20%, then 10% more each time, up to 99%. max-bandwidth caps the
// pre-copy's rate (the stop-and-copy goes as fast as the channel takes it, as in QEMU).
//
// Any failure before the destination's Done (it refuses, dies, the channel is cut, a bad frame,
// migrate_cancel) leaves the source as it was: the dirty tracking ends, the throttle is lifted,
// and a guest that was running runs on. After Done the source stays paused (QEMU's postmigrate).

import type { Machine } from "../lib/machine.js";
import type { Vm, VmStop } from "../vm.js";
import { FrameReceiver, type MigrationChannel } from "./channel.js";
import { probeCpuid } from "./cpuid-check.js";
import { type DirtyTracker, dirtyTracker } from "./dirty-tracker.js";
import { encodeFrame, encodePages, FrameType, MigrationError, streamHeader, textFrame } from "./migration-stream.js";
import { isZeroPage } from "./page-bytes.js";
import { describeMachine, stateBytes } from "./vm-state.js";

const PAGE = 4096;
/** What a migration needs of the machine: the CLI's Machine, or the page's Worker loop. */
export type MigratingMachine = Pick<Machine, "vm" | "status" | "pause" | "resume">;
const BATCH = 256;

/** migrate_set_parameter's names and QEMU's defaults. */
export interface MigrationParameters {
  /** Bytes per second the pre-copy may send (QEMU: 128 MiB/s). */
  "max-bandwidth": number;
  /** The longest the guest may be stopped, in ms (QEMU: 300). */
  "downtime-limit": number;
  /** Pre-copy iterations at most before stop-and-copy (Xen: 30). */
  "max-iterations": number;
  /** Throttle a guest that dirties faster than the channel sends (QEMU: off). */
  "auto-converge": boolean;
  "cpu-throttle-initial": number;
  "cpu-throttle-increment": number;
  "max-cpu-throttle": number;
  /** Dirtied/sent percentage in an iteration that counts as not converging (QEMU: 50). */
  "throttle-trigger-threshold": number;
}

export const DEFAULT_PARAMETERS: MigrationParameters = {
  "max-bandwidth": 128 << 20,
  "downtime-limit": 300,
  "max-iterations": 30,
  "auto-converge": false,
  "cpu-throttle-initial": 20,
  "cpu-throttle-increment": 10,
  "max-cpu-throttle": 99,
  "throttle-trigger-threshold": 50,
};

export type MigrationStatus = "none" | "setup" | "active" | "device" | "completed" | "failed" | "cancelled";

export interface MigrationIteration {
  iteration: number;
  /** Pages sent, of them all-zero pages (sent as a flag). */
  pages: number;
  zeroPages: number;
  bytes: number;
  ms: number;
  /** Pages the guest dirtied while this iteration was sent. */
  dirtied: number;
  /** The guest's throttle during it, in percent. */
  throttle: number;
}

export interface MigrationInfo {
  status: MigrationStatus;
  tracker: string;
  totalTimeMs: number;
  setupTimeMs: number;
  /** Host time from stopping the guest to the destination's Done. */
  downtimeMs?: number;
  expectedDowntimeMs?: number;
  transferredBytes: number;
  ramBytes: number;
  remainingPages: number;
  /** Pages with data, and all-zero pages, sent. */
  normalPages: number;
  zeroPages: number;
  iterations: MigrationIteration[];
  /** Pages sent while the guest was stopped. */
  stopPages: number;
  dirtyPagesRate: number;
  mbps: number;
  throttlePercent: number;
  /** The CPU and device state: its size and the host time to capture it (part of the downtime). */
  stateBytes?: number;
  stateMs?: number;
  /** Why the pre-copy stopped: the expected downtime fit the limit, or a limit ended it. */
  stopReason?: "converged" | "max-iterations" | "3x-ram";
  error?: string;
}

/** Runs the VM's slices at (100 - percent)% of the host time: a throttled slice is skipped as idle. */
class Throttle {
  percent = 0;
  private until = 0;
  private readonly original: Vm["runSlice"];
  constructor(private readonly vm: Vm) {
    this.original = vm.runSlice;
    vm.runSlice = (max, wallMs, step): VmStop => {
      const now = performance.now();
      if (this.percent > 0 && now < this.until) {
        vm.idleSinceLastRun = true;
        return { kind: "limit" };
      }
      const stop = this.original.call(vm, max, wallMs, step);
      const ran = performance.now() - now;
      this.until = performance.now() + (ran * this.percent) / (100 - this.percent);
      return stop;
    };
  }
  /** Back to the class's runSlice. */
  remove(): void {
    Reflect.deleteProperty(this.vm, "runSlice");
  }
}

const turn = () => new Promise<void>((r) => setTimeout(r, 0));

export class OutgoingMigration {
  readonly info: MigrationInfo;
  private cancelled = false;
  private readonly vm: Vm;
  private readonly params: MigrationParameters;

  constructor(
    private readonly machine: MigratingMachine,
    private readonly channel: MigrationChannel,
    private readonly module: WebAssembly.Module,
    params: Partial<MigrationParameters> = {},
  ) {
    this.vm = machine.vm;
    this.params = { ...DEFAULT_PARAMETERS, ...params };
    this.info = {
      status: "setup",
      tracker: "",
      totalTimeMs: 0,
      setupTimeMs: 0,
      transferredBytes: 0,
      ramBytes: this.vm.cpu.ramBytes,
      remainingPages: 0,
      normalPages: 0,
      zeroPages: 0,
      iterations: [],
      stopPages: 0,
      dirtyPagesRate: 0,
      mbps: 0,
      throttlePercent: 0,
    };
  }

  /** migrate_cancel: the job stops at its next step and the source runs on. */
  cancel(): void {
    this.cancelled = true;
  }

  private async send(bytes: Uint8Array): Promise<void> {
    if (this.cancelled) throw new MigrationError("migration cancelled");
    // A reboot builds a new VM (the pages sent were the old one's); an ended machine has no guest.
    if (this.machine.vm !== this.vm) throw new MigrationError("the guest rebooted during the migration");
    if (this.machine.status === "ended") throw new MigrationError("the machine ended during the migration");
    this.info.transferredBytes += bytes.length;
    await this.channel.write(bytes);
  }

  /** Sends `frames` as page batches; with `rate` (bytes/s), no faster; returns bytes and zero pages. */
  private async sendPages(
    iteration: number,
    frames: number[],
    tracker: DirtyTracker,
    rate: number | undefined,
    rx: FrameReceiver,
  ): Promise<{ bytes: number; zero: number }> {
    const ram = this.vm.cpu.ram;
    let bytes = 0;
    let zero = 0;
    const t0 = performance.now();
    for (let i = 0; i < frames.length; i += BATCH) {
      const batch = frames.slice(i, i + BATCH);
      const zeros = batch.map((f) => isZeroPage(ram, f));
      for (const f of batch) tracker.sent(f);
      const frame = encodeFrame(FrameType.Pages, encodePages(iteration, batch, ram, zeros));
      await this.send(frame);
      bytes += frame.length;
      zero += zeros.filter(Boolean).length;
      const early = rx.poll();
      if (early && rx.checked(early))
        throw new MigrationError(`the destination sent frame type ${early.type} during the transfer`);
      if (rate !== undefined) {
        // The guest runs while the rate's time for these bytes passes.
        for (;;) {
          await turn();
          if (this.cancelled || (performance.now() - t0) / 1000 >= bytes / rate) break;
        }
      }
    }
    this.info.normalPages += frames.length - zero;
    this.info.zeroPages += zero;
    return { bytes, zero };
  }

  /** Runs the migration; resolves with the final info (status completed, failed or cancelled). */
  async run(): Promise<MigrationInfo> {
    const t0 = performance.now();
    const info = this.info;
    const p = this.params;
    const rx = new FrameReceiver(this.channel, "destination");
    const wasRunning = this.machine.status === "running";
    let tracker: DirtyTracker | undefined;
    const throttle = new Throttle(this.vm);
    let stopped = false;
    const tick = setInterval(() => {
      info.totalTimeMs = performance.now() - t0;
    }, 100);
    try {
      const cpuid = await probeCpuid(this.vm, this.module);
      // A first capture of the state, thrown away: a device that cannot be saved fails here,
      // before any page flows, and the capture's code is warm for the stop-and-copy.
      await stateBytes(this.vm, { ram: false });
      await this.send(streamHeader());
      await this.send(
        textFrame(FrameType.Hello, JSON.stringify({ machine: describeMachine(this.vm), cpuid, params: p })),
      );
      const ready = await rx.next(30_000);
      if (ready.type !== FrameType.Ready) throw new MigrationError(`the destination answered frame type ${ready.type}`);
      info.setupTimeMs = performance.now() - t0;
      info.status = "active";
      tracker = dirtyTracker(this.vm);
      info.tracker = tracker.kind;
      let pending = tracker.start();
      let highCount = 0;
      for (let it = 0; ; it++) {
        const ti = performance.now();
        info.remainingPages = pending.length;
        const { bytes, zero } = await this.sendPages(it, pending, tracker, p["max-bandwidth"], rx);
        const dirty = tracker.collect();
        const ms = Math.max(1e-3, performance.now() - ti);
        info.iterations.push({
          iteration: it,
          pages: pending.length,
          zeroPages: zero,
          bytes,
          ms,
          dirtied: dirty.length,
          throttle: throttle.percent,
        });
        info.dirtyPagesRate = (dirty.length * 1000) / ms;
        const bytesPerMs = Math.min(bytes / ms, p["max-bandwidth"] / 1000) || p["max-bandwidth"] / 1000;
        info.mbps = (bytesPerMs * 8 * 1000) / 1e6;
        info.expectedDowntimeMs = (dirty.length * (PAGE + 4)) / bytesPerMs;
        info.remainingPages = dirty.length;
        pending = dirty;
        if (info.expectedDowntimeMs <= p["downtime-limit"]) info.stopReason = "converged";
        else if (it + 1 >= p["max-iterations"]) info.stopReason = "max-iterations";
        else if (info.transferredBytes > 3 * info.ramBytes) info.stopReason = "3x-ram";
        if (info.stopReason) break;
        if (p["auto-converge"] && dirty.length * PAGE > (bytes * p["throttle-trigger-threshold"]) / 100) {
          if (++highCount >= 2) {
            throttle.percent =
              throttle.percent === 0
                ? p["cpu-throttle-initial"]
                : Math.min(p["max-cpu-throttle"], throttle.percent + p["cpu-throttle-increment"]);
            info.throttlePercent = throttle.percent;
            highCount = 0;
          }
        }
      }

      // Stop and copy.
      info.status = "device";
      const tDown = performance.now();
      if (this.machine.status === "running") this.machine.pause("user");
      stopped = true;
      const last = [...new Set([...pending, ...tracker.collect()])].sort((a, b) => a - b);
      info.stopPages = last.length;
      await this.sendPages(info.iterations.length, last, tracker, undefined, rx);
      const tState = performance.now();
      const state = await stateBytes(this.vm, { ram: false });
      info.stateMs = performance.now() - tState;
      info.stateBytes = state.length;
      await this.send(encodeFrame(FrameType.State, state));
      const done = await rx.next(30_000);
      if (done.type !== FrameType.Done) throw new MigrationError(`the destination answered frame type ${done.type}`);
      info.downtimeMs = performance.now() - tDown;
      info.remainingPages = 0;
      info.status = "completed";
      this.channel.close();
    } catch (e) {
      const message = (e as Error).message;
      info.status = this.cancelled ? "cancelled" : "failed";
      info.error = message;
      try {
        await Promise.race([
          this.channel.write(
            this.cancelled ? encodeFrame(FrameType.Cancel, new Uint8Array()) : textFrame(FrameType.Error, message),
          ),
          turn(),
        ]);
      } catch {
        // The channel is gone already.
      }
      this.channel.close();
      if (stopped && wasRunning && this.machine.status === "paused") this.machine.resume();
    } finally {
      clearInterval(tick);
      tracker?.stop();
      throttle.remove();
      info.throttlePercent = 0;
      info.totalTimeMs = performance.now() - t0;
    }
    return info;
  }
}
