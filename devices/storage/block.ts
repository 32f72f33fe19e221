// Block devices for the disk models: a raw image seen as 512-byte sectors, read and written in
// whole sectors. The image itself sits behind an `ImageSource` (bytes in memory here; the CLI
// supplies a file-backed source, the page a Blob-backed one), so this file needs no Node module.
//
// `CowDisk` puts a copy-on-write overlay over a read-only source: a written sector lives in memory
// from then on and the source's bytes are never touched, unless the caller asks for writes to go
// through (then each write is also passed to the source's `writeAt`).
//
// A source's methods may return promises (a File in the page, read with Blob.arrayBuffer): such
// a disk is used through `submit` (request.ts), which completes when the data is there; its
// synchronous read/write/flush then fail with a BlockIoError saying so.

import { BLOCK_OK, type BlockDone, type BlockRequest, resultOf } from "./request.js";

export const SECTOR_SIZE = 512;

/** A whole-sector view of a disk. Sector numbers and counts are in 512-byte sectors. */
export interface BlockDevice {
  /** Number of 512-byte sectors. */
  readonly sectors: number;
  /** Size in bytes (sectors * 512). */
  readonly size: number;
  readonly readOnly: boolean;
  /** `count` sectors from `sector`; throws `BlockRangeError` past the end. */
  read(sector: number, count: number): Uint8Array;
  /** Writes whole sectors (`data.length` a multiple of 512) at `sector`. */
  write(sector: number, data: Uint8Array): void;
  /** Pushes written data to stable storage, where there is any. */
  flush(): void;
  /**
   * The asynchronous form of read/write/flush (request.ts): present on disks that can complete
   * later; the disk models use it when it is there. The request is already checked (in range,
   * whole sectors, no write to a read-only disk); `done` is called exactly once.
   */
  submit?(req: BlockRequest, done: BlockDone): void;
  /**
   * What the guest wrote that the image does not hold, as bytes a saved VM keeps (a disk whose
   * writes reach the image itself returns undefined: its contents cannot travel with the VM).
   */
  saveOverlay?(): Uint8Array | undefined;
  /** Puts back what saveOverlay returned (the overlay starts over from it). */
  loadOverlay?(bytes: Uint8Array): void;
}

/** The bytes behind a disk: a file, a Blob, an array. */
export interface ImageSource {
  readonly size: number;
  /** Fills `dest` with the bytes at `offset` (always inside the image). */
  readAt(offset: number, dest: Uint8Array): void;
  /** Present when the source can be written (write-through mode only). */
  writeAt?(offset: number, data: Uint8Array): void;
  flush?(): void;
  /** The source is itself a throwaway copy-on-write layer (a temporary overlay file): writes go to it. */
  throwaway?: boolean;
}

/**
 * A source whose methods may answer with a promise (a File read with Blob.arrayBuffer): the
 * access completes when it settles, and a rejection is an I/O error.
 */
export interface AsyncImageSource {
  readonly size: number;
  readAt(offset: number, dest: Uint8Array): void | Promise<void>;
  writeAt?(offset: number, data: Uint8Array): void | Promise<void>;
  flush?(): void | Promise<void>;
  throwaway?: boolean;
}

/** A disk image that cannot be used as given (bad size, empty). */
export class DiskImageError extends Error {
  override name = "DiskImageError";
}

/** An access outside the device: the disk model turns it into an ATA/ATAPI error. */
export class BlockRangeError extends RangeError {
  override name = "BlockRangeError";
}

/**
 * The image failed under a request (a corrupt qcow2 table, a host I/O error): the disk model
 * reports it to the guest as it reports a bad range, and the host carries on.
 */
export class BlockIoError extends BlockRangeError {
  override name = "BlockIoError";
}

/** A write to a read-only disk: ATA reports ABRT, virtio-blk IOERR. */
export class BlockReadOnlyError extends BlockRangeError {
  override name = "BlockReadOnlyError";
}

function ioError(name: string, e: unknown): BlockRangeError {
  if (e instanceof BlockRangeError) return e;
  return new BlockIoError(`${name}: ${e instanceof Error ? e.message : String(e)}`);
}

/**
 * Runs a source access; whatever it throws, or the promise it returns rejects with, becomes a
 * BlockIoError naming the image. Returns the promise of an asynchronous access.
 */
function sourceIo(name: string, access: () => unknown): Promise<void> | undefined {
  let r: unknown;
  try {
    r = access();
  } catch (e) {
    throw ioError(name, e);
  }
  // A synchronous source may return anything (`dest.fill(x)` returns dest): only a promise waits.
  if (!(r instanceof Promise)) return undefined;
  return (r as Promise<void>).then(undefined, (e) => {
    throw ioError(name, e);
  });
}

/** The synchronous methods of a disk whose source answered with a promise. */
function notSync(name: string, p: Promise<void>): never {
  p.catch(() => {});
  throw new BlockIoError(`${name}: the image is read asynchronously; the disk model must submit requests`);
}

/** An in-memory image (the array is used as is, not copied). */
export function bytesSource(bytes: Uint8Array): ImageSource {
  return {
    size: bytes.length,
    readAt(offset, dest) {
      dest.set(bytes.subarray(offset, offset + dest.length));
    },
    writeAt(offset, data) {
      bytes.set(data, offset);
    },
  };
}

export interface CowDiskOptions {
  /** Pass writes through to the source as well (the user asked for it). Default false. */
  writeThrough?: boolean;
  /** Refuse writes (they fail as a range error would: the disk model reports an ATA error). */
  readOnly?: boolean;
  /** The required size granularity in bytes (512 for disks; 2048 suits CD images). Default 512. */
  granularity?: number;
  /** For messages: the image's file name. */
  name?: string;
}

/** A disk over an image source with a copy-on-write overlay of written sectors. */
export class CowDisk implements BlockDevice {
  readonly sectors: number;
  readonly size: number;
  readonly readOnly: boolean;
  private readonly writeThrough: boolean;
  private readonly name: string;
  /** Written sectors, by sector number. */
  private readonly overlay = new Map<number, Uint8Array>();

  constructor(
    private readonly source: ImageSource | AsyncImageSource,
    options: CowDiskOptions = {},
  ) {
    const name = options.name ?? "disk image";
    const granularity = options.granularity ?? SECTOR_SIZE;
    const size = source.size;
    if (!Number.isSafeInteger(size) || size <= 0) {
      throw new DiskImageError(`${name}: the image is empty`);
    }
    if (size % granularity !== 0) {
      throw new DiskImageError(
        `${name}: size ${size} bytes is not a multiple of ${granularity} bytes (a raw image holds whole sectors)`,
      );
    }
    if (options.writeThrough && !source.writeAt) {
      throw new DiskImageError(`${name}: writes cannot go through, the source is read-only`);
    }
    this.name = name;
    this.size = size;
    this.sectors = size / SECTOR_SIZE;
    this.readOnly = options.readOnly ?? false;
    this.writeThrough = options.writeThrough ?? false;
  }

  /** Sectors held in the overlay (written since start, in copy-on-write mode). */
  get dirtySectors(): number {
    return this.overlay.size;
  }

  private check(sector: number, count: number): void {
    if (!Number.isSafeInteger(sector) || !Number.isSafeInteger(count) || sector < 0 || count < 0) {
      throw new BlockRangeError(`invalid sector range ${sector}+${count}`);
    }
    if (sector + count > this.sectors) {
      throw new BlockRangeError(`sectors ${sector}+${count} are past the end of the disk (${this.sectors} sectors)`);
    }
  }

  read(sector: number, count: number): Uint8Array {
    this.check(sector, count);
    const out = new Uint8Array(count * SECTOR_SIZE);
    const p = this.readInto(sector, count, out);
    if (p) notSync(this.name, p);
    return out;
  }

  /** Fills `out` from the overlay and the source; the promise of the source's asynchronous reads. */
  private readInto(sector: number, count: number, out: Uint8Array): Promise<void> | undefined {
    if (this.overlay.size === 0 || this.writeThrough) {
      return sourceIo(this.name, () => this.source.readAt(sector * SECTOR_SIZE, out));
    }
    // Runs of sectors not in the overlay come from the source in one read each.
    const waits: Promise<void>[] = [];
    let run = -1;
    for (let i = 0; i <= count; i++) {
      const own = i < count ? this.overlay.get(sector + i) : undefined;
      if (i < count && !own) {
        if (run < 0) run = i;
        continue;
      }
      if (run >= 0) {
        const [from, to] = [run, i];
        const p = sourceIo(this.name, () =>
          this.source.readAt((sector + from) * SECTOR_SIZE, out.subarray(from * SECTOR_SIZE, to * SECTOR_SIZE)),
        );
        if (p) waits.push(p);
        run = -1;
      }
      if (own) out.set(own, i * SECTOR_SIZE);
    }
    return waits.length > 0 ? Promise.all(waits).then(() => {}) : undefined;
  }

  write(sector: number, data: Uint8Array): void {
    if (data.length % SECTOR_SIZE !== 0)
      throw new BlockRangeError(`write of ${data.length} bytes is not whole sectors`);
    const count = data.length / SECTOR_SIZE;
    this.check(sector, count);
    if (this.readOnly) throw new BlockReadOnlyError("the disk is read-only");
    const p = this.writeSectors(sector, data);
    if (p) notSync(this.name, p);
  }

  private writeSectors(sector: number, data: Uint8Array): Promise<void> | undefined {
    if (this.writeThrough) return sourceIo(this.name, () => this.source.writeAt!(sector * SECTOR_SIZE, data));
    const count = data.length / SECTOR_SIZE;
    for (let i = 0; i < count; i++) {
      this.overlay.set(sector + i, data.slice(i * SECTOR_SIZE, (i + 1) * SECTOR_SIZE));
    }
    return undefined;
  }

  flush(): void {
    const p = this.flushSource();
    if (p) notSync(this.name, p);
  }

  private flushSource(): Promise<void> | undefined {
    return this.writeThrough ? sourceIo(this.name, () => this.source.flush?.()) : undefined;
  }

  /** A request (request.ts): completes inside this call unless the source answers with a promise. */
  submit(req: BlockRequest, done: BlockDone): void {
    let p: Promise<void> | undefined;
    try {
      if (req.op === "read") {
        this.check(req.sector, req.count);
        p = this.readInto(req.sector, req.count, req.data!);
      } else if (req.op === "write") {
        this.check(req.sector, req.count);
        if (this.readOnly) throw new BlockReadOnlyError("the disk is read-only");
        p = this.writeSectors(req.sector, req.data!);
      } else {
        p = this.flushSource();
      }
    } catch (e) {
      done(resultOf(e));
      return;
    }
    if (!p) done(BLOCK_OK);
    else
      p.then(
        () => done(BLOCK_OK),
        (e) => done(resultOf(e)),
      );
  }

  /** The overlay as u32 sector count, the sector numbers (u32, ascending), then their bytes. */
  saveOverlay(): Uint8Array | undefined {
    if (this.writeThrough) return undefined;
    const sectors = [...this.overlay.keys()].sort((a, b) => a - b);
    const out = new Uint8Array(4 + sectors.length * (4 + SECTOR_SIZE));
    const dv = new DataView(out.buffer);
    dv.setUint32(0, sectors.length, true);
    sectors.forEach((s, i) => {
      dv.setUint32(4 + i * 4, s, true);
      out.set(this.overlay.get(s)!, 4 + sectors.length * 4 + i * SECTOR_SIZE);
    });
    return out;
  }

  loadOverlay(bytes: Uint8Array): void {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const n = bytes.length >= 4 ? dv.getUint32(0, true) : -1;
    if (n < 0 || bytes.length !== 4 + n * (4 + SECTOR_SIZE))
      throw new DiskImageError("saved disk overlay: wrong length");
    const entries: [number, Uint8Array][] = [];
    for (let i = 0; i < n; i++) {
      const s = dv.getUint32(4 + i * 4, true);
      if (s >= this.sectors) throw new DiskImageError(`saved disk overlay: sector ${s} is past the end of the disk`);
      entries.push([s, bytes.slice(4 + n * 4 + i * SECTOR_SIZE, 4 + n * 4 + (i + 1) * SECTOR_SIZE)]);
    }
    this.overlay.clear();
    for (const [s, d] of entries) this.overlay.set(s, d);
  }
}
