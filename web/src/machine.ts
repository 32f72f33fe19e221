// The page's handle on the Worker: it sends the controls and keeps what the Worker reports (the
// status, the latest counters, a history of rates for the chart, the newest trace entries, the
// COM1 text) for the views, which subscribe to changes. Serial bytes go straight to a sink (the
// terminal) instead of through a re-render.

import type { MigrationInfo, MigrationParameters } from "../../vmm/state/outgoing.js";
import { KIND_NAMES, type KindName } from "../../vmm/stats/events.js";
import type { TraceRow } from "../../vmm/stats/stats.js";
import type {
  DiskMessage,
  FromWorker,
  MachineConfig,
  MeasuredMessage,
  StatsMessage,
  StatusMessage,
  ToWorker,
  VgaMessage,
  WalkMessage,
} from "./protocol.js";

/** Points of history kept for the chart (at 4 stats messages a second: 5 minutes). */
const HISTORY = 1200;
/** Trace entries kept for the table. */
const TRACE_KEEP = 2000;
/** COM1 text kept for the labs' output checks. */
const SERIAL_KEEP = 256 * 1024;

export interface History {
  /** Seconds since boot (this page's clock). */
  t: number[];
  /** Per kind: crossings per second of host time over the interval ending at t[i]. */
  rate: Record<KindName, (number | null)[]>;
  /** The same per (kind, reason), keyed "kind:reason"; a pair first seen late is null before. */
  byReason: Map<string, (number | null)[]>;
}

function emptyHistory(): History {
  const rate = {} as History["rate"];
  for (const k of KIND_NAMES) rate[k] = [];
  return { t: [], rate, byReason: new Map() };
}

export function totalsByKind(stats: Pick<StatsMessage, "counters"> | undefined): Record<KindName, number> {
  const totals = {} as Record<KindName, number>;
  for (const k of KIND_NAMES) totals[k] = 0;
  for (const r of stats?.counters ?? []) totals[r.kind] += r.core + r.host;
  return totals;
}

/** A Worker hosting one VM (Vite bundles worker.ts from this pattern). */
export function newVmWorker(): Worker {
  return new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
}

/** A terminal control sequence (ESC [ ... letter); built from a string to keep ESC out of a regex literal. */
const CSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;?]*[A-Za-z]`, "g");

/**
 * The command's echo line has ended and the output ends with a shell prompt ("~ # ", "$ "),
 * escape sequences aside (busybox's line editor asks for the cursor position after the prompt).
 */
export function commandDone(sinceTyped: string): boolean {
  const text = sinceTyped.replace(CSI, "");
  const firstLine = text.indexOf("\n");
  return firstLine >= 0 && /(^|\n)[^\n]*[#$] $/.test(text.slice(firstLine));
}

/** How a qcow2 disk's file grew: one point per disk message (seconds since boot). */
export interface DiskHistory {
  t: number[];
  fileBytes: number[];
  /** Guest bytes in data clusters of the file (allocated data clusters x cluster size). */
  dataBytes: number[];
  /** Bytes the guest wrote (every write, whether it allocated or not). */
  guestBytes: number[];
}

const emptyDiskHistory = (): DiskHistory => ({ t: [], fileBytes: [], dataBytes: [], guestBytes: [] });

/**
 * A live migration of this machine's guest to a second Worker (worker-migration.ts), as the page
 * sees it: the source's figures as they come, the destination Worker's state, and whether the
 * console has switched to the destination.
 */
export interface MigrationView {
  params: Partial<MigrationParameters>;
  /** The source's latest `info migrate` figures (QEMU's names; outgoing.ts). */
  info: MigrationInfo | undefined;
  /** The destination Worker: booting, waiting for the stream (paused, inmigrate), running the guest, or failed. */
  destination: "booting" | "waiting" | "running" | "failed";
  /** Why the destination refused or failed, when it did. */
  destinationError?: string;
  /** The console, the counters and the controls now talk to the destination Worker. */
  switched: boolean;
  /** The source reported its last figures (completed, failed or cancelled). */
  finished: boolean;
}

export class Machine {
  private worker: Worker;
  /** The configuration of the last boot (a migration's destination boots it too). */
  private config: MachineConfig | undefined;
  /** The current or last live migration; the source Worker is kept until it reports its end. */
  migration: MigrationView | undefined;
  private migrationWorkers: { source: Worker; destination: Worker } | undefined;
  private readonly listeners = new Set<() => void>();
  serialSink: (bytes: Uint8Array) => void = () => {};
  status: StatusMessage = { type: "status", state: "off", instructions: 0, mips: 0 };
  stats: StatsMessage | undefined;
  vga: VgaMessage | undefined;
  measured: MeasuredMessage | undefined;
  walk: WalkMessage | undefined;
  measuring = false;
  error: string | undefined;
  history: History = emptyHistory();
  /** The machine's qcow2 disk, when it has one: its latest allocation and how its file grew. */
  disk: DiskMessage | undefined;
  /** The first allocation of this boot (the file's size before the guest wrote). */
  diskAtBoot: DiskMessage | undefined;
  diskHistory: DiskHistory = emptyDiskHistory();
  trace: TraceRow[] = [];
  serialText = "";
  /** Bumped on every boot: views compare it to drop what belonged to the previous guest. */
  bootCount = 0;
  private bootMs = 0;
  /** Where in serialText the measured command was typed (-1: no command measurement running). */
  private commandMark = -1;
  private lastTotals: Record<KindName, number> | undefined;
  private lastRows = new Map<string, number>();
  private lastMs = 0;
  private readonly decoder = new TextDecoder();

  constructor(
    worker: Worker,
    private readonly newWorker: () => Worker = newVmWorker,
  ) {
    this.worker = worker;
    this.adopt(worker);
  }

  /** Takes `worker`'s reports as this machine's (its first Worker, or a migration's destination). */
  private adopt(worker: Worker): void {
    worker.onmessage = (ev: MessageEvent<FromWorker>) => {
      if (worker === this.worker) this.receive(ev.data);
      else if (ev.data.type === "migration") this.migrationReport(ev.data);
    };
    worker.onerror = (ev) => {
      if (worker !== this.worker) return;
      this.error = `worker: ${ev.message}`;
      this.changed();
    };
  }

  /** Ends the Worker (and the VM in it); the Machine is not used after this. */
  dispose(): void {
    this.worker.terminate();
    this.migrationWorkers?.destination.terminate();
    this.listeners.clear();
  }

  /**
   * Live-migrates the running guest to a new Worker booted from the same configuration (paused
   * until the guest's state is there). The source reports its figures as it goes; once the
   * destination runs the guest, the console and every view follow it.
   */
  migrate(params: Partial<MigrationParameters>): void {
    const config = this.config;
    if (!config) throw new Error("boot a guest first");
    if (config.nic) throw new Error("a guest on the page's network cannot migrate here");
    if (this.migration && !this.migration.finished) throw new Error("a migration is already running");
    const source = this.worker;
    const destination = this.newWorker();
    this.migration = { params, info: undefined, destination: "booting", switched: false, finished: false };
    this.migrationWorkers = { source, destination };
    destination.onmessage = (ev: MessageEvent<FromWorker>) => {
      if (destination === this.worker) this.receive(ev.data);
      else this.destinationReport(destination, ev.data);
    };
    destination.onerror = (ev) => {
      if (destination === this.worker) {
        this.error = `worker: ${ev.message}`;
        this.changed();
      } else this.destinationReport(destination, { type: "incoming", state: "failed", message: ev.message });
    };
    const channel = new MessageChannel();
    // The destination types nothing: the guest's script ran on the source already.
    const destConfig: MachineConfig = { ...config, work: config.work && { ...config.work, script: undefined } };
    destination.postMessage({ type: "migrate-in", config: destConfig, port: channel.port2 } satisfies ToWorker, [
      channel.port2,
    ]);
    this.send({ type: "migrate-out", port: channel.port1, params }, [channel.port1]);
    this.changed();
  }

  /** migrate_cancel: the source runs on, the destination Worker ends. */
  cancelMigration(): void {
    if (this.migration && !this.migration.finished && !this.migration.switched)
      this.migrationWorkers?.source.postMessage({ type: "migrate-cancel" } satisfies ToWorker);
  }

  /** What the destination Worker says before it has the guest (after that, receive() takes its reports). */
  private destinationReport(destination: Worker, msg: FromWorker): void {
    const m = this.migration;
    if (!m || this.migrationWorkers?.destination !== destination) return;
    if (msg.type === "error") {
      m.destination = "failed";
      m.destinationError = msg.message;
    } else if (msg.type === "incoming") {
      m.destination = msg.state;
      if (msg.message) m.destinationError = msg.message;
      if (msg.state === "running") {
        // The guest runs there now: the console, counters and controls follow it.
        m.switched = true;
        this.worker = destination;
        this.retireSource();
      }
    } else return;
    this.changed();
  }

  /** The source's figures; its last report ends the migration (and, on failure, the destination). */
  private migrationReport(msg: Extract<FromWorker, { type: "migration" }>): void {
    const m = this.migration;
    if (!m) return;
    m.info = msg.info;
    if (msg.done) {
      m.finished = true;
      if (msg.info.status !== "completed" && !m.switched) this.migrationWorkers?.destination.terminate();
      this.retireSource();
    }
    this.changed();
  }

  /** Ends the source Worker once the guest runs elsewhere and the source has said its last. */
  private retireSource(): void {
    const m = this.migration;
    const w = this.migrationWorkers;
    if (m?.switched && m.finished && w) {
      w.source.terminate();
      this.migrationWorkers = undefined;
    }
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(): void {
    for (const fn of this.listeners) fn();
  }

  private send(msg: ToWorker, transfer: Transferable[] = []): void {
    this.worker.postMessage(msg, transfer);
  }

  boot(config: MachineConfig): void {
    this.config = config;
    this.clear();
    this.send({ type: "start", config }, config.nic ? [config.nic.port] : []);
    this.changed();
  }

  reset(): void {
    this.clear();
    this.send({ type: "reset" });
    this.changed();
  }

  pause(): void {
    this.send({ type: "pause" });
  }

  resume(): void {
    this.send({ type: "resume" });
  }

  powerOff(): void {
    this.measuring = false;
    this.send({ type: "power-off" });
  }

  input(bytes: Uint8Array): void {
    this.send({ type: "input", bytes });
  }

  /** Asks for the page-walk view of a linear address (null: the guest's EIP). */
  requestWalk(linear: number | null): void {
    this.send({ type: "walk", linear });
  }

  /** A key pressed or released on the VGA screen, for the guest's PS/2 keyboard. */
  key(code: string, down: boolean): void {
    this.send({ type: "key", code, down });
  }

  /**
   * "Measure this" around one shell command: starts a measurement, types the command into COM1,
   * and stops when the shell's prompt comes back after the command's output.
   */
  measureCommand(command: string): void {
    this.measure("start");
    this.commandMark = this.serialText.length;
    this.input(new TextEncoder().encode(`${command}\r`));
  }

  measure(action: "start" | "stop"): void {
    if (action === "stop") this.commandMark = -1;
    this.measuring = action === "start";
    if (action === "start") this.measured = undefined;
    this.send({ type: "measure", action });
    this.changed();
  }

  /** The whole VM as a saved-state file (docs/state.md), taken between two slices. */
  saveState(): Promise<Uint8Array> {
    return this.stateRequest({ type: "save" }) as Promise<Uint8Array>;
  }

  /** Loads a saved-state file into the running VM (booted with the same configuration). */
  async restoreState(bytes: Uint8Array): Promise<void> {
    await this.stateRequest({ type: "restore", bytes });
  }

  private pendingState: { ok(v: Uint8Array | undefined): void; fail(e: Error): void } | undefined;

  private stateRequest(msg: ToWorker): Promise<Uint8Array | undefined> {
    if (this.pendingState) return Promise.reject(new Error("a save or restore is already in progress"));
    return new Promise((ok, fail) => {
      this.pendingState = { ok, fail };
      this.send(msg);
    });
  }

  private clear(): void {
    this.bootCount++;
    this.status = { type: "status", state: "loading", instructions: 0, mips: 0 };
    this.stats = undefined;
    this.vga = undefined;
    this.measured = undefined;
    this.walk = undefined;
    this.measuring = false;
    this.commandMark = -1;
    this.error = undefined;
    this.history = emptyHistory();
    this.disk = undefined;
    this.diskAtBoot = undefined;
    this.diskHistory = emptyDiskHistory();
    this.trace = [];
    this.serialText = "";
    this.lastTotals = undefined;
    this.lastRows = new Map();
    this.bootMs = performance.now();
    this.lastMs = this.bootMs;
  }

  private receive(msg: FromWorker): void {
    switch (msg.type) {
      case "serial":
        this.serialText = (this.serialText + this.decoder.decode(msg.bytes, { stream: true })).slice(-SERIAL_KEEP);
        this.serialSink(msg.bytes);
        if (this.commandMark >= 0 && commandDone(this.serialText.slice(this.commandMark))) this.measure("stop");
        return; // no re-render for console output
      case "vga":
        this.vga = msg;
        break;
      case "stats":
        this.addStats(msg);
        break;
      case "walk":
        this.walk = msg;
        break;
      case "disk":
        this.addDisk(msg);
        break;
      case "measured":
        this.measured = msg;
        this.measuring = false;
        break;
      case "status":
        this.status = msg;
        break;
      case "error":
        this.error = msg.message;
        break;
      case "migration":
        this.migrationReport(msg);
        return;
      case "incoming":
        return;
      case "saved":
      case "restored":
      case "state-error": {
        const p = this.pendingState;
        this.pendingState = undefined;
        if (msg.type === "state-error") p?.fail(new Error(msg.message));
        else p?.ok(msg.type === "saved" ? msg.bytes : undefined);
        return;
      }
    }
    this.changed();
  }

  private addDisk(msg: DiskMessage): void {
    this.disk = msg;
    this.diskAtBoot ??= msg;
    const h = this.diskHistory;
    const a = msg.allocation;
    h.t.push((performance.now() - this.bootMs) / 1000);
    h.fileBytes.push(a.fileBytes);
    h.dataBytes.push(a.data * a.clusterSize);
    h.guestBytes.push(msg.guestBytesWritten);
    if (h.t.length > HISTORY) for (const series of Object.values(h)) series.splice(0, h.t.length - HISTORY);
  }

  private addStats(msg: StatsMessage): void {
    this.stats = msg;
    const now = performance.now();
    const totals = totalsByKind(msg);
    const dt = (now - this.lastMs) / 1000;
    if (this.lastTotals && dt > 0) {
      const h = this.history;
      h.t.push((now - this.bootMs) / 1000);
      for (const k of KIND_NAMES) {
        const r = (totals[k] - this.lastTotals[k]) / dt;
        // The chart's axis is logarithmic: a zero rate is a gap, not a point.
        h.rate[k].push(r > 0 ? r : null);
      }
      const n = h.t.length;
      for (const r of msg.counters) {
        const key = `${r.kind}:${r.reason}`;
        let series = h.byReason.get(key);
        if (!series) {
          series = new Array<number | null>(n - 1).fill(null);
          h.byReason.set(key, series);
        }
        const rate = (r.core + r.host - (this.lastRows.get(key) ?? 0)) / dt;
        series.push(rate > 0 ? rate : null);
      }
      for (const series of h.byReason.values()) if (series.length < n) series.push(null);
      if (n > HISTORY) {
        const drop = n - HISTORY;
        h.t.splice(0, drop);
        for (const k of KIND_NAMES) h.rate[k].splice(0, drop);
        for (const series of h.byReason.values()) series.splice(0, drop);
      }
    }
    this.lastTotals = totals;
    for (const r of msg.counters) this.lastRows.set(`${r.kind}:${r.reason}`, r.core + r.host);
    this.lastMs = now;
    if (msg.trace.length > 0) {
      this.trace = this.trace.concat(msg.trace);
      if (this.trace.length > TRACE_KEEP) this.trace = this.trace.slice(-TRACE_KEEP);
    }
  }
}
