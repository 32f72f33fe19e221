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
      /** The Worker's time inside the VM and its wall time since the run began (the latest stats). */
      timing(): { hostMs: number; wallMs: number; instructions: number } | undefined;
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
    timing: () => {
      const st = machine.stats;
      return st && { hostMs: st.hostMs, wallMs: st.wallMs, instructions: st.instructions };
    },
    statsText: () => document.getElementById("stats")?.textContent ?? "",
    counters: () => machine.stats?.counters ?? [],
    vgaText: () =>
      (document.getElementById("vga")?.textContent ?? "")
        .split("\n")
        .map((l) => l.trimEnd())
        .join("\n"),
  };
}
