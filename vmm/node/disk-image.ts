// The CLI's disks: a raw or qcow2 file (format= or the file's magic), its backing chain, and
// for snapshot=on (the default) a temporary qcow2 overlay over it in the system's temp folder,
// unlinked as soon as it is open, as QEMU's -snapshot does: guest writes go to that file, not
// to the host's memory, and vanish with the process. A writable qcow2 (snapshot=off) takes the
// guest's writes in place, allocating clusters as they come.

import { unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { ImageSource } from "../../devices/storage/block.js";
import { ImageFormatError } from "../storage/file.js";
import { type DiskImage, type ImageFormat, imageSource } from "../storage/image.js";
import { detectFormat, openImage } from "../storage/open.js";
import { createQcow2 } from "../storage/qcow2-create.js";
import { UserInputError } from "./files.js";
import { fileSource } from "./image-file.js";
import { HostFile, hostOpenOptions } from "./storage-file.js";

export interface DiskOpenOptions {
  what: string;
  /** Writes reach the image (snapshot=off, not read-only). */
  writable: boolean;
  /** Guest writes go to a temporary overlay (snapshot=on on a writable drive). */
  overlay: boolean;
  format?: ImageFormat;
  limit?: { bytes: number; why: string };
}

let overlays = 0;

/** The image behind each source this file opened (savevm's internal snapshots need it). */
const images = new WeakMap<ImageSource, DiskImage>();

/** The raw or qcow2 image an ImageSource from openDiskSource reads, if any. */
export function imageBehind(source: ImageSource | undefined): DiskImage | undefined {
  return source ? images.get(source) : undefined;
}

function remember(source: ImageSource, image: DiskImage): ImageSource {
  images.set(source, image);
  return source;
}

/** Opens a drive's image as the disk models' ImageSource; every failure is a UserInputError. */
export function openDiskSource(path: string, o: DiskOpenOptions): ImageSource {
  try {
    const format = o.format ?? probe(path, o.what);
    if (format === "raw" && !o.overlay) return fileSource(path, o.what, o.writable, o.limit);
    const image =
      format === "raw" ? undefined : openImage(new HostFile(path, o.writable), { format, ...hostOpenOptions(path) });
    const size = image?.size ?? fileSource(path, o.what, false, o.limit).size;
    if (o.limit && size > o.limit.bytes)
      throw new UserInputError(`${o.what} '${path}' is ${size} bytes, larger than ${o.limit.why} can be`);
    if (!o.overlay) return remember(imageSource(image as DiskImage, o.writable), image as DiskImage);
    image?.close();
    // As QEMU's -snapshot: savevm's internal snapshots go into this overlay and end with it.
    const overlay = temporaryOverlay(path, format, size);
    return remember({ ...imageSource(overlay, true), throwaway: true }, overlay);
  } catch (e) {
    if (e instanceof ImageFormatError)
      throw new UserInputError(`${o.what} '${path}': ${e.message.replace(`${path}: `, "")}`);
    throw e;
  }
}

function probe(path: string, what: string): ImageFormat {
  // fileSource gives the CLI's messages for a missing or special file.
  fileSource(path, what, false);
  const f = new HostFile(path, false);
  try {
    return detectFormat(f);
  } finally {
    f.close();
  }
}

/** A qcow2 file over `path` that nobody else can see (unlinked once open). */
function temporaryOverlay(path: string, format: ImageFormat, size: number): DiskImage {
  const name = join(tmpdir(), `x86lab-snapshot-${process.pid}-${overlays++}.qcow2`);
  const file = new HostFile(name, true, true);
  try {
    createQcow2(file, { size, backingFile: resolve(path), backingFormat: format });
    return openImage(file, { ...hostOpenOptions(name), id: name });
  } finally {
    unlinkSync(name);
  }
}
