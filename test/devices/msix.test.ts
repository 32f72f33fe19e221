// MSI-X on virtio-pci: the capability and its table and PBA in BAR1, per-vector and function
// masking with pending bits, vectors per queue and for configuration changes, the legacy
// interface's vector registers, and INTx# held low while MSI-X is enabled.

import { describe, expect, it } from "vitest";
import { MSIX_CAP_ID, UndeliveredMsi } from "../../devices/pci/msix.js";
import { bytesSource, CowDisk } from "../../devices/storage/block.js";
import { VIRTIO_BLK_T, VirtioBlk } from "../../devices/virtio/blk.js";
import { VIRTIO_F } from "../../devices/virtio/device.js";
import { LEGACY, NO_VECTOR, STATUS } from "../../devices/virtio/virtio-pci.js";
import { TestDriver } from "./virtio-driver.js";

const VERSION_1 = 1n << VIRTIO_F.VERSION_1;

function setup(transitional = true) {
  const sink = new UndeliveredMsi();
  const messages: [number, number][] = [];
  const d = new TestDriver(new VirtioBlk({ disk: new CowDisk(bytesSource(new Uint8Array(64 * 512).fill(7))) }), {
    transitional,
    msi: {
      message(address, data) {
        messages.push([address, data]);
        sink.message(address, data);
      },
    },
  });
  let cap = d.cfg(0x34, 1);
  while (cap && d.cfg(cap, 1) !== MSIX_CAP_ID) cap = d.cfg(cap + 1, 1);
  const table = d.barBase(1);
  /** Programs vector v's message. */
  const program = (v: number, address: number, data: number, masked = false) => {
    d.pc.mmioWrite(table + v * 16, 4, address);
    d.pc.mmioWrite(table + v * 16 + 4, 4, 0);
    d.pc.mmioWrite(table + v * 16 + 8, 4, data);
    d.pc.mmioWrite(table + v * 16 + 12, 4, masked ? 1 : 0);
  };
  const enable = (on: boolean, functionMask = false) =>
    d.cfgWrite(cap + 2, 2, (on ? 0x8000 : 0) | (functionMask ? 0x4000 : 0));
  /** Negotiates, sets up queue 0 and completes one read request; returns the used entries. */
  const ready = () => {
    expect(d.negotiate(VERSION_1)).toBe(true);
    d.setupQueue(0, 16);
  };
  const read = () => {
    const hdr = new Uint8Array(16);
    new DataView(hdr.buffer).setUint32(0, VIRTIO_BLK_T.IN, true);
    const data = d.alloc(512);
    const status = d.alloc(1, 1);
    d.submit(0, [
      { addr: d.buffer(hdr), len: 16 },
      { addr: data, len: 512, write: true },
      { addr: status, len: 1, write: true },
    ]);
    return d.used(0);
  };
  return { d, cap, table, program, enable, ready, read, messages, sink };
}

describe("MSI-X on virtio-pci", () => {
  it("has the capability: a vector per queue plus one, table at BAR1 + 0, PBA at BAR1 + 0x800", () => {
    const { d, cap, table } = setup();
    expect(cap).toBeGreaterThan(0);
    expect(d.cfg(cap + 2, 2)).toBe(1); // table size 2 (N - 1), disabled, unmasked
    expect(d.cfg(cap + 4, 4)).toBe(0x00000001); // BIR 1, offset 0
    expect(d.cfg(cap + 8, 4)).toBe(0x00000801); // BIR 1, offset 0x800
    d.cfgWrite(cap + 2, 2, 0xffff);
    expect(d.cfg(cap + 2, 2)).toBe(0xc001); // only enable and function mask are writable
    d.cfgWrite(0x14, 4, 0xffffffff);
    expect(d.cfg(0x14, 4)).toBe(0xfffff000); // BAR1: 4 KiB of memory
    d.cfgWrite(0x14, 4, table);
    // Every vector starts masked with a zero message; only the mask bit of vector control sticks.
    expect(d.pc.mmioRead(table + 12, 4)).toBe(1);
    expect(d.pc.mmioRead(table + 16 + 12, 4)).toBe(1);
    d.pc.mmioWrite(table + 12, 4, 0xfffffffe);
    expect(d.pc.mmioRead(table + 12, 4)).toBe(0);
    d.pc.mmioWrite(table + 2, 2, 0xabcd);
    expect(d.pc.mmioRead(table, 4)).toBe(0xabcd0000);
    // The PBA is read-only.
    d.pc.mmioWrite(table + 0x800, 4, 0xffffffff);
    expect(d.pc.mmioRead(table + 0x800, 4)).toBe(0);
  });

  it("sends the queue's vector message on completion and keeps INTx# low", () => {
    const { d, program, enable, ready, read, messages } = setup();
    ready();
    program(0, 0xfee00000, 0x4041);
    program(1, 0xfee01000, 0x4042);
    enable(true);
    d.setCommon(0x10, 2, 0); // configuration changes: vector 0
    d.setCommon(0x16, 2, 0);
    d.setCommon(0x1a, 2, 1); // queue 0: vector 1
    expect(d.common(0x10, 2)).toBe(0);
    expect(d.common(0x1a, 2)).toBe(1);
    d.driverOk();
    d.irqLevels = [];
    expect(read().length).toBe(1);
    expect(messages).toEqual([[0xfee01000, 0x4042]]);
    expect(d.irqLevels).not.toContain(true);
    expect(d.dev.intxAsserted).toBe(false);
    expect(d.isr()).toBe(1); // the ISR bit is still set (virtio 1.2, 4.1.4.5)
    expect(d.dev.counters.interrupts).toBe(1);
  });

  it("holds a masked vector's message as pending and sends it when unmasked", () => {
    const { d, table, program, enable, ready, read, messages } = setup();
    ready();
    program(1, 0xfee00000, 0x51, true);
    enable(true);
    d.setCommon(0x16, 2, 0);
    d.setCommon(0x1a, 2, 1);
    d.driverOk();
    read();
    read();
    expect(messages).toEqual([]);
    expect(d.pc.mmioRead(table + 0x800, 4)).toBe(0b10); // vector 1 pending
    expect(d.dev.msix.counters.pended).toBe(1);
    d.pc.mmioWrite(table + 16 + 12, 4, 0); // unmask
    expect(messages).toEqual([[0xfee00000, 0x51]]);
    expect(d.pc.mmioRead(table + 0x800, 4)).toBe(0);
    // The function mask holds every vector back the same way.
    enable(true, true);
    read();
    expect(messages.length).toBe(1);
    expect(d.pc.mmioRead(table + 0x800, 4)).toBe(0b10);
    enable(true, false);
    expect(messages.length).toBe(2);
  });

  it("refuses vectors beyond the table (NO_VECTOR) and sends nothing for NO_VECTOR", () => {
    const { d, program, enable, ready, read, messages } = setup();
    ready();
    program(0, 0xfee00000, 1);
    program(1, 0xfee00000, 2);
    enable(true);
    d.setCommon(0x16, 2, 0);
    d.setCommon(0x1a, 2, 2); // the table has vectors 0 and 1
    expect(d.common(0x1a, 2)).toBe(NO_VECTOR);
    d.setCommon(0x10, 2, 5);
    expect(d.common(0x10, 2)).toBe(NO_VECTOR);
    d.driverOk();
    read();
    expect(messages).toEqual([]);
    expect(d.dev.intxAsserted).toBe(false);
    // A reset forgets the mapping.
    d.setCommon(0x1a, 2, 1);
    d.setCommon(0x14, 1, 0);
    d.setCommon(0x16, 2, 0);
    expect(d.common(0x1a, 2)).toBe(NO_VECTOR);
  });

  it("signals a configuration change (a broken queue: DEVICE_NEEDS_RESET) on the config vector", () => {
    const { d, program, enable, ready, messages } = setup();
    ready();
    program(0, 0xfee00000, 0x30);
    enable(true);
    d.setCommon(0x10, 2, 0);
    d.driverOk();
    // A descriptor pointing outside RAM breaks the queue.
    d.submit(0, [{ addr: 0xfff00000, len: 16 }]);
    expect(d.status & STATUS.NEEDS_RESET).toBe(STATUS.NEEDS_RESET);
    expect(messages).toEqual([[0xfee00000, 0x30]]);
    expect(d.isr() & 2).toBe(2);
  });

  it("falls back to INTx# when MSI-X is disabled, and enabling it lowers an asserted INTx#", () => {
    const { d, enable, ready, read, messages } = setup();
    ready();
    d.setCommon(0x16, 2, 0);
    d.setCommon(0x1a, 2, 0);
    d.driverOk();
    read();
    expect(d.dev.intxAsserted).toBe(true);
    enable(true);
    expect(d.dev.intxAsserted).toBe(false);
    enable(false);
    d.isr();
    read();
    expect(d.dev.intxAsserted).toBe(true);
    expect(messages).toEqual([]);
  });

  it("moves the legacy device configuration to 0x18 and the vectors to 0x14/0x16 while enabled", () => {
    const { d, enable, program } = setup();
    const io = d.barBase(0) & ~3;
    expect(d.pc.ioRead(io + LEGACY.CONFIG, 4)).toBe(64); // capacity
    enable(true);
    program(0, 0xfee00000, 9);
    expect(d.pc.ioRead(io + LEGACY.CONFIG_MSIX, 4)).toBe(64);
    expect(d.pc.ioRead(io + LEGACY.CONFIG_VECTOR, 2)).toBe(NO_VECTOR);
    d.pc.ioWrite(io + LEGACY.CONFIG_VECTOR, 2, 0);
    expect(d.pc.ioRead(io + LEGACY.CONFIG_VECTOR, 2)).toBe(0);
    d.pc.ioWrite(io + LEGACY.QUEUE_SEL, 2, 0);
    d.pc.ioWrite(io + LEGACY.QUEUE_VECTOR, 2, 1);
    expect(d.pc.ioRead(io + LEGACY.QUEUE_VECTOR, 2)).toBe(1);
    d.pc.ioWrite(io + LEGACY.QUEUE_VECTOR, 2, 7);
    expect(d.pc.ioRead(io + LEGACY.QUEUE_VECTOR, 2)).toBe(NO_VECTOR);
    enable(false);
    expect(d.pc.ioRead(io + LEGACY.CONFIG, 4)).toBe(64);
  });

  it("counts messages the machine cannot deliver (no local APIC)", () => {
    const { d, program, enable, ready, read, sink } = setup();
    ready();
    program(0, 0xfee00000, 0x41);
    enable(true);
    d.setCommon(0x16, 2, 0);
    d.setCommon(0x1a, 2, 0);
    d.driverOk();
    read();
    expect(sink.count).toBe(1);
    expect(sink.last).toEqual({ address: 0xfee00000, data: 0x41 });
    expect(d.dev.msix.counters.messages).toBe(1);
  });
});
