import { describe, expect, it } from "vitest";
import { ManualClock } from "../../devices/clock.js";
import { PcDevices } from "../../devices/pc.js";

function setup() {
  const clock = new ManualClock();
  const log: string[] = [];
  let intr = false;
  let serial = "";
  const pc = new PcDevices({
    clock,
    onIntr: (l) => {
      intr = l;
    },
    onSerial: (com, b) => {
      if (com === 1) serial += String.fromCharCode(b);
    },
    onA20: (e) => log.push(`a20 ${e}`),
    onReset: (src) => log.push(`reset ${src}`),
    onDebugExit: (st) => log.push(`exit ${st}`),
    onDebugConsole: (port, b) => log.push(`dbg ${port.toString(16)} ${String.fromCharCode(b)}`),
  });
  return { clock, pc, log, intr: () => intr, serial: () => serial };
}

describe("PC legacy devices together", () => {
  it("delivers the PIT's IRQ 0 through the PIC as a vector, on the Vm's schedule", () => {
    const s = setup();
    const out = (p: number, v: number) => s.pc.ioWrite(p, 1, v);
    // Linux-style PIC init (vectors 0x30/0x38), then a 100 Hz PIT.
    for (const [p, v] of [
      [0x20, 0x11],
      [0x21, 0x30],
      [0x21, 0x04],
      [0x21, 0x01],
      [0xa0, 0x11],
      [0xa1, 0x38],
      [0xa1, 0x02],
      [0xa1, 0x01],
      [0x21, 0xfe],
      [0xa1, 0xff],
      [0x43, 0x34],
      [0x40, 11931 & 0xff],
      [0x40, 11931 >> 8],
    ] as const) {
      out(p, v);
    }
    let ticks = 0;
    while (s.clock.nowNs() < 1e9) {
      const next = Math.min(s.pc.nextDeadlineNs(), 1e9);
      s.clock.set(Math.max(next, s.clock.nowNs()));
      s.pc.advance(s.clock.nowNs());
      if (s.intr()) {
        expect(s.pc.ackInterrupt()).toBe(0x30);
        out(0x20, 0x20);
        ticks++;
      }
    }
    expect(ticks).toBe(100);
  });

  it("routes serial, debug console, debug exit, reset and A20 to the Vm", () => {
    const s = setup();
    for (const c of "Linux") s.pc.ioWrite(0x3f8, 1, c.charCodeAt(0));
    expect(s.serial()).toBe("Linux");
    s.pc.ioWrite(0x402, 1, 0x53);
    s.pc.ioWrite(0xe9, 1, 0x45);
    expect(s.pc.a20Enabled).toBe(true); // the i8042 output port starts with A20 on
    s.pc.ioWrite(0x92, 1, 0x02); // OR with port 0x92: no change
    s.pc.ioWrite(0x64, 1, 0xdd); // i8042 off, port 0x92 still on
    s.pc.ioWrite(0x92, 1, 0x00); // now off
    s.pc.ioWrite(0x64, 1, 0xdf);
    s.pc.ioWrite(0x64, 1, 0xfe);
    s.pc.ioWrite(0x92, 1, 0x01);
    s.pc.ioWrite(0xf4, 4, 0);
    expect(s.log).toEqual([
      "dbg 402 S",
      "dbg e9 E",
      "a20 false",
      "a20 true",
      "reset i8042",
      "reset port 0x92",
      "exit 1",
    ]);
  });

  it("no two devices claim a port; unclaimed ports float high", () => {
    const s = setup();
    const host = { ...s.pc.cpuHost() }; // survives the spread Cpu.create does
    expect(host.ioRead(0x21, 1)).toBe(0x00);
    host.fpuError();
    expect(s.pc.pic.debugState()[1]!.irr).toBe(0x20); // IRQ 13
    host.ioWrite(0xf0, 1, 0);
    expect(s.pc.pic.debugState()[1]!.irr).toBe(0x20); // edge latched stays until INTA
    expect(s.pc.ports.ownerOf(0x61)).toBe("port B (0x61)");
    expect(s.pc.ports.ownerOf(0x3fd)).toBe("COM1 (16550A)");
    expect(s.pc.ioRead(0x3e8, 1)).toBe(0xff);
    expect(s.pc.mmioRead(0xfebf0000, 4)).toBe(0xffffffff);
  });

  it("a system reset keeps the RTC time and NVRAM", () => {
    const s = setup();
    s.pc.ioWrite(0x70, 1, 0x40);
    s.pc.ioWrite(0x71, 1, 0x99);
    s.clock.advance(5e9);
    const t = s.pc.rtc.timeMs();
    s.pc.reset();
    expect(s.pc.rtc.timeMs()).toBe(t);
    s.pc.ioWrite(0x70, 1, 0x40);
    expect(s.pc.ioRead(0x71, 1)).toBe(0x99);
  });
});
