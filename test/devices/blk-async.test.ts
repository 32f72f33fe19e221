// virtio-blk and IDE over a disk that answers later (test/storage/slow-source.ts): a request is
// returned to the driver (used ring, status, interrupt) or completes its ATA command only when
// the disk's data is there; several virtio requests are in flight at once and come back in the
// order the disk answers; a disk error is VIRTIO_BLK_S_IOERR or an ATA error; a reset drops what
// was in flight.

import { describe, expect, it } from "vitest";
import { ManualClock } from "../../devices/clock.js";
import { ArrayGuestMemory } from "../../devices/dma.js";
import { BM_ST } from "../../devices/ide/bus-master.js";
import { PcDevices } from "../../devices/pc.js";
import { PCI } from "../../devices/pci/pci.js";
import { captureState } from "../../devices/state/registry.js";
import { CowDisk } from "../../devices/storage/block.js";
import { VIRTIO_BLK_S, VIRTIO_BLK_T, VirtioBlk } from "../../devices/virtio/blk.js";
import { VIRTIO_F } from "../../devices/virtio/device.js";
import { HeldSource, settle } from "../storage/slow-source.js";
import { TestDriver } from "./virtio-driver.js";

const SECTORS = 128;

/** Sector s filled with byte s + 1. */
function image(): Uint8Array {
  const img = new Uint8Array(SECTORS * 512);
  for (let s = 0; s < SECTORS; s++) img.fill(s + 1, s * 512, (s + 1) * 512);
  return img;
}

function blk(opts: { limit?: number; writeThrough?: boolean } = {}) {
  const src = new HeldSource(image());
  const disk = new CowDisk(src, { writeThrough: opts.writeThrough });
  const dev = new VirtioBlk({ disk, queue: opts.limit ? { depth: opts.limit, limit: opts.limit } : undefined });
  const d = new TestDriver(dev);
  expect(d.negotiate(1n << BigInt(VIRTIO_F.VERSION_1))).toBe(true);
  d.setupQueue(0, 64);
  d.driverOk();
  const request = (type: number, sector: number, len: number, write = type === VIRTIO_BLK_T.IN) => {
    const hdr = new Uint8Array(16);
    const dv = new DataView(hdr.buffer);
    dv.setUint32(0, type, true);
    dv.setBigUint64(8, BigInt(sector), true);
    const h = d.buffer(hdr);
    const buf = d.alloc(Math.max(len, 1));
    const status = d.alloc(1, 1);
    d.mem.bytes[status] = 0xff;
    const data = len > 0 ? [{ addr: buf, len, write }] : [];
    const head = d.submit(0, [{ addr: h, len: 16 }, ...data, { addr: status, len: 1, write: true }]);
    return { head, buf, status };
  };
  return { src, disk, dev, d, request };
}

describe("virtio-blk over a disk that answers later", () => {
  it("returns each request when its data is there, several in flight, in the order the disk answers", async () => {
    const { src, dev, d, request } = blk();
    d.irqLevels = [];
    const a = request(VIRTIO_BLK_T.IN, 1, 512);
    const b = request(VIRTIO_BLK_T.IN, 20, 1024);
    const c = request(VIRTIO_BLK_T.IN, 40, 512);
    // Nothing is used yet and no interrupt: the data is not there.
    expect(d.used(0)).toEqual([]);
    expect(d.dev.intxAsserted).toBe(false);
    expect(dev.inFlight).toBe(3);
    expect(src.held.length).toBe(3);
    expect(d.mem.bytes[b.buf]).toBe(0);
    src.release(1); // b's read
    await settle();
    expect(d.used(0)).toEqual([[b.head, 1025]]);
    expect(d.mem.bytes[b.status]).toBe(VIRTIO_BLK_S.OK);
    expect([d.mem.bytes[b.buf], d.mem.bytes[b.buf + 1023]]).toEqual([21, 22]);
    expect(d.dev.intxAsserted).toBe(true);
    expect(d.isr()).toBe(1);
    src.release(1); // c
    src.release(0); // a
    await settle();
    expect(d.used(0)).toEqual([
      [c.head, 513],
      [a.head, 513],
    ]);
    expect([d.mem.bytes[a.buf], d.mem.bytes[c.buf]]).toEqual([2, 41]);
    expect(dev.inFlight).toBe(0);
  });

  it("reports a disk that fails as VIRTIO_BLK_S_IOERR and goes on", async () => {
    const { src, dev, d, request } = blk({ writeThrough: true });
    src.failing = [10 * 512, 11 * 512];
    const bad = request(VIRTIO_BLK_T.IN, 10, 512);
    const w = d.buffer(new Array(512).fill(0x77));
    // A write: header, data from the driver, status.
    const hdr = new Uint8Array(16);
    new DataView(hdr.buffer).setUint32(0, VIRTIO_BLK_T.OUT, true);
    new DataView(hdr.buffer).setBigUint64(8, 30n, true);
    const st = d.alloc(1, 1);
    const wh = d.submit(0, [
      { addr: d.buffer(hdr), len: 16 },
      { addr: w, len: 512 },
      { addr: st, len: 1, write: true },
    ]);
    src.releaseAll();
    await settle();
    const used = d.used(0);
    expect(used).toContainEqual([bad.head, 1]);
    expect(used).toContainEqual([wh, 1]);
    expect(d.mem.bytes[bad.status]).toBe(VIRTIO_BLK_S.IOERR);
    expect(d.mem.bytes[st]).toBe(VIRTIO_BLK_S.OK);
    expect(src.bytes[30 * 512]).toBe(0x77);
    expect(dev.counters.errors).toBe(1);
  });

  it("leaves requests in the ring while the block queue is full and takes them when it has room", async () => {
    const { src, dev, d, request } = blk({ limit: 2 });
    const reqs = [1, 2, 3, 4, 5].map((s) => request(VIRTIO_BLK_T.IN, s * 10, 512));
    expect(dev.inFlight).toBe(2);
    expect(src.held.length).toBe(2);
    for (let i = 0; i < 5 && src.held.length > 0; i++) {
      src.release(0);
      await settle();
    }
    // Each completion made room for the next chain in the ring, without another kick.
    expect(d.used(0).map(([h]) => h)).toEqual(reqs.map((r) => r.head));
    expect(reqs.map((r) => d.mem.bytes[r.buf])).toEqual([11, 21, 31, 41, 51]);
    expect(d.dev.counters.notifications).toEqual([5]);
  });

  it("drops the completion of a request in flight at a device reset (its write still lands)", async () => {
    const { src, dev, d, request } = blk();
    request(VIRTIO_BLK_T.IN, 3, 512);
    expect(dev.inFlight).toBe(1);
    d.setCommon(0x14, 1, 0); // reset
    src.releaseAll();
    await settle();
    expect(dev.inFlight).toBe(0);
    expect(d.mem.readU16(d.queues[0]!.used + 2)).toBe(0);
  });

  it("refuses to capture its state while a request is in flight (the request is not in its fields)", async () => {
    const { src, dev, request } = blk();
    request(VIRTIO_BLK_T.IN, 3, 512);
    expect(() => captureState(dev)).toThrow(/a disk request is in flight/);
    src.releaseAll();
    await settle();
    expect(() => captureState(dev)).not.toThrow();
  });

  it("drain() resolves once the last request is back", async () => {
    const { src, dev, request } = blk();
    request(VIRTIO_BLK_T.IN, 3, 512);
    request(VIRTIO_BLK_T.IN, 9, 512);
    request(VIRTIO_BLK_T.FLUSH, 0, 0);
    let drained = false;
    const p = dev.drain().then(() => {
      drained = true;
    });
    src.release(0);
    await settle();
    expect(drained).toBe(false);
    expect(dev.inFlight).toBe(2);
    src.release(0); // the second read; the flush then starts (and has nothing to push)
    await p;
    expect(drained).toBe(true);
    expect(dev.inFlight).toBe(0);
  });
});

const BM = 0xc000;

function ide(opts: { readOnly?: boolean; writeThrough?: boolean } = {}) {
  const src = new HeldSource(image());
  const disk = new CowDisk(src, { readOnly: opts.readOnly, writeThrough: opts.writeThrough });
  const pc = new PcDevices({ clock: new ManualClock() });
  const pci = pc.attachPci({ hda: { kind: "disk", disk } });
  const ram = new Uint8Array(1 << 20);
  pci.ide.setMemory(new ArrayGuestMemory(ram));
  pci.ide.writeConfig(0x20, 4, BM | 1);
  pci.ide.writeConfig(PCI.COMMAND, 2, 0x5);
  const p = pc.ports;
  const outb = (port: number, v: number) => p.write(port, 1, v);
  const inb = (port: number) => p.read(port, 1);
  const dv = new DataView(ram.buffer);
  const command = (cmd: number, lba: number, count: number) => {
    outb(0x1f6, 0xe0);
    outb(0x1f2, count);
    outb(0x1f3, lba & 0xff);
    outb(0x1f4, (lba >> 8) & 0xff);
    outb(0x1f5, (lba >> 16) & 0xff);
    outb(0x1f7, cmd);
  };
  /** One PRD at 0x2000 for `bytes` at `addr`, then the engine started in `toMemory`'s direction. */
  const dma = (addr: number, bytes: number, toMemory: boolean) => {
    dv.setUint32(0x1000, addr, true);
    dv.setUint32(0x1004, (bytes | 0x80000000) >>> 0, true);
    p.write(BM + 4, 4, 0x1000);
    outb(BM + 2, 0x06);
    outb(BM, toMemory ? 0x09 : 0x01);
  };
  const irq = () => (pc.pic.debugState()[1]!.irr & 0x40) !== 0; // IRQ 14
  return { src, disk, pc, ram, outb, inb, command, dma, irq, ch: pci.ide.primary };
}

describe("IDE over a disk that answers later", () => {
  it("READ DMA: the engine stays active, memory and the interrupt wait for the disk", async () => {
    const s = ide();
    s.command(0xc8, 8, 4);
    s.dma(0x10000, 2048, true);
    expect(s.inb(BM + 2) & (BM_ST.ACTIVE | BM_ST.INTERRUPT)).toBe(BM_ST.ACTIVE);
    expect(s.ram[0x10000]).toBe(0);
    expect(s.irq()).toBe(false);
    expect(s.ch.inFlight).toBe(1);
    s.src.release();
    await settle();
    expect(s.inb(BM + 2) & (BM_ST.ACTIVE | BM_ST.INTERRUPT)).toBe(BM_ST.INTERRUPT);
    expect([s.ram[0x10000], s.ram[0x10000 + 2047]]).toEqual([9, 12]);
    expect(s.irq()).toBe(true);
    expect(s.inb(0x1f7)).toBe(0x50);
    expect(s.ch.inFlight).toBe(0);
  });

  it("WRITE DMA takes the guest's buffer at the start and completes when the disk has it", async () => {
    const s = ide({ writeThrough: true });
    s.ram.fill(0x3c, 0x20000, 0x20000 + 1024);
    s.command(0xca, 50, 2);
    s.dma(0x20000, 1024, false);
    s.ram.fill(0, 0x20000, 0x20000 + 1024); // too late to change what is written
    expect(s.src.held.map((h) => h.kind)).toEqual(["write"]);
    expect(s.inb(BM + 2) & BM_ST.INTERRUPT).toBe(0);
    s.src.release();
    await settle();
    expect(s.src.bytes[50 * 512]).toBe(0x3c);
    expect(s.src.bytes[52 * 512 - 1]).toBe(0x3c);
    expect(s.inb(BM + 2) & (BM_ST.ACTIVE | BM_ST.INTERRUPT)).toBe(BM_ST.INTERRUPT);
    expect(s.inb(0x1f7)).toBe(0x50);
  });

  it("a DMA read the disk fails: ABRT and ERR with the interrupt, the engine stops", async () => {
    const s = ide();
    s.src.failing = [8 * 512, 9 * 512];
    s.command(0xc8, 8, 1);
    s.dma(0x10000, 512, true);
    s.src.release();
    await settle();
    expect(s.inb(BM + 2) & BM_ST.ACTIVE).toBe(0);
    expect(s.irq()).toBe(true);
    expect(s.inb(0x1f7)).toBe(0x51);
    expect(s.inb(0x1f1)).toBe(0x04);
    expect(s.ram[0x10000]).toBe(0);
  });

  it("PIO: BSY until the disk answers, then DRQ with the data and the interrupt", async () => {
    const s = ide();
    s.command(0x20, 3, 2);
    expect(s.inb(0x3f6) & 0x88).toBe(0x80); // BSY, no DRQ (alternate status: the interrupt stays)
    expect(s.irq()).toBe(false);
    s.src.release();
    await settle();
    expect(s.irq()).toBe(true);
    expect(s.inb(0x1f7) & 0x88).toBe(0x08);
    const first = s.pc.ports.read(0x1f0, 2);
    expect(first).toBe(0x0404);
    for (let i = 1; i < 256; i++) s.pc.ports.read(0x1f0, 2);
    // The second sector is requested once the first is read.
    expect(s.inb(0x3f6) & 0x88).toBe(0x80);
    s.src.release();
    await settle();
    expect(s.pc.ports.read(0x1f0, 2)).toBe(0x0505);
  });

  it("refuses to capture the channel's state while a DMA request is at the disk", async () => {
    const s = ide();
    s.command(0xc8, 8, 1);
    s.dma(0x10000, 512, true);
    expect(() => captureState(s.ch)).toThrow(/a disk request is in flight/);
    s.src.release();
    await settle();
    expect(() => captureState(s.ch)).not.toThrow();
  });

  it("a command abandoned by a reset ignores the disk's late answer", async () => {
    const s = ide();
    s.command(0x20, 3, 1);
    s.outb(0x3f6, 0x04); // SRST
    s.outb(0x3f6, 0x00);
    s.src.release();
    await settle();
    expect(s.inb(0x1f7) & 0x08).toBe(0); // no DRQ from the old command
    expect(s.ch.inFlight).toBe(0);
  });
});
