import { describe, expect, it } from "vitest";
import { PortBus } from "../../devices/bus/port-bus.js";
import { ManualClock } from "../../devices/clock.js";
import type { IdeDeviceSpec } from "../../devices/ide/channel.js";
import { PiixIde } from "../../devices/ide/piix-ide.js";
import { PcDevices } from "../../devices/pc.js";
import { type BlockDevice, BlockRangeError, bytesSource, CowDisk } from "../../devices/storage/block.js";

/** Sector n holds bytes (n * 7 + i) & 0xff, with n in its first 4 bytes. */
function patterned(sectors: number): Uint8Array {
  const b = new Uint8Array(sectors * 512);
  for (let n = 0; n < sectors; n++) {
    for (let i = 0; i < 512; i++) b[n * 512 + i] = (n * 7 + i) & 0xff;
    new DataView(b.buffer).setUint32(n * 512, n, true);
  }
  return b;
}

/** A huge synthetic disk (for LBA48): every sector holds its number; writes are remembered. */
function bigDisk(sectors: number): BlockDevice & { written: Map<number, Uint8Array> } {
  const written = new Map<number, Uint8Array>();
  return {
    sectors,
    size: sectors * 512,
    readOnly: false,
    written,
    read(sector, count) {
      if (sector + count > sectors) throw new BlockRangeError("past the end");
      const out = new Uint8Array(count * 512);
      for (let i = 0; i < count; i++) {
        const w = written.get(sector + i);
        if (w) out.set(w, i * 512);
        else new DataView(out.buffer).setFloat64(i * 512, sector + i, true);
      }
      return out;
    },
    write(sector, data) {
      for (let i = 0; i < data.length / 512; i++) written.set(sector + i, data.slice(i * 512, i * 512 + 512));
    },
    flush() {},
  };
}

function setup(drives: { hda?: IdeDeviceSpec; hdb?: IdeDeviceSpec; hdc?: IdeDeviceSpec } = {}) {
  const ports = new PortBus();
  const irqs: string[] = [];
  const level = [false, false];
  const ide = new PiixIde({
    irqs: {
      setIrq(irq, l) {
        level[irq - 14] = l;
        if (l) irqs.push(`irq${irq}`);
      },
    },
    primaryMaster: drives.hda,
    primarySlave: drives.hdb,
    secondaryMaster: drives.hdc,
  });
  ide.attach(ports);
  const outb = (p: number, v: number) => ports.write(p, 1, v);
  const inb = (p: number) => ports.read(p, 1);
  const inw = (p: number) => ports.read(p, 2);
  const outw = (p: number, v: number) => ports.write(p, 2, v);
  /** Reads `bytes` from the data port in words (or dwords). */
  const pioIn = (base: number, bytes: number, width: 2 | 4 = 2) => {
    const out = new Uint8Array(bytes);
    const dv = new DataView(out.buffer);
    for (let i = 0; i < bytes; i += width) {
      if (width === 2) dv.setUint16(i, ports.read(base, 2), true);
      else dv.setUint32(i, ports.read(base, 4), true);
    }
    return out;
  };
  const pioOut = (base: number, data: Uint8Array, width: 2 | 4 = 2) => {
    const dv = new DataView(data.buffer, data.byteOffset, data.length);
    for (let i = 0; i < data.length; i += width) {
      ports.write(base, width, width === 2 ? dv.getUint16(i, true) : dv.getUint32(i, true));
    }
  };
  return { ports, ide, irqs, level, outb, inb, inw, outw, pioIn, pioOut };
}

type S = ReturnType<typeof setup>;

/** LBA28 task file for the primary master, then the command. */
function lba28(s: S, cmd: number, lba: number, count: number, base = 0x1f0): void {
  s.outb(base + 6, 0xe0 | ((lba >>> 24) & 0x0f));
  s.outb(base + 2, count & 0xff);
  s.outb(base + 3, lba & 0xff);
  s.outb(base + 4, (lba >>> 8) & 0xff);
  s.outb(base + 5, (lba >>> 16) & 0xff);
  s.outb(base + 7, cmd);
}

/** LBA48: high bytes first, then low bytes (the registers keep the previous write as HOB). */
function lba48(s: S, cmd: number, lba: number, count: number): void {
  const hi = Math.floor(lba / 2 ** 24);
  s.outb(0x1f6, 0x40);
  s.outb(0x1f2, (count >> 8) & 0xff);
  s.outb(0x1f3, hi & 0xff);
  s.outb(0x1f4, (hi >> 8) & 0xff);
  s.outb(0x1f5, (hi >> 16) & 0xff);
  s.outb(0x1f2, count & 0xff);
  s.outb(0x1f3, lba & 0xff);
  s.outb(0x1f4, (lba >>> 8) & 0xff);
  s.outb(0x1f5, (lba >>> 16) & 0xff);
  s.outb(0x1f7, cmd);
}

function word(id: Uint8Array, n: number): number {
  return id[n * 2]! | (id[n * 2 + 1]! << 8);
}

function identString(id: Uint8Array, first: number, words: number): string {
  let s = "";
  for (let i = 0; i < words; i++) s += String.fromCharCode(id[(first + i) * 2 + 1]!, id[(first + i) * 2]!);
  return s.trimEnd();
}

const diskSpec = (bytes: Uint8Array): IdeDeviceSpec => ({ kind: "disk", disk: new CowDisk(bytesSource(bytes)) });

describe("IDE ATA disk", () => {
  it("answers IDENTIFY DEVICE with a correct identify block", () => {
    const s = setup({ hda: diskSpec(patterned(20160)) }); // 20 cylinders of 16 x 63
    s.outb(0x1f6, 0xa0);
    s.outb(0x1f7, 0xec);
    expect(s.irqs).toEqual(["irq14"]);
    expect(s.inb(0x3f6)).toBe(0x58); // DRDY DSC DRQ; alternate status keeps the interrupt
    expect(s.level[0]).toBe(true);
    expect(s.inb(0x1f7)).toBe(0x58);
    expect(s.level[0]).toBe(false);
    const id = s.pioIn(0x1f0, 512);
    expect(s.inb(0x1f7)).toBe(0x50);
    expect(word(id, 0)).toBe(0x0040);
    expect([word(id, 1), word(id, 3), word(id, 6)]).toEqual([20, 16, 63]);
    expect(identString(id, 27, 20)).toBe("QEMU HARDDISK");
    expect(identString(id, 10, 10)).toBe("QM00001");
    expect(word(id, 47)).toBe(0x8010);
    expect(word(id, 49) & 0x0200).toBe(0x0200); // LBA
    expect(word(id, 49) & 0x0100).toBe(0x0100); // DMA (the modes: test/devices/ide-dma.test.ts)
    expect(word(id, 60) | (word(id, 61) << 16)).toBe(20160);
    expect(word(id, 83) & 0x4400).toBe(0x4400); // 48-bit feature set
    expect(word(id, 100) + word(id, 101) * 65536).toBe(20160);
    expect(word(id, 59)).toBe(0); // no multiple mode set
    expect(word(id, 255) & 0xff).toBe(0xa5);
    expect(id.reduce((a, b) => a + b, 0) & 0xff).toBe(0);
  });

  it("reads sectors with LBA28, a DRQ block and an interrupt per sector", () => {
    const img = patterned(100);
    const s = setup({ hda: diskSpec(img) });
    lba28(s, 0x20, 5, 3);
    for (let k = 0; k < 3; k++) {
      expect(s.irqs.length).toBe(k + 1);
      expect(s.inb(0x1f7)).toBe(0x58);
      expect(s.pioIn(0x1f0, 512)).toEqual(img.subarray((5 + k) * 512, (6 + k) * 512));
    }
    expect(s.inb(0x1f7)).toBe(0x50);
    expect(s.irqs.length).toBe(3);
    expect(s.inb(0x1f3)).toBe(7); // the last sector transferred
  });

  it("reads with 32-bit data port accesses", () => {
    const img = patterned(16);
    const s = setup({ hda: diskSpec(img) });
    lba28(s, 0x20, 9, 1);
    expect(s.pioIn(0x1f0, 512, 4)).toEqual(img.subarray(9 * 512, 10 * 512));
  });

  it("writes sectors with LBA28 into the overlay, keeping the base image intact", () => {
    const img = patterned(64);
    const copy = img.slice();
    const disk = new CowDisk(bytesSource(img));
    const s = setup({ hda: { kind: "disk", disk } });
    lba28(s, 0x30, 10, 2);
    expect(s.inb(0x1f7)).toBe(0x58);
    expect(s.irqs).toEqual([]); // the first block is asked for without an interrupt
    const data = new Uint8Array(1024).map((_, i) => (i * 13) & 0xff);
    s.pioOut(0x1f0, data.subarray(0, 512), 4);
    expect(s.irqs.length).toBe(1);
    expect(s.inb(0x1f7)).toBe(0x58);
    s.pioOut(0x1f0, data.subarray(512));
    expect(s.irqs.length).toBe(2);
    expect(s.inb(0x1f7)).toBe(0x50);
    expect(img).toEqual(copy);
    expect(disk.dirtySectors).toBe(2);
    lba28(s, 0x20, 9, 4);
    const back = new Uint8Array(2048);
    for (let k = 0; k < 4; k++) back.set(s.pioIn(0x1f0, 512), k * 512);
    expect(back.subarray(0, 512)).toEqual(img.subarray(9 * 512, 10 * 512));
    expect(back.subarray(512, 1536)).toEqual(data);
    expect(back.subarray(1536)).toEqual(img.subarray(12 * 512, 13 * 512));
    lba28(s, 0xe7, 0, 0); // FLUSH CACHE
    expect(s.inb(0x1f7)).toBe(0x50);
  });

  it("reads and writes with LBA48 past 2^32 sectors and reports the 48-bit capacity", () => {
    const sectors = 2 ** 33 + 1000;
    const disk = bigDisk(sectors);
    const s = setup({ hda: { kind: "disk", disk } });
    s.outb(0x1f6, 0xa0);
    s.outb(0x1f7, 0xec);
    const id = s.pioIn(0x1f0, 512);
    expect(word(id, 60) | (word(id, 61) << 16)).toBe(0x0fffffff);
    expect(word(id, 100) + word(id, 101) * 2 ** 16 + word(id, 102) * 2 ** 32).toBe(sectors);
    const lba = 2 ** 33 + 17;
    lba48(s, 0x24, lba, 2);
    const a = s.pioIn(0x1f0, 512);
    const b = s.pioIn(0x1f0, 512);
    expect(new DataView(a.buffer).getFloat64(0, true)).toBe(lba);
    expect(new DataView(b.buffer).getFloat64(0, true)).toBe(lba + 1);
    expect(s.inb(0x1f7)).toBe(0x50);
    // The registers hold the last sector; HOB reads give the high bytes.
    expect(s.inb(0x1f3)).toBe((lba + 1) & 0xff);
    s.outb(0x3f6, 0x80);
    expect(s.inb(0x1f5)).toBe(Math.floor((lba + 1) / 2 ** 40) & 0xff);
    expect(s.inb(0x1f4)).toBe(Math.floor((lba + 1) / 2 ** 32) & 0xff);
    s.outb(0x3f6, 0x00);
    lba48(s, 0x34, lba, 1);
    s.pioOut(0x1f0, new Uint8Array(512).fill(0x5a));
    expect(s.inb(0x1f7)).toBe(0x50);
    expect(disk.written.get(lba)![100]).toBe(0x5a);
    // Past the end: IDNF.
    lba48(s, 0x24, sectors - 1, 2);
    expect(s.inb(0x1f7)).toBe(0x51);
    expect(s.inb(0x1f1)).toBe(0x10);
  });

  it("does READ/WRITE MULTIPLE after SET MULTIPLE MODE, an interrupt per block", () => {
    const img = patterned(64);
    const s = setup({ hda: diskSpec(img) });
    lba28(s, 0xc4, 0, 4);
    expect(s.inb(0x1f7)).toBe(0x51); // not enabled yet: aborted
    expect(s.inb(0x1f1)).toBe(0x04);
    lba28(s, 0xc6, 0, 3); // not a power of two
    expect(s.inb(0x1f7)).toBe(0x51);
    lba28(s, 0xc6, 0, 4);
    expect(s.inb(0x1f7)).toBe(0x50);
    s.irqs.length = 0;
    lba28(s, 0xc4, 20, 10);
    const got = new Uint8Array(10 * 512);
    let off = 0;
    for (const block of [4, 4, 2]) {
      expect(s.inb(0x1f7)).toBe(0x58);
      got.set(s.pioIn(0x1f0, block * 512), off);
      off += block * 512;
    }
    expect(s.inb(0x1f7)).toBe(0x50);
    expect(s.irqs.length).toBe(3);
    expect(got).toEqual(img.subarray(20 * 512, 30 * 512));
    s.irqs.length = 0;
    lba48(s, 0x39, 40, 6); // WRITE MULTIPLE EXT
    s.pioOut(0x1f0, new Uint8Array(4 * 512).fill(1));
    expect(s.inb(0x1f7)).toBe(0x58); // the handler reads status, which lowers INTRQ
    s.pioOut(0x1f0, new Uint8Array(2 * 512).fill(2));
    expect(s.irqs.length).toBe(2);
    expect(s.inb(0x1f7)).toBe(0x50);
    lba48(s, 0x29, 45, 1);
    expect(s.pioIn(0x1f0, 512)[0]).toBe(2);
    s.outb(0x1f6, 0xa0);
    s.outb(0x1f7, 0xec);
    expect(word(s.pioIn(0x1f0, 512), 59)).toBe(0x0104);
  });

  it("addresses by CHS with the geometry of INITIALIZE DEVICE PARAMETERS", () => {
    const img = patterned(2000);
    const s = setup({ hda: diskSpec(img) });
    // Cylinder 1, head 2, sector 3 with 16 heads, 63 sectors: (1*16+2)*63+2 = 1136.
    const chs = (cyl: number, head: number, sec: number, cmd: number) => {
      s.outb(0x1f6, 0xa0 | head);
      s.outb(0x1f2, 1);
      s.outb(0x1f3, sec);
      s.outb(0x1f4, cyl & 0xff);
      s.outb(0x1f5, cyl >> 8);
      s.outb(0x1f7, cmd);
    };
    chs(1, 2, 3, 0x20);
    expect(s.pioIn(0x1f0, 512)).toEqual(img.subarray(1136 * 512, 1137 * 512));
    // 4 heads, 17 sectors per track.
    s.outb(0x1f6, 0xa3);
    s.outb(0x1f2, 17);
    s.outb(0x1f7, 0x91);
    expect(s.inb(0x1f7)).toBe(0x50);
    chs(2, 1, 5, 0x20); // (2*4+1)*17+4 = 157
    expect(s.pioIn(0x1f0, 512)).toEqual(img.subarray(157 * 512, 158 * 512));
    chs(0, 0, 0, 0x20); // sector 0 does not exist
    expect(s.inb(0x1f7)).toBe(0x51);
    expect(s.inb(0x1f1)).toBe(0x10);
  });

  it("fails out-of-range and unknown commands with ERR, never throwing", () => {
    const s = setup({ hda: diskSpec(patterned(8)) });
    lba28(s, 0x20, 7, 2);
    expect(s.inb(0x1f7)).toBe(0x51);
    expect(s.inb(0x1f1)).toBe(0x10); // IDNF
    expect(s.irqs.length).toBe(1);
    lba28(s, 0xff, 0, 1);
    expect(s.inb(0x1f7)).toBe(0x51);
    expect(s.inb(0x1f1)).toBe(0x04); // ABRT
    lba28(s, 0xa0, 0, 1); // PACKET to a disk
    expect(s.inb(0x1f1)).toBe(0x04);
    lba28(s, 0xef, 0, 1); // SET FEATURES is accepted
    expect(s.inb(0x1f7)).toBe(0x50);
    expect(s.ports.read(0x1f0, 2)).toBe(0); // no DRQ: the data port gives nothing
  });

  it("write to a read-only disk aborts", () => {
    const disk = new CowDisk(bytesSource(patterned(8)), { readOnly: true });
    const s = setup({ hda: { kind: "disk", disk } });
    lba28(s, 0x30, 1, 1);
    s.pioOut(0x1f0, new Uint8Array(512));
    expect(s.inb(0x1f7)).toBe(0x51);
    expect(s.inb(0x1f1)).toBe(0x04);
  });

  it("masks the interrupt with nIEN", () => {
    const s = setup({ hda: diskSpec(patterned(8)) });
    s.outb(0x3f6, 0x02);
    lba28(s, 0x20, 0, 1);
    expect(s.irqs).toEqual([]);
    expect(s.ide.primary.interruptPending).toBe(true);
    s.outb(0x3f6, 0x00); // unmasking shows the pending interrupt
    expect(s.level[0]).toBe(true);
    s.inb(0x1f7);
    expect(s.level[0]).toBe(false);
  });

  it("soft reset leaves the ATA and ATAPI signatures, device 0 selected", () => {
    const s = setup({
      hda: diskSpec(patterned(8)),
      hdb: { kind: "cdrom" },
    });
    s.outb(0x1f6, 0xb0);
    s.outb(0x1f2, 0x55);
    s.outb(0x3f6, 0x04);
    expect(s.inb(0x3f6)).toBe(0x80); // BSY during reset
    s.outb(0x3f6, 0x00);
    expect(s.irqs).toEqual([]);
    expect(s.inb(0x1f6)).toBe(0xa0);
    expect(s.inb(0x1f7)).toBe(0x50);
    expect(s.inb(0x1f1)).toBe(0x01);
    expect([s.inb(0x1f2), s.inb(0x1f3), s.inb(0x1f4), s.inb(0x1f5)]).toEqual([1, 1, 0, 0]);
    s.outb(0x1f6, 0xb0);
    expect(s.inb(0x1f7)).toBe(0x00);
    expect([s.inb(0x1f2), s.inb(0x1f3), s.inb(0x1f4), s.inb(0x1f5)]).toEqual([1, 1, 0x14, 0xeb]);
    // EXECUTE DEVICE DIAGNOSTIC sets them again and interrupts.
    s.outb(0x1f7, 0x90);
    expect(s.irqs.length).toBe(1);
    expect(s.inb(0x1f6)).toBe(0xa0);
    expect(s.inb(0x1f1)).toBe(0x01);
  });

  it("reads absent devices as QEMU does: status 0 on an empty channel or for an absent drive", () => {
    const s = setup({ hda: diskSpec(patterned(8)) });
    expect(s.inb(0x177)).toBe(0); // secondary: nothing attached (Linux then skips IDENTIFY)
    expect(s.inb(0x376)).toBe(0);
    s.outb(0x1f6, 0xb0); // primary slave: absent
    s.outb(0x1f2, 0x55);
    expect(s.inb(0x1f2)).toBe(0);
    expect(s.inb(0x1f7)).toBe(0);
    s.outb(0x1f7, 0xec); // ignored
    expect(s.irqs).toEqual([]);
    s.outb(0x1f6, 0xa0);
    expect(s.inb(0x1f2)).toBe(0x55);
  });
});

describe("IDE on the PC", () => {
  it("attaches through PcDevices.attachPci: a disk on hda, an empty CD-ROM on hdc, IRQ 14 to the PIC", () => {
    let intr = false;
    const pc = new PcDevices({ clock: new ManualClock(), onIntr: (l) => (intr = l) });
    const img = patterned(32);
    pc.attachPci({ hda: diskSpec(img), hdc: { kind: "cdrom" } });
    // PIC: vectors 0x20/0x28, only the cascade and IRQ 14 unmasked.
    for (const [p, v] of [
      [0x20, 0x11],
      [0x21, 0x20],
      [0x21, 0x04],
      [0x21, 0x01],
      [0xa0, 0x11],
      [0xa1, 0x28],
      [0xa1, 0x02],
      [0xa1, 0x01],
      [0x21, 0xfb],
      [0xa1, 0xbf],
    ] as const) {
      pc.ioWrite(p, 1, v);
    }
    pc.ioWrite(0x1f6, 1, 0xe0);
    pc.ioWrite(0x1f2, 1, 1);
    pc.ioWrite(0x1f3, 1, 3);
    pc.ioWrite(0x1f4, 1, 0);
    pc.ioWrite(0x1f5, 1, 0);
    pc.ioWrite(0x1f7, 1, 0x20);
    expect(intr).toBe(true);
    expect(pc.ackInterrupt()).toBe(0x2e);
    expect(pc.ioRead(0x1f7, 1)).toBe(0x58);
    const first = pc.ioRead(0x1f0, 4);
    expect(first).toBe(3); // the sector number in its first dword
    expect(pc.ioRead(0x175, 1)).toBe(0xeb); // the CD-ROM's signature on the secondary channel
    pc.reset();
    expect(pc.ioRead(0x1f7, 1)).toBe(0x50);
  });
});
