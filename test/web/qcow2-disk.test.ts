// The page's qcow2 disk (web/src/qcow2-disk.ts) and what its allocation panel reads
// (web/src/qcow2-view.ts), in Node: an overlay over a raw image allocates a cluster per first
// write, an L2 table per first write in its span, zero clusters for whole zero clusters; a saved
// overlay comes back; uploads that cannot be used are refused with a message.

import { describe, expect, it } from "vitest";
import { MemoryFile } from "../../vmm/storage/file.js";
import { openImage } from "../../vmm/storage/open.js";
import { Qcow2Image } from "../../vmm/storage/qcow2.js";
import { createQcow2 } from "../../vmm/storage/qcow2-create.js";
import { isQcow2, Qcow2Disk } from "../../web/src/qcow2-disk.js";
import { CELL, diskAllocation } from "../../web/src/qcow2-view.js";

const CS = 65536;
const MIB = 1 << 20;

function pattern(size: number): Uint8Array {
  const raw = new Uint8Array(size);
  for (let i = 0; i < size; i += 512) raw[i] = ((i >> 9) & 0xff) | 1;
  return raw;
}

describe("the page's qcow2 overlay and its allocation", () => {
  it("starts empty, and each first write to a cluster allocates one cluster (and its L2 table once)", () => {
    const raw = pattern(64 * MIB);
    const disk = Qcow2Disk.overlay("blank-64M.qcow2", raw);
    const a0 = diskAllocation(disk.image);
    expect(a0).toMatchObject({
      guestClusters: 1024,
      data: 0,
      zero: 0,
      unallocated: 1024,
      l2Tables: 0,
      clusterSize: CS,
    });
    expect(a0.backing).toBe("blank-64M.img (raw)");
    const empty = a0.fileBytes;
    // Unwritten sectors read from the backing file.
    expect(disk.read(3, 1)[0]).toBe(3 | 1);

    // One sector in cluster 10: a whole cluster, filled from the backing file, and the first L2 table.
    disk.write(10 * 128 + 5, new Uint8Array(512).fill(0xab));
    let a = diskAllocation(disk.image);
    expect(a).toMatchObject({ data: 1, zero: 0, unallocated: 1023, l2Tables: 1 });
    expect(a.fileBytes).toBe(empty + 2 * CS);
    expect(a.map[10]).toBe(CELL.data);
    expect(a.host).toMatchObject({ data: 1, l2: 1, free: 0 });
    expect(disk.read(10 * 128 + 4, 1)[0]).toBe(((10 * 128 + 4) & 0xff) | 1);
    expect(disk.read(10 * 128 + 5, 1)[0]).toBe(0xab);

    // The same cluster again: nothing new. Four more clusters: four more, the same L2 table.
    disk.write(10 * 128, new Uint8Array(CS).fill(1));
    disk.write(100 * 128, new Uint8Array(4 * CS).fill(2));
    a = diskAllocation(disk.image);
    expect(a).toMatchObject({ data: 5, l2Tables: 1, unallocated: 1019 });
    expect(a.fileBytes).toBe(empty + 6 * CS);

    // A whole cluster of zeros over a backing file: a zero cluster, no data stored.
    disk.write(200 * 128, new Uint8Array(CS));
    a = diskAllocation(disk.image);
    expect(a).toMatchObject({ data: 5, zero: 1, unallocated: 1018 });
    expect(a.fileBytes).toBe(empty + 6 * CS);
    expect(a.map[200]).toBe(CELL.zero);
    expect(disk.read(200 * 128, 1)[0]).toBe(0);
    expect(disk.guestWrites).toBe(4);
    expect(raw[10 * 128 * 512 + 5 * 512]).toBe(((10 * 128 + 5) & 0xff) | 1); // the backing is untouched
  });

  it("keeps the whole qcow2 file as a saved VM's overlay and takes it back", () => {
    const disk = Qcow2Disk.overlay("d.qcow2", pattern(8 * MIB));
    disk.write(0, new Uint8Array(1024).fill(7));
    const saved = disk.saveOverlay();
    disk.write(0, new Uint8Array(1024).fill(9));
    disk.write(64 * 128, new Uint8Array(512).fill(9));
    const before = disk.fileWrites;
    disk.loadOverlay(saved);
    expect(disk.read(0, 1)[0]).toBe(7);
    expect(diskAllocation(disk.image).data).toBe(1);
    expect(disk.fileWrites).toBeGreaterThan(before);
    // A damaged or foreign overlay is refused, and the disk stays as it was.
    expect(() => disk.loadOverlay(new Uint8Array(4096))).toThrow(/saved disk overlay/);
    const other = Qcow2Disk.overlay("e.qcow2", pattern(16 * MIB)).saveOverlay();
    expect(() => disk.loadOverlay(other)).toThrow(/16777216 bytes, this disk has 8388608/);
    expect(disk.read(0, 1)[0]).toBe(7);
  });

  it("opens an uploaded qcow2 image as a copy, and refuses one with a backing file or a bad header", () => {
    const file = new MemoryFile("up.qcow2");
    createQcow2(file, { size: 4 * MIB, clusterSize: 4096 });
    const img = openImage(file) as Qcow2Image;
    img.write(0, new Uint8Array(512).fill(5));
    const bytes = file.contents();
    expect(isQcow2(bytes)).toBe(true);
    expect(isQcow2(new Uint8Array(512))).toBe(false);
    const disk = Qcow2Disk.fromImage("up.qcow2", bytes);
    const a = diskAllocation(disk.image);
    expect(a).toMatchObject({ guestClusters: 1024, data: 1, clusterSize: 4096, backing: undefined });
    disk.write(8, new Uint8Array(512).fill(6));
    expect(bytes).toEqual(file.contents()); // the upload's bytes never change

    const withBacking = new MemoryFile("over.qcow2");
    createQcow2(withBacking, { size: MIB, backingFile: "base.img", backingFormat: "raw" });
    expect(() => Qcow2Disk.fromImage("over.qcow2", withBacking.contents())).toThrow(
      /backing file 'base.img', which the page cannot open/,
    );
    const bad = bytes.slice(0, 512);
    bad[7] = 9; // version 9
    expect(() => Qcow2Disk.fromImage("bad.qcow2", bad)).toThrow(/bad.qcow2/);
  });

  it("shows a large disk in at most 1024 cells, a cell with any data as data", () => {
    const file = new MemoryFile("big.qcow2");
    createQcow2(file, { size: 64 * 1024 * MIB });
    const img = new Qcow2Image(file, (openImage(file) as Qcow2Image).header);
    img.write(5 * CS, new Uint8Array(512).fill(1));
    const a = diskAllocation(img);
    expect(a.clustersPerCell).toBe(1024);
    expect(a.map.length).toBe(1024);
    expect(a.map[0]).toBe(CELL.data);
    expect(a.map[1]).toBe(CELL.unallocated);
    expect(a).toMatchObject({ data: 1, l2Tables: 1, guestClusters: 1024 * 1024 });
  });
});
