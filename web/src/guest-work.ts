// The machine of a built-in guest that does one job and ends by itself: the disk it is given and
// the shell script typed at its first prompt. The Worker and the Node tests build the same
// machine from it, so a lab checked in Node is the lab a student runs in the page.

import { bytesSource, CowDisk } from "../../devices/storage/block.js";
import { VirtioBlk } from "../../devices/virtio/blk.js";
import type { VmOptions } from "../../vmm/vm.js";
import { Qcow2Disk } from "./qcow2-disk.js";

export interface GuestWork {
  /** A blank disk of `mib` MiB: the emulated IDE disk (PIIX3, primary master) or virtio-blk. */
  disk?: {
    bus: "ide" | "virtio-blk";
    mib: number;
    /**
     * raw (the default): the guest's writes stay in memory, sector by sector, over the raw image.
     * qcow2: they go into a new qcow2 overlay whose backing file is the raw image (thin
     * provisioning: the overlay grows by a cluster at a time as the guest writes; the page shows it).
     */
    format?: "raw" | "qcow2";
    /**
     * memory (the default): the image is made in memory at each boot. opfs: it is kept in the
     * browser's origin private file system and written in place, so the guest's writes are still
     * there after a reload (opfs-disk.ts; the format is then raw).
     */
    store?: "memory" | "opfs";
  };
  /**
   * Typed into COM1 at the first shell prompt. It should end with `exit`: the tiny Linux's init
   * then reboots, and the reset stops the machine, so the guest ends by itself.
   */
  script?: string;
}

/** The busybox shell's prompt of the tiny Linux (guests/linux/init). */
export const SHELL_PROMPT = "~ # ";

/** The PCI devices of a guest's work, or undefined for the default machine. */
export function pciFor(work: GuestWork | undefined): VmOptions["pci"] | undefined {
  return diskFor(work)?.pci;
}

/** The PCI devices of a guest's work and, when its disk is a qcow2 overlay, that disk. */
export function diskFor(work: GuestWork | undefined): { pci: VmOptions["pci"]; qcow2?: Qcow2Disk } | undefined {
  const d = work?.disk;
  if (!d) return undefined;
  const image = blankImage(d.mib);
  const name = `blank-${d.mib}M`;
  const qcow2 = d.format === "qcow2" ? Qcow2Disk.overlay(`${name}.qcow2`, image) : undefined;
  const disk = qcow2 ?? new CowDisk(bytesSource(image), { name: `${name}.img` });
  const pci: VmOptions["pci"] =
    d.bus === "ide" ? { hda: { kind: "disk", disk } } : { virtio: [new VirtioBlk({ disk })] };
  return { pci, qcow2 };
}

/** A blank disk whose sectors each start with their number's low byte (reads return data, not zeros the host could skip). */
export function blankImage(mib: number): Uint8Array {
  const image = new Uint8Array(mib << 20);
  for (let i = 0; i < image.length; i += 512) image[i] = (i >> 9) & 0xff;
  return image;
}

/** Watches the console for the first prompt and hands out the script once, when it is due. */
export class ScriptTyper {
  private tail = "";
  private due = false;
  private typed = false;

  constructor(private readonly script: string | undefined) {}

  onByte(byte: number): void {
    if (this.typed || this.due || this.script === undefined) return;
    this.tail = (this.tail + String.fromCharCode(byte)).slice(-SHELL_PROMPT.length);
    if (this.tail === SHELL_PROMPT) this.due = true;
  }

  /** The script's bytes (with the Enter that runs it) once the prompt has appeared; then never again. */
  take(): Uint8Array | undefined {
    if (!this.due || this.typed) return undefined;
    this.typed = true;
    return new TextEncoder().encode(`${this.script}\r`);
  }
}
