import { describe, expect, it } from "vitest";
import { PortBus } from "../../devices/bus/port-bus.js";
import { DebugConsole, DebugExit, PostPort, SystemControlPortA } from "../../devices/misc-ports.js";

describe("port 0x92", () => {
  it("drives A20 with bit 1 and resets on a rising bit 0", () => {
    const bus = new PortBus();
    const a20: boolean[] = [];
    let resets = 0;
    const p = new SystemControlPortA({ onA20: (e) => a20.push(e), onReset: () => resets++ });
    p.attach(bus);
    expect(bus.read(0x92, 1)).toBe(0x00);
    bus.write(0x92, 1, 0x02);
    bus.write(0x92, 1, 0x00);
    bus.write(0x92, 1, 0x02);
    expect(a20).toEqual([true, false, true]);
    bus.write(0x92, 1, 0x03);
    expect(resets).toBe(1);
    expect(bus.read(0x92, 1)).toBe(0x02);
  });
});

describe("POST and debug ports", () => {
  it("records the last POST code", () => {
    const bus = new PortBus();
    const codes: number[] = [];
    const post = new PostPort((c) => codes.push(c));
    post.attach(bus);
    expect(bus.read(0x80, 1)).toBe(0xff);
    bus.write(0x80, 1, 0x12);
    bus.write(0x80, 1, 0x34);
    expect(post.last).toBe(0x34);
    expect(codes).toEqual([0x12, 0x34]);
  });

  it("sends bytes from 0xE9 and 0x402 to their sinks and reads back 0xE9", () => {
    const bus = new PortBus();
    let text = "";
    new DebugConsole(0xe9, (b) => {
      text += String.fromCharCode(b);
    }).attach(bus);
    new DebugConsole(0x402, (b) => {
      text += String.fromCharCode(b).toUpperCase();
    }).attach(bus);
    for (const c of "ok") bus.write(0xe9, 1, c.charCodeAt(0));
    bus.write(0x402, 1, 0x78);
    expect(text).toBe("okX");
    expect(bus.read(0xe9, 1)).toBe(0xe9);
    expect(bus.read(0x402, 1)).toBe(0xe9);
  });

  it("isa-debug-exit requests exit status (v << 1) | 1 at any width", () => {
    const bus = new PortBus();
    const statuses: number[] = [];
    const exit = new DebugExit((st) => statuses.push(st));
    exit.attach(bus);
    bus.write(0xf4, 4, 0x10);
    bus.write(0xf4, 1, 0);
    bus.write(0xf4, 2, 0x1234);
    expect(statuses).toEqual([0x21, 0x01, 0x2469]);
    expect(exit.requested).toBe(0x2469);
    expect(bus.read(0xf4, 4)).toBe(0);
  });
});
