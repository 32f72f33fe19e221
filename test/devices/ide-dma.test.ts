// Bus-master IDE DMA on the PIIX3 IDE function: the BMIBA registers, READ/WRITE DMA (EXT) through
// PRD tables in guest memory, the status bits of each way a transfer ends (exact, PRDs longer,
// PRDs shorter, table or buffer outside RAM), bus mastering disabled, and the DMA modes IDENTIFY
// offers and SET FEATURES selects.

import { describe, expect, it } from "vitest";
import { ManualClock } from "../../devices/clock.js";
import { ArrayGuestMemory } from "../../devices/dma.js";
import { BM_ST } from "../../devices/ide/bus-master.js";
import { PcDevices } from "../../devices/pc.js";
import { PCI } from "../../devices/pci/pci.js";
import { bytesSource, CowDisk } from "../../devices/storage/block.js";

const BM = 0xc000;
const RAM = 1 << 20;

function patterned(sectors: number): Uint8Array {
  const b = new Uint8Array(sectors * 512);
  for (let i = 0; i < b.length; i++) b[i] = (i * 13 + (i >> 9)) & 0xff;
  return b;
}

function setup(opts: { sectors?: number; readOnly?: boolean; master?: boolean } = {}) {
  const image = patterned(opts.sectors ?? 256);
  const disk = new CowDisk(bytesSource(image.slice()), { readOnly: opts.readOnly });
  const pc = new PcDevices({ clock: new ManualClock() });
  const pci = pc.attachPci({ hda: { kind: "disk", disk } });
  const ram = new Uint8Array(RAM);
  const memory = new ArrayGuestMemory(ram);
  pci.ide.setMemory(memory);
  pci.ide.writeConfig(0x20, 4, BM | 1);
  pci.ide.writeConfig(PCI.COMMAND, 2, opts.master === false ? 0x1 : 0x5);
  const p = pc.ports;
  const outb = (port: number, v: number) => p.write(port, 1, v);
  const inb = (port: number) => p.read(port, 1);
  const dv = new DataView(ram.buffer);
  /** Writes a PRD table at `at`: [address, bytes (65536 as 0)], the last one with EOT unless `noEot`. */
  const prds = (at: number, entries: [number, number][], noEot = false) => {
    entries.forEach(([addr, bytes], i) => {
      dv.setUint32(at + i * 8, addr, true);
      const eot = i === entries.length - 1 && !noEot ? 0x80000000 : 0;
      dv.setUint32(at + i * 8 + 4, ((bytes & 0xffff) | eot) >>> 0, true);
    });
  };
  /** LBA28 (or LBA48) task file for the primary master, then the command. */
  const command = (cmd: number, lba: number, count: number, ext = false) => {
    outb(0x1f6, 0xe0);
    if (ext) {
      outb(0x1f2, count >> 8);
      outb(0x1f3, 0);
      outb(0x1f4, 0);
      outb(0x1f5, 0);
    }
    outb(0x1f2, count & 0xff);
    outb(0x1f3, lba & 0xff);
    outb(0x1f4, (lba >> 8) & 0xff);
    outb(0x1f5, (lba >> 16) & 0xff);
    outb(0x1f7, cmd);
  };
  /** What ata_bmdma_setup and ata_bmdma_start do: table, direction, clear status; start. */
  const setupBm = (table: number, toMemory: boolean) => {
    p.write(BM + 4, 4, table);
    outb(BM, toMemory ? 0x08 : 0);
    outb(BM + 2, inb(BM + 2) | 0x06);
  };
  const start = (toMemory: boolean) => outb(BM, toMemory ? 0x09 : 0x01);
  const ch = pci.ide.primary;
  return { pc, pci, disk, image, ram, memory, dv, outb, inb, prds, command, setupBm, start, ch };
}

describe("IDE bus-master DMA", () => {
  it("offers multiword DMA 0-2 and Ultra DMA 0-5 and reports the mode SET FEATURES selects", () => {
    const s = setup();
    const identify = () => {
      s.outb(0x1f6, 0xa0);
      s.outb(0x1f7, 0xec);
      const w = new Uint16Array(256);
      for (let i = 0; i < 256; i++) w[i] = s.pc.ports.read(0x1f0, 2);
      return w;
    };
    let w = identify();
    expect(w[49]! & 0x0100).toBe(0x0100);
    expect(w[53]! & 0x0004).toBe(0x0004); // word 88 valid
    expect(w[63]).toBe(0x0007);
    expect(w[88]).toBe(0x003f);
    const setMode = (v: number) => {
      s.outb(0x1f1, 0x03);
      s.outb(0x1f2, v);
      s.outb(0x1f7, 0xef);
      return s.inb(0x1f7);
    };
    expect(setMode(0x22)).toBe(0x50); // MWDMA2
    w = identify();
    expect(w[63]).toBe(0x0407);
    expect(w[88]).toBe(0x003f);
    expect(setMode(0x45)).toBe(0x50); // UDMA5
    w = identify();
    expect([w[63], w[88]]).toEqual([0x0007, 0x203f]);
    expect(setMode(0x46)).toBe(0x51); // UDMA6 is not offered: aborted
    expect(s.inb(0x1f1)).toBe(0x04);
    expect(setMode(0x12)).toBe(0x51); // single-word DMA: not offered
    expect(setMode(0x0c)).toBe(0x50); // PIO flow control mode 4
  });

  it("keeps the register interface's masks: dword-aligned table, W1C status bits, read-only active", () => {
    const s = setup();
    s.pc.ports.write(BM + 4, 4, 0x12345677);
    expect(s.pc.ports.read(BM + 4, 4)).toBe(0x12345674);
    s.pc.ports.write(BM + 12, 4, 0xabcdef01);
    expect(s.pc.ports.read(BM + 12, 4)).toBe(0xabcdef00); // the secondary channel's own
    expect(s.pc.ports.read(BM + 4, 4)).toBe(0x12345674);
    s.outb(BM, 0xff);
    expect(s.inb(BM)).toBe(0x09); // only start and direction
    expect(s.inb(BM + 2) & BM_ST.ACTIVE).toBe(BM_ST.ACTIVE); // started (nothing posted yet)
    s.outb(BM, 0x00);
    expect(s.inb(BM + 2)).toBe(0);
    s.outb(BM + 2, 0xff); // drive DMA capable bits set; active, interrupt, error not
    expect(s.inb(BM + 2)).toBe(0x60);
    s.outb(BM + 2, 0x00);
    expect(s.inb(BM + 2)).toBe(0);
    // The interrupt bit follows the device's INTRQ and clears on a 1.
    s.outb(0x1f7, 0xe7); // FLUSH CACHE
    expect(s.inb(BM + 2)).toBe(BM_ST.INTERRUPT);
    s.outb(BM + 2, BM_ST.INTERRUPT);
    expect(s.inb(BM + 2)).toBe(0);
  });

  it("reads with READ DMA into scattered PRD buffers: data in RAM, active 0, interrupt 1", () => {
    const s = setup();
    s.prds(0x1000, [
      [0x10000, 1024],
      [0x20002, 512], // bit 0 of the address is ignored: 0x20002 is even, kept
      [0x30000, 1024],
    ]);
    s.setupBm(0x1000, true);
    s.command(0xc8, 10, 5);
    expect(s.inb(0x3f6)).toBe(0x58); // DRDY DSC DRQ: waiting for the bus master
    expect(s.ch.interruptPending).toBe(false);
    s.start(true);
    const img = s.image;
    expect(s.ram.subarray(0x10000, 0x10400)).toEqual(img.subarray(10 * 512, 12 * 512));
    expect(s.ram.subarray(0x20002, 0x20202)).toEqual(img.subarray(12 * 512, 13 * 512));
    expect(s.ram.subarray(0x30000, 0x30400)).toEqual(img.subarray(13 * 512, 15 * 512));
    expect(s.inb(BM + 2)).toBe(BM_ST.INTERRUPT);
    expect(s.ch.interruptPending).toBe(true);
    expect(s.inb(0x1f7)).toBe(0x50);
    expect(s.inb(0x1f3)).toBe(14); // the last sector transferred
    expect(s.memory.writes.map((w) => w.length)).toEqual([1024, 512, 1024]);
    expect(s.pci.ide.busMasters[0].counters).toMatchObject({ transfers: 1, bytes: 2560 });
  });

  it("runs whichever comes last: the start bit, the command, or bus mastering", () => {
    const s = setup({ master: false });
    s.prds(0x1000, [[0x10000, 512]]);
    s.setupBm(0x1000, true);
    s.start(true); // started before the command
    s.command(0xc8, 3, 1);
    expect(s.inb(0x3f6)).toBe(0x58); // no bus mastering: the device still waits
    expect(s.inb(BM + 2)).toBe(BM_ST.ACTIVE);
    s.pci.ide.writeConfig(PCI.COMMAND, 2, 0x5);
    expect(s.ram.subarray(0x10000, 0x10200)).toEqual(s.image.subarray(3 * 512, 4 * 512));
    expect(s.inb(BM + 2)).toBe(BM_ST.INTERRUPT);
    expect(s.inb(0x1f7)).toBe(0x50);
  });

  it("writes with WRITE DMA into the copy-on-write overlay, the image untouched", () => {
    const s = setup();
    const data = new Uint8Array(1536).map((_, i) => (i * 7) & 0xff);
    s.ram.set(data.subarray(0, 512), 0x40000);
    s.ram.set(data.subarray(512), 0x50000);
    s.prds(0x2000, [
      [0x40000, 512],
      [0x50000, 1024],
    ]);
    s.setupBm(0x2000, false);
    s.command(0xca, 100, 3);
    s.start(false);
    expect(s.inb(BM + 2)).toBe(BM_ST.INTERRUPT);
    expect(s.inb(0x1f7)).toBe(0x50);
    expect(s.disk.read(100, 3)).toEqual(data);
    expect(s.disk.read(99, 1)).toEqual(s.image.subarray(99 * 512, 100 * 512));
  });

  it("does READ DMA EXT and WRITE DMA EXT, and a PRD byte count of 0 means 64 KiB", () => {
    const s = setup({ sectors: 512 });
    s.prds(0x1000, [[0x80000, 0]]);
    s.setupBm(0x1000, true);
    s.command(0x25, 200, 128, true);
    s.start(true);
    expect(s.ram.subarray(0x80000, 0x90000)).toEqual(s.image.subarray(200 * 512, 328 * 512));
    expect(s.inb(BM + 2)).toBe(BM_ST.INTERRUPT);
    s.outb(BM, 0);
    s.setupBm(0x1000, false);
    s.command(0x35, 0, 128, true);
    s.start(false);
    expect(s.inb(0x1f7)).toBe(0x50);
    expect(s.disk.read(0, 128)).toEqual(s.image.subarray(200 * 512, 328 * 512));
  });

  it("leaves active set when the PRD table is longer than the transfer; stop clears it", () => {
    const s = setup();
    s.prds(0x1000, [
      [0x10000, 2048],
      [0x20000, 512],
    ]);
    s.setupBm(0x1000, true);
    s.command(0xc8, 0, 2);
    s.start(true);
    expect(s.inb(BM + 2)).toBe(BM_ST.ACTIVE | BM_ST.INTERRUPT);
    expect(s.ram.subarray(0x10000, 0x10400)).toEqual(s.image.subarray(0, 1024));
    expect(s.ram[0x10400]).toBe(0);
    s.outb(BM, 0x08);
    expect(s.inb(BM + 2)).toBe(BM_ST.INTERRUPT);
  });

  it("ends with active 0 and interrupt 0 when the PRDs are shorter than the transfer", () => {
    const s = setup();
    s.prds(0x1000, [
      [0x10000, 512],
      [0x20000, 512],
    ]);
    s.setupBm(0x1000, true);
    s.command(0xc8, 0, 4);
    s.start(true);
    expect(s.inb(BM + 2)).toBe(0);
    expect(s.ch.interruptPending).toBe(false);
    expect(s.inb(0x1f7)).toBe(0x50); // idle, no DRQ
    expect(s.memory.writes).toEqual([]);
    expect(s.pci.ide.busMasters[0].counters.short).toBe(1);
    // The channel works again afterwards.
    s.prds(0x1000, [[0x10000, 2048]]);
    s.outb(BM, 0x08);
    s.command(0xc8, 0, 4);
    s.start(true);
    expect(s.inb(BM + 2)).toBe(BM_ST.INTERRUPT);
  });

  it("sets the error bit and aborts the command when the PRD table is outside RAM", () => {
    const s = setup();
    s.setupBm(RAM + 0x1000, true);
    s.command(0xc8, 0, 1);
    s.start(true);
    expect(s.inb(BM + 2)).toBe(BM_ST.ERROR | BM_ST.INTERRUPT);
    expect(s.ch.interruptPending).toBe(true);
    expect(s.inb(0x1f7)).toBe(0x51);
    expect(s.inb(0x1f1)).toBe(0x04); // ABRT
    expect(s.pci.ide.busMasters[0].counters.busErrors).toBe(1);
    s.outb(BM + 2, 0x06);
    expect(s.inb(BM + 2)).toBe(0);
  });

  it("sets the error bit when a buffer is outside RAM, for reads and writes, moving nothing", () => {
    const s = setup();
    s.prds(0x1000, [
      [0x10000, 512],
      [RAM - 256, 512], // straddles the end of RAM
    ]);
    for (const [cmd, toMemory] of [
      [0xc8, true],
      [0xca, false],
    ] as const) {
      s.outb(BM, 0);
      s.setupBm(0x1000, toMemory);
      s.command(cmd, 0, 2);
      s.start(toMemory);
      expect(s.inb(BM + 2)).toBe(BM_ST.ERROR | BM_ST.INTERRUPT);
      expect(s.inb(0x1f7)).toBe(0x51);
    }
    expect(s.memory.writes).toEqual([]);
    expect(s.disk.read(0, 2)).toEqual(s.image.subarray(0, 1024));
  });

  it("treats a table of more than 8,192 entries without end of table as a bus error", () => {
    const s = setup();
    const entries: [number, number][] = [];
    for (let i = 0; i < 8192; i++) entries.push([0x40000 + i * 2, 2]);
    s.prds(0x20000, entries, true);
    s.setupBm(0x20000, true);
    s.command(0xc8, 0, 33); // 16,896 bytes: more than 8,192 two-byte entries
    s.start(true);
    expect(s.inb(BM + 2)).toBe(BM_ST.ERROR | BM_ST.INTERRUPT);
    expect(s.inb(0x1f7)).toBe(0x51);
  });

  it("fails a WRITE DMA to a read-only disk and a READ DMA past the end, without a transfer", () => {
    const s = setup({ readOnly: true });
    s.prds(0x1000, [[0x10000, 512]]);
    s.setupBm(0x1000, false);
    s.command(0xca, 0, 1);
    s.start(false);
    expect(s.inb(0x1f7)).toBe(0x51);
    expect(s.inb(0x1f1)).toBe(0x04); // ABRT
    expect(s.inb(BM + 2)).toBe(BM_ST.INTERRUPT); // active cleared, no bus error
    s.outb(BM, 0x08);
    s.setupBm(0x1000, true);
    s.command(0xc8, 255, 2); // sectors 255-256 of 256
    expect(s.inb(0x1f7)).toBe(0x51);
    expect(s.inb(0x1f1)).toBe(0x10); // IDNF
    s.start(true);
    expect(s.inb(BM + 2)).toBe(BM_ST.ACTIVE | BM_ST.INTERRUPT); // nothing posted, nothing moved
    expect(s.memory.writes).toEqual([]);
  });

  it("abandons a posted DMA command on a software reset", () => {
    const s = setup();
    s.prds(0x1000, [[0x10000, 512]]);
    s.setupBm(0x1000, true);
    s.command(0xc8, 0, 1);
    s.outb(0x3f6, 0x04);
    s.outb(0x3f6, 0x00);
    s.start(true);
    expect(s.memory.writes).toEqual([]);
    expect(s.inb(BM + 2)).toBe(BM_ST.ACTIVE);
  });
});
