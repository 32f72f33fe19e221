// window.__x86lab: what tests (and a curious developer at the console) read back from the page.
// Everything here reads the page's own state or DOM; nothing drives the VM behind the UI's back.

import type { Machine } from "../machine.js";

declare global {
  interface Window {
    __x86lab: {
      screenText(): string;
      status(): string;
      vgaText(): string;
      serialText(): string;
      state(): string;
      statsText(): string;
      counters(): { kind: string; reason: number; core: number; host: number }[];
    };
    __x86labTerminalText?: () => string;
  }
}

export function installTestHook(machine: Machine): void {
  window.__x86lab = {
    screenText: () => window.__x86labTerminalText?.() ?? "",
    status: () => document.getElementById("status")?.textContent ?? "",
    serialText: () => machine.serialText,
    state: () => machine.status.state,
    statsText: () => document.getElementById("stats")?.textContent ?? "",
    counters: () => machine.stats?.counters ?? [],
    vgaText: () =>
      (document.getElementById("vga")?.textContent ?? "")
        .split("\n")
        .map((l) => l.trimEnd())
        .join("\n"),
  };
}
