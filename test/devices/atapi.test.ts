import { describe, expect, it } from "vitest";
import { PortBus } from "../../devices/bus/port-bus.js";
import { PiixIde } from "../../devices/ide/piix-ide.js";
import { bytesSource, CowDisk } from "../../devices/storage/block.js";

/** A synthetic ISO 9660 image: `sectors` 2048-byte sectors, each starting with its LBA, and a
 * primary volume descriptor at sector 16. */
function iso(sectors: number): Uint8Array {
  const b = new Uint8Array(sectors * 2048);
  for (let n = 0; n < sectors; n++) {
    new DataView(b.buffer).setUint32(n * 2048, n, false);
    b.fill((n * 3) & 0xff, n * 2048 + 4, (n + 1) * 2048);
  }
  if (sectors > 16)
    b.set(
      [1, ..."CD001"].map((c) => (typeof c === "number" ? c : c.charCodeAt(0))),
      16 * 2048,
    );
  return b;
}

function setup(image?: Uint8Array) {
  const ports = new PortBus();
  let irqs = 0;
  const ide = new PiixIde({
    irqs: {
      setIrq(_irq, l) {
        if (l) irqs++;
      },
    },
    secondaryMaster: {
      kind: "cdrom",
      medium: image ? new CowDisk(bytesSource(image), { granularity: 2048, readOnly: true }) : undefined,
    },
  });
  ide.attach(ports);
  const inb = (p: number) => ports.read(p, 1);
  const outb = (p: number, v: number) => ports.write(p, 1, v);

  /** Sends a packet as Linux's libata does in PIO; returns the data, the DRQ block sizes and status. */
  const packet = (cmd: number[], limit = 0xfffe) => {
    outb(0x176, 0xa0);
    outb(0x171, 0); // PIO
    outb(0x174, limit & 0xff);
    outb(0x175, limit >> 8);
    outb(0x177, 0xa0);
    expect(inb(0x376) & 0x88).toBe(0x08); // DRQ for the packet
    expect(inb(0x172) & 3).toBe(1); // CoD
    const p = new Uint8Array(12);
    p.set(cmd);
    for (let i = 0; i < 12; i += 2) ports.write(0x170, 2, p[i]! | (p[i + 1]! << 8));
    const blocks: number[] = [];
    const data: number[] = [];
    let st = inb(0x177);
    while (st & 0x08) {
      expect(inb(0x172) & 3).toBe(2); // I/O: data in
      const n = inb(0x174) | (inb(0x175) << 8);
      blocks.push(n);
      for (let i = 0; i < n; i += 2) {
        const w = ports.read(0x170, 2);
        data.push(w & 0xff, w >> 8);
      }
      st = inb(0x177);
    }
    expect(inb(0x172) & 3).toBe(3); // I/O and CoD: command done
    return { data: new Uint8Array(data), blocks, status: st, error: inb(0x171) };
  };
  const sense = () => {
    const r = packet([0x03, 0, 0, 0, 18, 0]);
    return [r.data[2]! & 0x0f, r.data[12]!, r.data[13]!];
  };
  return { ports, ide, inb, outb, packet, sense, irqs: () => irqs };
}

describe("IDE ATAPI CD-ROM", () => {
  it("aborts IDENTIFY DEVICE with the packet signature and answers IDENTIFY PACKET DEVICE", () => {
    const s = setup(iso(32));
    s.outb(0x176, 0xa0);
    s.outb(0x177, 0xec);
    expect(s.inb(0x177) & 0x01).toBe(1);
    expect(s.inb(0x171)).toBe(0x04);
    expect([s.inb(0x174), s.inb(0x175)]).toEqual([0x14, 0xeb]);
    s.outb(0x177, 0xa1);
    expect(s.inb(0x177)).toBe(0x58);
    const id = new Uint8Array(512);
    for (let i = 0; i < 512; i += 2) {
      const w = s.ports.read(0x170, 2);
      id[i] = w & 0xff;
      id[i + 1] = w >> 8;
    }
    expect(id[0]! | (id[1]! << 8)).toBe(0x85c0);
    let model = "";
    for (let i = 27; i < 47; i++) model += String.fromCharCode(id[i * 2 + 1]!, id[i * 2]!);
    expect(model.trimEnd()).toBe("QEMU DVD-ROM");
    expect(id.reduce((a, b) => a + b, 0) & 0xff).toBe(0);
  });

  it("answers INQUIRY, TEST UNIT READY and READ CAPACITY", () => {
    const s = setup(iso(32));
    const inq = s.packet([0x12, 0, 0, 0, 36, 0]);
    expect(inq.data.length).toBe(36);
    expect(inq.data[0]).toBe(0x05);
    expect(inq.data[1]).toBe(0x80);
    expect(new TextDecoder().decode(inq.data.subarray(8, 32))).toBe("QEMU    QEMU DVD-ROM    ");
    expect(inq.status).toBe(0x50);
    expect(s.packet([0x12, 0, 0, 0, 8, 0]).data.length).toBe(8); // allocation length
    expect(s.packet([0x00]).status).toBe(0x50);
    const cap = s.packet([0x25]);
    expect(Array.from(cap.data)).toEqual([0, 0, 0, 31, 0, 0, 8, 0]);
  });

  it("reads 2048-byte sectors with READ(10) and READ(12), split by the byte count limit", () => {
    const img = iso(40);
    const s = setup(img);
    const r = s.packet([0x28, 0, 0, 0, 0, 16, 0, 0, 3, 0]);
    expect(r.data).toEqual(img.subarray(16 * 2048, 19 * 2048));
    expect(r.blocks).toEqual([6144]);
    expect(new TextDecoder().decode(r.data.subarray(1, 6))).toBe("CD001");
    const before = s.irqs();
    const small = s.packet([0x28, 0, 0, 0, 0, 20, 0, 0, 2, 0], 2048);
    expect(small.blocks).toEqual([2048, 2048]);
    expect(small.data).toEqual(img.subarray(20 * 2048, 22 * 2048));
    expect(s.irqs() - before).toBe(3); // two data blocks and the completion
    const odd = s.packet([0xa8, 0, 0, 0, 0, 5, 0, 0, 0, 1, 0, 0], 1000);
    expect(odd.blocks).toEqual([1000, 1000, 48]);
    expect(odd.data).toEqual(img.subarray(5 * 2048, 6 * 2048));
    expect(s.packet([0x28, 0, 0, 0, 0, 5, 0, 0, 0, 0]).data.length).toBe(0); // zero blocks
  });

  it("reports LBA out of range, invalid opcodes and invalid fields through sense data", () => {
    const s = setup(iso(16));
    const r = s.packet([0x28, 0, 0, 0, 0, 15, 0, 0, 2, 0]);
    expect(r.status).toBe(0x41);
    expect(r.error).toBe(0x50); // ILLEGAL REQUEST in the high nibble
    expect(s.sense()).toEqual([0x05, 0x21, 0]);
    expect(s.sense()).toEqual([0, 0, 0]); // cleared by reading it
    expect(s.packet([0xff]).status & 1).toBe(1);
    expect(s.sense()).toEqual([0x05, 0x20, 0]);
    expect(s.packet([0x12, 1, 0x80, 0, 36, 0]).status & 1).toBe(1); // VPD pages
    expect(s.sense()).toEqual([0x05, 0x24, 0]);
  });

  it("reports no medium as NOT READY / MEDIUM NOT PRESENT, and a new disc as UNIT ATTENTION", () => {
    const s = setup();
    const r = s.packet([0x00]);
    expect(r.status).toBe(0x41);
    expect(r.error).toBe(0x20);
    expect(s.sense()).toEqual([0x02, 0x3a, 0]);
    expect(s.packet([0x25]).status & 1).toBe(1);
    expect(s.packet([0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0]).status & 1).toBe(1);
    expect(s.packet([0x12, 0, 0, 0, 36, 0]).status).toBe(0x50); // INQUIRY works without a disc
    s.ide.secondary.devices[0]!.cdrom!.changeMedium(new CowDisk(bytesSource(iso(20))));
    const ev = s.packet([0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8, 0]);
    expect(Array.from(ev.data)).toEqual([0, 6, 4, 0x10, 2, 2, 0, 0]);
    expect(s.packet([0x00]).status & 1).toBe(1);
    expect(s.sense()).toEqual([0x06, 0x28, 0]);
    expect(s.packet([0x00]).status).toBe(0x50);
  });

  it("answers READ TOC formats 0 and 1, in LBA and MSF", () => {
    const s = setup(iso(300));
    const toc = s.packet([0x43, 0, 0, 0, 0, 0, 0, 0, 100, 0]);
    expect(Array.from(toc.data)).toEqual([
      0,
      18,
      1,
      1,
      0,
      0x14,
      1,
      0,
      0,
      0,
      0,
      0,
      0,
      0x14,
      0xaa,
      0,
      0,
      0,
      300 >> 8,
      300 & 0xff,
    ]);
    const msf = s.packet([0x43, 2, 0, 0, 0, 0, 0, 0, 100, 0]);
    expect(Array.from(msf.data.subarray(16, 20))).toEqual([0, 0, 6, 0]); // 300 + 150 = 450 frames = 00:06:00
    const ms = s.packet([0x43, 0, 1, 0, 0, 0, 0, 0, 12, 0]);
    expect(Array.from(ms.data)).toEqual([0, 10, 1, 1, 0, 0x14, 1, 0, 0, 0, 0, 0]);
    expect(s.packet([0x43, 0, 0, 0, 0, 0, 5, 0, 100, 0]).status & 1).toBe(1); // no track 5
  });

  it("answers MODE SENSE(10), GET CONFIGURATION, READ DISC INFORMATION and the no-data commands", () => {
    const s = setup(iso(20));
    const ms = s.packet([0x5a, 0, 0x2a, 0, 0, 0, 0, 0, 64, 0]);
    expect(ms.data.length).toBe(28);
    expect((ms.data[0]! << 8) | ms.data[1]!).toBe(26);
    expect(ms.data[8]).toBe(0x2a);
    expect(ms.data[9]).toBe(18);
    const all = s.packet([0x5a, 0, 0x3f, 0, 0, 0, 0, 0, 255, 0]);
    expect(all.data.length).toBe(8 + 8 + 20);
    expect(s.packet([0x5a, 0, 0x05, 0, 0, 0, 0, 0, 255, 0]).status & 1).toBe(1);
    const conf = s.packet([0x46, 0, 0, 0, 0, 0, 0, 0, 64, 0]);
    expect((conf.data[6]! << 8) | conf.data[7]!).toBe(0x0008); // CD-ROM profile
    const di = s.packet([0x51, 0, 0, 0, 0, 0, 0, 0, 34, 0]);
    expect(di.data.length).toBe(34);
    expect(di.data[2]).toBe(0x0e);
    expect(s.packet([0x1e, 0, 0, 0, 1, 0]).status).toBe(0x50);
    expect(s.ide.secondary.devices[0]!.cdrom!.locked).toBe(true);
    expect(s.packet([0x1b, 0, 0, 0, 1, 0]).status).toBe(0x50);
  });
});
