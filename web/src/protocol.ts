// Messages between the page and the Worker that hosts the VM (worker.ts).

import type { JitInfo } from "../../vmm/jit/info.js";
import type { MigrationParameters } from "../../vmm/state/outgoing.js";
import type { StructureStats, WalkStats } from "../../vmm/stats/core-stats.js";
import type { CounterRow, TraceRow } from "../../vmm/stats/stats.js";
import type { MmuMode, VirtMode } from "../../vmm/virt/vmcs.js";
import type { PageWalkView } from "../../vmm/virt/walk-view.js";
import type { GuestWork } from "./guest-work.js";
import type { DiskAllocation } from "./qcow2-view.js";
import type { MigrationMessage } from "./worker-migration.js";

/** What to boot: the page resolves a built-in guest or an upload into this. */
export interface MachineConfig {
  /** An absolute URL (the page resolves it against its own address). */
  coreUrl: string;
  /**
   * The kernel: a URL to fetch, or bytes (an upload). Linux bzImage or Multiboot, told apart by
   * its header. Without one, the firmware (SeaBIOS) boots `disk`.
   */
  kernel?: { url: string } | { bytes: Uint8Array; name: string };
  /** A disk (IDE primary master) or CD image (ATAPI, secondary master) for a firmware boot. */
  disk?: {
    bytes: Uint8Array;
    name: string;
    kind: "hda" | "cdrom";
    biosUrl: string;
    vgaBiosUrl: string;
    /**
     * A hard disk read from this File as the guest asks (opfs-disk.ts fileDisk: read-only base,
     * writes in memory) instead of `bytes`, which may then be empty.
     */
    file?: File;
  };
  initrd?: { url: string } | { bytes: Uint8Array; name: string };
  cmdline: string;
  memMiB: number;
  mode: VirtMode;
  mmu: MmuMode;
  /** Compile hot guest code to WebAssembly (false: the interpreter alone; ?jit=off). */
  jit?: boolean;
  /** Attach a VGA (the tiny Linux draws its VGA console there; the lab kernels use none). */
  vga: boolean;
  /** A built-in guest's disk and the script typed at its first prompt (guest-work.ts). */
  work?: GuestWork;
  /**
   * A NIC whose wire is a MessagePort to a switch port of the page's network (page-network.ts).
   * The port is transferred with the start message and kept by the Worker across resets.
   */
  nic?: NicConfig;
}

export interface NicConfig {
  model: "virtio-net" | "ne2k_pci";
  /** "52:54:00:12:34:56" */
  mac: string;
  port: MessagePort;
}

export type ToWorker =
  | { type: "start"; config: MachineConfig }
  /** Bytes typed into the terminal, for the guest's COM1. */
  | { type: "input"; bytes: Uint8Array }
  /** A key on the PS/2 keyboard (the VGA screen's input), by DOM KeyboardEvent.code. */
  | { type: "key"; code: string; down: boolean }
  /** The page-walk view of one linear address (null: the guest's current EIP). */
  | { type: "walk"; linear: number | null }
  | { type: "pause" }
  | { type: "resume" }
  /** Boots the same configuration again from power-on (a hard reset). */
  | { type: "reset" }
  | { type: "power-off" }
  /** "Measure this": start remembers the counters, stop answers with what happened in between. */
  | { type: "measure"; action: "start" | "stop" }
  /** The whole VM as a saved-state file (docs/state.md): answered with "saved". */
  | { type: "save" }
  /** Loads a saved-state file into the running VM (same configuration): answered with "restored". */
  | { type: "restore"; bytes: Uint8Array }
  /** Live migration, source side: send the running guest over `port` (answered with "migration" reports). */
  | { type: "migrate-out"; port: MessagePort; params: Partial<MigrationParameters> }
  /** Live migration, destination side: boot `config` paused and take the guest from `port` ("incoming" reports). */
  | { type: "migrate-in"; config: MachineConfig; port: MessagePort }
  /** migrate_cancel: the source runs on. */
  | { type: "migrate-cancel" };

/**
 * A snapshot of the guest's VGA text screen, posted when it changed (at most ~10 per second).
 * `attrs` holds one attribute byte per cell, row-major (bits 3-0 foreground, 6-4 background,
 * 7 blink or bright background as `blink` says); `colors` are the 16 text colours as CSS.
 */
export interface VgaMessage {
  type: "vga";
  cols: number;
  rows: number;
  lines: string[];
  attrs: Uint8Array;
  colors: string[];
  cursor: { row: number; col: number; visible: boolean };
  blink: boolean;
  /** False when the screen is blanked; true `graphics` means a graphics mode (no text). */
  enabled: boolean;
  graphics: boolean;
  /** Something other than blanks has been drawn since boot (the page hides an unused screen). */
  used: boolean;
}

/** Modeled cycles of the counted crossings under one cost profile (never measured). */
export interface ModeledCost {
  profile: string;
  cycles: number;
  /** Kinds with counts that this profile cannot price. */
  unpriced: string[];
}

/** The hypervisor's crossings since boot: the same snapshot `npm start -- --stats` prints. */
export interface StatsMessage {
  type: "stats";
  mode: VirtMode;
  mmu: MmuMode;
  /** Every (kind, reason) counter with a non-zero count, cumulative since boot. */
  counters: CounterRow[];
  /** Trace entries recorded since the previous stats message (oldest first, at most the ring's size). */
  trace: TraceRow[];
  traceRecorded: number;
  walk: WalkStats;
  structures: StructureStats;
  /** What the JIT did (`info jit`): blocks compiled to WebAssembly, instructions run compiled. */
  jit: JitInfo;
  modeled: ModeledCost[];
  /** Guest instructions retired since boot. */
  instructions: number;
  /** Measured host time spent running the guest since boot (ms of this browser's clock). */
  hostMs: number;
  /** Wall time since the guest started running (the rest went to posting, yielding and pauses). */
  wallMs: number;
}

/** What one "measure this" interval saw: counter differences, modeled cycles, measured host time. */
export interface MeasuredMessage {
  type: "measured";
  counters: CounterRow[];
  modeled: ModeledCost[];
  instructions: number;
  hostMs: number;
}

export type MachineState = "off" | "loading" | "running" | "paused" | "stopped";

export interface StatusMessage {
  type: "status";
  state: MachineState;
  instructions: number;
  mips: number;
  /** Why the guest stopped (state "stopped"), e.g. "debug-exit 1". */
  stop?: { kind: string; detail: string };
}

export interface WalkMessage {
  type: "walk";
  view: PageWalkView;
  /** The guest's EIP when the view was taken (the default address). */
  eip: number;
}

/** A qcow2 disk's allocation (qcow2-view.ts), posted when its file changed (with the stats' cadence). */
export interface DiskMessage {
  type: "disk";
  allocation: DiskAllocation;
  /** Guest write requests to the disk since boot, and the bytes they carried. */
  guestWrites: number;
  guestBytesWritten: number;
  /** Guest instructions retired when it was read (where on the run the point lies). */
  instructions: number;
}

export type FromWorker =
  | MigrationMessage
  | WalkMessage
  | DiskMessage
  | { type: "serial"; bytes: Uint8Array }
  | VgaMessage
  | StatsMessage
  | MeasuredMessage
  | StatusMessage
  | { type: "error"; message: string }
  | { type: "saved"; bytes: Uint8Array }
  | { type: "restored" }
  /** A save or restore failed (the VM goes on unchanged). */
  | { type: "state-error"; message: string };
