// Property tests for the block layer (issue 8): CowDisk over any sequence of reads and writes
// agrees with a plain array model, never writes its source in copy-on-write mode, and refuses
// exactly the accesses outside the disk (or writes to a read-only disk) with BlockRangeError.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BlockRangeError, bytesSource, CowDisk, DiskImageError, SECTOR_SIZE } from "../../devices/storage/block.js";

type Op =
  | { kind: "read"; sector: number; count: number }
  | { kind: "write"; sector: number; count: number; fill: number };

/** Sector numbers around the interesting places of a disk of `sectors` sectors. */
const sectorArb = (sectors: number) =>
  fc.oneof(
    fc.integer({ min: 0, max: sectors - 1 }),
    fc.integer({ min: Math.max(0, sectors - 4), max: sectors + 4 }),
    fc.constantFrom(-1, 2 ** 32, Number.MAX_SAFE_INTEGER, 0.5, Number.NaN),
  );

const opsArb = (sectors: number) =>
  fc.array(
    fc.oneof(
      fc.record({
        kind: fc.constant("read" as const),
        sector: sectorArb(sectors),
        count: fc.integer({ min: -1, max: 9 }),
      }),
      fc.record({
        kind: fc.constant("write" as const),
        sector: sectorArb(sectors),
        count: fc.integer({ min: 0, max: 9 }),
        fill: fc.integer({ min: 0, max: 255 }),
      }),
    ),
    { maxLength: 40 },
  );

const diskArb = fc
  .record({
    sectors: fc.integer({ min: 1, max: 64 }),
    seed: fc.integer({ min: 0, max: 255 }),
    writeThrough: fc.boolean(),
    readOnly: fc.boolean(),
  })
  .chain((d) => fc.tuple(fc.constant(d), opsArb(d.sectors)));

/** Byte-array equality (vitest's deep equality walks typed arrays element by element: slow). */
function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
}

function inRange(sector: number, count: number, sectors: number): boolean {
  return Number.isSafeInteger(sector) && sector >= 0 && count >= 0 && sector + count <= sectors;
}

describe("CowDisk (property)", () => {
  it("matches an array model; the source changes only in write-through mode; only bad accesses throw", () => {
    fc.assert(
      fc.property(diskArb, ([d, ops]) => {
        const original = Uint8Array.from({ length: d.sectors * SECTOR_SIZE }, (_, i) => (i * 7 + d.seed) & 0xff);
        const sourceBytes = original.slice();
        const disk = new CowDisk(bytesSource(sourceBytes), { writeThrough: d.writeThrough, readOnly: d.readOnly });
        const model = original.slice();
        for (const op of ops as Op[]) {
          const ok = inRange(op.sector, op.count, d.sectors) && !(op.kind === "write" && d.readOnly);
          let result: Uint8Array | undefined;
          let threw: unknown;
          try {
            if (op.kind === "read") result = disk.read(op.sector, op.count);
            else disk.write(op.sector, new Uint8Array(op.count * SECTOR_SIZE).fill(op.fill));
          } catch (err) {
            threw = err;
          }
          if (!ok) {
            expect(threw).toBeInstanceOf(BlockRangeError);
            continue;
          }
          expect(threw).toBeUndefined();
          const at = op.sector * SECTOR_SIZE;
          const len = op.count * SECTOR_SIZE;
          if (op.kind === "read") expect(sameBytes(result, model.subarray(at, at + len))).toBe(true);
          else model.fill(op.fill, at, at + len);
        }
        expect(sameBytes(sourceBytes, d.writeThrough ? model : original)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("refuses a source of a size that holds no whole sectors with DiskImageError", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1 << 16 }), fc.constantFrom(512, 2048), (size, granularity) => {
        const make = () => new CowDisk(bytesSource(new Uint8Array(size)), { granularity });
        if (size > 0 && size % granularity === 0) expect(make().sectors).toBe(size / SECTOR_SIZE);
        else expect(make).toThrow(DiskImageError);
      }),
      { numRuns: 200 },
    );
  });

  it("a write that is not whole sectors is a BlockRangeError and changes nothing", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 * SECTOR_SIZE }).filter((n) => n % SECTOR_SIZE !== 0),
        (n) => {
          const bytes = new Uint8Array(8 * SECTOR_SIZE);
          const disk = new CowDisk(bytesSource(bytes));
          expect(() => disk.write(0, new Uint8Array(n).fill(1))).toThrow(BlockRangeError);
          expect(disk.read(0, 8).every((b) => b === 0)).toBe(true);
        },
      ),
      { numRuns: 50 },
    );
  });
});
