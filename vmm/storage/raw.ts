// A raw image: the virtual disk is the file, byte for byte.

import { ImageFormatError, type StorageFile } from "./file.js";
import type { DiskImage, LayerStatus } from "./image.js";

export class RawImage implements DiskImage {
  readonly format = "raw";
  readonly readOnly: boolean;

  constructor(
    readonly file: StorageFile,
    readOnly = !file.writable,
  ) {
    this.readOnly = readOnly || !file.writable;
  }

  get size(): number {
    return this.file.size();
  }

  read(offset: number, dest: Uint8Array): void {
    this.file.read(offset, dest);
  }

  write(offset: number, data: Uint8Array): void {
    if (this.readOnly) throw new ImageFormatError(`${this.file.name}: the image is read-only`);
    if (offset + data.length > this.size) {
      throw new ImageFormatError(`${this.file.name}: a write past the end of the disk`);
    }
    this.file.write(offset, data);
  }

  status(offset: number, length: number): LayerStatus {
    return {
      length: Math.min(length, this.size - offset),
      allocated: true,
      zero: false,
      hostOffset: offset,
      compressed: false,
    };
  }

  resize(size: number): void {
    this.file.truncate(size);
  }

  flush(): void {
    this.file.flush();
  }

  close(): void {
    this.file.close();
  }
}
