// Messages between the page (main.ts) and the Worker that hosts the VM (worker.ts).

import type { MmuMode, VirtMode } from "../../vmm/virt/vmcs.js";

export interface StartMessage {
  type: "start";
  /** Absolute URLs (the page resolves them against its own address). */
  coreUrl: string;
  kernelUrl: string;
  initrdUrl: string;
  cmdline: string;
  memMiB: number;
  /** How the guest is virtualized (the page's ?mode= and ?mmu=). */
  mode: VirtMode;
  mmu?: MmuMode;
}

/** Bytes typed into the terminal, for the guest's COM1. */
export interface InputMessage {
  type: "input";
  bytes: Uint8Array;
}

export type ToWorker = StartMessage | InputMessage;

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
}

/** The hypervisor's crossings so far: the same snapshot `npm start -- --stats` prints. */
export interface StatsMessage {
  type: "stats";
  mode: VirtMode;
  mmu: MmuMode;
  /** The most frequent (kind, reason) counters, most frequent first. */
  rows: { kind: string; reason: number; name: string; core: number; host: number }[];
  tlbMisses: number;
  refsPerMiss: number;
  /** Modeled cycles of the crossings per cost profile (not measured). */
  modeled: { profile: string; cycles: number }[];
}

export type FromWorker =
  | { type: "serial"; bytes: Uint8Array }
  | VgaMessage
  | StatsMessage
  | { type: "status"; state: "loading" | "running" | "stopped"; instructions: number; mips: number; note?: string }
  | { type: "error"; message: string };
