// Node adapters for vmm/storage: a host file as a StorageFile (positioned reads and writes, so
// an image is never loaded whole), backing files found next to their overlay, and zlib's raw
// deflate as the qcow2 compression codec.

import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, realpathSync, writeSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { constants, deflateRawSync, inflateRawSync } from "node:zlib";
import { ImageFormatError, type StorageFile } from "../storage/file.js";
import type { BackingOpener, OpenOptions } from "../storage/open.js";
import type { Codec } from "../storage/qcow2.js";

export class HostFile implements StorageFile {
  private fd: number;
  private length: number;

  constructor(
    readonly name: string,
    readonly writable: boolean,
    create = false,
  ) {
    try {
      this.fd = openSync(name, create ? "w+" : writable ? "r+" : "r");
    } catch (e) {
      throw new ImageFormatError(`${name}: cannot open: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const st = fstatSync(this.fd);
    if (!st.isFile() && !st.isBlockDevice()) {
      closeSync(this.fd);
      throw new ImageFormatError(`${name}: not a regular file`);
    }
    this.length = st.size;
  }

  size(): number {
    return this.length;
  }

  read(offset: number, dest: Uint8Array): void {
    let done = 0;
    while (done < dest.length && offset + done < this.length) {
      const n = readSync(this.fd, dest, done, dest.length - done, offset + done);
      if (n <= 0) break;
      done += n;
    }
    dest.fill(0, done);
  }

  write(offset: number, data: Uint8Array): void {
    if (!this.writable) throw new ImageFormatError(`${this.name}: the file is open read-only`);
    let done = 0;
    while (done < data.length) done += writeSync(this.fd, data, done, data.length - done, offset + done);
    this.length = Math.max(this.length, offset + data.length);
  }

  truncate(size: number): void {
    ftruncateSync(this.fd, size);
    this.length = size;
  }

  flush(): void {
    if (this.writable) fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

/** QEMU compresses with a 4 KiB window (windowBits -12); inflating with 32 KiB reads any window. */
export const zlibCodec: Codec = {
  inflate: (src, size) => inflateRawSync(src, { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: size }),
  deflate: (src) => deflateRawSync(src, { windowBits: 12, level: 6 }),
};

/** A backing name is relative to its overlay's folder, as in QEMU. */
export const openBackingFile: BackingOpener = (name, from) => {
  // Joined, not resolved: a relative overlay name gives a relative backing name, as in QEMU.
  const path = isAbsolute(name) ? name : join(dirname(from.name), name);
  const file = new HostFile(path, false);
  return { file, id: realpathSync(path) };
};

/** Options for openImage on the host: zlib, backing files next to the overlay. */
export function hostOpenOptions(path: string): Pick<OpenOptions, "codec" | "openBacking" | "id"> {
  let id = path;
  try {
    id = realpathSync(path);
  } catch {}
  return { codec: zlibCodec, openBacking: openBackingFile, id };
}
