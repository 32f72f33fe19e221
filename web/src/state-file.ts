// A saved state as a file the user keeps: the Worker's saved-VM bytes (docs/state.md, the file
// `npm start -- -incoming file:PATH` takes) handed to the browser as a download, and a picked file
// handed back to the Worker, which refuses anything that is not a saved VM of this machine before
// it changes the running one.

import type { Settings } from "./settings.js";

/** The file name offered for a download: what was running and when (UTC, no characters a file system minds). */
export function stateFileName(s: Pick<Settings, "guest" | "mode" | "mmu">, when = new Date()): string {
  const stamp = when
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  return `x86lab-${s.guest}-${s.mode}-${s.mmu}-${stamp}.x86vm`;
}

/** Hands `bytes` to the browser as a download named `name`. */
export function downloadBytes(bytes: Uint8Array, name: string): void {
  // The bytes came through postMessage, so they sit in an ArrayBuffer (never a shared one).
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: "application/octet-stream" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.style.display = "none";
  document.body.append(a);
  a.click();
  a.remove();
  // The download has taken its own reference by now; give it a moment before letting go.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
