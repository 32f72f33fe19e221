// What every disk image format offers the block devices and the `img` tool: a virtual disk of
// `size` bytes read and written at any byte offset, the layer's own allocation status (for
// `img map`, `convert` and `commit`), and an optional backing image under it.

import type { ImageSource } from "../../devices/storage/block.js";
import type { StorageFile } from "./file.js";

export type ImageFormat = "raw" | "qcow2";

/** One run of the virtual disk as this layer (not its backing) sees it. */
export interface LayerStatus {
  /** Bytes from the queried offset with the same status (at least 1). */
  length: number;
  /** This layer decides the contents (data or a zero cluster); false: the backing does. */
  allocated: boolean;
  /** Reads as zeros without reading data (a zero cluster, or unallocated with no backing). */
  zero: boolean;
  /** Where the bytes sit in this layer's file, when they are stored uncompressed. */
  hostOffset?: number;
  compressed: boolean;
}

export interface DiskImage {
  readonly format: ImageFormat;
  readonly file: StorageFile;
  /** The virtual disk's size in bytes. */
  readonly size: number;
  readonly readOnly: boolean;
  /** The image under this one (reads of unallocated areas go there). */
  readonly backing?: DiskImage;
  /** Fills `dest` with the virtual disk's bytes at `offset` (inside the disk). */
  read(offset: number, dest: Uint8Array): void;
  write(offset: number, data: Uint8Array): void;
  /** The status of this layer from `offset` on, at most `length` bytes of it. */
  status(offset: number, length: number): LayerStatus;
  flush(): void;
  /** Closes this image and its backing chain. */
  close(): void;
}

/** The disk models' view of an image (CowDisk takes an ImageSource). */
export function imageSource(image: DiskImage, writable: boolean): ImageSource {
  const source: ImageSource = {
    size: image.size,
    readAt: (offset, dest) => image.read(offset, dest),
  };
  if (writable) {
    source.writeAt = (offset, data) => image.write(offset, data);
    source.flush = () => image.flush();
  }
  return source;
}

/** Every image in the chain, top first. */
export function chainOf(image: DiskImage): DiskImage[] {
  const out: DiskImage[] = [];
  for (let i: DiskImage | undefined = image; i; i = i.backing) out.push(i);
  return out;
}
