import { beforeEach, describe, expect, it } from "vitest";
import { IrqLine } from "../../devices/bus/irq.js";
import { PortBus } from "../../devices/bus/port-bus.js";
import { ManualClock, ticksToNs } from "../../devices/clock.js";
import { PIT_HZ, Pit } from "../../devices/pit.js";

function setup() {
  const clock = new ManualClock();
  const bus = new PortBus();
  let edges = 0;
  let level = false;
  const irq = new IrqLine(
    {
      setIrq: (_i, l) => {
        if (l && !level) edges++;
        level = l;
      },
    },
    0,
  );
  const pit = new Pit({ clock, irq });
  pit.attach(bus);
  const out = (p: number, v: number) => bus.write(p, 1, v);
  const inb = (p: number) => bus.read(p, 1);
  /** Sets the clock to PIT tick t (from 0). */
  const at = (t: number) => clock.set(ticksToNs(t, PIT_HZ));
  return { clock, bus, pit, out, inb, at, edges: () => edges, level: () => level };
}

/** Runs the clock as a Vm would: to each deadline in turn, up to `ns`. */
function runUntil(s: ReturnType<typeof setup>, ns: number) {
  for (;;) {
    const d = s.pit.nextDeadlineNs();
    if (d > ns) break;
    s.clock.set(Math.max(d, s.clock.nowNs()));
    s.pit.advance(s.clock.nowNs());
  }
  s.clock.set(ns);
  s.pit.advance(ns);
}

const readCount = (s: ReturnType<typeof setup>, ch: number) => {
  const lo = s.inb(0x40 + ch);
  return lo | (s.inb(0x40 + ch) << 8);
};

describe("i8254 PIT", () => {
  let s: ReturnType<typeof setup>;
  beforeEach(() => {
    s = setup();
  });

  it("mode 2 as Linux programs it gives IRQ 0 at 1000 Hz", () => {
    const latch = Math.floor((PIT_HZ + 500) / 1000); // 1193
    s.out(0x43, 0x34); // channel 0, lo/hi, mode 2, binary
    s.out(0x40, latch & 0xff);
    s.out(0x40, latch >> 8);
    const before = s.edges();
    runUntil(s, 1e9);
    expect(s.edges() - before).toBe(Math.floor(PIT_HZ / latch));
    expect(s.pit.lostTicks).toBe(0);
  });

  it("mode 3 with count 0 (65536) as a BIOS programs it: 18.2 Hz", () => {
    s.out(0x43, 0x36);
    s.out(0x40, 0);
    s.out(0x40, 0);
    const before = s.edges();
    runUntil(s, 10e9);
    expect(s.edges() - before).toBe(Math.floor((10 * PIT_HZ) / 65536));
  });

  it("mode 2 counts down from N and reloads; OUT is low for one tick at count 1", () => {
    s.out(0x43, 0x34);
    s.out(0x40, 100);
    s.out(0x40, 0);
    s.at(30);
    expect(readCount(s, 0)).toBe(70);
    s.at(99);
    expect(s.pit.channelState(0)).toMatchObject({ value: 1, out: false });
    s.at(100);
    expect(s.pit.channelState(0)).toMatchObject({ value: 100, out: true });
    s.at(250);
    expect(readCount(s, 0)).toBe(50);
  });

  it("reports the next OUT0 rising edge as the deadline", () => {
    s.out(0x43, 0x34);
    s.out(0x40, 0xe8);
    s.out(0x40, 0x03); // 1000
    expect(s.pit.nextDeadlineNs()).toBe(ticksToNs(1000, PIT_HZ));
    s.at(1000);
    s.pit.advance(s.clock.nowNs());
    expect(s.pit.nextDeadlineNs()).toBe(ticksToNs(2000, PIT_HZ));
    // Several periods in one step merge into one edge and are counted as lost.
    s.at(5500);
    const e = s.edges();
    s.pit.advance(s.clock.nowNs());
    expect(s.edges()).toBe(e + 1);
    expect(s.pit.lostTicks).toBe(3);
  });

  it("the latch command freezes the value until it is read, and a second latch is ignored", () => {
    s.out(0x43, 0x34);
    s.out(0x40, 0x00);
    s.out(0x40, 0x10); // 4096
    s.at(96);
    s.out(0x43, 0x00); // latch channel 0
    s.at(1000);
    s.out(0x43, 0x00); // ignored
    expect(readCount(s, 0)).toBe(4000);
    expect(readCount(s, 0)).toBe(3096); // live again
  });

  it("read-back latches status and count; status is read first", () => {
    s.out(0x43, 0xb0); // channel 2, lo/hi, mode 0, binary
    s.out(0x43, 0xe8); // read-back channel 2 status only (count bit 5 = 1)
    expect(s.inb(0x42)).toBe(0x40 | 0x30 | 0x00); // OUT low, null count, RW=3, mode 0
    s.out(0x61, 0x01); // gate 2 high
    s.out(0x42, 10);
    s.out(0x42, 0);
    s.at(4);
    s.out(0x43, 0xc8); // read-back channel 2 count and status
    s.at(50);
    expect(s.inb(0x42)).toBe(0x30); // OUT still low, count loaded
    expect(readCount(s, 2)).toBe(6);
    s.out(0x43, 0xe8);
    expect(s.inb(0x42) & 0x80).toBe(0x80); // OUT high after terminal count
  });

  it("mode 0 one-shot raises IRQ 0 once at terminal count and keeps counting", () => {
    s.out(0x43, 0x30);
    expect(s.level()).toBe(false);
    s.out(0x40, 0x10);
    s.out(0x40, 0x00); // 16
    const e = s.edges();
    s.at(15);
    s.pit.advance(s.clock.nowNs());
    expect(s.edges()).toBe(e);
    s.at(16);
    s.pit.advance(s.clock.nowNs());
    expect(s.edges()).toBe(e + 1);
    expect(s.pit.nextDeadlineNs()).toBe(Number.POSITIVE_INFINITY);
    s.at(20);
    expect(readCount(s, 0)).toBe(0xfffc);
  });

  it("mode 0: writing the first byte of a new count stops counting", () => {
    s.out(0x43, 0x30);
    s.out(0x40, 100);
    s.out(0x40, 0);
    s.at(10);
    s.out(0x40, 50);
    s.at(40);
    expect(s.pit.channelState(0).value).toBe(90);
    s.out(0x40, 0);
    s.at(90);
    expect(s.pit.channelState(0)).toMatchObject({ value: 0, out: true });
  });

  it("channel 2 and port 0x61 as Linux's PIT calibration uses them", () => {
    // arch/x86/kernel/tsc.c pit_calibrate_tsc: gate high, speaker off, mode 0, count 11932 (10 ms)
    s.out(0x61, (s.inb(0x61) & ~0x02) | 0x01);
    s.out(0x43, 0xb0);
    s.out(0x42, 11932 & 0xff);
    s.out(0x42, 11932 >> 8);
    s.at(11931);
    expect(s.inb(0x61) & 0x20).toBe(0);
    s.at(11932);
    expect(s.inb(0x61) & 0x20).toBe(0x20);
    expect(s.inb(0x61) & 0x03).toBe(0x01);
  });

  it("gate low pauses mode 0 and stops mode 2 with OUT high", () => {
    s.out(0x43, 0xb0);
    s.out(0x42, 100);
    s.out(0x42, 0); // gate 2 is low: loaded but paused
    s.at(50);
    expect(s.pit.channelState(2).value).toBe(100);
    s.out(0x61, 0x01);
    s.at(80);
    expect(s.pit.channelState(2).value).toBe(70);
    s.out(0x61, 0x00);
    s.at(500);
    expect(s.pit.channelState(2)).toMatchObject({ value: 70, out: false });
    // Mode 2: gate low forces OUT high and stops; the rising gate reloads.
    s.out(0x43, 0xb4);
    s.out(0x42, 10);
    s.out(0x42, 0);
    s.out(0x61, 0x01);
    s.at(509);
    expect(s.pit.channelState(2).out).toBe(false);
    s.out(0x61, 0x00);
    expect(s.pit.channelState(2).out).toBe(true);
    s.at(600);
    s.out(0x61, 0x01);
    s.at(603);
    expect(s.pit.channelState(2).value).toBe(7);
  });

  it("mode 1 and mode 5 start on the rising gate", () => {
    s.out(0x43, 0xb2); // channel 2, mode 1
    s.out(0x42, 20);
    s.out(0x42, 0);
    s.at(10);
    expect(s.pit.channelState(2).out).toBe(true); // not triggered yet
    s.out(0x61, 0x01);
    s.at(15);
    expect(s.pit.channelState(2)).toMatchObject({ out: false, value: 15 });
    s.at(30);
    expect(s.pit.channelState(2).out).toBe(true);
    // Retrigger: OUT low again for N.
    s.out(0x61, 0x00);
    s.out(0x61, 0x01);
    s.at(31);
    expect(s.pit.channelState(2)).toMatchObject({ out: false, value: 19 });
    s.out(0x43, 0xba); // mode 5
    s.out(0x42, 5);
    s.out(0x42, 0);
    s.out(0x61, 0x00);
    s.at(40);
    s.out(0x61, 0x01);
    s.at(44);
    expect(s.pit.channelState(2).out).toBe(true);
    s.at(45);
    expect(s.pit.channelState(2).out).toBe(false); // strobe at terminal count
    s.at(46);
    expect(s.pit.channelState(2).out).toBe(true);
  });

  it("mode 4 strobes once after N ticks", () => {
    s.out(0x43, 0x38);
    s.out(0x40, 8);
    s.out(0x40, 0);
    const e = s.edges();
    s.at(8);
    expect(s.pit.channelState(0).out).toBe(false);
    s.at(9);
    s.pit.advance(s.clock.nowNs());
    expect(s.pit.channelState(0).out).toBe(true);
    expect(s.edges()).toBe(e + 1);
  });

  it("mode 3 with an odd count: high (N+1)/2, low (N-1)/2, counting by two", () => {
    s.out(0x43, 0x16); // channel 0, LSB only, mode 3
    s.out(0x40, 5);
    const outs = [];
    const values = [];
    for (let t = 0; t < 10; t++) {
      s.at(t);
      outs.push(s.pit.channelState(0).out ? 1 : 0);
      values.push(s.pit.channelState(0).value);
    }
    expect(outs).toEqual([1, 1, 1, 0, 0, 1, 1, 1, 0, 0]);
    expect(values).toEqual([5, 4, 2, 5, 2, 5, 4, 2, 5, 2]);
    // Even count: N=6 gives 3 high, 3 low.
    const base = 10;
    s.at(base);
    s.out(0x43, 0x16);
    s.out(0x40, 6);
    const even = [];
    for (let t = 0; t < 6; t++) {
      s.at(base + t);
      even.push(s.pit.channelState(0).out ? 1 : 0);
    }
    expect(even).toEqual([1, 1, 1, 0, 0, 0]);
    // LSB-only reads give one byte per read.
    s.at(base + 7);
    expect(s.inb(0x40)).toBe(4);
  });

  it("BCD counting: a count of 0x1000 is 1000 ticks and reads back in BCD", () => {
    s.out(0x43, 0x35); // mode 2, BCD
    s.out(0x40, 0x00);
    s.out(0x40, 0x10);
    s.at(1);
    expect(readCount(s, 0)).toBe(0x0999);
    s.at(1000 + 123);
    expect(readCount(s, 0)).toBe(0x0877);
    s.out(0x43, 0x31); // mode 0, BCD: wraps to 9999
    s.out(0x40, 0x05);
    s.out(0x40, 0x00);
    s.at(1000 + 123 + 7);
    expect(readCount(s, 0)).toBe(0x9998);
  });

  it("MSB-only access and a new mode 2 count taking effect at the end of the period", () => {
    s.out(0x43, 0x24); // MSB only, mode 2
    s.out(0x40, 0x01); // 256
    s.at(56);
    expect(s.inb(0x40)).toBe(0); // 200 >> 8
    s.out(0x40, 0x02); // 512, from tick 256
    s.at(255);
    expect(s.pit.channelState(0).value).toBe(1);
    expect(s.pit.nextDeadlineNs()).toBe(ticksToNs(256, PIT_HZ));
    s.at(256 + 12);
    expect(s.pit.channelState(0).value).toBe(500);
    expect(s.pit.nextDeadlineNs()).toBe(ticksToNs(768, PIT_HZ));
  });

  it("port 0x61 bit 4 toggles with the refresh cycle; the speaker follows bits 0-1", () => {
    const seen = new Set<number>();
    for (let t = 0; t < 100; t += 7) {
      s.at(t);
      seen.add(s.inb(0x61) & 0x10);
    }
    expect([...seen].sort()).toEqual([0, 0x10]);
    s.out(0x43, 0xb6);
    s.out(0x42, 0xa9);
    s.out(0x42, 0x04); // 1193: ~1 kHz beep
    s.out(0x61, 0x03);
    expect(s.pit.speaker.on).toBe(true);
    expect(Math.round(s.pit.speaker.frequencyHz)).toBe(1000);
    s.out(0x61, 0x01);
    expect(s.pit.speaker.on).toBe(false);
  });

  it("the control port reads as 0xFF", () => {
    expect(s.inb(0x43)).toBe(0xff);
  });
});
