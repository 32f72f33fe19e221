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
 * The tiny Linux doing `work` (`extra` goes on its command line); a guest that is not `finite` is
 * ended by the lab (a migrating step's `after`).
 */
function tinyLinux(id: string, work: GuestWork, opts: { finite?: boolean; extra?: string } = {}): Guest {
  return {
    id,
    ...LINUX_FILES,
    cmdline: `console=ttyS0 panic=-1${opts.extra ?? ""}`,
    memMiB: 64,
    modes: ["native", "bt", "hvm", "pv"],
    vga: false,
    finite: opts.finite ?? true,
    work,
  };
}

/**
 * The tiny Linux reading a blank 4 MiB disk once, 4 KiB at a time, then leaving the shell (the
 * guest reboots, which ends the run). `extra` goes on the kernel's command line.
 */
function linuxDiskRead(id: string, bus: "ide" | "virtio-blk", extra = ""): Guest {
  const dev = bus === "ide" ? "sda" : "vda";
  const irq = bus === "ide" ? "ata_piix" : "virtio";
  const script = `dd if=/dev/${dev} of=/dev/null bs=4096 && echo x86lab-read-done; grep -h ${irq} /proc/interrupts; exit`;
  return tinyLinux(id, { disk: { bus, mib: 4 }, script }, { extra });
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

/**
 * The tiny Linux with a 64 MiB thin-provisioned disk (a qcow2 overlay over a raw image, 64 KiB
 * clusters, virtio-blk) running `script` (which prints a marker) and exiting: the
 * thin-provisioning lab's steps. Writes use O_DIRECT so they reach the disk before the shell exits.
 */
const linuxQcow2 = (id: string, script: string) =>
  tinyLinux(id, { disk: { bus: "virtio-blk", mib: 64, format: "qcow2" }, script: `${script}; exit` });

/** 4 MiB (64 clusters) of the backing image's data copied to guest offset 4 MiB; `skip` picks which. */
const copy4MiB = (skip: number) =>
  `dd if=/dev/vda of=/dev/vda bs=65536 count=64 skip=${skip} seek=64 oflag=direct 2>/dev/null`;

/**
 * The tiny Linux at its shell running `script` (a workload, then a marker the lab waits for); it
 * does not end by itself: a lab step migrates it and then types `exit` on the destination.
 */
const linuxShell = (id: string, script: string) => tinyLinux(id, { script }, { finite: false });

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
  linuxQcow2("linux-qcow2-write", `${copy4MiB(1)} && echo x86lab-wrote-$((2*32))`),
  linuxQcow2(
    "linux-qcow2-zeros",
    "dd if=/dev/zero of=/dev/vda bs=65536 count=64 seek=64 oflag=direct 2>/dev/null && echo x86lab-zeroed-$((2*32))",
  ),
  linuxQcow2("linux-qcow2-rewrite", `${copy4MiB(1)} && ${copy4MiB(2)} && echo x86lab-rewrote-$((2*32))`),
  // The migration lab's guests: idle at the prompt, or rewriting a 1 MiB file over and over
  // (the loop the Migrate tab's "dirty" button and bench:migrate start).
  linuxShell("linux-migrate-idle", "sleep 1; echo x86lab-migrate-$((1+1))"),
  linuxShell(
    "linux-migrate-dirty",
    "(i=0; while :; do i=$((i+1)); dd if=/bin/busybox of=/tmp/d bs=4k count=256 skip=$((i%8)) conv=notrunc 2>/dev/null; done) & sleep 1; echo x86lab-migrate-$((1+1))",
  ),
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
