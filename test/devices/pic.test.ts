import { beforeEach, describe, expect, it } from "vitest";
import { PortBus } from "../../devices/bus/port-bus.js";
import { DualPic } from "../../devices/pic.js";

/** A PIC pair on a bus with the INT output recorded. */
function setup() {
  const bus = new PortBus();
  const intr: boolean[] = [];
  const pic = new DualPic({ onIntr: (l) => intr.push(l) });
  pic.attach(bus);
  const out = (port: number, v: number) => bus.write(port, 1, v);
  const inb = (port: number) => bus.read(port, 1);
  return { bus, pic, intr, out, inb };
}

/** Linux's init_8259A (arch/x86/kernel/i8259.c): vectors 0x30/0x38, cascade on IR2, 8086 mode. */
function linuxInit(out: (p: number, v: number) => void, autoEoi = false) {
  out(0x21, 0xff);
  out(0xa1, 0xff);
  out(0x20, 0x11);
  out(0x21, 0x30);
  out(0x21, 0x04);
  out(0x21, autoEoi ? 0x03 : 0x01);
  out(0xa0, 0x11);
  out(0xa1, 0x38);
  out(0xa1, 0x02);
  out(0xa1, 0x01);
  out(0x21, 0x00);
  out(0xa1, 0x00);
}

/** SeaBIOS's pic_setup: vectors 0x08/0x70. */
function seabiosInit(out: (p: number, v: number) => void) {
  out(0x20, 0x11);
  out(0xa0, 0x11);
  out(0x21, 0x08);
  out(0xa1, 0x70);
  out(0x21, 0x04);
  out(0xa1, 0x02);
  out(0x21, 0x01);
  out(0xa1, 0x01);
  out(0x21, 0xfb);
  out(0xa1, 0xff);
}

describe("i8259 pair", () => {
  let s: ReturnType<typeof setup>;
  beforeEach(() => {
    s = setup();
  });

  it("initializes as Linux does and delivers IRQ 0 as vector 0x30", () => {
    linuxInit(s.out);
    expect(s.pic.intrPending()).toBe(false);
    s.pic.line(0).pulse();
    expect(s.pic.intrPending()).toBe(true);
    expect(s.intr.at(-1)).toBe(true);
    expect(s.pic.acknowledge()).toBe(0x30);
    expect(s.pic.intrPending()).toBe(false);
    expect(s.intr.at(-1)).toBe(false);
    // In service: ISR bit 0 (OCW3 read ISR).
    s.out(0x20, 0x0b);
    expect(s.inb(0x20)).toBe(0x01);
    s.out(0x20, 0x60); // specific EOI for IR0
    expect(s.inb(0x20)).toBe(0x00);
  });

  it("initializes as SeaBIOS does; slave IRQs cascade through IR2", () => {
    seabiosInit(s.out);
    s.out(0xa1, 0x00); // unmask all slave lines
    s.pic.line(8).raise(); // RTC
    expect(s.pic.intrPending()).toBe(true);
    expect(s.pic.acknowledge()).toBe(0x70);
    expect(s.pic.debugState()[0]!.isr).toBe(0x04);
    expect(s.pic.debugState()[1]!.isr).toBe(0x01);
    // EOI both, as a BIOS handler does (non-specific).
    s.out(0xa0, 0x20);
    s.out(0x20, 0x20);
    expect(s.pic.debugState()[0]!.isr).toBe(0);
    expect(s.pic.debugState()[1]!.isr).toBe(0);
    // Masked master line: nothing.
    s.pic.line(1).raise();
    expect(s.pic.intrPending()).toBe(false);
    expect(s.inb(0x20)).toBe(0x02); // IRR shows it anyway
  });

  it("masks lines with OCW1 and reads the mask back", () => {
    linuxInit(s.out);
    s.out(0x21, 0x01);
    s.pic.line(0).pulse();
    expect(s.pic.intrPending()).toBe(false);
    expect(s.inb(0x21)).toBe(0x01);
    s.out(0x21, 0x00);
    expect(s.pic.intrPending()).toBe(true);
  });

  it("fully nested priority: lower IRQ numbers first, higher priorities interrupt lower ones", () => {
    linuxInit(s.out);
    s.pic.line(4).pulse();
    s.pic.line(3).pulse();
    expect(s.pic.acknowledge()).toBe(0x33); // IR3 beats IR4
    expect(s.pic.intrPending()).toBe(false); // IR4 blocked by IR3 in service
    s.pic.line(1).pulse();
    expect(s.pic.acknowledge()).toBe(0x31); // IR1 nests over IR3
    s.out(0x20, 0x20); // non-specific EOI: clears IR1 (highest in service)
    expect(s.pic.debugState()[0]!.isr).toBe(0x08);
    expect(s.pic.intrPending()).toBe(false);
    s.out(0x20, 0x20); // clears IR3
    expect(s.pic.acknowledge()).toBe(0x34);
  });

  it("rotates priorities on non-specific EOI and with set priority", () => {
    linuxInit(s.out);
    s.pic.line(0).pulse();
    expect(s.pic.acknowledge()).toBe(0x30);
    s.out(0x20, 0xa0); // rotate on non-specific EOI: IR0 becomes lowest, IR1 highest
    s.pic.line(0).pulse();
    s.pic.line(5).pulse();
    expect(s.pic.acknowledge()).toBe(0x35);
    s.out(0x20, 0xe5); // rotate on specific EOI 5: IR6 highest
    expect(s.pic.acknowledge()).toBe(0x30);
    s.out(0x20, 0x60);
    s.out(0x20, 0xc3); // set priority: IR3 lowest, IR4 highest
    s.pic.line(3).pulse();
    s.pic.line(7).pulse();
    expect(s.pic.acknowledge()).toBe(0x37);
  });

  it("edge lines latch on the rising edge; level lines follow the line (ELCR)", () => {
    linuxInit(s.out);
    // Edge: a pulse is remembered, a line held high requests once.
    s.pic.line(5).raise();
    expect(s.pic.acknowledge()).toBe(0x35);
    s.out(0x20, 0x65);
    expect(s.pic.intrPending()).toBe(false);
    s.pic.line(5).lower();
    // Level: ELCR bit 5 on the master (0x4D0).
    s.out(0x4d0, 0x20);
    expect(s.inb(0x4d0)).toBe(0x20);
    s.pic.line(5).raise();
    expect(s.pic.acknowledge()).toBe(0x35);
    s.out(0x20, 0x65);
    expect(s.pic.intrPending()).toBe(true); // still asserted: requests again after EOI
    s.pic.line(5).lower();
    expect(s.pic.intrPending()).toBe(false);
    // Dropped before INTA: spurious IRQ 7, nothing in service.
    s.pic.line(5).raise();
    s.pic.line(5).lower();
    expect(s.pic.acknowledge()).toBe(0x37);
    expect(s.pic.debugState()[0]!.isr).toBe(0);
    expect(s.pic.spurious).toBe(1);
  });

  it("ELCR cannot make IRQ 0, 1, 2, 8 or 13 level triggered (PIIX)", () => {
    s.out(0x4d0, 0xff);
    s.out(0x4d1, 0xff);
    expect(s.inb(0x4d0)).toBe(0xf8);
    expect(s.inb(0x4d1)).toBe(0xde);
  });

  it("a slave level line dropped after INTR gives spurious IRQ 15", () => {
    linuxInit(s.out);
    s.out(0x4d1, 0x08); // IRQ 11 level (a PCI line)
    s.pic.line(11).raise();
    expect(s.pic.intrPending()).toBe(true);
    s.pic.line(11).lower();
    expect(s.pic.acknowledge()).toBe(0x3f);
    expect(s.pic.debugState()[1]!.isr).toBe(0);
  });

  it("poll command returns 0x80 | level and acknowledges", () => {
    linuxInit(s.out);
    // A polling guest runs with interrupts disabled (CLI); IMR masks polled requests too.
    s.pic.line(6).pulse();
    s.out(0x20, 0x0c); // OCW3 poll
    expect(s.inb(0x20)).toBe(0x86);
    expect(s.pic.debugState()[0]!.isr).toBe(0x40);
    s.out(0x20, 0x0c);
    expect(s.inb(0x20)).toBe(0x00); // IR6 in service, nothing else pending
    expect(s.inb(0x20)).toBe(0x00); // the poll word is read once; then IRR again
    s.out(0x21, 0x80);
    s.pic.line(7).pulse();
    s.out(0x20, 0x66);
    s.out(0x20, 0x0c);
    expect(s.inb(0x21)).toBe(0x00); // masked IR7 is not polled (either port reads the poll word)
  });

  it("auto-EOI leaves nothing in service", () => {
    linuxInit(s.out, true);
    s.pic.line(0).pulse();
    expect(s.pic.acknowledge()).toBe(0x30);
    expect(s.pic.debugState()[0]!.isr).toBe(0);
    s.pic.line(0).pulse();
    expect(s.pic.acknowledge()).toBe(0x30);
  });

  it("special mask mode lets lower priorities through while a masked level is in service", () => {
    linuxInit(s.out);
    s.pic.line(2 + 1).pulse();
    expect(s.pic.acknowledge()).toBe(0x33);
    s.pic.line(5).pulse();
    expect(s.pic.intrPending()).toBe(false);
    s.out(0x21, 0x08); // mask IR3 (in service)
    s.out(0x20, 0x68); // OCW3: set special mask mode
    expect(s.pic.intrPending()).toBe(true);
    expect(s.pic.acknowledge()).toBe(0x35);
    s.out(0x20, 0x48); // reset special mask mode
    s.out(0x20, 0x65);
    s.out(0x20, 0x63);
    expect(s.pic.debugState()[0]!.isr).toBe(0);
  });

  it("Linux's slave EOI sequence (specific EOI on slave, then IR2 on master)", () => {
    linuxInit(s.out);
    s.pic.line(12).pulse();
    s.pic.line(14).pulse();
    expect(s.pic.acknowledge()).toBe(0x3c);
    s.out(0xa0, 0x64); // EOI 12 on the slave
    s.out(0x20, 0x62); // EOI 2 on the master
    expect(s.pic.acknowledge()).toBe(0x3e);
  });

  it("special fully nested mode lets a higher slave IRQ through while IR2 is in service", () => {
    linuxInit(s.out);
    s.out(0x20, 0x11);
    s.out(0x21, 0x30);
    s.out(0x21, 0x04);
    s.out(0x21, 0x11); // ICW4: SFNM
    s.pic.line(12).pulse();
    expect(s.pic.acknowledge()).toBe(0x3c);
    s.pic.line(9).pulse();
    expect(s.pic.acknowledge()).toBe(0x39);
    s.pic.line(13).pulse();
    expect(s.pic.intrPending()).toBe(false); // lower than 9 and 12 on the slave
  });

  it("ICW1 resets masks and the ISR, and the edge detector", () => {
    linuxInit(s.out);
    s.out(0x21, 0x55);
    s.pic.line(1).pulse();
    s.pic.acknowledge();
    s.out(0x20, 0x11);
    s.out(0x21, 0x20);
    s.out(0x21, 0x04);
    s.out(0x21, 0x01);
    expect(s.inb(0x21)).toBe(0);
    expect(s.pic.debugState()[0]!.isr).toBe(0);
    expect(s.pic.acknowledge()).toBe(0x27); // nothing pending: spurious on the new base
  });
});
