// A qcow2 image (versions 2 and 3), read and written in place: a two-level map (L1 -> L2 ->
// host cluster) from guest clusters to host clusters, clusters allocated on first write (the
// file grows with what is written, nothing more), zero clusters, compressed clusters, a backing
// image of any format under unallocated clusters, and reference counts kept exact.
//
// Update order, so a crash mid-write loses nothing and at worst leaks clusters (qemu-img check
// then reports leaks, never corruption): a new data cluster is written first, then its
// refcount, then the L2 entry that points at it, then (for a new L2 table) the L1 entry. A
// cluster shared with an internal snapshot (no COPIED flag) is copied, never written in place.

import { ImageFormatError, type StorageFile } from "./file.js";
import type { DiskImage, LayerStatus } from "./image.js";
import {
  encodeHeader,
  INCOMPAT_CORRUPT,
  INCOMPAT_DIRTY,
  l1EntriesFor,
  MAX_L1_BYTES,
  type Qcow2Header,
} from "./qcow2-header.js";
import { Refcounts } from "./qcow2-refcount.js";

/** Compression for compressed clusters: raw deflate (zlib's, QEMU uses a 4 KiB window). */
export interface Codec {
  inflate(src: Uint8Array, size: number): Uint8Array;
  deflate(src: Uint8Array): Uint8Array;
}

export interface Qcow2Options {
  readOnly?: boolean;
  backing?: DiskImage;
  codec?: Codec;
}

const COPIED = 0x80000000;
const COMPRESSED = 0x40000000;

/** One L2 entry decoded. */
export interface L2Entry {
  kind: "unallocated" | "zero" | "data" | "compressed";
  /** Host offset: the data cluster, a preallocated zero cluster, or the compressed bytes. */
  offset: number;
  /** Compressed: the length of the compressed bytes in the file. */
  compressedSize: number;
  copied: boolean;
}

export class Qcow2Image implements DiskImage {
  readonly format = "qcow2";
  readonly readOnly: boolean;
  readonly clusterSize: number;
  readonly l2Entries: number;
  readonly refcounts: Refcounts;
  backing?: DiskImage;
  /** L1 entries: the L2 table offset (0: none) and whether its refcount is exactly 1. */
  l1: number[] = [];
  l1Copied: boolean[] = [];
  private readonly l2Cache = new Map<number, DataView>();
  private codec?: Codec;
  private lastInflated?: { offset: number; data: Uint8Array };
  /** Where the next compressed cluster may go (inside the last one's host cluster). */
  private compressedTail = 0;

  constructor(
    readonly file: StorageFile,
    readonly header: Qcow2Header,
    options: Qcow2Options = {},
  ) {
    this.readOnly = options.readOnly ?? !file.writable;
    this.backing = options.backing;
    this.codec = options.codec;
    this.clusterSize = 2 ** header.clusterBits;
    this.l2Entries = this.clusterSize / 8;
    if (!this.readOnly) {
      if (header.incompatible & INCOMPAT_CORRUPT) this.fail("the image is marked corrupt; it can only be read");
      if (header.incompatible & INCOMPAT_DIRTY) {
        this.fail("the image is dirty (lazy refcounts were on); repair it first with: img check -r all");
      }
    }
    this.refcounts = new Refcounts(
      file,
      header.clusterBits,
      header.refcountOrder,
      header.refcountTableOffset,
      header.refcountTableClusters,
    );
    this.loadL1(header.l1Offset, header.l1Size);
    // Autoclear features (bitmaps) describe data we do not keep up to date: clear them.
    if (!this.readOnly && header.version === 3 && header.autoclear !== 0) {
      header.autoclear = 0;
      file.write(88, new Uint8Array(8));
    }
  }

  get size(): number {
    return this.header.size;
  }

  fail(why: string): never {
    throw new ImageFormatError(`${this.file.name}: ${why}`);
  }

  /** Checks a table or cluster offset read from the image. */
  private checkOffset(offset: number, what: string, length = this.clusterSize): void {
    if (offset % this.clusterSize !== 0)
      this.fail(`${what} at ${offset} is not cluster-aligned (the image is corrupt)`);
    if (offset < this.clusterSize) this.fail(`${what} points into the header (the image is corrupt)`);
    if (offset + length > this.file.size())
      this.fail(`${what} at ${offset} lies past the end of the file (the image is corrupt)`);
  }

  /** Reads an L1 table (the active one, or a snapshot's) as offsets and COPIED flags. */
  readL1(offset: number, entries: number): { offsets: number[]; copied: boolean[] } {
    const raw = new Uint8Array(entries * 8);
    this.file.read(offset, raw);
    const view = new DataView(raw.buffer);
    const offsets: number[] = [];
    const copied: boolean[] = [];
    for (let i = 0; i < entries; i++) {
      const hi = view.getUint32(i * 8);
      const lo = view.getUint32(i * 8 + 4);
      if ((hi & 0x7f000000) !== 0 || (lo & 0x1ff) !== 0)
        this.fail(`L1 entry ${i} has reserved bits set (the image is corrupt)`);
      const o = (hi & 0xffffff) * 2 ** 32 + lo;
      if (o !== 0) this.checkOffset(o, `the L2 table of L1 entry ${i}`);
      offsets.push(o);
      copied.push((hi & COPIED) !== 0);
    }
    return { offsets, copied };
  }

  private loadL1(offset: number, entries: number): void {
    const { offsets, copied } = this.readL1(offset, entries);
    this.l1 = offsets;
    this.l1Copied = copied;
  }

  /** Writes active L1 entry `i` (offset and COPIED flag) to the file. */
  writeL1Entry(i: number, offset: number, copied: boolean): void {
    this.l1[i] = offset;
    this.l1Copied[i] = copied;
    const e = new Uint8Array(8);
    const v = new DataView(e.buffer);
    v.setUint32(0, (copied && offset ? COPIED : 0) | Math.floor(offset / 2 ** 32));
    v.setUint32(4, offset >>> 0);
    this.file.write(this.header.l1Offset + i * 8, e);
  }

  /** The L2 table at `offset` (cached). */
  l2Table(offset: number): DataView {
    let t = this.l2Cache.get(offset);
    if (!t) {
      const raw = new Uint8Array(this.clusterSize);
      this.file.read(offset, raw);
      t = new DataView(raw.buffer);
      this.l2Cache.set(offset, t);
    }
    return t;
  }

  /** Forgets a cached L2 table (its cluster was freed or rewritten by someone else). */
  dropL2(offset: number): void {
    this.l2Cache.delete(offset);
  }

  decodeL2(table: DataView, i: number): L2Entry {
    const hi = table.getUint32(i * 8);
    const lo = table.getUint32(i * 8 + 4);
    const copied = (hi & COPIED) !== 0;
    if (hi & COMPRESSED) {
      const x = 62 - (this.header.clusterBits - 8);
      const v = (BigInt(hi & 0x3fffffff) << 32n) | BigInt(lo);
      const offset = Number(v & ((1n << BigInt(x)) - 1n));
      const sectors = Number(v >> BigInt(x)) + 1;
      const compressedSize = sectors * 512 - (offset % 512);
      if (offset + compressedSize > this.file.size() + 512 || offset < this.clusterSize) {
        this.fail(`a compressed cluster at ${offset} lies outside the file (the image is corrupt)`);
      }
      return { kind: "compressed", offset, compressedSize, copied: false };
    }
    if ((hi & 0x3f000000) !== 0 || (lo & 0x1fe) !== 0)
      this.fail(`an L2 entry has reserved bits set (the image is corrupt)`);
    const offset = (hi & 0xffffff) * 2 ** 32 + (lo & 0xfffffe00);
    const zero = this.header.version === 3 && (lo & 1) !== 0;
    if (offset !== 0) this.checkOffset(offset, "a data cluster");
    if (zero) return { kind: "zero", offset, compressedSize: 0, copied };
    return { kind: offset ? "data" : "unallocated", offset, compressedSize: 0, copied };
  }

  /** Writes L2 entry `i` of the table at `tableOffset` (cache and file). */
  writeL2Entry(tableOffset: number, i: number, offset: number, flags: { copied?: boolean; zero?: boolean }): void {
    const t = this.l2Table(tableOffset);
    t.setUint32(i * 8, (flags.copied && offset ? COPIED : 0) | Math.floor(offset / 2 ** 32));
    t.setUint32(i * 8 + 4, (offset >>> 0) | (flags.zero ? 1 : 0));
    this.file.write(tableOffset + i * 8, new Uint8Array(t.buffer, i * 8, 8));
  }

  /** The L2 entry for guest cluster `gc` in the active L1. */
  lookup(gc: number): L2Entry {
    const l1i = Math.floor(gc / this.l2Entries);
    const l2 = this.l1[l1i];
    if (!l2) return { kind: "unallocated", offset: 0, compressedSize: 0, copied: false };
    return this.decodeL2(this.l2Table(l2), gc % this.l2Entries);
  }

  /** The decompressed contents of a compressed cluster. */
  inflate(e: L2Entry): Uint8Array {
    if (this.lastInflated?.offset === e.offset) return this.lastInflated.data;
    if (!this.codec) this.fail("compressed clusters need a deflate codec, and none was given");
    const src = new Uint8Array(e.compressedSize);
    this.file.read(e.offset, src);
    let data: Uint8Array;
    try {
      data = this.codec.inflate(src, this.clusterSize);
    } catch (err) {
      this.fail(`a compressed cluster at ${e.offset} does not decompress (${(err as Error).message})`);
    }
    if (data.length < this.clusterSize)
      this.fail(`a compressed cluster at ${e.offset} decompresses to ${data.length} bytes`);
    this.lastInflated = { offset: e.offset, data };
    return data;
  }

  private readBacking(offset: number, dest: Uint8Array): void {
    const b = this.backing;
    const inside = b ? Math.max(0, Math.min(dest.length, b.size - offset)) : 0;
    if (b && inside > 0) b.read(offset, dest.subarray(0, inside));
    dest.fill(0, inside);
  }

  /** Calls `each` for every piece of [offset, offset+length) that lies in one guest cluster. */
  private byCluster(
    offset: number,
    length: number,
    each: (gc: number, inCluster: number, from: number, to: number) => void,
  ): void {
    if (offset < 0 || offset + length > this.size)
      this.fail(`an access past the end of the disk (${offset}+${length})`);
    for (let done = 0; done < length; ) {
      const pos = offset + done;
      const n = Math.min(this.clusterSize - (pos % this.clusterSize), length - done);
      each(Math.floor(pos / this.clusterSize), pos % this.clusterSize, done, done + n);
      done += n;
    }
  }

  read(offset: number, dest: Uint8Array): void {
    this.byCluster(offset, dest.length, (gc, inCluster, from, to) => {
      const part = dest.subarray(from, to);
      const e = this.lookup(gc);
      if (e.kind === "data") this.file.read(e.offset + inCluster, part);
      else if (e.kind === "zero") part.fill(0);
      else if (e.kind === "compressed") part.set(this.inflate(e).subarray(inCluster, inCluster + part.length));
      else this.readBacking(offset + from, part);
    });
  }

  /** Guest cluster `gc`'s current contents (this layer or below), for a partial write's copy. */
  private clusterContents(gc: number, e: L2Entry): Uint8Array {
    const out = new Uint8Array(this.clusterSize);
    const start = gc * this.clusterSize;
    if (e.kind === "data") this.file.read(e.offset, out);
    else if (e.kind === "compressed") out.set(this.inflate(e));
    else if (e.kind === "unallocated")
      this.readBacking(start, out.subarray(0, Math.min(this.clusterSize, this.size - start)));
    return out;
  }

  write(offset: number, data: Uint8Array): void {
    if (this.readOnly) this.fail("the image is read-only");
    this.byCluster(offset, data.length, (gc, inCluster, from, to) =>
      this.writeInCluster(gc, inCluster, data.subarray(from, to)),
    );
  }

  private writeInCluster(gc: number, inCluster: number, part: Uint8Array): void {
    const before = this.lookup(gc);
    if (before.kind === "data" && before.copied) {
      this.file.write(before.offset + inCluster, part);
      return;
    }
    const whole = part.length === this.clusterSize;
    if (whole && isZero(part)) {
      if (before.kind === "zero" && before.offset === 0) return;
      if (before.kind === "unallocated" && !this.backing) return;
      if (this.header.version === 3) {
        this.setEntry(gc, 0, { zero: true }, before);
        return;
      }
    }
    let contents: Uint8Array;
    if (whole) contents = part;
    else {
      contents = this.clusterContents(gc, before);
      contents.set(part, inCluster);
    }
    this.writeNewCluster(gc, contents, before);
  }

  /** Puts `contents` in a newly allocated cluster for guest cluster `gc`, in crash-safe order. */
  writeNewCluster(gc: number, contents: Uint8Array, before = this.lookup(gc)): void {
    const host = this.refcounts.allocate(1);
    this.file.write(host * this.clusterSize, contents);
    this.refcounts.set(host, 1);
    this.setEntry(gc, host * this.clusterSize, { copied: true }, before);
  }

  /** Points guest cluster `gc` somewhere new, then releases what it pointed at before. */
  setEntry(gc: number, offset: number, flags: { copied?: boolean; zero?: boolean }, before: L2Entry): void {
    const table = this.ownL2(Math.floor(gc / this.l2Entries));
    this.writeL2Entry(table, gc % this.l2Entries, offset, flags);
    this.release(before);
  }

  /** Drops one reference to what an old L2 entry pointed at. */
  release(e: L2Entry): void {
    if (e.kind === "compressed") {
      const first = Math.floor(e.offset / this.clusterSize);
      const last = Math.floor((e.offset + e.compressedSize - 1) / this.clusterSize);
      for (let c = first; c <= last; c++) this.unref(c);
    } else if (e.offset !== 0) this.unref(e.offset / this.clusterSize);
  }

  private unref(cluster: number): void {
    const left = this.refcounts.add(cluster, -1);
    if (left === 0) {
      this.dropL2(cluster * this.clusterSize);
      if (this.lastInflated && Math.floor(this.lastInflated.offset / this.clusterSize) === cluster)
        this.lastInflated = undefined;
    }
  }

  /** The offset of an L2 table for L1 entry `i` that this image alone owns (allocated or copied). */
  private ownL2(i: number): number {
    const current = this.l1[i];
    if (current && this.l1Copied[i]) return current;
    const host = this.refcounts.allocate(1);
    const table = new Uint8Array(this.clusterSize);
    if (current) table.set(new Uint8Array(this.l2Table(current).buffer));
    const offset = host * this.clusterSize;
    this.file.write(offset, table);
    this.refcounts.set(host, 1);
    this.l2Cache.set(offset, new DataView(table.buffer));
    this.writeL1Entry(i, offset, true);
    if (current) this.unref(current / this.clusterSize);
    return offset;
  }

  status(offset: number, length: number): LayerStatus {
    const first = this.statusOf(offset);
    let len = Math.min(length, this.clusterSize - (offset % this.clusterSize), this.size - offset);
    while (len < length && offset + len < this.size) {
      const next = this.statusOf(offset + len);
      const contiguous =
        next.allocated === first.allocated &&
        next.zero === first.zero &&
        next.compressed === first.compressed &&
        (first.hostOffset === undefined ? next.hostOffset === undefined : next.hostOffset === first.hostOffset + len);
      if (!contiguous) break;
      len = Math.min(length, len + this.clusterSize, this.size - offset);
    }
    return { ...first, length: len };
  }

  private statusOf(pos: number): LayerStatus {
    const e = this.lookup(Math.floor(pos / this.clusterSize));
    const inCluster = pos % this.clusterSize;
    if (e.kind === "data")
      return { length: 0, allocated: true, zero: false, hostOffset: e.offset + inCluster, compressed: false };
    if (e.kind === "compressed") return { length: 0, allocated: true, zero: false, compressed: true };
    if (e.kind === "zero") {
      const hostOffset = e.offset ? e.offset + inCluster : undefined;
      return { length: 0, allocated: true, zero: true, hostOffset, compressed: false };
    }
    return { length: 0, allocated: false, zero: !this.backing, compressed: false };
  }

  /** Rewrites the header's first cluster (header, extensions, backing name) from `header`. */
  rewriteHeader(): void {
    this.header.refcountTableOffset = this.refcounts.tableOffset;
    this.header.refcountTableClusters = this.refcounts.tableClusters;
    const encoded = encodeHeader(this.header);
    if (encoded.length > this.clusterSize) this.fail("the header does not fit in the first cluster");
    this.file.write(0, encoded);
    this.file.flush();
  }

  /**
   * Stores a whole guest cluster compressed (convert -c), packed byte by byte after the last
   * compressed cluster as QEMU does; a cluster that does not shrink is stored as is.
   */
  writeCompressed(gc: number, contents: Uint8Array): void {
    if (!this.codec) this.fail("compression needs a deflate codec, and none was given");
    const packed = this.codec.deflate(contents);
    const before = this.lookup(gc);
    if (packed.length >= this.clusterSize - 512) {
      this.writeNewCluster(gc, contents, before);
      return;
    }
    const cs = this.clusterSize;
    let at = this.compressedTail;
    const fits = at !== 0 && Math.floor(at / cs) === Math.floor((at + packed.length - 1) / cs);
    if (!fits) at = this.refcounts.allocate(Math.ceil(packed.length / cs)) * cs;
    this.file.write(at, packed);
    const first = Math.floor(at / cs);
    const last = Math.floor((at + packed.length - 1) / cs);
    for (let c = first; c <= last; c++) this.refcounts.add(c, 1);
    this.compressedTail = at + packed.length;
    const x = 62 - (this.header.clusterBits - 8);
    const sectors = Math.ceil(((at % 512) + packed.length) / 512) - 1;
    const v = BigInt(at) | (BigInt(sectors) << BigInt(x)) | (1n << 62n);
    const table = this.ownL2(Math.floor(gc / this.l2Entries));
    const t = this.l2Table(table);
    const i = gc % this.l2Entries;
    t.setBigUint64(i * 8, v);
    this.file.write(table + i * 8, new Uint8Array(t.buffer, i * 8, 8));
    this.release(before);
  }

  /** Makes guest cluster `gc` unallocated again (reads fall through to the backing). */
  discard(gc: number): void {
    const before = this.lookup(gc);
    if (before.kind === "unallocated") return;
    this.setEntry(gc, 0, {}, before);
  }

  /** A new virtual size: a larger L1 table when needed (written, switched, old one freed). */
  resize(size: number): void {
    if (this.readOnly) this.fail("the image is read-only");
    const h = this.header;
    const need = l1EntriesFor(size, h.clusterBits);
    if (need * 8 > MAX_L1_BYTES) this.fail(`the size ${size} bytes needs an L1 table larger than 32 MiB`);
    if (size < h.size) {
      const cs = this.clusterSize;
      for (let gc = Math.ceil(size / cs); gc < Math.ceil(h.size / cs); gc++) this.discard(gc);
    }
    const field = new Uint8Array(24);
    const v = new DataView(field.buffer);
    let oldL1: { offset: number; clusters: number } | undefined;
    if (need > h.l1Size) {
      const clusters = Math.ceil((need * 8) / this.clusterSize);
      const first = this.refcounts.allocate(clusters);
      const raw = new Uint8Array(clusters * this.clusterSize);
      const rv = new DataView(raw.buffer);
      this.l1.forEach((o, i) => {
        rv.setUint32(i * 8, (this.l1Copied[i] && o ? COPIED : 0) | Math.floor(o / 2 ** 32));
        rv.setUint32(i * 8 + 4, o >>> 0);
      });
      this.file.write(first * this.clusterSize, raw);
      for (let c = first; c < first + clusters; c++) this.refcounts.set(c, 1);
      oldL1 = { offset: h.l1Offset, clusters: Math.ceil((h.l1Size * 8) / this.clusterSize) };
      h.l1Offset = first * this.clusterSize;
      h.l1Size = need;
      while (this.l1.length < need) {
        this.l1.push(0);
        this.l1Copied.push(false);
      }
    }
    v.setUint32(0, Math.floor(size / 2 ** 32));
    v.setUint32(4, size >>> 0);
    v.setUint32(12, h.l1Size);
    v.setUint32(16, Math.floor(h.l1Offset / 2 ** 32));
    v.setUint32(20, h.l1Offset >>> 0);
    this.file.flush();
    this.file.write(24, field);
    this.file.flush();
    h.size = size;
    if (oldL1 && h.l1Offset !== oldL1.offset && oldL1.offset) {
      for (let c = 0; c < oldL1.clusters; c++) this.refcounts.add(oldL1.offset / this.clusterSize + c, -1);
    }
  }

  flush(): void {
    this.file.flush();
  }

  close(): void {
    this.file.close();
    this.backing?.close();
  }
}

export function isZero(b: Uint8Array): boolean {
  const words =
    b.byteOffset % 4 === 0 && b.length % 4 === 0 ? new Uint32Array(b.buffer, b.byteOffset, b.length / 4) : b;
  for (let i = 0; i < words.length; i++) if (words[i] !== 0) return false;
  return true;
}
