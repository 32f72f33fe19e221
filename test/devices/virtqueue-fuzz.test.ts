// Property: whatever a driver leaves in its descriptor table and available ring, a kick never
// throws out of the device, never writes outside the queue's buffers and rings, and ends with
// every request either completed or the device marked as needing reset (and the fault counted).

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bytesSource, CowDisk } from "../../devices/storage/block.js";
import { VirtioBlk } from "../../devices/virtio/blk.js";
import { VIRTIO_F } from "../../devices/virtio/device.js";
import { STATUS } from "../../devices/virtio/virtio-pci.js";
import { TestDriver } from "./virtio-driver.js";

const QUEUE = 8;
const MEM = 1 << 20;

/** Descriptors pointing mostly at a small region (so chains are often valid), sometimes anywhere. */
const descriptor = fc.record({
  addr: fc.oneof(fc.integer({ min: 0xc0000, max: 0xc1000 }), fc.constantFrom(0, MEM - 8, MEM, 0xfffff000, 0xffffffff)),
  len: fc.oneof(
    { arbitrary: fc.constantFrom(16, 512, 1), weight: 3 },
    fc.integer({ min: 0, max: 2048 }),
    fc.constantFrom(0x80000000, 0xffffffff),
  ),
  // Mostly single descriptors or short NEXT chains; sometimes INDIRECT or anything.
  flags: fc.oneof({ arbitrary: fc.constantFrom(0, 2), weight: 4 }, fc.integer({ min: 0, max: 7 })),
  next: fc.oneof({ arbitrary: fc.integer({ min: 0, max: QUEUE - 1 }), weight: 4 }, fc.integer({ min: 0, max: 0xffff })),
});

describe("virtqueue under random driver input", () => {
  it("never throws, writes only where the driver allowed, and completes or needs reset", () => {
    const seen = { faulted: 0, completed: 0 };
    fc.assert(
      fc.property(
        fc.array(descriptor, { minLength: QUEUE, maxLength: QUEUE }),
        fc.array(fc.oneof({ arbitrary: fc.integer({ min: 0, max: QUEUE - 1 }), weight: 6 }, fc.constant(QUEUE + 2)), {
          minLength: 1,
          maxLength: 3,
        }),
        fc.integer({ min: 0, max: 3 }),
        (descs, heads, extraIdx) => {
          const disk = new CowDisk(bytesSource(new Uint8Array(64 * 512)));
          const d = new TestDriver(new VirtioBlk({ disk }));
          expect(d.negotiate((BigInt(1) << VIRTIO_F.VERSION_1) | (BigInt(1) << VIRTIO_F.INDIRECT_DESC))).toBe(true);
          const q = d.setupQueue(0, QUEUE);
          d.driverOk();
          descs.forEach((x, i) => {
            d.writeDesc(q.desc, i, x);
          });
          for (const h of heads) d.publish(0, h);
          if (extraIdx === 3) d.mem.writeU16(q.avail + 2, (heads.length + QUEUE + 1) & 0xffff);
          const writesBefore = d.mem.writes.length;
          expect(() => d.kick(0)).not.toThrow();
          // Device writes: only inside RAM (ArrayGuestMemory would have thrown otherwise) and
          // only to writable buffers named by descriptors or to the used ring.
          const allowed = (a: number, n: number) =>
            (a >= q.used && a + n <= q.used + 6 + 8 * QUEUE + 2) ||
            descs.some((x) => x.flags & 2 && a >= x.addr && a + n <= x.addr + x.len) ||
            (a >= 0xc0000 && a + n <= 0xc1000 + 2048); // writable entries of indirect tables there
          for (const w of d.mem.writes.slice(writesBefore)) expect(allowed(w.addr, w.length)).toBe(true);
          const s = d.dev.state;
          const used = d.used(0).length;
          if (s.status & STATUS.NEEDS_RESET) {
            expect(d.dev.faultCount).toBe(1);
            expect(s.queues[0]!.broken).toBe(true);
            seen.faulted++;
          } else {
            seen.completed++;
            expect(d.dev.faultCount).toBe(0);
            expect(used).toBe(heads.length);
          }
        },
      ),
      { numRuns: 300, seed: 20261207 },
    );
    // Both outcomes occur: the generator reaches valid chains as well as broken ones.
    expect(seen.faulted).toBeGreaterThan(30);
    expect(seen.completed).toBeGreaterThan(30);
  });
});
