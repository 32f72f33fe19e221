// qcow2 reference counts: a table of refcount block offsets, each block an array of 2^order-bit
// counts, one per host cluster. A cluster is free when its count is 0. Every change is written
// to the file at once (no write-back cache), so the order callers make changes in is the order
// they reach the disk: that is what keeps an interrupted write to leaked clusters at worst.

import { ImageFormatError, type StorageFile } from "./file.js";

export class RefcountOverflowError extends ImageFormatError {
  override name = "RefcountOverflowError";
}

export class Refcounts {
  readonly clusterSize: number;
  /** Counts per refcount block. */
  readonly perBlock: number;
  readonly max: number;
  private readonly width: number;
  /** Refcount block offsets by block index (0: no block, every count in its range is 0). */
  private table: number[] = [];
  private readonly blocks = new Map<number, Uint8Array>();
  /** Clusters handed out by allocate() whose counts are not set yet. */
  private readonly reserved = new Set<number>();
  /** No free cluster below this one (cluster 0 is the header). */
  private freeHint = 1;

  constructor(
    private readonly file: StorageFile,
    clusterBits: number,
    order: number,
    public tableOffset: number,
    public tableClusters: number,
  ) {
    this.clusterSize = 2 ** clusterBits;
    this.width = 2 ** order;
    this.perBlock = (this.clusterSize * 8) / this.width;
    this.max = this.width >= 53 ? Number.MAX_SAFE_INTEGER : 2 ** this.width - 1;
    const raw = new Uint8Array(tableClusters * this.clusterSize);
    file.read(tableOffset, raw);
    const view = new DataView(raw.buffer);
    const fileSize = file.size();
    for (let i = 0; i < raw.length / 8; i++) {
      const hi = view.getUint32(i * 8);
      const lo = view.getUint32(i * 8 + 4);
      const offset = hi * 2 ** 32 + lo;
      if (offset !== 0 && (offset % this.clusterSize !== 0 || offset < this.clusterSize || offset >= fileSize)) {
        throw new ImageFormatError(
          `${file.name}: refcount block ${i} at offset ${offset} is ${offset >= fileSize ? "past the end of the file" : offset < this.clusterSize ? "in the header" : "not cluster-aligned"}`,
        );
      }
      this.table.push(offset);
    }
  }

  /** Number of clusters the table can describe without growing. */
  get coveredClusters(): number {
    return this.table.length * this.perBlock;
  }

  /** The end of the last refcount block's range: no cluster past it has a count. */
  get countedClusters(): number {
    let last = this.table.length;
    while (last > 0 && !this.table[last - 1]) last--;
    return last * this.perBlock;
  }

  /** Every refcount block's offset (the checker counts them as references). */
  blockOffsets(): number[] {
    return this.table.filter((o) => o !== 0);
  }

  private block(index: number): Uint8Array | undefined {
    const offset = this.table[index];
    if (!offset) return undefined;
    let b = this.blocks.get(offset);
    if (!b) {
      b = new Uint8Array(this.clusterSize);
      this.file.read(offset, b);
      this.blocks.set(offset, b);
    }
    return b;
  }

  get(cluster: number): number {
    const b = this.block(Math.floor(cluster / this.perBlock));
    if (!b) return 0;
    return this.entry(b, cluster % this.perBlock);
  }

  private entry(b: Uint8Array, i: number): number {
    const w = this.width;
    if (w < 8) return (b[(i * w) >> 3] >> ((i * w) & 7)) & (2 ** w - 1);
    if (w === 8) return b[i];
    const v = new DataView(b.buffer, b.byteOffset);
    if (w === 16) return v.getUint16(i * 2);
    if (w === 32) return v.getUint32(i * 4);
    return v.getUint32(i * 8) * 2 ** 32 + v.getUint32(i * 8 + 4);
  }

  /** Stores count `value` in a block and returns the byte range that changed. */
  private store(b: Uint8Array, i: number, value: number): [number, number] {
    const w = this.width;
    if (w < 8) {
      const at = (i * w) >> 3;
      const shift = (i * w) & 7;
      const mask = (2 ** w - 1) << shift;
      b[at] = (b[at] & ~mask) | (value << shift);
      return [at, 1];
    }
    if (w === 8) {
      b[i] = value;
      return [i, 1];
    }
    const v = new DataView(b.buffer, b.byteOffset);
    if (w === 16) v.setUint16(i * 2, value);
    else if (w === 32) v.setUint32(i * 4, value);
    else {
      v.setUint32(i * 8, Math.floor(value / 2 ** 32));
      v.setUint32(i * 8 + 4, value >>> 0);
    }
    return [(i * w) / 8, w / 8];
  }

  /** Sets a cluster's count, creating its refcount block (or growing the table) if needed. */
  set(cluster: number, value: number): void {
    if (value < 0 || value > this.max) {
      throw new RefcountOverflowError(
        `${this.file.name}: refcount overflow: cluster ${cluster} would have count ${value} (at most ${this.max} with ${this.width}-bit refcounts)`,
      );
    }
    const index = Math.floor(cluster / this.perBlock);
    const b = this.block(index) ?? this.newBlock(index);
    const [at, n] = this.store(b, cluster % this.perBlock, value);
    this.file.write(this.table[index] + at, b.subarray(at, at + n));
    this.reserved.delete(cluster);
    if (value === 0 && cluster < this.freeHint && cluster > 0) this.freeHint = cluster;
  }

  add(cluster: number, delta: number): number {
    const v = this.get(cluster) + delta;
    this.set(cluster, v);
    return v;
  }

  /**
   * `n` contiguous free clusters: the index of the first. They stay reserved (no other
   * allocation gets them) until their counts are set.
   */
  allocate(n: number): number {
    let c = this.freeHint;
    let run = 0;
    for (;;) {
      if (this.get(c) === 0 && !this.reserved.has(c)) {
        run++;
        if (run === n) break;
      } else {
        run = 0;
        if (c === this.freeHint) this.freeHint = c + 1;
      }
      c++;
    }
    const first = c - n + 1;
    for (let i = first; i <= c; i++) this.reserved.add(i);
    return first;
  }

  /** A new refcount block for `index`, placed inside the range it describes (so it counts itself). */
  private newBlock(index: number): Uint8Array {
    if (index >= this.table.length) this.grow(index);
    const existing = this.block(index);
    if (existing) return existing;
    let c = index * this.perBlock;
    if (c === 0) c = 1;
    while (this.reserved.has(c)) c++;
    const b = new Uint8Array(this.clusterSize);
    this.store(b, c - index * this.perBlock, 1);
    const offset = c * this.clusterSize;
    this.file.write(offset, b);
    this.blocks.set(offset, b);
    this.writeTableEntry(index, offset);
    return b;
  }

  private writeTableEntry(index: number, offset: number): void {
    this.table[index] = offset;
    const e = new Uint8Array(8);
    new DataView(e.buffer).setUint32(0, Math.floor(offset / 2 ** 32));
    new DataView(e.buffer).setUint32(4, offset >>> 0);
    this.file.write(this.tableOffset + index * 8, e);
  }

  /**
   * A larger refcount table at the end of the file, with new refcount blocks after it for the
   * clusters the table and the blocks themselves take. Written before the header points at it;
   * the old table is freed after, so a crash in between leaks clusters and loses nothing.
   */
  private grow(needIndex: number): void {
    const cs = this.clusterSize;
    let entries = Math.max(needIndex + 1, this.table.length * 2);
    let first = Math.ceil(this.file.size() / cs);
    for (const r of this.reserved) first = Math.max(first, r + 1);
    let tableClusters: number;
    let newBlocks: number[];
    for (;;) {
      tableClusters = Math.ceil((entries * 8) / cs);
      newBlocks = [];
      for (;;) {
        const end = first + tableClusters + newBlocks.length;
        const need: number[] = [];
        for (let i = Math.floor(first / this.perBlock); i <= Math.floor((end - 1) / this.perBlock); i++) {
          if (!this.table[i]) need.push(i);
        }
        if (need.length === newBlocks.length) break;
        newBlocks = need;
      }
      const top = Math.max(needIndex, ...newBlocks);
      if (top < entries) break;
      entries = top + 1;
    }
    if (tableClusters * cs > 8 << 20)
      throw new ImageFormatError(`${this.file.name}: the refcount table would exceed 8 MiB`);
    const end = first + tableClusters + newBlocks.length;
    // New blocks: each counts the new clusters in its range.
    newBlocks.forEach((index, k) => {
      const b = new Uint8Array(cs);
      for (let c = Math.max(first, index * this.perBlock); c < Math.min(end, (index + 1) * this.perBlock); c++) {
        this.store(b, c - index * this.perBlock, 1);
      }
      const offset = (first + tableClusters + k) * cs;
      this.file.write(offset, b);
      this.blocks.set(offset, b);
    });
    const newTable = [...this.table];
    while (newTable.length < (tableClusters * cs) / 8) newTable.push(0);
    newBlocks.forEach((index, k) => {
      newTable[index] = (first + tableClusters + k) * cs;
    });
    // New clusters in ranges that already have a block: counted there.
    for (let c = first; c < end; c++) {
      const index = Math.floor(c / this.perBlock);
      if (this.table[index]) this.set(c, 1);
    }
    const raw = new Uint8Array(tableClusters * cs);
    const view = new DataView(raw.buffer);
    newTable.forEach((o, i) => {
      view.setUint32(i * 8, Math.floor(o / 2 ** 32));
      view.setUint32(i * 8 + 4, o >>> 0);
    });
    this.file.write(first * cs, raw);
    this.file.flush();
    const header = new Uint8Array(12);
    const hv = new DataView(header.buffer);
    hv.setUint32(0, Math.floor((first * cs) / 2 ** 32));
    hv.setUint32(4, (first * cs) >>> 0);
    hv.setUint32(8, tableClusters);
    this.file.write(48, header);
    this.file.flush();
    const oldOffset = this.tableOffset;
    const oldClusters = this.tableClusters;
    this.table = newTable;
    this.tableOffset = first * cs;
    this.tableClusters = tableClusters;
    for (let i = 0; i < oldClusters; i++) this.add(oldOffset / cs + i, -1);
  }
}
