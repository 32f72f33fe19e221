// What the Worker boots for a choice of settings: a built-in guest's files by URL, or an upload.

import { FIRMWARE, guestById } from "./guests.js";
import type { MachineConfig } from "./protocol.js";
import { type Settings, UPLOAD_GUEST } from "./settings.js";

export interface Upload {
  name: string;
  bytes: Uint8Array;
  /** What the file is: a kernel (booted directly), or a disk or CD image (booted by SeaBIOS). */
  kind: "kernel" | "hda" | "cdrom";
  /** The id of the copy kept in this browser (media.ts), when it came from or went there. */
  kept?: string;
  /** For a kernel: an initrd uploaded with it (the Linux initrd, or a Multiboot module). */
  initrd?: { name: string; bytes: Uint8Array };
  /** For a kernel: its command line (default UPLOAD_CMDLINE). */
  cmdline?: string;
}

/** An uploaded kernel's command line unless the student edits it: the console on COM1. */
export const UPLOAD_CMDLINE = "console=ttyS0";

const asset = (name: string) => new URL(name, document.baseURI).href;

export function configFor(s: Settings, upload: Upload | undefined): MachineConfig {
  if (s.guest === UPLOAD_GUEST && upload) {
    const image = upload.kind === "kernel" ? undefined : upload.kind;
    return {
      coreUrl: asset("core.wasm"),
      kernel: image ? undefined : { bytes: upload.bytes, name: upload.name },
      disk: image && {
        bytes: upload.bytes,
        name: upload.name,
        kind: image,
        biosUrl: asset(FIRMWARE.bios.served),
        vgaBiosUrl: asset(FIRMWARE.vgaBios.served),
      },
      initrd: image || !upload.initrd ? undefined : { bytes: upload.initrd.bytes, name: upload.initrd.name },
      cmdline: upload.cmdline ?? UPLOAD_CMDLINE,
      memMiB: s.memMiB,
      mode: s.mode,
      mmu: s.mmu,
      jit: s.jit,
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
    jit: s.jit,
    vga: g.vga,
    work: g.work,
  };
}
