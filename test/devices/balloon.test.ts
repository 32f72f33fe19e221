// virtio-balloon on virtio-pci: identity, features, the num_pages/actual configuration, inflate
// and deflate of PFN arrays, the statistics buffer the device holds and hands back, and bad input
// (PFNs outside RAM, ragged buffers) counted without stopping the queues.

import { describe, expect, it } from "vitest";
import { BALLOON_STAT, VIRTIO_BALLOON_F, VirtioBalloon } from "../../devices/virtio/balloon.js";
import { VIRTIO_F } from "../../devices/virtio/device.js";
import { STATUS } from "../../devices/virtio/virtio-pci.js";
import { TestDriver } from "./virtio-driver.js";

const RAM = 1 << 20; // the test driver's guest memory: 256 pages
const b = (n: bigint) => 1n << n;

function setup(options: { stats?: boolean } = {}) {
  const balloon = new VirtioBalloon({ ramBytes: RAM, ...options });
  const d = new TestDriver(balloon, { memBytes: RAM });
  return { balloon, d };
}

function ready(options: { stats?: boolean } = {}) {
  const t = setup(options);
  const stats = options.stats ?? true;
  expect(t.d.negotiate(b(VIRTIO_F.VERSION_1) | (stats ? b(VIRTIO_BALLOON_F.STATS_VQ) : 0n))).toBe(true);
  t.d.setupQueue(0, 16);
  t.d.setupQueue(1, 16);
  if (stats) t.d.setupQueue(2, 16);
  t.d.driverOk();
  return t;
}

/** A buffer of little-endian PFNs. */
function pfnBuffer(d: TestDriver, pfns: number[]): { addr: number; len: number } {
  const bytes = new Uint8Array(pfns.length * 4);
  const dv = new DataView(bytes.buffer);
  pfns.forEach((p, i) => {
    dv.setUint32(i * 4, p, true);
  });
  return { addr: d.buffer(bytes), len: bytes.length };
}

/** A statistics buffer of (tag, value) pairs. */
function statsBuffer(d: TestDriver, stats: [number, bigint][]): { addr: number; len: number } {
  const bytes = new Uint8Array(stats.length * 10);
  const dv = new DataView(bytes.buffer);
  stats.forEach(([tag, v], i) => {
    dv.setUint16(i * 10, tag, true);
    dv.setBigUint64(i * 10 + 2, v, true);
  });
  return { addr: d.buffer(bytes), len: bytes.length };
}

describe("virtio-balloon", () => {
  it("is 1AF4:1002 (transitional) with subsystem 5, three queues, STATS_VQ and DEFLATE_ON_OOM", () => {
    const { d } = setup();
    expect(d.cfg(0, 4)).toBe(0x10021af4);
    expect(d.cfg(0x2e, 2)).toBe(5);
    expect(d.cfg(0x0a, 2)).toBe(0x00ff);
    const f = d.deviceFeatures();
    expect(f & b(VIRTIO_BALLOON_F.STATS_VQ)).toBe(b(VIRTIO_BALLOON_F.STATS_VQ));
    expect(f & b(VIRTIO_BALLOON_F.DEFLATE_ON_OOM)).toBe(b(VIRTIO_BALLOON_F.DEFLATE_ON_OOM));
    expect(f & b(VIRTIO_BALLOON_F.MUST_TELL_HOST)).toBe(0n);
    expect(d.common(0x12, 2)).toBe(3);
    expect(setup({ stats: false }).d.common(0x12, 2)).toBe(2);
  });

  it("shows the host's target in num_pages with a configuration interrupt; the driver owns actual", () => {
    const { d, balloon } = ready();
    expect(d.deviceConfig(0, 4)).toBe(0);
    d.irqLevels = [];
    const gen = d.common(0x15, 1);
    balloon.setTarget(100);
    expect(d.deviceConfig(0, 4)).toBe(100);
    expect(d.common(0x15, 1)).toBe((gen + 1) & 0xff);
    expect(d.irqLevels).toContain(true);
    expect(d.isr() & 2).toBe(2);
    d.pc.mmioWrite(d.barBase(4) + 0x2000 + 4, 4, 42); // actual
    d.pc.mmioWrite(d.barBase(4) + 0x2000, 4, 7); // num_pages: not the driver's
    expect([d.deviceConfig(0, 4), d.deviceConfig(4, 4), balloon.actual]).toEqual([100, 42, 42]);
    expect(() => balloon.setTarget(257)).toThrow(/0 to 256/);
  });

  it("takes pages on inflate and gives them back on deflate", () => {
    const { d, balloon } = ready();
    d.submit(0, [pfnBuffer(d, [10, 11, 12, 200])]);
    expect(d.used(0)).toHaveLength(1);
    expect([...balloon.pages].sort((x, y) => x - y)).toEqual([10, 11, 12, 200]);
    d.submit(1, [pfnBuffer(d, [11, 200])]);
    expect(d.used(1)).toHaveLength(1);
    expect([...balloon.pages].sort((x, y) => x - y)).toEqual([10, 12]);
    expect(balloon.counters).toMatchObject({ inflated: 4, deflated: 2, badPfns: 0 });
  });

  it("counts PFNs outside RAM, deflates of pages it never had and ragged buffers, and carries on", () => {
    const { d, balloon } = ready();
    const ragged = pfnBuffer(d, [5, 6]);
    d.submit(0, [pfnBuffer(d, [256, 0xffffffff, 3]), { addr: ragged.addr, len: 7 }]);
    d.submit(1, [pfnBuffer(d, [9])]);
    expect([...balloon.pages].sort((x, y) => x - y)).toEqual([3, 5]);
    expect(balloon.counters).toMatchObject({ badPfns: 3, badBuffers: 1 });
    expect(d.status & STATUS.NEEDS_RESET).toBe(0);
    d.submit(0, [pfnBuffer(d, [7])]);
    expect(balloon.pages.has(7)).toBe(true);
  });

  it("keeps the stats buffer, reads its figures, and hands it back when the host asks", () => {
    const { d, balloon } = ready();
    expect(balloon.requestStats()).toBe(false); // nothing held yet
    d.submit(2, [
      statsBuffer(d, [
        [BALLOON_STAT.MEMFREE, 50_000_000n],
        [BALLOON_STAT.MEMTOT, 60_000_000n],
      ]),
    ]);
    expect(d.used(2)).toHaveLength(0); // held by the device
    expect(balloon.stats.get(BALLOON_STAT.MEMFREE)).toBe(50_000_000n);
    expect(balloon.describe()).toContain("guest free 50000000 bytes");
    expect(balloon.requestStats()).toBe(true);
    expect(d.used(2)).toHaveLength(1);
    d.submit(2, [statsBuffer(d, [[BALLOON_STAT.MEMFREE, 40_000_000n]])]);
    expect(balloon.stats.get(BALLOON_STAT.MEMFREE)).toBe(40_000_000n);
    expect(balloon.counters.statsUpdates).toBe(2);
  });

  it("empties the balloon on a device reset", () => {
    const { d, balloon } = ready();
    d.submit(0, [pfnBuffer(d, [1, 2])]);
    d.setCommon(0x14, 1, 0);
    expect(balloon.pages.size).toBe(0);
    expect(balloon.actual).toBe(0);
  });
});
