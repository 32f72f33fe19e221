// Messages between the page (main.ts) and the Worker that hosts the VM (worker.ts).

export interface StartMessage {
  type: "start";
  /** Absolute URLs (the page resolves them against its own address). */
  coreUrl: string;
  kernelUrl: string;
  initrdUrl: string;
  cmdline: string;
  memMiB: number;
}

/** Bytes typed into the terminal, for the guest's COM1. */
export interface InputMessage {
  type: "input";
  bytes: Uint8Array;
}

export type ToWorker = StartMessage | InputMessage;

export type FromWorker =
  | { type: "serial"; bytes: Uint8Array }
  | { type: "status"; state: "loading" | "running" | "stopped"; instructions: number; mips: number; note?: string }
  | { type: "error"; message: string };
