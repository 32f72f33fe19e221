import { describe, expect, it } from "vitest";
import { PortBus } from "../../devices/bus/port-bus.js";
import { ArrayGuestMemory } from "../../devices/dma.js";
import { FW_CFG, FW_CFG_DMA, FwCfg } from "../../devices/fw-cfg/fw-cfg.js";
import {
  BOOT_PATH,
  cmosBootFlags,
  configurePc,
  decodeE820,
  E820,
  encodeBootFailWait,
  encodeBootOrder,
  encodeE820,
  pcCmos,
  pcE820,
  setLinuxBoot,
} from "../../devices/fw-cfg/items.js";

/** A flat guest memory. */
function fakeMemory(size = 0x10000): ArrayGuestMemory {
  return new ArrayGuestMemory(new Uint8Array(size));
}

function setup(options: { dma?: boolean } = {}) {
  const mem = fakeMemory();
  const cfg = new FwCfg(options.dma === false ? {} : { memory: mem });
  const bus = new PortBus();
  cfg.attach(bus);
  const select = (key: number) => bus.write(0x510, 2, key);
  const read = (n: number): number[] => Array.from({ length: n }, () => bus.read(0x511, 1));
  return { cfg, bus, mem, select, read };
}

const text = (bytes: number[] | Uint8Array): string => String.fromCharCode(...bytes);
const be32 = (b: number[], at: number) => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
const le = (b: number[] | Uint8Array, at: number, n: number) => {
  let v = 0;
  for (let k = n - 1; k >= 0; k--) v = v * 256 + b[at + k]!;
  return v;
};

/** SeaBIOS' DMA call: a descriptor at `desc`, its address written big-endian to 0x518. */
function dma(bus: PortBus, mem: { bytes: Uint8Array }, desc: number, control: number, length: number, addr: number) {
  const dv = new DataView(mem.bytes.buffer);
  dv.setUint32(desc, control);
  dv.setUint32(desc + 4, length);
  dv.setUint32(desc + 8, 0);
  dv.setUint32(desc + 12, addr);
  // outl(cpu_to_be32(desc), 0x518): the port sees the byte-swapped value
  const swapped = ((desc & 0xff) << 24) | ((desc & 0xff00) << 8) | ((desc >>> 8) & 0xff00) | (desc >>> 24);
  bus.write(0x514, 4, 0);
  bus.write(0x518, 4, swapped >>> 0);
  return dv.getUint32(desc);
}

describe("fw_cfg port interface", () => {
  it("reads the signature and ID as SeaBIOS probes them", () => {
    const { select, read, bus } = setup();
    select(FW_CFG.SIGNATURE);
    expect(text(read(4))).toBe("QEMU");
    expect(read(2)).toEqual([0, 0]); // past the end
    select(FW_CFG.ID);
    expect(le(read(4), 0, 4)).toBe(3); // traditional + DMA
    // a byte read at 0x510 is a data read too (QEMU decodes 0x510-0x511 as one region)
    select(FW_CFG.SIGNATURE);
    expect(bus.read(0x510, 1)).toBe(0x51);
    expect(bus.read(0x511, 1)).toBe(0x45);
  });

  it("without guest memory has no DMA bit and no DMA ports", () => {
    const { select, read, bus } = setup({ dma: false });
    select(FW_CFG.ID);
    expect(le(read(4), 0, 4)).toBe(1);
    expect(bus.ownerOf(0x514)).toBeUndefined();
  });

  it('the DMA register reads back "QEMU CFG"', () => {
    const { bus } = setup();
    let s = "";
    for (let p = 0x514; p < 0x51c; p++) s += String.fromCharCode(bus.read(p, 1));
    expect(s).toBe("QEMU CFG");
    expect(bus.read(0x514, 4)).toBe(0x554d4551); // "QEMU" little-endian
  });

  it("reads absent items as zeros and resets to the signature", () => {
    const { cfg, select, read, bus } = setup();
    select(0x7777);
    expect(read(3)).toEqual([0, 0, 0]);
    cfg.reset();
    expect(bus.read(0x511, 1)).toBe(0x51);
  });

  it("returns numbered items little-endian", () => {
    const { cfg, select, read } = setup();
    configurePc(cfg, { ramBytes: 128 << 20, cpus: 1 });
    select(FW_CFG.RAM_SIZE);
    expect(le(read(8), 0, 8)).toBe(128 << 20);
    select(FW_CFG.NB_CPUS);
    expect(le(read(2), 0, 2)).toBe(1);
    select(FW_CFG.MAX_CPUS);
    expect(le(read(2), 0, 2)).toBe(1);
    select(FW_CFG.NUMA);
    expect(read(16)).toEqual(new Array(16).fill(0));
    select(FW_CFG.IRQ0_OVERRIDE);
    expect(read(1)).toEqual([1]);
    select(FW_CFG.BOOT_MENU);
    expect(read(2)).toEqual([0, 0]);
  });

  it("lists files in a big-endian directory sorted by name and reads them by selector", () => {
    const { cfg, select, read } = setup();
    cfg.addFile("vgaroms/vgabios.bin", new Uint8Array([0x55, 0xaa, 1]));
    configurePc(cfg, { ramBytes: 64 << 20, bootOrder: [BOOT_PATH.ide(0, 0)] });
    select(FW_CFG.FILE_DIR);
    const count = be32(read(4), 0);
    expect(count).toBe(5);
    const entries: { name: string; size: number; select: number }[] = [];
    for (let i = 0; i < count; i++) {
      const e = read(64);
      const nameBytes = e.slice(8, 64);
      entries.push({
        size: be32(e, 0),
        select: (e[4]! << 8) | e[5]!,
        name: text(nameBytes.slice(0, nameBytes.indexOf(0))),
      });
      expect(e[6]).toBe(0);
      expect(e[7]).toBe(0);
    }
    expect(entries.map((e) => e.name)).toEqual([
      "bootorder",
      "etc/boot-cpus",
      "etc/boot-fail-wait",
      "etc/e820",
      "vgaroms/vgabios.bin",
    ]);
    expect(entries.map((e) => e.select)).toEqual([0x20, 0x21, 0x22, 0x23, 0x24]);
    expect(cfg.files()).toEqual(entries);
    const e820 = entries.find((e) => e.name === "etc/e820")!;
    expect(e820.size).toBe(20);
    select(e820.select);
    expect(decodeE820(new Uint8Array(read(20)))).toEqual([{ address: 0, length: 64 << 20, type: E820.RAM }]);
    const rom = entries.find((e) => e.name === "vgaroms/vgabios.bin")!;
    select(rom.select);
    expect(read(4)).toEqual([0x55, 0xaa, 1, 0]);
    select(entries[0]!.select);
    expect(text(read(entries[0]!.size))).toBe("/pci@i0cf8/ide@1,1/drive@0/disk@0\0");
  });

  it("replaces a file's contents in place and rejects bad names", () => {
    const { cfg } = setup();
    const sel = cfg.addFile("etc/x", new Uint8Array([1]));
    expect(cfg.addFile("etc/x", new Uint8Array([2, 3]))).toBe(sel);
    expect(cfg.files()).toEqual([{ name: "etc/x", size: 2, select: sel }]);
    expect(() => cfg.addFile("", new Uint8Array())).toThrow();
    expect(() => cfg.addFile("x".repeat(56), new Uint8Array())).toThrow();
    expect(cfg.removeFile("etc/x")).toBe(true);
    expect(cfg.files()).toEqual([]);
  });
});

describe("fw_cfg DMA", () => {
  it("selects and reads an item into guest memory, then clears control", () => {
    const { bus, mem } = setup();
    const control = dma(bus, mem, 0x100, (FW_CFG.SIGNATURE << 16) | FW_CFG_DMA.SELECT | FW_CFG_DMA.READ, 4, 0x200);
    expect(control).toBe(0);
    expect(text(mem.bytes.slice(0x200, 0x204))).toBe("QEMU");
  });

  it("skips, continues from the current offset and pads with zeros past the end", () => {
    const { cfg, bus, mem } = setup();
    const sel = cfg.addFile("etc/data", new Uint8Array([10, 11, 12, 13, 14]));
    mem.bytes.fill(0xee, 0x300, 0x310);
    expect(dma(bus, mem, 0x100, (sel << 16) | FW_CFG_DMA.SELECT | FW_CFG_DMA.SKIP, 2, 0)).toBe(0);
    expect(dma(bus, mem, 0x100, FW_CFG_DMA.READ, 6, 0x300)).toBe(0);
    expect(Array.from(mem.bytes.slice(0x300, 0x308))).toEqual([12, 13, 14, 0, 0, 0, 0xee, 0xee]);
  });

  it("reads the directory as SeaBIOS does: count, then entries", () => {
    const { cfg, bus, mem } = setup();
    cfg.addFile("bootorder", encodeBootOrder([]));
    dma(bus, mem, 0x100, (FW_CFG.FILE_DIR << 16) | FW_CFG_DMA.SELECT | FW_CFG_DMA.READ, 4, 0x400);
    expect(new DataView(mem.bytes.buffer).getUint32(0x400)).toBe(1);
    dma(bus, mem, 0x100, FW_CFG_DMA.READ, 64, 0x404);
    expect(text(mem.bytes.slice(0x404 + 8, 0x404 + 17))).toBe("bootorder");
  });

  it("refuses writes to read-only items and accepts them to writable files", () => {
    const { cfg, bus, mem } = setup();
    const ro = cfg.addFile("etc/ro", new Uint8Array(4));
    mem.bytes.set([1, 2, 3, 4], 0x500);
    expect(dma(bus, mem, 0x100, (ro << 16) | FW_CFG_DMA.SELECT | FW_CFG_DMA.WRITE, 4, 0x500)).toBe(FW_CFG_DMA.ERROR);
    const writes: number[][] = [];
    const rw = cfg.addFile("etc/rw", new Uint8Array(4), { writable: true, onWrite: (o, l) => writes.push([o, l]) });
    expect(dma(bus, mem, 0x100, (rw << 16) | FW_CFG_DMA.SELECT | FW_CFG_DMA.WRITE, 4, 0x500)).toBe(0);
    expect(Array.from(cfg.file("etc/rw")!)).toEqual([1, 2, 3, 4]);
    expect(writes).toEqual([[0, 4]]);
  });

  it("fails a transfer that reaches past guest RAM (ERROR) and ignores a descriptor outside it", () => {
    const { bus, mem } = setup();
    const size = mem.bytes.length;
    mem.bytes.fill(0xee, size - 8, size);
    const control = dma(bus, mem, 0x100, (FW_CFG.SIGNATURE << 16) | FW_CFG_DMA.SELECT | FW_CFG_DMA.READ, 16, size - 8);
    expect(control).toBe(FW_CFG_DMA.ERROR);
    expect(Array.from(mem.bytes.slice(size - 8))).toEqual(new Array(8).fill(0xee)); // nothing written
    const outside = size + 0x1000;
    const swapped =
      ((outside & 0xff) << 24) | ((outside & 0xff00) << 8) | ((outside >>> 8) & 0xff00) | (outside >>> 24);
    expect(() => bus.write(0x518, 4, swapped >>> 0)).not.toThrow();
  });

  it("ignores a descriptor with no operation", () => {
    const { bus, mem } = setup();
    mem.bytes.fill(0xee, 0x200, 0x204);
    expect(dma(bus, mem, 0x100, (FW_CFG.SIGNATURE << 16) | FW_CFG_DMA.SELECT, 4, 0x200)).toBe(0);
    expect(Array.from(mem.bytes.slice(0x200, 0x204))).toEqual([0xee, 0xee, 0xee, 0xee]);
  });
});

describe("fw_cfg encodings", () => {
  it("e820 entries are 20 bytes: address, length (u64 LE), type (u32 LE)", () => {
    const bytes = encodeE820([
      { address: 0, length: 0x9fc00, type: E820.RAM },
      { address: 0x1_0000_0000, length: 0x4000_0000, type: E820.RESERVED },
    ]);
    expect(bytes.length).toBe(40);
    expect(le(bytes, 8, 8)).toBe(0x9fc00);
    expect(le(bytes, 16, 4)).toBe(1);
    expect(le(bytes, 20, 8)).toBe(0x1_0000_0000);
    expect(le(bytes, 36, 4)).toBe(2);
    expect(decodeE820(bytes)[1]).toEqual({ address: 0x1_0000_0000, length: 0x4000_0000, type: 2 });
  });

  it("splits RAM around the PCI hole as QEMU's pc does", () => {
    expect(pcE820(0x8000000)).toEqual([{ address: 0, length: 0x8000000, type: 1 }]);
    expect(pcE820(0xf0000000)).toEqual([
      { address: 0, length: 0xc0000000, type: 1 },
      { address: 0x1_0000_0000, length: 0x30000000, type: 1 },
    ]);
  });

  it("bootorder is newline-separated and NUL-terminated, empty when there is none", () => {
    expect(text(encodeBootOrder([BOOT_PATH.ide(1, 0), BOOT_PATH.ide(0, 0)]))).toBe(
      "/pci@i0cf8/ide@1,1/drive@1/disk@0\n/pci@i0cf8/ide@1,1/drive@0/disk@0\0",
    );
    expect(encodeBootOrder([]).length).toBe(0);
    expect(BOOT_PATH.floppy(0)).toBe("/isa/fdc@03f0/floppy@0");
  });

  it("boot-fail-wait is a u32 LE, -1 meaning no retry", () => {
    expect(Array.from(encodeBootFailWait(-1))).toEqual([0xff, 0xff, 0xff, 0xff]);
    expect(Array.from(encodeBootFailWait(5000))).toEqual([0x88, 0x13, 0, 0]);
  });

  it("CMOS boot flags follow QEMU's -boot letters", () => {
    expect(cmosBootFlags("cd")).toEqual({ reg3d: 0x32, reg38: 0x00 });
    expect(cmosBootFlags("dca", false)).toEqual({ reg3d: 0x23, reg38: 0x11 });
    expect(() => cmosBootFlags("z")).toThrow();
  });

  it("Linux boot items carry sizes and data", () => {
    const { cfg, select, read } = setup();
    setLinuxBoot(cfg, { kernel: new Uint8Array([9, 8, 7]), cmdline: "console=ttyS0", kernelAddr: 0x100000 });
    select(FW_CFG.KERNEL_SIZE);
    expect(le(read(4), 0, 4)).toBe(3);
    select(FW_CFG.KERNEL_ADDR);
    expect(le(read(4), 0, 4)).toBe(0x100000);
    select(FW_CFG.KERNEL_DATA);
    expect(read(3)).toEqual([9, 8, 7]);
    select(FW_CFG.CMDLINE_SIZE);
    expect(le(read(4), 0, 4)).toBe(14);
    select(FW_CFG.CMDLINE_DATA);
    expect(text(read(14))).toBe("console=ttyS0\0");
    select(FW_CFG.INITRD_SIZE);
    expect(le(read(4), 0, 4)).toBe(0);
  });
});

describe("CMOS bytes for SeaBIOS", () => {
  it("sizes RAM as QEMU's pc_cmos_init does", () => {
    const cmos = new Map(pcCmos({ ramBytes: 128 << 20, cpus: 2 }));
    expect([cmos.get(0x15), cmos.get(0x16)]).toEqual([0x80, 0x02]); // 640 KiB
    expect((cmos.get(0x31)! << 8) | cmos.get(0x30)!).toBe(0xffff); // capped
    const small = new Map(pcCmos({ ramBytes: 32 << 20 }));
    expect((small.get(0x31)! << 8) | small.get(0x30)!).toBe(31 * 1024);
    expect((cmos.get(0x35)! << 8) | cmos.get(0x34)!).toBe((112 << 20) / 65536);
    expect(cmos.get(0x5f)).toBe(1);
    expect([cmos.get(0x3d), cmos.get(0x38)]).toEqual([0x12, 0x30]); // "cad"
    const big = new Map(pcCmos({ ramBytes: 0x1_0000_0000 }));
    expect((big.get(0x35)! << 8) | big.get(0x34)!).toBe((0xc0000000 - (16 << 20)) / 65536);
    expect(big.get(0x5c)).toBe(0x40); // 1 GiB above 4 GiB = 0x4000 units of 64 KiB
  });
});
