// What the Worker boots for a choice of settings: a built-in guest's files by URL, or an upload.

import { guestById } from "./guests.js";
import type { MachineConfig } from "./protocol.js";
import { type Settings, UPLOAD_GUEST } from "./settings.js";

export interface Upload {
  name: string;
  bytes: Uint8Array;
}

const asset = (name: string) => new URL(name, document.baseURI).href;

export function configFor(s: Settings, upload: Upload | undefined): MachineConfig {
  if (s.guest === UPLOAD_GUEST && upload) {
    return {
      coreUrl: asset("core.wasm"),
      kernel: { bytes: upload.bytes, name: upload.name },
      cmdline: "console=ttyS0",
      memMiB: s.memMiB,
      mode: s.mode,
      mmu: s.mmu,
      vga: true,
    };
  }
  const g = guestById(s.guest)!;
  return {
    coreUrl: asset("core.wasm"),
    kernel: { url: asset(g.kernel) },
    initrd: g.initrd ? { url: asset(g.initrd) } : undefined,
    cmdline: g.cmdline,
    memMiB: s.memMiB,
    mode: s.mode,
    mmu: s.mmu,
    vga: g.vga,
  };
}
