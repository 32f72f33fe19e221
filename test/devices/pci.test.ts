import { describe, expect, it } from "vitest";
import { ManualClock } from "../../devices/clock.js";
import { PcDevices } from "../../devices/pc.js";
import { Piix3IsaBridge } from "../../devices/pci/i440fx.js";
import { PciFunction } from "../../devices/pci/pci.js";

function setup() {
  const log: string[] = [];
  const pc = new PcDevices({ clock: new ManualClock() });
  const pci = pc.attachPci({
    onPam: (i, v) => log.push(`pam ${i} ${v.toString(16)}`),
    onSmram: (v) => log.push(`smram ${v.toString(16)}`),
    onReset: (hard) => log.push(`reset ${hard}`),
  });
  const addr = (dev: number, fn: number, reg: number) => (0x80000000 | (dev << 11) | (fn << 8) | (reg & 0xfc)) >>> 0;
  const cfgRead = (dev: number, fn: number, reg: number, size: 1 | 2 | 4 = 4) => {
    pc.ioWrite(0xcf8, 4, addr(dev, fn, reg));
    return pc.ioRead(0xcfc + (reg & 3), size);
  };
  const cfgWrite = (dev: number, fn: number, reg: number, size: 1 | 2 | 4, v: number) => {
    pc.ioWrite(0xcf8, 4, addr(dev, fn, reg));
    pc.ioWrite(0xcfc + (reg & 3), size, v);
  };
  return { pc, pci, log, cfgRead, cfgWrite };
}

describe("PCI configuration mechanism #1", () => {
  it("passes Linux's type 1 probe and keeps CONFIG_ADDRESS apart from byte accesses", () => {
    const { pc } = setup();
    pc.ioWrite(0xcfb, 1, 0x01);
    pc.ioWrite(0xcf8, 4, 0x80000000);
    expect(pc.ioRead(0xcf8, 4)).toBe(0x80000000);
    pc.ioWrite(0xcfa, 1, 0x00); // mechanism #2 probe bytes leave the address alone
    expect(pc.ioRead(0xcf8, 4)).toBe(0x80000000);
  });

  it("identifies the i440FX, PIIX3 and PIIX3 IDE as QEMU's pc does", () => {
    const { cfgRead } = setup();
    expect(cfgRead(0, 0, 0)).toBe(0x12378086);
    expect(cfgRead(0, 0, 8)).toBe(0x06000002);
    expect(cfgRead(0, 0, 0x0e, 1)).toBe(0x00);
    expect(cfgRead(1, 0, 0)).toBe(0x70008086);
    expect(cfgRead(1, 0, 8) >>> 8).toBe(0x060100);
    expect(cfgRead(1, 0, 0x0e, 1)).toBe(0x80); // multi-function
    expect(cfgRead(1, 1, 0)).toBe(0x70108086);
    expect(cfgRead(1, 1, 8)).toBe(0x01018000);
    expect(cfgRead(1, 1, 0x2c)).toBe(0x11001af4);
    expect(cfgRead(1, 1, 0x06, 2)).toBe(0x0280);
  });

  it("reads missing functions, other buses and a disabled address as all ones", () => {
    const { pc, cfgRead } = setup();
    expect(cfgRead(2, 0, 0)).toBe(0xffffffff);
    expect(cfgRead(1, 2, 0, 2)).toBe(0xffff);
    pc.ioWrite(0xcf8, 4, 0x80010000); // bus 1
    expect(pc.ioRead(0xcfc, 4)).toBe(0xffffffff);
    pc.ioWrite(0xcf8, 4, 0x00000000); // enable bit clear
    expect(pc.ioRead(0xcfc, 4)).toBe(0xffffffff);
  });

  it("does byte and word accesses at any offset and honours read-only bytes", () => {
    const { cfgRead, cfgWrite } = setup();
    cfgWrite(1, 1, 0x3c, 1, 0x0e);
    expect(cfgRead(1, 1, 0x3c, 1)).toBe(0x0e);
    cfgWrite(1, 1, 0x0d, 1, 0x40); // latency timer
    expect(cfgRead(1, 1, 0x0c, 4) >>> 8).toBe(0x0040);
    cfgWrite(1, 1, 0x00, 4, 0); // vendor/device are read-only
    expect(cfgRead(1, 1, 0)).toBe(0x70108086);
    cfgWrite(1, 1, 0x3e, 2, 0xabcd); // crosses into bytes 0x3e-0x3f
    expect(cfgRead(1, 1, 0x3e, 2)).toBe(0);
    // Status bits clear on writing 1.
    cfgWrite(1, 1, 0x06, 2, 0xffff);
    expect(cfgRead(1, 1, 0x06, 2)).toBe(0x0280);
  });

  it("sizes and maps BAR4 of the IDE function (bus master window)", () => {
    const { pc, cfgRead, cfgWrite } = setup();
    expect(cfgRead(1, 1, 0x20)).toBe(0x00000001); // I/O BAR, not assigned
    cfgWrite(1, 1, 0x20, 4, 0xffffffff);
    expect(cfgRead(1, 1, 0x20)).toBe(0xfffffff1); // 16 bytes of I/O
    expect(cfgRead(1, 1, 0x10)).toBe(0); // BAR0-3 absent in legacy mode
    cfgWrite(1, 1, 0x10, 4, 0xffffffff);
    expect(cfgRead(1, 1, 0x10)).toBe(0);
    cfgWrite(1, 1, 0x20, 4, 0xc000);
    expect(cfgRead(1, 1, 0x20)).toBe(0xc001);
    expect(pc.ioRead(0xc002, 1)).toBe(0xff); // I/O decode off
    cfgWrite(1, 1, 0x04, 2, 0x0001);
    expect(pc.ioRead(0xc002, 1)).toBe(0);
    pc.ioWrite(0xc002, 1, 0x66); // drive DMA capable bits stick, the interrupt bit clears
    expect(pc.ioRead(0xc002, 1)).toBe(0x60);
    pc.ioWrite(0xc004, 4, 0x12345677);
    expect(pc.ioRead(0xc004, 4)).toBe(0x12345674);
    cfgWrite(1, 1, 0x20, 4, 0xd000); // move it
    expect(pc.ioRead(0xc002, 1)).toBe(0xff);
    expect(pc.ioRead(0xd002, 1)).toBe(0x60);
    cfgWrite(1, 1, 0x04, 2, 0);
    expect(pc.ioRead(0xd002, 1)).toBe(0xff);
  });

  it("stores the i440FX PAM and SMRAM registers", () => {
    const { cfgRead, cfgWrite, log, pci } = setup();
    expect(cfgRead(0, 0, 0x72, 1)).toBe(0x02);
    cfgWrite(0, 0, 0x59, 1, 0x30);
    cfgWrite(0, 0, 0x5a, 2, 0x3311);
    cfgWrite(0, 0, 0x72, 1, 0xff);
    expect(cfgRead(0, 0, 0x58)).toBe(0x33113000);
    expect(pci.host.pam(0)).toBe(0x30);
    expect(pci.host.smram).toBe(0x7a);
    expect(log).toEqual(["pam 0 30", "pam 1 11", "pam 2 33", "smram 7a"]);
  });

  it("routes PCI INTx through the PIIX3 PIRQ registers", () => {
    const { cfgRead } = setup();
    expect(cfgRead(1, 0, 0x60)).toBe(0x80808080);
    const levels: string[] = [];
    const isa = new Piix3IsaBridge({ setIrq: (irq, l) => levels.push(`${irq} ${l}`) });
    const wire = isa.intx(3, 1); // slot 3 INTA# -> PIRQC
    wire.set(true);
    expect(levels).toEqual([]); // PIRQC routing disabled
    isa.writeConfig(0x62, 1, 0x0b);
    expect(isa.pirqIrq(2)).toBe(11);
    const other = isa.intx(2, 2); // slot 2 INTB# -> PIRQC as well: wired-OR
    other.set(true);
    wire.set(false);
    expect(levels).toEqual(["11 true"]);
    other.set(false);
    isa.writeConfig(0x62, 1, 0x0a);
    other.set(true);
    isa.writeConfig(0x62, 1, 0x80);
    expect(levels).toEqual(["11 true", "11 false", "10 true", "10 false"]);
  });

  it("asks for a reset through 0xCF9 and resets configuration with the machine", () => {
    const { pc, cfgRead, cfgWrite, log } = setup();
    pc.ioWrite(0xcf9, 1, 0x02);
    pc.ioWrite(0xcf9, 1, 0x06);
    expect(log).toEqual(["reset true"]);
    cfgWrite(1, 1, 0x20, 4, 0xc000);
    cfgWrite(0, 0, 0x59, 1, 0x30);
    pc.reset();
    expect(cfgRead(1, 1, 0x20)).toBe(1);
    expect(cfgRead(0, 0, 0x59, 1)).toBe(0);
  });
});

describe("PCI functions: capabilities, memory BARs, INTx", () => {
  /** A function with a 4 KiB memory BAR0 (prefetchable), a 32-byte I/O BAR1 and two capabilities. */
  function device() {
    const { pc, pci, cfgRead, cfgWrite } = setup();
    const mmio: string[] = [];
    const decoded: string[] = [];
    pci.bus.onMemoryDecode = (base, size, on) => decoded.push(`${on ? "+" : "-"}${base.toString(16)}/${size}`);
    const f = new PciFunction("test device", { vendor: 0x1234, device: 0x5678, classCode: 0xff0000, interruptPin: 1 });
    f.defineBar(0, {
      kind: "mem",
      size: 4096,
      prefetchable: true,
      read: (off) => 0xab00 + off,
      write: (off, size, v) => mmio.push(`${off}/${size}=${v.toString(16)}`),
    });
    f.defineBar(1, { kind: "io", size: 32, read: (off) => off });
    const vendorCap = f.addCapability(0x09, 16);
    f.config[vendorCap + 2] = 16;
    const secondCap = f.addCapability(0x09, 5);
    f.saveResetState();
    const slot = pc.addPciFunction(f);
    return { pc, pci, cfgRead, cfgWrite, f, slot, mmio, decoded, vendorCap, secondCap };
  }

  it("puts an added function in the first free slot from 2 and refuses a taken one", () => {
    const { pc, cfgRead, slot } = device();
    expect(slot).toBe(2);
    expect(cfgRead(2, 0, 0)).toBe(0x56781234);
    const other = new PciFunction("other", { vendor: 1, device: 2, classCode: 0 });
    expect(() => pc.addPciFunction(other, { slot: 2 })).toThrow(/taken/);
    expect(pc.addPciFunction(other)).toBe(3);
  });

  it("links capabilities from 0x34 with the status bit set, read-only", () => {
    const { cfgRead, cfgWrite, f, vendorCap, secondCap } = device();
    expect(cfgRead(2, 0, 0x06, 2) & 0x10).toBe(0x10);
    expect(cfgRead(2, 0, 0x34, 1)).toBe(vendorCap);
    expect(vendorCap).toBe(0x40);
    expect(cfgRead(2, 0, vendorCap, 2)).toBe((secondCap << 8) | 0x09);
    expect(secondCap).toBe(0x50);
    expect(cfgRead(2, 0, secondCap + 1, 1)).toBe(0); // end of the list
    cfgWrite(2, 0, vendorCap, 4, 0xffffffff);
    cfgWrite(2, 0, 0x34, 1, 0);
    expect(cfgRead(2, 0, vendorCap)).toBe(0x00105009);
    expect(cfgRead(2, 0, 0x34, 1)).toBe(0x40);
    expect(f.findCapabilities(0x09)).toEqual([0x40, 0x50]);
    expect(f.findCapabilities(0x05)).toEqual([]);
    // A function without capabilities: status bit clear, pointer 0.
    expect(cfgRead(1, 1, 0x06, 2) & 0x10).toBe(0);
  });

  it("sizes memory and I/O BARs by writing all ones, and decodes them only when enabled", () => {
    const { pc, cfgRead, cfgWrite, mmio, decoded } = device();
    expect(cfgRead(2, 0, 0x10)).toBe(0x00000008); // memory, 32-bit, prefetchable
    cfgWrite(2, 0, 0x10, 4, 0xffffffff);
    expect(cfgRead(2, 0, 0x10)).toBe(0xfffff008); // 4 KiB
    cfgWrite(2, 0, 0x14, 4, 0xffffffff);
    expect(cfgRead(2, 0, 0x14)).toBe(0xffffffe1); // 32 bytes of I/O
    cfgWrite(2, 0, 0x18, 4, 0xffffffff);
    expect(cfgRead(2, 0, 0x18)).toBe(0); // no BAR2
    cfgWrite(2, 0, 0x10, 4, 0xfe001234);
    expect(cfgRead(2, 0, 0x10)).toBe(0xfe001008);
    cfgWrite(2, 0, 0x14, 4, 0xc100);
    expect(pc.mmioRead(0xfe001010, 4)).toBe(0xffffffff); // memory decode off
    expect(decoded).toEqual([]);
    cfgWrite(2, 0, 0x04, 2, 0x0002);
    expect(decoded).toEqual(["+fe001000/4096"]);
    expect(pc.mmioRead(0xfe001010, 4)).toBe(0xab10);
    pc.mmioWrite(0xfe001ffc, 4, 0x1234);
    expect(mmio).toEqual(["4092/4=1234"]);
    expect(pc.ioRead(0xc104, 1)).toBe(0xff); // I/O decode still off
    cfgWrite(2, 0, 0x04, 2, 0x0003);
    expect(pc.ioRead(0xc104, 1)).toBe(4);
    cfgWrite(2, 0, 0x10, 4, 0xfe002000); // move: the old window stops decoding first
    expect(decoded).toEqual(["+fe001000/4096", "-fe001000/4096", "+fe002000/4096"]);
    expect(pc.mmioRead(0xfe001010, 4)).toBe(0xffffffff);
    expect(pc.mmioRead(0xfe002010, 4)).toBe(0xab10);
    pc.reset();
    expect(decoded.at(-1)).toBe("-fe002000/4096");
    expect(cfgRead(2, 0, 0x10)).toBe(0x00000008);
  });

  it("drives INTx# through the slot's PIRQ, reports it in status bit 3, masks it with INTx disable", () => {
    const { pc, cfgRead, cfgWrite, f } = device();
    const pirq = (2 - 1 + 0) & 3; // slot 2 INTA# -> PIRQB
    expect(pirq).toBe(1);
    cfgWrite(1, 0, 0x61, 1, 0x0b); // PIRQB -> IRQ 11
    pc.pic.writeElcr(1, 0x08); // IRQ 11 level-triggered
    f.setIntx(true);
    expect(cfgRead(2, 0, 0x06, 2) & 0x08).toBe(0x08);
    expect(pc.pic.debugState()[1]!.irr & 0x08).toBe(0x08);
    cfgWrite(2, 0, 0x04, 2, 0x0400); // INTx disable: the wire drops, the status bit stays
    expect(pc.pic.debugState()[1]!.irr & 0x08).toBe(0);
    expect(cfgRead(2, 0, 0x06, 2) & 0x08).toBe(0x08);
    cfgWrite(2, 0, 0x04, 2, 0);
    expect(pc.pic.debugState()[1]!.irr & 0x08).toBe(0x08);
    f.setIntx(false);
    expect(cfgRead(2, 0, 0x06, 2) & 0x08).toBe(0);
    expect(pc.pic.debugState()[1]!.irr & 0x08).toBe(0);
  });

  it("does what firmware does for a boot without it: PIRQs, ELCR, BARs, INTERRUPT_LINE, decode", () => {
    const { pc, cfgRead } = device();
    const assigned = pc.setupPciLikeFirmware();
    expect(cfgRead(1, 0, 0x60)).toBe(0x0b0b0a0a); // PIRQA-D -> 10, 10, 11, 11
    expect(pc.pic.readElcr(1)).toBe(0x0c); // IRQ 10 and 11 level-triggered
    expect(assigned).toEqual([
      { dev: 1, fn: 1, bar: 4, kind: "io", base: 0xc020, size: 16 },
      { dev: 2, fn: 0, bar: 0, kind: "mem", base: 0xfe000000, size: 4096 },
      { dev: 2, fn: 0, bar: 1, kind: "io", base: 0xc000, size: 32 },
    ]);
    expect(cfgRead(2, 0, 0x3c, 1)).toBe(10); // slot 2 INTA# -> PIRQB -> IRQ 10
    expect(cfgRead(1, 1, 0x3c, 1)).toBe(0); // IDE in compatibility mode has no pin
    expect(cfgRead(2, 0, 0x04, 2) & 3).toBe(3);
    expect(pc.mmioRead(0xfe000000, 4)).toBe(0xab00);
    expect(pc.ioRead(0xc005, 1)).toBe(5);
    expect(cfgRead(1, 1, 0x04, 2) & 1).toBe(1);
  });
});
