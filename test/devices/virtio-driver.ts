// A small virtio driver for the device tests: it finds the capabilities in configuration space,
// negotiates features through the modern common configuration, lays out split queues in an
// ArrayGuestMemory, and submits descriptor chains (direct or through an indirect table) the way
// Linux's virtio_ring does. Everything goes through PcDevices' ports and MMIO, as a guest's
// accesses would.

import { ManualClock } from "../../devices/clock.js";
import { ArrayGuestMemory } from "../../devices/dma.js";
import { PcDevices } from "../../devices/pc.js";
import type { MsiSink } from "../../devices/pci/msix.js";
import type { VirtioDevice } from "../../devices/virtio/device.js";
import { CAP, STATUS, VirtioPci } from "../../devices/virtio/virtio-pci.js";
import { VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE } from "../../devices/virtio/virtqueue.js";

export interface Buf {
  addr: number;
  len: number;
  write?: boolean;
}

export interface QueueLayout {
  size: number;
  desc: number;
  avail: number;
  used: number;
  /** Next free descriptor, next avail slot, last used index seen. */
  nextDesc: number;
  availIdx: number;
  lastUsed: number;
}

export class TestDriver {
  readonly pc: PcDevices;
  readonly mem: ArrayGuestMemory;
  readonly dev: VirtioPci;
  readonly slot: number;
  readonly queues: QueueLayout[] = [];
  /** Where the next test buffer is allocated. */
  private heap = 0x80000;
  irqLevels: boolean[] = [];
  private caps = new Map<number, { bar: number; offset: number; length: number; at: number }>();

  constructor(device: VirtioDevice, options: { memBytes?: number; transitional?: boolean; msi?: MsiSink } = {}) {
    this.pc = new PcDevices({ clock: new ManualClock() });
    this.pc.attachPci();
    this.mem = new ArrayGuestMemory(new Uint8Array(options.memBytes ?? 1 << 20));
    this.dev = new VirtioPci(device, { memory: this.mem, transitional: options.transitional, msi: options.msi });
    this.slot = this.pc.addPciFunction(this.dev);
    this.pc.setupPciLikeFirmware();
    const wire = this.dev.intxWire!;
    this.dev.intxWire = {
      set: (l) => {
        this.irqLevels.push(l);
        wire.set(l);
      },
    };
    // Walk the capability list as a driver does.
    let at = this.cfg(0x34, 1);
    while (at) {
      if (this.cfg(at, 1) === 0x09) {
        this.caps.set(this.cfg(at + 3, 1), {
          bar: this.cfg(at + 4, 1),
          offset: this.cfg(at + 8, 4),
          length: this.cfg(at + 12, 4),
          at,
        });
      }
      at = this.cfg(at + 1, 1);
    }
  }

  cfg(reg: number, size: 1 | 2 | 4): number {
    this.pc.ioWrite(0xcf8, 4, (0x80000000 | (this.slot << 11) | (reg & 0xfc)) >>> 0);
    return this.pc.ioRead(0xcfc + (reg & 3), size);
  }

  cfgWrite(reg: number, size: 1 | 2 | 4, v: number): void {
    this.pc.ioWrite(0xcf8, 4, (0x80000000 | (this.slot << 11) | (reg & 0xfc)) >>> 0);
    this.pc.ioWrite(0xcfc + (reg & 3), size, v);
  }

  cap(type: number): { bar: number; offset: number; length: number; at: number } {
    const c = this.caps.get(type);
    if (!c) throw new Error(`no virtio capability ${type}`);
    return c;
  }

  barBase(bar: number): number {
    return (this.cfg(0x10 + bar * 4, 4) & ~0xf) >>> 0;
  }

  private addr(type: number, off: number): number {
    const c = this.cap(type);
    return this.barBase(c.bar) + c.offset + off;
  }

  common(off: number, size: 1 | 2 | 4): number {
    return this.pc.mmioRead(this.addr(CAP.COMMON, off), size);
  }

  setCommon(off: number, size: 1 | 2 | 4, v: number): void {
    this.pc.mmioWrite(this.addr(CAP.COMMON, off), size, v);
  }

  deviceConfig(off: number, size: 1 | 2 | 4): number {
    return this.pc.mmioRead(this.addr(CAP.DEVICE, off), size);
  }

  isr(): number {
    return this.pc.mmioRead(this.addr(CAP.ISR, 0), 1);
  }

  get status(): number {
    return this.common(0x14, 1);
  }

  deviceFeatures(): bigint {
    this.setCommon(0x00, 4, 0);
    const lo = this.common(0x04, 4);
    this.setCommon(0x00, 4, 1);
    const hi = this.common(0x04, 4);
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  /** Reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK; returns whether FEATURES_OK stuck. */
  negotiate(features: bigint): boolean {
    this.setCommon(0x14, 1, 0);
    this.setCommon(0x14, 1, STATUS.ACKNOWLEDGE);
    this.setCommon(0x14, 1, STATUS.ACKNOWLEDGE | STATUS.DRIVER);
    this.setCommon(0x08, 4, 0);
    this.setCommon(0x0c, 4, Number(features & 0xffffffffn));
    this.setCommon(0x08, 4, 1);
    this.setCommon(0x0c, 4, Number(features >> 32n));
    this.setCommon(0x14, 1, STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK);
    return (this.status & STATUS.FEATURES_OK) !== 0;
  }

  alloc(len: number, align = 16): number {
    this.heap = Math.ceil(this.heap / align) * align;
    const a = this.heap;
    this.heap += len;
    return a;
  }

  /** Sets up queue `index` with `size` entries and enables it. */
  setupQueue(index: number, size: number): QueueLayout {
    const desc = this.alloc(16 * size, 4096);
    const avail = this.alloc(6 + 2 * size, 2);
    const used = this.alloc(6 + 8 * size, 4096);
    this.setCommon(0x16, 2, index);
    this.setCommon(0x18, 2, size);
    this.setCommon(0x20, 4, desc);
    this.setCommon(0x24, 4, 0);
    this.setCommon(0x28, 4, avail);
    this.setCommon(0x2c, 4, 0);
    this.setCommon(0x30, 4, used);
    this.setCommon(0x34, 4, 0);
    this.setCommon(0x1c, 2, 1);
    const q: QueueLayout = { size, desc, avail, used, nextDesc: 0, availIdx: 0, lastUsed: 0 };
    this.queues[index] = q;
    return q;
  }

  driverOk(): void {
    this.setCommon(0x14, 1, this.status | STATUS.DRIVER_OK);
  }

  /** Writes descriptor `i` of a table. */
  writeDesc(table: number, i: number, d: { addr: number; len: number; flags: number; next: number }): void {
    const at = table + 16 * i;
    this.mem.writeU32(at, d.addr);
    this.mem.writeU32(at + 4, 0);
    this.mem.writeU32(at + 8, d.len);
    this.mem.writeU16(at + 12, d.flags);
    this.mem.writeU16(at + 14, d.next);
  }

  /** Makes a head available (without kicking). */
  publish(qi: number, head: number): void {
    const q = this.queues[qi]!;
    this.mem.writeU16(q.avail + 4 + 2 * (q.availIdx % q.size), head);
    q.availIdx = (q.availIdx + 1) & 0xffff;
    this.mem.writeU16(q.avail + 2, q.availIdx);
  }

  /** Puts a chain of buffers in the table (or an indirect table) and makes it available. */
  submit(qi: number, bufs: Buf[], options: { indirect?: boolean; kick?: boolean } = {}): number {
    const q = this.queues[qi]!;
    const head = q.nextDesc % q.size;
    if (options.indirect) {
      const table = this.alloc(16 * bufs.length);
      bufs.forEach((b, i) => {
        this.writeDesc(table, i, {
          addr: b.addr,
          len: b.len,
          flags: (b.write ? VIRTQ_DESC_F_WRITE : 0) | (i + 1 < bufs.length ? VIRTQ_DESC_F_NEXT : 0),
          next: i + 1,
        });
      });
      this.writeDesc(q.desc, head, { addr: table, len: 16 * bufs.length, flags: VIRTQ_DESC_F_INDIRECT, next: 0 });
      q.nextDesc++;
    } else {
      bufs.forEach((b, i) => {
        const idx = (q.nextDesc + i) % q.size;
        this.writeDesc(q.desc, idx, {
          addr: b.addr,
          len: b.len,
          flags: (b.write ? VIRTQ_DESC_F_WRITE : 0) | (i + 1 < bufs.length ? VIRTQ_DESC_F_NEXT : 0),
          next: (idx + 1) % q.size,
        });
      });
      q.nextDesc += bufs.length;
    }
    this.publish(qi, head);
    if (options.kick !== false) this.kick(qi);
    return head;
  }

  kick(qi: number): void {
    const c = this.cap(CAP.NOTIFY);
    const mult = this.cfg(c.at + 16, 4);
    this.setCommon(0x16, 2, qi);
    const off = this.common(0x1e, 2);
    this.pc.mmioWrite(this.barBase(c.bar) + c.offset + off * mult, 2, qi);
  }

  /** Used entries since the last call: [id, len]. */
  used(qi: number): [number, number][] {
    const q = this.queues[qi]!;
    const idx = this.mem.readU16(q.used + 2);
    const out: [number, number][] = [];
    while (q.lastUsed !== idx) {
      const at = q.used + 4 + 8 * (q.lastUsed % q.size);
      out.push([this.mem.readU32(at), this.mem.readU32(at + 4)]);
      q.lastUsed = (q.lastUsed + 1) & 0xffff;
    }
    return out;
  }

  /** A buffer in guest memory holding `bytes`. */
  buffer(bytes: Uint8Array | number[]): number {
    const a = this.alloc(bytes.length);
    this.mem.write(a, Uint8Array.from(bytes));
    return a;
  }
}
