import { describe, expect, it } from "vitest";
import { BlockRangeError, bytesSource, CowDisk, DiskImageError } from "../../devices/storage/block.js";

describe("copy-on-write disks", () => {
  it("keeps written sectors in the overlay and never touches the base image", () => {
    const base = new Uint8Array(8 * 512).map((_, i) => i & 0xff);
    const copy = base.slice();
    const disk = new CowDisk(bytesSource(base));
    expect(disk.sectors).toBe(8);
    disk.write(2, new Uint8Array(1024).fill(0xee));
    expect(base).toEqual(copy);
    const all = disk.read(0, 8);
    expect(all.subarray(0, 1024)).toEqual(copy.subarray(0, 1024));
    expect(all.subarray(1024, 2048)).toEqual(new Uint8Array(1024).fill(0xee));
    expect(all.subarray(2048)).toEqual(copy.subarray(2048));
    expect(disk.dirtySectors).toBe(2);
  });

  it("passes writes through when asked to", () => {
    const base = new Uint8Array(4 * 512);
    const disk = new CowDisk(bytesSource(base), { writeThrough: true });
    disk.write(1, new Uint8Array(512).fill(7));
    expect(base[512]).toBe(7);
    expect(disk.dirtySectors).toBe(0);
  });

  it("refuses images of a size that is not whole sectors, or empty, with a clear message", () => {
    expect(() => new CowDisk(bytesSource(new Uint8Array(1000)), { name: "disk.img" })).toThrow(DiskImageError);
    expect(() => new CowDisk(bytesSource(new Uint8Array(1000)), { name: "disk.img" })).toThrow(
      "disk.img: size 1000 bytes is not a multiple of 512 bytes",
    );
    expect(() => new CowDisk(bytesSource(new Uint8Array(0)))).toThrow("empty");
    expect(() => new CowDisk(bytesSource(new Uint8Array(1024)), { granularity: 2048 })).toThrow("2048");
  });

  it("reports out-of-range accesses as BlockRangeError", () => {
    const disk = new CowDisk(bytesSource(new Uint8Array(4 * 512)));
    expect(() => disk.read(3, 2)).toThrow(BlockRangeError);
    expect(() => disk.read(-1, 1)).toThrow(BlockRangeError);
    expect(() => disk.write(4, new Uint8Array(512))).toThrow(BlockRangeError);
    expect(() => disk.write(0, new Uint8Array(100))).toThrow(BlockRangeError);
  });
});
