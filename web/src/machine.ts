// The page's handle on the Worker: it sends the controls and keeps what the Worker reports (the
// status, the latest counters, a history of rates for the chart, the newest trace entries, the
// COM1 text) for the views, which subscribe to changes. Serial bytes go straight to a sink (the
// terminal) instead of through a re-render.

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

export class Machine {
  private readonly worker: Worker;
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

  constructor(worker: Worker) {
    this.worker = worker;
    worker.onmessage = (ev: MessageEvent<FromWorker>) => this.receive(ev.data);
    worker.onerror = (ev) => {
      this.error = `worker: ${ev.message}`;
      this.changed();
    };
  }

  /** Ends the Worker (and the VM in it); the Machine is not used after this. */
  dispose(): void {
    this.worker.terminate();
    this.listeners.clear();
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
