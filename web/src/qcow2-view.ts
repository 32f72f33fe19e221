// What the qcow2 allocation panel shows, read from an open image's own tables: the guest's
// clusters by state (data, zero, compressed, unallocated), the metadata that maps them (L1, L2
// tables, refcount table and blocks) and the host file's clusters by use. Read only; it walks
// the active L1 table and skips every L1 entry without an L2 table, so a large, mostly empty
// disk costs little.

import type { Qcow2Image } from "../../vmm/storage/qcow2.js";

/** A map cell's state: what its clusters hold (a cell of several clusters shows the "most" allocated). */
export const CELL = { unallocated: 0, zero: 1, data: 2, compressed: 3 } as const;

export interface DiskAllocation {
  name: string;
  version: 2 | 3;
  /** The guest's disk, in bytes and in clusters. */
  virtualSize: number;
  clusterSize: number;
  guestClusters: number;
  /** Guest clusters by their L2 entry: data in this file, reads as zeros, compressed, or not here. */
  data: number;
  zero: number;
  compressed: number;
  unallocated: number;
  /** "name (format)" of the backing file, where unallocated clusters are read from. */
  backing?: string;
  /** L1: entries in the table, entries that point at an L2 table; each L2 table maps `l2Maps` bytes. */
  l1Entries: number;
  l2Tables: number;
  l2Maps: number;
  refcountBits: number;
  refcountTableClusters: number;
  refcountBlocks: number;
  snapshots: number;
  /** The host file: its length, and its clusters by use (refcounted ones; `free` have a count of 0). */
  fileBytes: number;
  host: {
    header: number;
    refcountTable: number;
    refcountBlocks: number;
    l1: number;
    l2: number;
    data: number;
    free: number;
  };
  /** The guest disk in `cells` cells of `clustersPerCell` clusters, each a CELL value. */
  map: Uint8Array;
  clustersPerCell: number;
}

/** Reads `img`'s allocation; the map has at most `maxCells` cells. */
export function diskAllocation(img: Qcow2Image, maxCells = 1024): DiskAllocation {
  const cs = img.clusterSize;
  const h = img.header;
  const guestClusters = Math.ceil(img.size / cs);
  const clustersPerCell = Math.max(1, Math.ceil(guestClusters / maxCells));
  const map = new Uint8Array(Math.ceil(guestClusters / clustersPerCell));
  const counts = { data: 0, zero: 0, compressed: 0 };
  const hostData = new Set<number>();
  let l2Tables = 0;
  for (let i = 0; i < img.l1.length; i++) {
    const l2 = img.l1[i];
    if (!l2) continue;
    l2Tables++;
    const table = img.l2Table(l2);
    const first = i * img.l2Entries;
    const last = Math.min(guestClusters, first + img.l2Entries);
    for (let gc = first; gc < last; gc++) {
      const e = img.decodeL2(table, gc - first);
      if (e.kind === "unallocated") continue;
      counts[e.kind]++;
      const cell = Math.floor(gc / clustersPerCell);
      map[cell] = Math.max(map[cell]!, CELL[e.kind]);
      if (e.kind === "data" || (e.kind === "zero" && e.offset)) hostData.add(e.offset / cs);
      else if (e.kind === "compressed") {
        const end = Math.floor((e.offset + e.compressedSize - 1) / cs);
        for (let c = Math.floor(e.offset / cs); c <= end; c++) hostData.add(c);
      }
    }
  }
  const fileBytes = img.file.size();
  const fileClusters = Math.ceil(fileBytes / cs);
  let used = 0;
  for (let c = 0; c < fileClusters; c++) if (img.refcounts.get(c) > 0) used++;
  const l1Clusters = Math.ceil((h.l1Size * 8) / cs);
  const refcountBlocks = img.refcounts.blockOffsets().length;
  const b = img.backing;
  return {
    name: img.file.name,
    version: h.version,
    virtualSize: img.size,
    clusterSize: cs,
    guestClusters,
    ...counts,
    unallocated: guestClusters - counts.data - counts.zero - counts.compressed,
    backing: b ? `${b.file.name} (${b.format})` : undefined,
    l1Entries: h.l1Size,
    l2Tables,
    l2Maps: img.l2Entries * cs,
    refcountBits: 2 ** h.refcountOrder,
    refcountTableClusters: img.refcounts.tableClusters,
    refcountBlocks,
    snapshots: h.snapshotCount,
    fileBytes,
    host: {
      header: 1,
      refcountTable: img.refcounts.tableClusters,
      refcountBlocks,
      l1: l1Clusters,
      l2: l2Tables,
      data: hostData.size,
      // Clusters of the file no table refers to: space a repair or a later write can reuse.
      free: fileClusters - used,
    },
    map,
    clustersPerCell,
  };
}
