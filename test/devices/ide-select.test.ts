// A transfer belongs to the device that started it. The guest may select the other position
// (here an absent slave) in the middle of a PIO transfer: that used to throw a TypeError out of
// run() when the transfer completed (the code used the selected device, not the owner). Now the
// data register answers for the selected device (0 for an absent one, as QEMU's per-device
// IDEState does), the owner's transfer waits, and it completes once the owner is selected again.

import { describe, expect, it } from "vitest";
import { PortBus } from "../../devices/bus/port-bus.js";
import type { IdeDeviceSpec } from "../../devices/ide/channel.js";
import { PiixIde } from "../../devices/ide/piix-ide.js";
import { bytesSource, CowDisk } from "../../devices/storage/block.js";

const CHANNELS = [
  { name: "primary", base: 0x1f0, ctrl: 0x3f6 },
  { name: "secondary", base: 0x170, ctrl: 0x376 },
] as const;

/** Disk sector n: each byte (n * 13 + i) & 0xff. */
function diskImage(sectors: number): Uint8Array {
  const b = new Uint8Array(sectors * 512);
  for (let i = 0; i < b.length; i++) b[i] = ((i >> 9) * 13 + i) & 0xff;
  return b;
}

function isoImage(sectors: number): Uint8Array {
  const b = new Uint8Array(sectors * 2048);
  for (let i = 0; i < b.length; i++) b[i] = ((i >> 11) * 5 + i) & 0xff;
  return b;
}

function machine(channel: "primary" | "secondary", kind: "disk" | "cdrom") {
  const ports = new PortBus();
  const image = kind === "disk" ? diskImage(64) : isoImage(8);
  const source = bytesSource(image.slice());
  const spec: IdeDeviceSpec =
    kind === "disk"
      ? { kind: "disk", disk: new CowDisk(source) }
      : { kind: "cdrom", medium: new CowDisk(source, { granularity: 2048, readOnly: true }) };
  const ide = new PiixIde({
    irqs: { setIrq() {} },
    ...(channel === "primary" ? { primaryMaster: spec } : { secondaryMaster: spec }),
  });
  ide.attach(ports);
  return { ports, image, ide };
}

type M = ReturnType<typeof machine>;
const outb = (m: M, p: number, v: number) => m.ports.write(p, 1, v);
const inb = (m: M, p: number) => m.ports.read(p, 1);
const readWords = (m: M, base: number, n: number) => {
  const out = new Uint8Array(n * 2);
  for (let i = 0; i < n; i++) {
    const w = m.ports.read(base, 2);
    out[i * 2] = w & 0xff;
    out[i * 2 + 1] = w >> 8;
  }
  return out;
};
const writeWords = (m: M, base: number, data: Uint8Array) => {
  for (let i = 0; i < data.length; i += 2) m.ports.write(base, 2, data[i]! | (data[i + 1]! << 8));
};

describe("IDE: selecting an absent device in the middle of a transfer", () => {
  for (const ch of CHANNELS) {
    const { base } = ch;
    const DATA = base;
    const SELECT = base + 6;
    const CMD = base + 7;

    it(`${ch.name}: IDENTIFY, select the slave, 256 word reads, reselect: the data resumes`, () => {
      const m = machine(ch.name, "disk");
      outb(m, SELECT, 0xa0);
      outb(m, CMD, 0xec);
      outb(m, SELECT, 0xb0);
      // The absent slave answers the data register with 0 and the master's transfer waits.
      expect(() => readWords(m, DATA, 256)).not.toThrow();
      expect(inb(m, CMD)).toBe(0);
      outb(m, SELECT, 0xa0);
      expect(inb(m, CMD) & 0x08).toBe(0x08); // DRQ: IDENTIFY's data still there
      const id = readWords(m, DATA, 256);
      expect(String.fromCharCode(id[55]!, id[54]!)).toBe("QE"); // model "QEMU HARDDISK" (word 27)
      expect(inb(m, CMD) & 0x89).toBe(0); // done: not busy, no DRQ, no error
    });

    it(`${ch.name}: READ SECTORS count 2 and WRITE SECTORS survive a slave select between blocks`, () => {
      const m = machine(ch.name, "disk");
      outb(m, SELECT, 0xe0);
      outb(m, base + 2, 2);
      outb(m, base + 3, 5);
      outb(m, base + 4, 0);
      outb(m, base + 5, 0);
      outb(m, CMD, 0x20);
      const first = readWords(m, DATA, 256);
      outb(m, SELECT, 0xf0); // the absent slave, between the two sectors
      expect(() => readWords(m, DATA, 256)).not.toThrow();
      outb(m, SELECT, 0xe0);
      const second = readWords(m, DATA, 256);
      expect(first).toEqual(m.image.subarray(5 * 512, 6 * 512));
      expect(second).toEqual(m.image.subarray(6 * 512, 7 * 512));

      outb(m, base + 2, 1);
      outb(m, base + 3, 9);
      outb(m, CMD, 0x30); // WRITE SECTORS
      const sector = new Uint8Array(512).fill(0x5a);
      writeWords(m, DATA, sector.subarray(0, 256));
      outb(m, SELECT, 0xf0);
      expect(() => writeWords(m, DATA, sector.subarray(256))).not.toThrow(); // to nobody
      outb(m, SELECT, 0xe0);
      writeWords(m, DATA, sector.subarray(256));
      expect(inb(m, CMD) & 0x89).toBe(0);
      outb(m, base + 2, 1);
      outb(m, base + 3, 9);
      outb(m, CMD, 0x20);
      expect(readWords(m, DATA, 256)).toEqual(sector);
    });

    it(`${ch.name}: ATAPI PACKET and IDENTIFY PACKET survive a slave select mid-transfer`, () => {
      const m = machine(ch.name, "cdrom");
      outb(m, SELECT, 0xa0);
      outb(m, CMD, 0xa1); // IDENTIFY PACKET DEVICE
      outb(m, SELECT, 0xb0);
      expect(() => readWords(m, DATA, 256)).not.toThrow();
      outb(m, SELECT, 0xa0);
      const id = readWords(m, DATA, 256);
      expect(id[1]! >> 6).toBe(2); // word 0 bits 15-14: ATAPI
      // PACKET: READ(10) of sector 2, one block; the packet itself is sent across a select.
      outb(m, base + 1, 0);
      outb(m, base + 4, 0xfe);
      outb(m, base + 5, 0xff);
      outb(m, CMD, 0xa0);
      const packet = Uint8Array.of(0x28, 0, 0, 0, 0, 2, 0, 0, 1, 0, 0, 0);
      writeWords(m, DATA, packet.subarray(0, 6));
      outb(m, SELECT, 0xb0);
      expect(() => writeWords(m, DATA, packet.subarray(6))).not.toThrow();
      expect(() => readWords(m, DATA, 1024)).not.toThrow();
      outb(m, SELECT, 0xa0);
      writeWords(m, DATA, packet.subarray(6));
      expect(inb(m, CMD) & 0x08).toBe(0x08);
      const n = inb(m, base + 4) | (inb(m, base + 5) << 8);
      expect(n).toBe(2048);
      const half = readWords(m, DATA, 512);
      outb(m, SELECT, 0xb0);
      expect(() => readWords(m, DATA, 512)).not.toThrow();
      outb(m, SELECT, 0xa0);
      const rest = readWords(m, DATA, 512);
      expect([...half, ...rest]).toEqual([...m.image.subarray(2 * 2048, 3 * 2048)]);
      expect(inb(m, CMD) & 0x89).toBe(0);
    });
  }
});
