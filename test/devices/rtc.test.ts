import { beforeEach, describe, expect, it } from "vitest";
import { IrqLine } from "../../devices/bus/irq.js";
import { PortBus } from "../../devices/bus/port-bus.js";
import { ManualClock } from "../../devices/clock.js";
import { Rtc } from "../../devices/rtc.js";

const START = Date.UTC(2026, 10, 22, 23, 59, 58, 0); // a Sunday, 23:59:58

function setup(startMs = START) {
  const clock = new ManualClock();
  const bus = new PortBus();
  let edges = 0;
  const irq = new IrqLine(
    {
      setIrq: (_i, l) => {
        if (l) edges++;
      },
    },
    8,
  );
  const rtc = new Rtc({ clock, irq, wallClockMs: () => startMs });
  rtc.attach(bus);
  const read = (reg: number) => {
    bus.write(0x70, 1, reg);
    return bus.read(0x71, 1);
  };
  const write = (reg: number, v: number) => {
    bus.write(0x70, 1, reg);
    bus.write(0x71, 1, v);
  };
  const step = (ns: number) => {
    clock.advance(ns);
    rtc.advance(clock.nowNs());
  };
  return { clock, bus, rtc, irq, read, write, step, edges: () => edges };
}

describe("MC146818 RTC", () => {
  let s: ReturnType<typeof setup>;
  beforeEach(() => {
    s = setup();
  });

  it("reads the time in BCD, 24-hour by default, with the century in 0x32", () => {
    expect(s.read(0x00)).toBe(0x58);
    expect(s.read(0x02)).toBe(0x59);
    expect(s.read(0x04)).toBe(0x23);
    expect(s.read(0x06)).toBe(0x01); // Sunday
    expect(s.read(0x07)).toBe(0x22);
    expect(s.read(0x08)).toBe(0x11);
    expect(s.read(0x09)).toBe(0x26);
    expect(s.read(0x32)).toBe(0x20);
    expect(s.read(0x0d)).toBe(0x80);
    expect(s.read(0x0a)).toBe(0x26);
  });

  it("runs on the virtual clock across the day boundary", () => {
    s.step(2.5e9);
    expect([s.read(0x04), s.read(0x02), s.read(0x00)]).toEqual([0x00, 0x00, 0x00]);
    expect([s.read(0x07), s.read(0x06)]).toEqual([0x23, 0x02]);
  });

  it("binary mode and 12-hour mode per register B", () => {
    s.write(0x0b, 0x06); // binary, 24h
    expect(s.read(0x00)).toBe(58);
    expect(s.read(0x04)).toBe(23);
    s.write(0x0b, 0x04); // binary, 12h: 11 PM
    expect(s.read(0x04)).toBe(0x80 | 11);
    s.write(0x0b, 0x00); // BCD, 12h
    expect(s.read(0x04)).toBe(0x91);
    s.step(2e9); // 00:00 is 12 AM
    expect(s.read(0x04)).toBe(0x12);
  });

  it("sets the time with SET, as a BIOS setup or hwclock --systohc does", () => {
    s.write(0x0b, 0x82); // SET, 24h BCD
    s.write(0x00, 0x30);
    s.write(0x02, 0x15);
    s.write(0x04, 0x08);
    s.write(0x07, 0x01);
    s.write(0x08, 0x03);
    s.write(0x09, 0x99);
    s.write(0x32, 0x19);
    s.step(5e9); // frozen while SET
    expect(s.read(0x00)).toBe(0x30);
    s.write(0x0b, 0x02);
    expect(s.rtc.timeMs()).toBe(Date.UTC(1999, 2, 1, 8, 15, 30));
    s.step(1e9);
    expect(s.read(0x00)).toBe(0x31);
    // A direct write without SET takes effect too.
    s.write(0x02, 0x45);
    expect(s.read(0x02)).toBe(0x45);
    expect(s.read(0x00)).toBe(0x31);
  });

  it("Linux's mc146818_set_time sequence: SET, divider reset, write, restore B then A", () => {
    s.step(0.3e9);
    const b = s.read(0x0b);
    const a = s.read(0x0a);
    s.write(0x0b, b | 0x80);
    s.write(0x0a, a | 0x60);
    s.write(0x00, 0x00);
    s.write(0x02, 0x30);
    s.write(0x04, 0x12);
    s.write(0x07, 0x15);
    s.write(0x08, 0x06);
    s.write(0x09, 0x25);
    s.write(0x32, 0x20);
    s.write(0x0b, b);
    s.step(3e9); // divider still in reset: time stands
    expect(s.read(0x00)).toBe(0x00);
    s.write(0x0a, a);
    s.step(0.4e9);
    expect(s.rtc.timeMs()).toBe(Date.UTC(2025, 5, 15, 12, 30, 0, 900));
    s.step(0.1e9);
    expect(s.read(0x00)).toBe(0x01); // first update 500 ms after the divider restarts
  });

  it("periodic interrupt at the register A rate (1024 Hz) raises IRQ 8 until register C is read", () => {
    s.write(0x0b, 0x42); // PIE
    expect(s.rtc.nextDeadlineNs()).toBeLessThan(1e6);
    let count = 0;
    for (;;) {
      const d = s.rtc.nextDeadlineNs();
      if (d > 1e9) break;
      s.clock.set(Math.max(d, s.clock.nowNs()));
      s.rtc.advance(d);
      if (s.irq.level) {
        count++;
        expect(s.read(0x0c) & 0xc0).toBe(0xc0); // IRQF | PF
        expect(s.irq.level).toBe(false);
      }
    }
    expect(count).toBe(1024);
    // Rate 15: 2 Hz.
    s.write(0x0a, 0x2f);
    s.read(0x0c);
    count = 0;
    for (let i = 0; i < 20; i++) {
      s.step(0.1e9);
      if (s.irq.level) {
        count++;
        s.read(0x0c);
      }
    }
    expect(count).toBe(4);
  });

  it("register C is cleared by reading; flags without their enable do not interrupt", () => {
    s.step(3e9);
    expect(s.irq.level).toBe(false);
    const c = s.read(0x0c);
    expect(c & 0x80).toBe(0); // no IRQF: nothing enabled
    expect(c & 0x50).toBe(0x50); // PF and UF were set
    expect(s.read(0x0c)).toBe(0);
  });

  it("update-ended interrupt once a second; UIP in the 244 us before the update", () => {
    s.write(0x0b, 0x12); // UIE
    s.step(0.5e9);
    expect(s.irq.level).toBe(false);
    expect(s.rtc.nextDeadlineNs()).toBe(1e9);
    s.step(0.5e9);
    expect(s.irq.level).toBe(true);
    expect(s.read(0x0c)).toBe(0x90 | 0x40);
    s.clock.set(2e9 - 300_000);
    expect(s.read(0x0a) & 0x80).toBe(0);
    s.clock.set(2e9 - 200_000);
    expect(s.read(0x0a) & 0x80).toBe(0x80);
    expect(s.read(0x00)).toBe(0x59); // not yet updated
    s.clock.set(2e9);
    expect(s.read(0x0a) & 0x80).toBe(0);
    expect(s.read(0x00)).toBe(0x00);
    s.write(0x0b, 0x82); // SET clears UIE, stops UIP
    expect(s.read(0x0b)).toBe(0x82);
    s.clock.set(3e9 - 100_000);
    expect(s.read(0x0a) & 0x80).toBe(0);
  });

  it("alarm interrupt with don't-care codes", () => {
    s.write(0x01, 0x05); // seconds 05
    s.write(0x03, 0xc0); // any minute
    s.write(0x05, 0xff); // any hour
    s.write(0x0b, 0x22); // AIE
    s.step(2e9); // 00:00:00
    expect(s.irq.level).toBe(false);
    for (let i = 0; i < 5; i++) s.step(1e9);
    expect(s.irq.level).toBe(true);
    expect(s.read(0x0c) & 0xa0).toBe(0xa0);
    expect(s.read(0x00)).toBe(0x05);
  });

  it("divider reset stops time; the first update is 500 ms after release", () => {
    s.write(0x0a, 0x70); // DV = 111: reset
    s.step(10e9);
    expect(s.read(0x00)).toBe(0x58);
    s.write(0x0a, 0x26);
    s.step(0.49e9);
    expect(s.read(0x00)).toBe(0x58);
    s.step(0.02e9);
    expect(s.read(0x00)).toBe(0x59);
  });

  it("keeps NVRAM bytes and the NMI mask bit of the index port", () => {
    s.bus.write(0x70, 1, 0x8f);
    expect(s.rtc.nmiMasked).toBe(true);
    s.bus.write(0x71, 1, 0xab);
    s.bus.write(0x70, 1, 0x0f);
    expect(s.rtc.nmiMasked).toBe(false);
    expect(s.bus.read(0x71, 1)).toBe(0xab);
    s.write(0x7f, 0x12);
    expect(s.read(0x7f)).toBe(0x12);
    expect(s.rtc.nvram[0x7f]).toBe(0x12);
    s.write(0x0c, 0xff); // read-only
    s.write(0x0d, 0x00);
    expect(s.read(0x0d)).toBe(0x80);
  });

  it("can start from host time with a sub-second phase", () => {
    const t = setup(Date.UTC(2030, 0, 1, 0, 0, 0, 750));
    expect(t.read(0x00)).toBe(0x00);
    t.step(0.25e9);
    expect(t.read(0x00)).toBe(0x01);
  });
});
