import { describe, expect, it } from "vitest";
import { EchoHostBackend, HostNetBackend, inetChecksum } from "../../devices/net/backend.js";
import { bytesSource, CowDisk } from "../../devices/storage/block.js";
import { VIRTIO_BLK_F, VIRTIO_BLK_S, VIRTIO_BLK_T, VirtioBlk } from "../../devices/virtio/blk.js";
import { VIRTIO_CONSOLE_F, VirtioConsole } from "../../devices/virtio/console.js";
import { VIRTIO_F } from "../../devices/virtio/device.js";
import { VIRTIO_NET_F, VirtioNet } from "../../devices/virtio/net.js";
import { VirtioRng } from "../../devices/virtio/rng.js";
import { CAP, LEGACY, STATUS } from "../../devices/virtio/virtio-pci.js";
import {
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
} from "../../devices/virtio/virtqueue.js";
import { TestDriver } from "./virtio-driver.js";

const SECTORS = 64;
const b = (n: bigint) => 1n << n;
const BASE_FEATURES = b(VIRTIO_F.VERSION_1);

/** A 32 KiB image whose sector s is filled with byte s + 1. */
function image(): Uint8Array {
  const img = new Uint8Array(SECTORS * 512);
  for (let s = 0; s < SECTORS; s++) img.fill(s + 1, s * 512, (s + 1) * 512);
  return img;
}

function blkDriver(opts: { features?: bigint; readOnly?: boolean; queueSize?: number; transitional?: boolean } = {}) {
  const img = image();
  const disk = new CowDisk(bytesSource(img), { readOnly: opts.readOnly });
  const blk = new VirtioBlk({ disk, serial: "VIRTIO-SERIAL-0001" });
  const d = new TestDriver(blk, { transitional: opts.transitional });
  return { d, blk, img, disk, opts };
}

function ready(opts: Parameters<typeof blkDriver>[0] = {}) {
  const t = blkDriver(opts);
  expect(t.d.negotiate(opts.features ?? BASE_FEATURES)).toBe(true);
  t.d.setupQueue(0, opts.queueSize ?? 16);
  t.d.driverOk();
  return t;
}

/** A blk request: header, data buffers, status byte. Returns the status address. */
function request(
  d: TestDriver,
  type: number,
  sector: number,
  data: { addr: number; len: number; write?: boolean }[],
  opts: { indirect?: boolean } = {},
): { head: number; status: number } {
  const hdr = new Uint8Array(16);
  const dv = new DataView(hdr.buffer);
  dv.setUint32(0, type, true);
  dv.setBigUint64(8, BigInt(sector), true);
  const h = d.buffer(hdr);
  const status = d.alloc(1, 1);
  d.mem.bytes[status] = 0xff;
  const head = d.submit(0, [{ addr: h, len: 16 }, ...data, { addr: status, len: 1, write: true }], opts);
  return { head, status };
}

describe("virtio-pci transport (virtio-blk on it)", () => {
  it("is a transitional virtio device with the four capabilities, the PCI_CFG window and two BARs", () => {
    const { d } = blkDriver();
    expect(d.cfg(0, 4)).toBe(0x10011af4); // 1AF4:1001, transitional block device
    expect(d.cfg(0x2c, 4)).toBe(0x00021af4); // subsystem: virtio device ID 2
    expect(d.cfg(0x08, 1)).toBe(0); // revision 0
    expect(d.cfg(0x0b, 1)).toBe(0x01);
    expect(d.cfg(0x3d, 1)).toBe(1); // INTA#
    expect(d.cfg(0x3c, 1)).toBe(10); // slot 2 INTA# -> PIRQB -> IRQ 10 (firmware setup)
    expect(d.cap(CAP.COMMON)).toMatchObject({ bar: 4, offset: 0, length: 0x38 });
    expect(d.cap(CAP.ISR)).toMatchObject({ bar: 4, offset: 0x1000, length: 1 });
    expect(d.cap(CAP.DEVICE)).toMatchObject({ bar: 4, offset: 0x2000, length: 0x3c });
    expect(d.cap(CAP.NOTIFY)).toMatchObject({ bar: 4, offset: 0x3000, length: 4 });
    expect(d.cfg(d.cap(CAP.NOTIFY).at + 16, 4)).toBe(4); // notify_off_multiplier
    expect(d.cap(CAP.PCI_CFG).length).toBe(0);
    // BAR sizing: 128 bytes of I/O (legacy header 0x14 + 0x3c of config), 16 KiB of memory.
    d.cfgWrite(0x10, 4, 0xffffffff);
    expect(d.cfg(0x10, 4)).toBe(0xffffff81);
    d.cfgWrite(0x20, 4, 0xffffffff);
    expect(d.cfg(0x20, 4)).toBe(0xffffc000);
    // A modern-only device: 1AF4:1042, revision 1, no I/O BAR.
    const modern = new TestDriver(new VirtioBlk({ disk: new CowDisk(bytesSource(image())) }), { transitional: false });
    expect(modern.cfg(0, 4)).toBe(0x10421af4);
    expect(modern.cfg(0x08, 1)).toBe(1);
    expect(modern.cfg(0x10, 4)).toBe(0);
  });

  it("offers VERSION_1, INDIRECT_DESC, EVENT_IDX and the blk features; FEATURES_OK only for a valid subset", () => {
    const { d } = blkDriver();
    const f = d.deviceFeatures();
    for (const n of [VIRTIO_F.VERSION_1, VIRTIO_F.INDIRECT_DESC, VIRTIO_F.EVENT_IDX]) expect(f & b(n)).toBe(b(n));
    for (const n of Object.values(VIRTIO_BLK_F).filter((x) => x !== VIRTIO_BLK_F.RO)) expect(f & b(n)).toBe(b(n));
    expect(f & b(VIRTIO_BLK_F.RO)).toBe(0n);
    expect(d.negotiate(0n)).toBe(false); // no VERSION_1
    expect(d.negotiate(BASE_FEATURES | b(40n))).toBe(false); // not offered
    expect(d.negotiate(f)).toBe(true);
    // Features are frozen once FEATURES_OK is set.
    d.setCommon(0x08, 4, 0);
    d.setCommon(0x0c, 4, 0);
    expect(d.common(0x0c, 4)).toBe(Number(f & 0xffffffffn));
    expect(d.common(0x12, 2)).toBe(1); // num_queues
    d.setCommon(0x16, 2, 0);
    expect(d.common(0x18, 2)).toBe(128);
    d.setCommon(0x18, 2, 100); // not a power of two: ignored
    expect(d.common(0x18, 2)).toBe(128);
    d.setCommon(0x18, 2, 32);
    expect(d.common(0x18, 2)).toBe(32);
    expect(d.common(0x10, 2)).toBe(0xffff); // no MSI-X vector (test/devices/msix.test.ts)
    d.setCommon(0x14, 1, 0); // reset
    expect(d.status).toBe(0);
    expect(d.common(0x18, 2)).toBe(128);
  });

  it("reads the device configuration: capacity, seg_max, blk_size; RO for a read-only disk", () => {
    const { d } = blkDriver();
    expect(d.deviceConfig(0, 4)).toBe(SECTORS);
    expect(d.deviceConfig(4, 4)).toBe(0);
    expect(d.deviceConfig(0x0c, 4)).toBe(126);
    expect(d.deviceConfig(0x14, 4)).toBe(512);
    const ro = blkDriver({ readOnly: true });
    expect(ro.d.deviceFeatures() & b(VIRTIO_BLK_F.RO)).toBe(b(VIRTIO_BLK_F.RO));
  });

  it("completes a request in the kick, raises INTx# with ISR bit 0, and reading the ISR lowers it", () => {
    const { d, blk } = ready();
    d.irqLevels = [];
    const buf = d.alloc(1024);
    const { head, status } = request(d, VIRTIO_BLK_T.IN, 3, [{ addr: buf, len: 1024, write: true }]);
    expect(d.used(0)).toEqual([[head, 1025]]);
    expect(d.mem.bytes[status]).toBe(VIRTIO_BLK_S.OK);
    expect(d.mem.bytes[buf]).toBe(4);
    expect(d.mem.bytes[buf + 1023]).toBe(5);
    expect(d.dev.intxAsserted).toBe(true);
    expect(d.pc.pic.debugState()[1]!.irr & 0x04).toBe(0x04); // IRQ 10
    expect(d.isr()).toBe(1);
    expect(d.dev.intxAsserted).toBe(false);
    expect(d.isr()).toBe(0);
    expect(d.irqLevels.filter((l, i, a) => i === 0 || l !== a[i - 1])).toEqual([true, false]);
    expect(d.dev.counters.notifications).toEqual([1]);
    expect(d.dev.counters.interrupts).toBe(1);
    expect(blk.counters.sectorsRead).toBe(2);
  });

  it("follows indirect descriptors", () => {
    const { d } = ready({ features: BASE_FEATURES | b(VIRTIO_F.INDIRECT_DESC) });
    const a = d.alloc(512);
    const c = d.alloc(512);
    const { head, status } = request(
      d,
      VIRTIO_BLK_T.IN,
      10,
      [
        { addr: a, len: 512, write: true },
        { addr: c, len: 512, write: true },
      ],
      { indirect: true },
    );
    expect(d.used(0)).toEqual([[head, 1025]]);
    expect(d.mem.bytes[status]).toBe(0);
    expect([d.mem.bytes[a], d.mem.bytes[c]]).toEqual([11, 12]);
    expect(d.dev.faultCount).toBe(0);
  });

  it("with EVENT_IDX publishes avail_event and interrupts only when used_event is crossed", () => {
    const { d } = ready({ features: BASE_FEATURES | b(VIRTIO_F.EVENT_IDX) });
    const q = d.queues[0]!;
    // used_event = 1: interrupt when the used index passes 1 (the second completion).
    d.mem.writeU16(q.avail + 4 + 2 * q.size, 1);
    request(d, VIRTIO_BLK_T.FLUSH, 0, []);
    expect(d.mem.readU16(q.used + 4 + 8 * q.size)).toBe(1); // avail_event
    expect(d.dev.intxAsserted).toBe(false);
    request(d, VIRTIO_BLK_T.FLUSH, 0, []);
    expect(d.dev.intxAsserted).toBe(true);
    expect(d.isr()).toBe(1);
    request(d, VIRTIO_BLK_T.FLUSH, 0, []); // used 3, event still 1: no interrupt
    expect(d.dev.intxAsserted).toBe(false);
    expect(d.used(0).length).toBe(3);
  });

  it("without EVENT_IDX honours VIRTQ_AVAIL_F_NO_INTERRUPT", () => {
    const { d } = ready();
    d.mem.writeU16(d.queues[0]!.avail, VIRTQ_AVAIL_F_NO_INTERRUPT);
    request(d, VIRTIO_BLK_T.FLUSH, 0, []);
    expect(d.used(0).length).toBe(1);
    expect(d.dev.intxAsserted).toBe(false);
    d.mem.writeU16(d.queues[0]!.avail, 0);
    request(d, VIRTIO_BLK_T.FLUSH, 0, []);
    expect(d.dev.intxAsserted).toBe(true);
  });

  it("reaches every register through the PCI_CFG capability window", () => {
    const { d } = blkDriver();
    const c = d.cap(CAP.PCI_CFG).at;
    d.cfgWrite(c + 4, 1, 4); // BAR4
    d.cfgWrite(c + 8, 4, 0x2000); // device config: capacity
    d.cfgWrite(c + 12, 4, 4);
    expect(d.cfg(c + 16, 4)).toBe(SECTORS);
    d.cfgWrite(c + 8, 4, 0x14); // common: device_status
    d.cfgWrite(c + 12, 4, 1);
    d.cfgWrite(c + 16, 1, STATUS.ACKNOWLEDGE);
    expect(d.status).toBe(STATUS.ACKNOWLEDGE);
  });

  it("offers the legacy interface on BAR0: features, queue PFN, notify, ISR, config at 0x14", () => {
    const { d } = blkDriver();
    const io = d.barBase(0) & ~3;
    expect(d.pc.ioRead(io + LEGACY.HOST_FEATURES, 4) & (1 << 28)).toBe(1 << 28);
    expect(d.pc.ioRead(io + LEGACY.CONFIG, 4)).toBe(SECTORS); // capacity
    expect(d.pc.ioRead(io + LEGACY.QUEUE_NUM, 2)).toBe(128);
    d.pc.ioWrite(io + LEGACY.STATUS, 1, STATUS.ACKNOWLEDGE | STATUS.DRIVER);
    d.pc.ioWrite(io + LEGACY.GUEST_FEATURES, 4, 0);
    const pfn = Math.ceil(d.alloc(0x3000, 4096) / 4096);
    d.pc.ioWrite(io + LEGACY.QUEUE_PFN, 4, pfn);
    expect(d.pc.ioRead(io + LEGACY.QUEUE_PFN, 4)).toBe(pfn);
    d.pc.ioWrite(io + LEGACY.STATUS, 1, STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.DRIVER_OK);
    // The legacy layout: avail after the 128 descriptors, used on the next page boundary.
    const desc = pfn * 4096;
    d.queues[0] = {
      size: 128,
      desc,
      avail: desc + 2048,
      used: Math.ceil((desc + 2048 + 6 + 256) / 4096) * 4096,
      nextDesc: 0,
      availIdx: 0,
      lastUsed: 0,
    };
    const buf = d.alloc(512);
    const hdr = d.buffer([0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0]); // IN, sector 7
    const st = d.alloc(1, 1);
    const head = d.submit(
      0,
      [
        { addr: hdr, len: 16 },
        { addr: buf, len: 512, write: true },
        { addr: st, len: 1, write: true },
      ],
      { kick: false },
    );
    d.pc.ioWrite(io + LEGACY.QUEUE_NOTIFY, 2, 0);
    expect(d.used(0)).toEqual([[head, 513]]);
    expect(d.mem.bytes[buf]).toBe(8);
    expect(d.pc.ioRead(io + LEGACY.ISR, 1)).toBe(1);
    expect(d.dev.intxAsserted).toBe(false);
    d.pc.ioWrite(io + LEGACY.STATUS, 1, 0);
    expect(d.pc.ioRead(io + LEGACY.QUEUE_PFN, 4)).toBe(0);
  });
});

describe("virtqueue abuse: the device needs reset, counts it, and never throws or hangs", () => {
  type Abuse = (d: TestDriver) => void;
  const q0 = (d: TestDriver) => d.queues[0]!;
  const hdr = (d: TestDriver) => d.buffer(new Uint8Array(16)); // IN, sector 0
  const cases: [string, string, Abuse, bigint?][] = [
    [
      "a descriptor loop",
      "loop-or-too-long",
      (d) => {
        const q = q0(d);
        d.writeDesc(q.desc, 0, { addr: hdr(d), len: 16, flags: VIRTQ_DESC_F_NEXT, next: 1 });
        d.writeDesc(q.desc, 1, { addr: d.alloc(512), len: 512, flags: VIRTQ_DESC_F_NEXT, next: 0 });
        d.publish(0, 0);
        d.kick(0);
      },
    ],
    [
      "a loop inside an indirect table",
      "loop-or-too-long",
      (d) => {
        const table = d.alloc(32);
        d.writeDesc(table, 0, { addr: hdr(d), len: 16, flags: VIRTQ_DESC_F_NEXT, next: 1 });
        d.writeDesc(table, 1, { addr: d.alloc(16), len: 16, flags: VIRTQ_DESC_F_NEXT, next: 0 });
        d.writeDesc(q0(d).desc, 0, { addr: table, len: 32, flags: VIRTQ_DESC_F_INDIRECT, next: 0 });
        d.publish(0, 0);
        d.kick(0);
      },
      b(VIRTIO_F.INDIRECT_DESC),
    ],
    [
      "a buffer outside RAM",
      "outside-ram",
      (d) => {
        d.submit(0, [
          { addr: hdr(d), len: 16 },
          { addr: 0xfff00, len: 0x200, write: true },
          { addr: d.alloc(1), len: 1, write: true },
        ]);
      },
    ],
    [
      "a descriptor table outside RAM",
      "outside-ram",
      (d) => {
        d.setCommon(0x14, 1, 0);
        expect(d.negotiate(BASE_FEATURES)).toBe(true);
        d.setCommon(0x16, 2, 0);
        d.setCommon(0x18, 2, 16);
        d.setCommon(0x20, 4, 0x4000_0000);
        d.setCommon(0x28, 4, q0(d).avail);
        d.setCommon(0x30, 4, q0(d).used);
        d.setCommon(0x1c, 2, 1);
        d.driverOk();
        d.publish(0, 0);
        d.kick(0);
      },
    ],
    [
      "a length that wraps past 4 GiB",
      "length-overflow",
      (d) => {
        d.submit(0, [{ addr: 0xfffff000, len: 0x2000 }]);
      },
    ],
    [
      "a head index past the table",
      "bad-index",
      (d) => {
        d.publish(0, 16);
        d.kick(0);
      },
    ],
    [
      "a next index past the table",
      "bad-index",
      (d) => {
        d.writeDesc(q0(d).desc, 0, { addr: hdr(d), len: 16, flags: VIRTQ_DESC_F_NEXT, next: 999 });
        d.publish(0, 0);
        d.kick(0);
      },
    ],
    [
      "an available index more than the queue size ahead",
      "avail-overrun",
      (d) => {
        d.mem.writeU16(q0(d).avail + 2, 17);
        d.kick(0);
      },
    ],
    [
      "INDIRECT without the feature",
      "indirect",
      (d) => {
        d.submit(0, [{ addr: hdr(d), len: 16 }], { indirect: true });
      },
    ],
    [
      "INDIRECT together with NEXT",
      "indirect",
      (d) => {
        const table = d.alloc(16);
        d.writeDesc(table, 0, { addr: hdr(d), len: 16, flags: 0, next: 0 });
        d.writeDesc(q0(d).desc, 0, { addr: table, len: 16, flags: VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, next: 1 });
        d.publish(0, 0);
        d.kick(0);
      },
      b(VIRTIO_F.INDIRECT_DESC),
    ],
    [
      "an indirect table inside an indirect table",
      "indirect",
      (d) => {
        const inner = d.alloc(16);
        const outer = d.alloc(16);
        d.writeDesc(inner, 0, { addr: hdr(d), len: 16, flags: 0, next: 0 });
        d.writeDesc(outer, 0, { addr: inner, len: 16, flags: VIRTQ_DESC_F_INDIRECT, next: 0 });
        d.writeDesc(q0(d).desc, 0, { addr: outer, len: 16, flags: VIRTQ_DESC_F_INDIRECT, next: 0 });
        d.publish(0, 0);
        d.kick(0);
      },
      b(VIRTIO_F.INDIRECT_DESC),
    ],
    [
      "an indirect table whose length is not whole descriptors",
      "indirect",
      (d) => {
        d.writeDesc(q0(d).desc, 0, { addr: d.alloc(24), len: 24, flags: VIRTQ_DESC_F_INDIRECT, next: 0 });
        d.publish(0, 0);
        d.kick(0);
      },
      b(VIRTIO_F.INDIRECT_DESC),
    ],
    [
      "a readable descriptor after a writable one",
      "order",
      (d) => {
        d.submit(0, [
          { addr: d.alloc(1), len: 1, write: true },
          { addr: hdr(d), len: 16 },
        ]);
      },
    ],
  ];

  for (const [what, fault, abuse, extra] of cases) {
    it(`${what}: ${fault}`, () => {
      const { d, blk } = ready({ features: BASE_FEATURES | (extra ?? 0n) });
      expect(() => abuse(d)).not.toThrow();
      expect(d.dev.counters.faults).toEqual({ [fault]: 1 });
      expect(d.status & STATUS.NEEDS_RESET).toBe(STATUS.NEEDS_RESET);
      expect(d.isr() & 2).toBe(2); // configuration change interrupt
      expect(d.dev.state.queues[0]!.broken).toBe(true);
      // The queue stays stopped: a further kick does nothing, and nothing is counted twice.
      d.kick(0);
      expect(d.dev.faultCount).toBe(1);
      expect(blk.counters.sectorsRead).toBe(0);
      // The driver's reset brings the device back.
      expect(d.negotiate(BASE_FEATURES)).toBe(true);
      d.setupQueue(0, 16);
      d.driverOk();
      expect(d.status & STATUS.NEEDS_RESET).toBe(0);
      const buf = d.alloc(512);
      const { status } = request(d, VIRTIO_BLK_T.IN, 1, [{ addr: buf, len: 512, write: true }]);
      expect(d.mem.bytes[status]).toBe(VIRTIO_BLK_S.OK);
      expect(d.mem.bytes[buf]).toBe(2);
    });
  }

  it("takes a chain that uses every descriptor of the table", () => {
    const { d } = ready({ queueSize: 4 });
    const bufs = [d.alloc(512), d.alloc(512)];
    const { status } = request(d, VIRTIO_BLK_T.IN, 0, [
      { addr: bufs[0]!, len: 512, write: true },
      { addr: bufs[1]!, len: 512, write: true },
    ]);
    expect(d.mem.bytes[status]).toBe(0);
    expect(d.dev.faultCount).toBe(0);
  });
});

describe("virtio-blk requests", () => {
  it("writes into the copy-on-write overlay, leaving the image untouched, and reads it back", () => {
    const { d, img, disk, blk } = ready();
    const data = d.buffer(new Uint8Array(1024).fill(0xab));
    const w = request(d, VIRTIO_BLK_T.OUT, 5, [{ addr: data, len: 1024 }]);
    expect(d.mem.bytes[w.status]).toBe(VIRTIO_BLK_S.OK);
    expect(img[5 * 512]).toBe(6); // the image itself is not written
    expect(disk.dirtySectors).toBe(2);
    const back = d.alloc(1536);
    request(d, VIRTIO_BLK_T.IN, 4, [{ addr: back, len: 1536, write: true }]);
    expect([d.mem.bytes[back], d.mem.bytes[back + 512], d.mem.bytes[back + 1024]]).toEqual([5, 0xab, 0xab]);
    expect(blk.counters.sectorsWritten).toBe(2);
  });

  it("flushes, returns the serial for GET_ID, and answers UNSUPP to an unknown type", () => {
    const { d } = ready();
    expect(d.mem.bytes[request(d, VIRTIO_BLK_T.FLUSH, 0, []).status]).toBe(VIRTIO_BLK_S.OK);
    const id = d.alloc(20);
    const r = request(d, VIRTIO_BLK_T.GET_ID, 0, [{ addr: id, len: 20, write: true }]);
    expect(d.mem.bytes[r.status]).toBe(VIRTIO_BLK_S.OK);
    expect(String.fromCharCode(...d.mem.bytes.subarray(id, id + 18))).toBe("VIRTIO-SERIAL-0001");
    expect(d.mem.bytes[request(d, 99, 0, []).status]).toBe(VIRTIO_BLK_S.UNSUPP);
  });

  it("zeroes sectors for WRITE_ZEROES and accepts DISCARD as a hint", () => {
    const { d } = ready();
    const seg = (sector: number, count: number, flags = 0) => {
      const s = new Uint8Array(16);
      const dv = new DataView(s.buffer);
      dv.setBigUint64(0, BigInt(sector), true);
      dv.setUint32(8, count, true);
      dv.setUint32(12, flags, true);
      return d.buffer(s);
    };
    const z = request(d, VIRTIO_BLK_T.WRITE_ZEROES, 0, [{ addr: seg(8, 2), len: 16 }]);
    expect(d.mem.bytes[z.status]).toBe(VIRTIO_BLK_S.OK);
    const disc = request(d, VIRTIO_BLK_T.DISCARD, 0, [{ addr: seg(20, 1), len: 16 }]);
    expect(d.mem.bytes[disc.status]).toBe(VIRTIO_BLK_S.OK);
    const back = d.alloc(2048);
    request(d, VIRTIO_BLK_T.IN, 7, [{ addr: back, len: 2048, write: true }]);
    expect([0, 512, 1024, 1536].map((o) => d.mem.bytes[back + o])).toEqual([8, 0, 0, 11]);
    // Past the end, unknown flags, or two segments (max_discard_seg 1): IOERR.
    expect(d.mem.bytes[request(d, VIRTIO_BLK_T.WRITE_ZEROES, 0, [{ addr: seg(63, 2), len: 16 }]).status]).toBe(1);
    expect(d.mem.bytes[request(d, VIRTIO_BLK_T.DISCARD, 0, [{ addr: seg(0, 1, 4), len: 16 }]).status]).toBe(1);
    const two = seg(0, 1);
    seg(1, 1);
    expect(d.mem.bytes[request(d, VIRTIO_BLK_T.DISCARD, 0, [{ addr: two, len: 32 }]).status]).toBe(1);
    expect(d.dev.faultCount).toBe(0);
  });

  it("reports IOERR past the end of the disk, for partial sectors and for writes to a read-only disk", () => {
    const { d, blk } = ready();
    const buf = d.alloc(1024);
    expect(d.mem.bytes[request(d, VIRTIO_BLK_T.IN, SECTORS - 1, [{ addr: buf, len: 1024, write: true }]).status]).toBe(
      VIRTIO_BLK_S.IOERR,
    );
    expect(d.mem.bytes[request(d, VIRTIO_BLK_T.IN, 0, [{ addr: buf, len: 100, write: true }]).status]).toBe(
      VIRTIO_BLK_S.IOERR,
    );
    expect(blk.counters.errors).toBe(2);
    const ro = ready({ readOnly: true });
    const data = ro.d.buffer(new Uint8Array(512));
    expect(ro.d.mem.bytes[request(ro.d, VIRTIO_BLK_T.OUT, 0, [{ addr: data, len: 512 }]).status]).toBe(
      VIRTIO_BLK_S.IOERR,
    );
    expect(ro.img[0]).toBe(1);
    expect(d.dev.faultCount + ro.d.dev.faultCount).toBe(0);
  });
});

describe("virtio-rng", () => {
  it("is 1AF4:1005 and fills each writable buffer from its entropy source", () => {
    let next = 0;
    const rng = new VirtioRng((dest) => {
      for (let i = 0; i < dest.length; i++) dest[i] = next++ & 0xff;
    });
    const d = new TestDriver(rng);
    expect(d.cfg(0, 4)).toBe(0x10051af4);
    expect(d.cfg(0x2c, 2)).toBe(0x1af4);
    expect(d.cfg(0x2e, 2)).toBe(4);
    expect(d.deviceFeatures()).toBe(b(VIRTIO_F.VERSION_1) | b(VIRTIO_F.INDIRECT_DESC) | b(VIRTIO_F.EVENT_IDX));
    expect(d.negotiate(BASE_FEATURES)).toBe(true);
    d.setupQueue(0, 8);
    d.driverOk();
    const a = d.alloc(16);
    const c = d.alloc(8);
    const head = d.submit(0, [
      { addr: a, len: 16, write: true },
      { addr: c, len: 8, write: true },
    ]);
    expect(d.used(0)).toEqual([[head, 24]]);
    expect(Array.from(d.mem.bytes.subarray(a, a + 4))).toEqual([0, 1, 2, 3]);
    expect(d.mem.bytes[c + 7]).toBe(23);
    expect(rng.bytes).toBe(24);
    expect(d.isr()).toBe(1);
    // A readable buffer has nothing to receive: the request completes with 0 bytes.
    const h2 = d.submit(0, [{ addr: a, len: 16 }]);
    expect(d.used(0)).toEqual([[h2, 0]]);
  });

  it("draws from Web Crypto by default", () => {
    const d = new TestDriver(new VirtioRng());
    expect(d.negotiate(BASE_FEATURES)).toBe(true);
    d.setupQueue(0, 8);
    d.driverOk();
    const a = d.alloc(64);
    d.submit(0, [{ addr: a, len: 64, write: true }]);
    expect(d.mem.bytes.subarray(a, a + 64).some((x) => x !== 0)).toBe(true);
  });
});

describe("virtio-net", () => {
  function net(features = BASE_FEATURES | b(VIRTIO_NET_F.MRG_RXBUF)) {
    const backend = new HostNetBackend();
    const dev = new VirtioNet(backend);
    const d = new TestDriver(dev);
    return { d, dev, backend, features };
  }
  function up(t: ReturnType<typeof net>) {
    expect(t.d.negotiate(t.features)).toBe(true);
    t.d.setupQueue(0, 8);
    t.d.setupQueue(1, 8);
    t.d.driverOk();
  }
  const frame = (n: number, fill = 0xee) => {
    const f = new Uint8Array(n).fill(fill);
    f.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0, 0x12, 0x34, 0x56, 0x08, 0x00]);
    return f;
  };

  it("is 1AF4:1000 with MAC, link status and MRG_RXBUF, two queues", () => {
    const t = net();
    expect(t.d.cfg(0, 4)).toBe(0x10001af4);
    expect(t.d.cfg(0x0b, 1)).toBe(0x02);
    const f = t.d.deviceFeatures();
    for (const n of Object.values(VIRTIO_NET_F)) expect(f & b(n)).toBe(b(n));
    expect([0, 1, 2, 3, 4, 5].map((i) => t.d.deviceConfig(i, 1))).toEqual([0x52, 0x54, 0, 0x12, 0x34, 0x56]);
    expect(t.d.deviceConfig(6, 2)).toBe(1); // link up
    expect(t.d.common(0x12, 2)).toBe(2);
    up(t);
    t.d.isr();
    t.dev.setLink(false);
    expect(t.d.deviceConfig(6, 2)).toBe(0);
    expect(t.d.isr()).toBe(2); // configuration change
    expect(t.d.common(0x15, 1)).toBe(1); // config_generation moved
  });

  it("sends frames without their 12-byte header to the backend", () => {
    const t = net();
    up(t);
    const hdr = t.d.buffer(new Uint8Array(12));
    const body = t.d.buffer(frame(60));
    const head = t.d.submit(1, [
      { addr: hdr, len: 12 },
      { addr: body, len: 60 },
    ]);
    expect(t.backend.sent).toEqual([frame(60)]);
    expect(t.d.used(1)).toEqual([[head, 0]]);
    // Runt frames are dropped (and the chain returned).
    t.d.submit(1, [{ addr: hdr, len: 12 + 10 }]);
    expect(t.backend.sent.length).toBe(1);
    expect(t.dev.counters.txDropped).toBe(1);
  });

  it("receives into posted buffers, merging several when one is too small, and keeps a backlog", () => {
    const t = net();
    up(t);
    t.backend.inject(frame(100, 1)); // no buffers yet: waits
    expect(t.dev.counters.rxFrames).toBe(0);
    const bufs = [t.d.alloc(64), t.d.alloc(64), t.d.alloc(64)];
    for (const a of bufs) t.d.submit(0, [{ addr: a, len: 64, write: true }], { kick: false });
    t.d.kick(0);
    // 12 + 100 bytes: two 64-byte buffers, num_buffers = 2.
    const used = t.d.used(0);
    expect(used.map(([, n]) => n)).toEqual([64, 48]);
    expect(t.d.mem.readU16(bufs[0]! + 10)).toBe(2);
    expect(t.d.mem.bytes[bufs[0]! + 12]).toBe(0xff);
    expect(t.d.mem.bytes[bufs[1]! + 47]).toBe(1);
    expect(t.dev.counters).toMatchObject({ rxFrames: 1, rxBuffers: 2 });
    expect(t.d.isr()).toBe(1);
    // A frame arriving with a buffer posted goes straight in.
    t.backend.inject(frame(40, 2));
    expect(t.d.used(0).map(([, n]) => n)).toEqual([52]);
  });

  it("drops what a legacy-sized single buffer cannot hold, and uses 10-byte headers without MRG_RXBUF", () => {
    const t = net(BASE_FEATURES);
    up(t);
    const small = t.d.alloc(64);
    t.d.submit(0, [{ addr: small, len: 64, write: true }]);
    t.backend.inject(frame(100));
    expect(t.dev.counters.rxDropped).toBe(1);
    expect(t.d.used(0)).toEqual([[0, 0]]);
    const big = t.d.alloc(2048);
    t.d.submit(0, [{ addr: big, len: 2048, write: true }]);
    t.backend.inject(frame(100, 3));
    // VERSION_1 without MRG_RXBUF still has the 12-byte header (num_buffers 0 or 1).
    expect(t.d.used(0).map(([, n]) => n)).toEqual([112]);
  });
});

describe("EchoHostBackend", () => {
  it("answers ARP for its address and ICMP echo requests, with valid checksums", () => {
    const host = new EchoHostBackend("10.0.2.2");
    const got: Uint8Array[] = [];
    host.onReceive = (f) => got.push(f);
    const me = Uint8Array.of(0x52, 0x54, 0, 0x12, 0x34, 0x56);
    const arp = new Uint8Array(42);
    arp.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, ...me, 0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1, ...me, 10, 0, 2, 15]);
    arp.set([0, 0, 0, 0, 0, 0, 10, 0, 2, 2], 32);
    host.transmit(arp);
    expect(got.length).toBe(1);
    expect(Array.from(got[0]!.subarray(0, 6))).toEqual(Array.from(me));
    expect(got[0]![21]).toBe(2); // reply
    expect(Array.from(got[0]!.subarray(28, 32))).toEqual([10, 0, 2, 2]);
    const ip = new Uint8Array(20 + 12);
    ip.set([0x45, 0, 0, 32, 0, 1, 0, 0, 64, 1, 0, 0, 10, 0, 2, 15, 10, 0, 2, 2]);
    const hs = inetChecksum(ip.subarray(0, 20));
    ip[10] = hs >> 8;
    ip[11] = hs & 0xff;
    ip.set([8, 0, 0, 0, 0, 7, 0, 1, 1, 2, 3, 4], 20);
    const cs = inetChecksum(ip.subarray(20));
    ip[22] = cs >> 8;
    ip[23] = cs & 0xff;
    const ping = new Uint8Array(14 + 32);
    ping.set([...host.mac, ...me, 0x08, 0x00]);
    ping.set(ip, 14);
    host.transmit(ping);
    const r = got[1]!;
    expect(r[34]).toBe(0); // echo reply
    expect(Array.from(r.subarray(26, 34))).toEqual([10, 0, 2, 2, 10, 0, 2, 15]);
    expect(inetChecksum(r.subarray(14, 34))).toBe(0);
    expect(inetChecksum(r.subarray(34, 46))).toBe(0);
    host.transmit(Uint8Array.of(1, 2, 3));
    expect(host.counts).toEqual({ frames: 3, arpReplies: 1, echoReplies: 1, udpIn: 0, udpOut: 0, ignored: 1 });
  });
});

describe("virtio-console", () => {
  it("is 1AF4:1003 with one port: output, buffered input, size and emergency write", () => {
    const out: number[] = [];
    const con = new VirtioConsole((b) => out.push(...b), { cols: 132, rows: 43 });
    const d = new TestDriver(con);
    expect(d.cfg(0, 4)).toBe(0x10031af4);
    expect(d.deviceFeatures() & 7n).toBe(b(VIRTIO_CONSOLE_F.SIZE) | b(VIRTIO_CONSOLE_F.EMERG_WRITE));
    expect([d.deviceConfig(0, 2), d.deviceConfig(2, 2), d.deviceConfig(4, 4)]).toEqual([132, 43, 1]);
    expect(d.negotiate(BASE_FEATURES)).toBe(true);
    d.setupQueue(0, 4);
    d.setupQueue(1, 4);
    d.driverOk();
    const text = d.buffer(Array.from("hello\n", (c) => c.charCodeAt(0)));
    d.submit(1, [{ addr: text, len: 6 }]);
    expect(String.fromCharCode(...out)).toBe("hello\n");
    d.pc.mmioWrite(d.barBase(4) + 0x2000 + 8, 4, 0x21); // emerg_wr
    expect(out.at(-1)).toBe(0x21);
    con.send("ls\r"); // no receive buffer yet: kept
    const rx = d.alloc(2);
    d.submit(0, [{ addr: rx, len: 2, write: true }]);
    expect(d.used(0)).toEqual([[0, 2]]);
    expect(String.fromCharCode(d.mem.bytes[rx]!, d.mem.bytes[rx + 1]!)).toBe("ls");
    const rx2 = d.alloc(8);
    d.submit(0, [{ addr: rx2, len: 8, write: true }]);
    expect(d.used(0)).toEqual([[1, 1]]);
    expect(con.counters).toEqual({ bytesOut: 7, bytesIn: 3, inputDropped: 0 });
  });
});
