// A qcow2 disk in the page: the image file lives in memory (a MemoryFile), the guest's writes
// allocate clusters in it as qcow2 does on a host (vmm/storage/qcow2.ts), and the allocation
// panel reads its tables. Two ways in: a qcow2 image the user uploaded (a copy: the upload and a
// copy kept in IndexedDB never change), or an overlay the page makes over a built-in raw disk
// (the raw bytes are the backing file, read-only). A saved VM keeps the whole qcow2 file as the
// disk's overlay, so Save state works on these disks as on the others.

import { type BlockDevice, CowDisk, DiskImageError } from "../../devices/storage/block.js";
import { ImageFormatError, MemoryFile } from "../../vmm/storage/file.js";
import { type DiskImage, imageSource } from "../../vmm/storage/image.js";
import { detectFormat, openImage } from "../../vmm/storage/open.js";
import { Qcow2Image } from "../../vmm/storage/qcow2.js";
import { createQcow2 } from "../../vmm/storage/qcow2-create.js";
import { RawImage } from "../../vmm/storage/raw.js";

/** The first bytes say qcow2 ("QFI\xfb"). */
export function isQcow2(bytes: Uint8Array): boolean {
  return detectFormat(new MemoryFile("probe", bytes.subarray(0, 4), false)) === "qcow2";
}

/** A MemoryFile that counts its writes: the panel redraws only when the file changed. */
class CountingFile extends MemoryFile {
  writes = 0;
  override write(offset: number, data: Uint8Array): void {
    super.write(offset, data);
    this.writes++;
  }
}

export class Qcow2Disk implements BlockDevice {
  readonly sectors: number;
  readonly size: number;
  readonly readOnly = false;
  /** Guest write requests and the bytes they carried. */
  guestWrites = 0;
  guestBytesWritten = 0;
  private file: CountingFile;
  private img: Qcow2Image;
  private disk: CowDisk;

  private constructor(
    private readonly name: string,
    bytes: Uint8Array,
    private readonly backing: Uint8Array | undefined,
  ) {
    [this.file, this.img] = this.open(bytes);
    this.size = this.img.size;
    this.sectors = this.size / 512;
    this.disk = this.blockDevice(this.img);
  }

  /**
   * An uploaded qcow2 image (copied: the guest's writes never reach `bytes`). One with a backing
   * file is refused: the page has only this one file.
   */
  static fromImage(name: string, bytes: Uint8Array): Qcow2Disk {
    return new Qcow2Disk(name, bytes.slice(), undefined);
  }

  /** A new, empty qcow2 overlay over a raw image (its backing file, never written). */
  static overlay(name: string, raw: Uint8Array): Qcow2Disk {
    const file = new MemoryFile(name);
    createQcow2(file, { size: raw.length, backingFile: `${name.replace(/\.qcow2$/, "")}.img`, backingFormat: "raw" });
    return new Qcow2Disk(name, file.contents(), raw);
  }

  private open(bytes: Uint8Array): [CountingFile, Qcow2Image] {
    const file = new CountingFile(this.name, bytes);
    const backing = this.backing;
    const image = openImage(file, {
      format: "qcow2",
      openBacking: backing
        ? (name) => ({ file: new MemoryFile(name, backing, false), id: `backing:${name}` })
        : (name) => {
            throw new ImageFormatError(
              `${this.name}: has a backing file '${name}', which the page cannot open (it has only this one file); ` +
                "flatten it first: npm run img -- convert -O qcow2 IMAGE FLAT.qcow2",
            );
          },
    });
    if (!(image instanceof Qcow2Image)) throw new ImageFormatError(`${this.name}: not a qcow2 image`);
    if (image.size % 512 !== 0 || image.size === 0) {
      image.close();
      throw new DiskImageError(`${this.name}: a virtual size of ${image.size} bytes is not whole sectors`);
    }
    if (image.backing && !(image.backing instanceof RawImage)) {
      image.close();
      throw new ImageFormatError(`${this.name}: the overlay's backing file must be raw`);
    }
    return [file, image];
  }

  private blockDevice(image: DiskImage): CowDisk {
    return new CowDisk(imageSource(image, true), { name: this.name, writeThrough: true });
  }

  /** The image the panel reads (a new object after a restore). */
  get image(): Qcow2Image {
    return this.img;
  }

  /** Writes to the qcow2 file so far (data, tables and refcounts alike). */
  get fileWrites(): number {
    return this.file.writes;
  }

  read(sector: number, count: number): Uint8Array {
    return this.disk.read(sector, count);
  }

  write(sector: number, data: Uint8Array): void {
    this.disk.write(sector, data);
    this.guestWrites++;
    this.guestBytesWritten += data.length;
  }

  flush(): void {
    this.disk.flush();
  }

  /** The whole qcow2 file: it is what the guest wrote that the backing (or the upload) does not hold. */
  saveOverlay(): Uint8Array {
    return this.file.contents();
  }

  /** Takes a saved qcow2 file back; one that does not open, or has another size, is refused unchanged. */
  loadOverlay(bytes: Uint8Array): void {
    let opened: [CountingFile, Qcow2Image];
    try {
      opened = this.open(bytes.slice());
    } catch (e) {
      throw new DiskImageError(`saved disk overlay: ${(e as Error).message}`);
    }
    if (opened[1].size !== this.size) {
      throw new DiskImageError(`saved disk overlay: ${opened[1].size} bytes, this disk has ${this.size}`);
    }
    // The counters describe the file, so they carry on from the restored one.
    opened[0].writes = this.file.writes + 1;
    [this.file, this.img] = opened;
    this.disk = this.blockDevice(this.img);
  }
}
