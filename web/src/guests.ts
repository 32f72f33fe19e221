// The built-in guests the page offers, and which modes each can run under. Files are served
// under guest/ by the Vite plugin (web/vite.config.ts) in development and copied into the build.

import type { MmuMode, VirtMode } from "../../vmm/virt/vmcs.js";
import type { GuestWork } from "./guest-work.js";

export interface Guest {
  id: string;
  /** The served names (under the page's address) and the files in this repository they come from. */
  kernel: string;
  kernelFile: string;
  initrd?: string;
  initrdFile?: string;
  cmdline: string;
  /** Default and smallest memory (MiB). */
  memMiB: number;
  /** Modes this guest runs under (the tiny Linux does not boot under trap; nanobench-pv needs pv). */
  modes: readonly VirtMode[];
  /** The guest draws on a VGA (the page shows the screen only once something is drawn). */
  vga: boolean;
  /** The guest stops the machine itself when done (the lab kernels, through isa-debug-exit). */
  finite: boolean;
  /** A disk and a shell script typed at the prompt (the tiny Linux doing one job, then rebooting). */
  work?: GuestWork;
}

const LINUX_FILES = {
  kernel: "guest/bzImage",
  kernelFile: "guests/linux/bzImage",
  initrd: "guest/initramfs.cpio.gz",
  initrdFile: "guests/linux/initramfs.cpio.gz",
} as const;

/**
 * The tiny Linux reading a blank 4 MiB disk once, 4 KiB at a time, then leaving the shell (the
 * guest reboots, which ends the run). `extra` goes on the kernel's command line.
 */
function linuxDiskRead(id: string, bus: "ide" | "virtio-blk", extra = ""): Guest {
  const dev = bus === "ide" ? "sda" : "vda";
  const irq = bus === "ide" ? "ata_piix" : "virtio";
  return {
    id,
    ...LINUX_FILES,
    cmdline: `console=ttyS0 panic=-1${extra}`,
    memMiB: 64,
    modes: ["native", "bt", "hvm", "pv"],
    vga: false,
    finite: true,
    work: {
      disk: { bus, mib: 4 },
      script: `dd if=/dev/${dev} of=/dev/null bs=4096 && echo x86lab-read-done; grep -h ${irq} /proc/interrupts; exit`,
    },
  };
}

/** The tiny Linux's shell with a disk to use by hand. */
function linuxWithDisk(id: string, disk: NonNullable<GuestWork["disk"]>): Guest {
  return {
    id,
    ...LINUX_FILES,
    cmdline: "console=ttyS0 panic=-1",
    memMiB: 64,
    modes: ["native", "bt", "hvm", "pv"],
    vga: true,
    finite: false,
    work: { disk },
  };
}

export const GUESTS: readonly Guest[] = [
  {
    id: "linux",
    kernel: "guest/bzImage",
    kernelFile: "guests/linux/bzImage",
    initrd: "guest/initramfs.cpio.gz",
    initrdFile: "guests/linux/initramfs.cpio.gz",
    cmdline: "console=ttyS0 panic=-1",
    memMiB: 64,
    modes: ["native", "bt", "hvm", "pv"],
    vga: true,
    finite: false,
  },
  // The tiny Linux with a 64 MiB virtio-blk disk /dev/vda that is a qcow2 overlay the page makes
  // over a raw image: the Disk tab shows its clusters being allocated as the guest writes.
  linuxWithDisk("linux-disk", { bus: "virtio-blk", mib: 64, format: "qcow2" }),
  // The tiny Linux with a 64 MiB virtio-blk disk kept in the browser's OPFS (opfs-disk.ts): what
  // the guest writes is still on /dev/vda after a reload.
  linuxWithDisk("linux-opfs", { bus: "virtio-blk", mib: 64, store: "opfs" }),
  // libata.dma=0: the IDE disk by programmed I/O, every 16-bit word through the data port.
  linuxDiskRead("linux-ide-read", "ide", " libata.dma=0"),
  linuxDiskRead("linux-virtio-read", "virtio-blk"),
  {
    id: "sensitive",
    kernel: "guest/labs/sensitive.elf",
    kernelFile: "guests/labs/sensitive/sensitive.elf",
    cmdline: "sensitive",
    memMiB: 32,
    modes: ["native", "trap", "bt", "hvm", "pv"],
    vga: false,
    finite: true,
  },
  {
    id: "nanobench",
    kernel: "guest/labs/nanobench.elf",
    kernelFile: "guests/labs/nanobench/nanobench.elf",
    cmdline: "nanobench",
    memMiB: 32,
    modes: ["native", "trap", "bt", "hvm"],
    vga: false,
    finite: true,
  },
  {
    id: "nanobench-pv",
    kernel: "guest/labs/nanobench-pv.elf",
    kernelFile: "guests/labs/nanobench/nanobench-pv.elf",
    cmdline: "nanobench-pv",
    memMiB: 32,
    modes: ["pv"],
    vga: false,
    finite: true,
  },
];

export function guestById(id: string): Guest | undefined {
  return GUESTS.find((g) => g.id === id);
}

/** The memory virtualizations a mode can use, the first being its default. */
export function mmusFor(mode: VirtMode): MmuMode[] {
  if (mode === "native") return ["direct"];
  if (mode === "trap" || mode === "bt") return ["shadow"];
  if (mode === "pv") return ["ept"];
  return ["ept", "shadow"];
}

export const MEMORY_CHOICES = [16, 32, 64, 128] as const;

/** SeaBIOS and its VGA BIOS, for booting an uploaded disk or CD image (served name, repository file). */
export const FIRMWARE = {
  bios: { served: "guest/seabios/bios.bin", file: "guests/seabios/bios.bin" },
  vgaBios: { served: "guest/seabios/vgabios.bin", file: "guests/seabios/vgabios.bin" },
} as const;
