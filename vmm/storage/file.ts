// The bytes under a disk image format: a host file (Node), an OPFS handle or a Blob (the page),
// an array (tests). Synchronous, like the block layer above it. Formats (raw, qcow2) read and
// write their metadata and data through this and nothing else, so the same code runs anywhere.

export interface StorageFile {
  /** For messages: the file's name as the user gave it. */
  readonly name: string;
  readonly writable: boolean;
  /** The current length in bytes (grows as a format appends clusters). */
  size(): number;
  /** Fills `dest` with the bytes at `offset`; bytes past the end read as zeros. */
  read(offset: number, dest: Uint8Array): void;
  /** Writes `data` at `offset`, growing the file when it ends past the end. */
  write(offset: number, data: Uint8Array): void;
  /** Sets the length (raw resize, qcow2 leak repair at the tail). */
  truncate(size: number): void;
  /** Pushes written bytes to stable storage. */
  flush(): void;
  close(): void;
}

/** An image that cannot be used as given: the message names the file and the reason. */
export class ImageFormatError extends Error {
  override name = "ImageFormatError";
}

/** A StorageFile in memory (tests, the page's uploaded images). The array grows on writes. */
export class MemoryFile implements StorageFile {
  private bytes: Uint8Array;
  private length: number;

  constructor(
    readonly name: string,
    initial: Uint8Array = new Uint8Array(0),
    readonly writable = true,
  ) {
    this.bytes = initial;
    this.length = initial.length;
  }

  size(): number {
    return this.length;
  }

  read(offset: number, dest: Uint8Array): void {
    const end = Math.min(this.length, offset + dest.length);
    if (offset >= end) {
      dest.fill(0);
      return;
    }
    dest.set(this.bytes.subarray(offset, end));
    dest.fill(0, end - offset);
  }

  write(offset: number, data: Uint8Array): void {
    if (!this.writable) throw new ImageFormatError(`${this.name}: the file is read-only`);
    const end = offset + data.length;
    if (end > this.bytes.length) {
      const grown = new Uint8Array(Math.max(end, this.bytes.length * 2));
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
    }
    this.bytes.set(data, offset);
    this.length = Math.max(this.length, end);
  }

  truncate(size: number): void {
    if (size > this.bytes.length) {
      const grown = new Uint8Array(size);
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
    } else if (size < this.length) {
      this.bytes.fill(0, size, this.length);
    }
    this.length = size;
  }

  flush(): void {}
  close(): void {}

  /** A copy of the current contents. */
  contents(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }
}
