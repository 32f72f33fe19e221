// Opens an image and its backing chain: the format from the caller (`format=`) or from the
// file's first bytes, each backing file found through the caller's opener (Node resolves names
// against the overlay's folder; the page against its uploaded files). A chain that comes back
// to a file already in it, or runs deeper than any sane chain, is refused before any read.

import { ImageFormatError, type StorageFile } from "./file.js";
import type { DiskImage, ImageFormat } from "./image.js";
import { type Codec, Qcow2Image } from "./qcow2.js";
import { QCOW2_MAGIC, readHeader } from "./qcow2-header.js";
import { RawImage } from "./raw.js";

const MAX_CHAIN = 64;

/** A file found by name, with an identity that is the same however the name was spelled. */
export interface OpenedFile {
  file: StorageFile;
  id: string;
}

/** Finds a backing file named in `from` (always opened read-only). */
export type BackingOpener = (name: string, from: StorageFile) => OpenedFile;

export interface OpenOptions {
  /** Forced format (QEMU's format=); otherwise detected from the magic. */
  format?: ImageFormat;
  readOnly?: boolean;
  codec?: Codec;
  /** Needed when the image has a backing file. */
  openBacking?: BackingOpener;
  /** The top file's identity, for loop detection. */
  id?: string;
}

export function detectFormat(file: StorageFile): ImageFormat {
  if (file.size() < 4) return "raw";
  const magic = new Uint8Array(4);
  file.read(0, magic);
  return new DataView(magic.buffer).getUint32(0) === QCOW2_MAGIC ? "qcow2" : "raw";
}

export function parseFormat(name: string, what = "format"): ImageFormat {
  if (name === "raw" || name === "qcow2") return name;
  throw new ImageFormatError(`${what} '${name}': use raw or qcow2`);
}

export function openImage(file: StorageFile, options: OpenOptions = {}): DiskImage {
  return openLayer(file, options.format, options.readOnly ?? !file.writable, options, [options.id ?? file.name]);
}

function openLayer(
  file: StorageFile,
  format: ImageFormat | undefined,
  readOnly: boolean,
  options: OpenOptions,
  seen: string[],
): DiskImage {
  const fmt = format ?? detectFormat(file);
  if (fmt === "raw") return new RawImage(file, readOnly);
  const header = readHeader(file);
  let backing: DiskImage | undefined;
  if (header.backingFile !== undefined) {
    if (!options.openBacking)
      throw new ImageFormatError(`${file.name}: has a backing file '${header.backingFile}' and no way to open it`);
    const next = options.openBacking(header.backingFile, file);
    if (seen.includes(next.id)) {
      next.file.close();
      throw new ImageFormatError(`${file.name}: the backing chain loops: ${[...seen, next.id].join(" -> ")}`);
    }
    if (seen.length >= MAX_CHAIN) {
      next.file.close();
      throw new ImageFormatError(`${file.name}: the backing chain is deeper than ${MAX_CHAIN} images`);
    }
    try {
      const bf = header.backingFormat === undefined ? undefined : parseFormat(header.backingFormat, "backing format");
      backing = openLayer(next.file, bf, true, options, [...seen, next.id]);
    } catch (e) {
      next.file.close();
      throw e;
    }
  }
  try {
    return new Qcow2Image(file, header, { readOnly, backing, codec: options.codec });
  } catch (e) {
    backing?.close();
    throw e;
  }
}
