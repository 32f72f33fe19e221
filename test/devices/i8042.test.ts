import { beforeEach, describe, expect, it } from "vitest";
import { IrqLine } from "../../devices/bus/irq.js";
import { PortBus } from "../../devices/bus/port-bus.js";
import { I8042 } from "../../devices/i8042.js";

function setup() {
  const bus = new PortBus();
  let irq1Edges = 0;
  const irq = new IrqLine(
    {
      setIrq: (_i, l) => {
        if (l) irq1Edges++;
      },
    },
    1,
  );
  const a20: boolean[] = [];
  let resets = 0;
  const kbc = new I8042({ irqKeyboard: irq, onA20: (e) => a20.push(e), onReset: () => resets++ });
  kbc.attach(bus);
  const out = (p: number, v: number) => bus.write(p, 1, v);
  const inb = (p: number) => bus.read(p, 1);
  /** Reads every byte the controller has for the host. */
  const drain = () => {
    const got: number[] = [];
    while (inb(0x64) & 1) got.push(inb(0x60));
    return got;
  };
  return { bus, kbc, irq, a20, resets: () => resets, irq1Edges: () => irq1Edges, out, inb, drain };
}

describe("i8042 keyboard controller", () => {
  let s: ReturnType<typeof setup>;
  beforeEach(() => {
    s = setup();
  });

  it("self test answers 0x55 and sets the system flag; interface test answers 0", () => {
    expect(s.inb(0x64) & 0x04).toBe(0);
    s.out(0x64, 0xaa);
    expect(s.inb(0x64) & 0x01).toBe(1);
    expect(s.inb(0x64) & 0x08).toBe(0x08); // last write was a command
    expect(s.drain()).toEqual([0x55]);
    expect(s.inb(0x64) & 0x04).toBe(0x04);
    s.out(0x64, 0xab);
    expect(s.drain()).toEqual([0x00]);
  });

  it("reads and writes the command byte (0x20/0x60)", () => {
    s.out(0x64, 0x20);
    expect(s.drain()).toEqual([0x41]);
    s.out(0x64, 0x60);
    s.out(0x60, 0x45);
    expect(s.kbc.commandByte).toBe(0x45);
    expect(s.inb(0x64) & 0x08).toBe(0); // last write was data
    s.out(0x64, 0xad);
    s.out(0x64, 0xa7);
    s.out(0x64, 0x20);
    expect(s.drain()).toEqual([0x45 | 0x10 | 0x20]);
    s.out(0x64, 0xae);
    s.out(0x64, 0xa8);
    s.out(0x64, 0x20);
    expect(s.drain()).toEqual([0x45]);
  });

  it("A20 through the output port (0xD1) and 0xDD/0xDF; 0xD0 reads it", () => {
    expect(s.kbc.a20).toBe(true);
    s.out(0x64, 0xd1);
    s.out(0x60, 0xdd); // A20 off (bit 1 clear), reset bit high
    expect(s.a20).toEqual([false]);
    expect(s.resets()).toBe(0);
    s.out(0x64, 0xd0);
    expect(s.drain()[0]! & 0x03).toBe(0x01);
    s.out(0x64, 0xd1);
    s.out(0x60, 0xdf); // the classic "enable A20" value
    expect(s.a20).toEqual([false, true]);
    s.out(0x64, 0xdd);
    s.out(0x64, 0xdf);
    expect(s.a20).toEqual([false, true, false, true]);
  });

  it("0xFE pulses reset; writing the output port with bit 0 clear resets too", () => {
    s.out(0x64, 0xfe);
    expect(s.resets()).toBe(1);
    s.out(0x64, 0xff); // pulse nothing
    expect(s.resets()).toBe(1);
    s.out(0x64, 0xd1);
    s.out(0x60, 0x02);
    expect(s.resets()).toBe(2);
    expect(s.kbc.a20).toBe(true);
  });

  it("keyboard reset answers ACK then BAT OK, with IRQ 1 per byte", () => {
    const e = s.irq1Edges();
    s.out(0x60, 0xff);
    expect(s.irq.level).toBe(true);
    expect(s.inb(0x60)).toBe(0xfa);
    expect(s.irq.level).toBe(true); // next byte loaded: a new edge
    expect(s.inb(0x60)).toBe(0xaa);
    expect(s.irq.level).toBe(false);
    expect(s.irq1Edges() - e).toBe(2);
    expect(s.inb(0x60)).toBe(0xaa); // empty buffer: the last byte again
  });

  it("keyboard commands: identify, LEDs, typematic, scan code set, enable/disable, echo", () => {
    s.out(0x64, 0x60);
    s.out(0x60, 0x01); // no translation
    s.out(0x60, 0xf2);
    expect(s.drain()).toEqual([0xfa, 0xab, 0x83]);
    s.out(0x60, 0xed);
    s.out(0x60, 0x07);
    expect(s.drain()).toEqual([0xfa, 0xfa]);
    expect(s.kbc.keyboard.leds).toBe(7);
    s.out(0x60, 0xf3);
    s.out(0x60, 0x20);
    expect(s.drain()).toEqual([0xfa, 0xfa]);
    s.out(0x60, 0xf0);
    s.out(0x60, 0x00);
    expect(s.drain()).toEqual([0xfa, 0xfa, 0x02]);
    s.out(0x60, 0xf5);
    s.kbc.keyboard.key(0x1c, true);
    expect(s.drain()).toEqual([0xfa]);
    s.out(0x60, 0xf4);
    s.kbc.keyboard.key(0x1c, true);
    expect(s.drain()).toEqual([0xfa, 0x1c]);
    s.out(0x60, 0xee);
    expect(s.drain()).toEqual([0xee]);
    s.out(0x60, 0x42); // unknown: resend
    expect(s.drain()).toEqual([0xfe]);
  });

  it("translates set 2 to set 1 when the command byte says so", () => {
    // 'A' down and up, then right arrow (extended) down and up.
    s.kbc.keyboard.key(0x1c, true);
    s.kbc.keyboard.key(0x1c, false);
    s.kbc.keyboard.keyByCode("ArrowRight", true);
    s.kbc.keyboard.keyByCode("ArrowRight", false);
    expect(s.drain()).toEqual([0x1e, 0x9e, 0xe0, 0x4d, 0xe0, 0xcd]);
    // Identify through translation: AB 41.
    s.out(0x60, 0xf2);
    expect(s.drain()).toEqual([0xfa, 0xab, 0x41]);
  });

  it("the keyboard can send set 1 itself", () => {
    s.out(0x64, 0x60);
    s.out(0x60, 0x01);
    s.out(0x60, 0xf0);
    s.out(0x60, 0x01);
    s.drain();
    s.kbc.keyboard.keyByCode("Enter", true);
    s.kbc.keyboard.keyByCode("Enter", false);
    expect(s.drain()).toEqual([0x1c, 0x9c]);
  });

  it("keyboard disabled (0xAD) holds bytes back; IRQ 1 follows command byte bit 0", () => {
    s.out(0x64, 0xad);
    s.kbc.keyboard.key(0x1c, true);
    expect(s.inb(0x64) & 1).toBe(0);
    s.out(0x64, 0x60);
    s.out(0x60, 0x40); // enabled, translation, no interrupt
    expect(s.inb(0x64) & 1).toBe(1);
    expect(s.irq.level).toBe(false);
    expect(s.inb(0x60)).toBe(0x1e);
  });

  it("controller replies go before keyboard bytes; aux loopback (0xD3) sets AUXB", () => {
    s.kbc.keyboard.key(0x1c, true); // already in the buffer
    s.out(0x64, 0x20);
    expect(s.drain()).toEqual([0x1e, 0x41]);
    s.out(0x64, 0xd3);
    s.out(0x60, 0x5a);
    expect(s.inb(0x64) & 0x21).toBe(0x21);
    expect(s.inb(0x60)).toBe(0x5a);
    s.out(0x64, 0xd4); // to the (absent) mouse: dropped
    s.out(0x60, 0xff);
    expect(s.inb(0x64) & 1).toBe(0);
    s.out(0x64, 0xa9);
    expect(s.drain()).toEqual([0x00]);
  });
});
