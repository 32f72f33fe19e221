import { describe, expect, it } from "vitest";
import { IrqLine, SharedIrq } from "../../devices/bus/irq.js";
import { MmioBus } from "../../devices/bus/mmio-bus.js";
import { PortBus } from "../../devices/bus/port-bus.js";
import { ManualClock, nsToTicks, ticksToNs } from "../../devices/clock.js";

describe("port bus", () => {
  it("reads unclaimed ports as all ones and ignores writes", () => {
    const bus = new PortBus();
    const seen: string[] = [];
    bus.onUnclaimed = (kind, port, size) => seen.push(`${kind} ${port.toString(16)}/${size}`);
    expect(bus.read(0x1234, 1)).toBe(0xff);
    expect(bus.read(0x1234, 2)).toBe(0xffff);
    expect(bus.read(0x1234, 4)).toBe(0xffffffff);
    bus.write(0x1234, 4, 0xdeadbeef);
    expect(seen).toEqual(["read 1234/1", "read 1234/2", "read 1234/4", "write 1234/4"]);
  });

  it("refuses overlapping ranges, naming both owners", () => {
    const bus = new PortBus();
    bus.register({ owner: "pic", start: 0x20, length: 2 });
    expect(() => bus.register({ owner: "thing", start: 0x18, length: 9 })).toThrow(
      'port range 0x0018-0x0020 for "thing" overlaps 0x0020-0x0021 owned by "pic"',
    );
    expect(() => bus.register({ owner: "late", start: 0x21, length: 1 })).toThrow(/owned by "pic"/);
    expect(() => bus.register({ owner: "big", start: 0xffff, length: 2 })).toThrow(/outside/);
    bus.register({ owner: "next", start: 0x22, length: 1 });
    expect(bus.ownerOf(0x22)).toBe("next");
    expect(bus.ownerOf(0x23)).toBeUndefined();
  });

  it("splits wide accesses for byte-only devices, little-endian", () => {
    const bus = new PortBus();
    const mem = new Uint8Array(4);
    const log: string[] = [];
    bus.register({
      owner: "bytes",
      start: 0x100,
      length: 4,
      read: (p, s) => {
        log.push(`r${p.toString(16)}/${s}`);
        return mem[p - 0x100]!;
      },
      write: (p, s, v) => {
        log.push(`w${p.toString(16)}/${s}`);
        mem[p - 0x100] = v;
      },
    });
    bus.write(0x100, 4, 0x44332211);
    expect([...mem]).toEqual([0x11, 0x22, 0x33, 0x44]);
    expect(bus.read(0x100, 4)).toBe(0x44332211);
    expect(bus.read(0x102, 2)).toBe(0x4433);
    expect(log.every((l) => l.endsWith("/1"))).toBe(true);
    // An access running off the end: the unclaimed part reads as ones.
    expect(bus.read(0x103, 2)).toBe(0xff44);
  });

  it("passes whole accesses to devices that take them, and handles removal", () => {
    const bus = new PortBus();
    const log: string[] = [];
    const h = bus.register({
      owner: "wide",
      start: 0xcf8,
      length: 4,
      sizes: 1 | 4,
      read: (_p, s) => (s === 4 ? 0x80000000 : 0x12),
      write: (p, s, v) => log.push(`${p.toString(16)}/${s}=${v.toString(16)}`),
    });
    expect(bus.read(0xcf8, 4)).toBe(0x80000000);
    expect(bus.read(0xcf8, 2)).toBe(0x1212); // size 2 not taken: split in bytes
    bus.write(0xcf8, 4, 0x8000f000);
    expect(log).toEqual(["cf8/4=8000f000"]);
    h.remove();
    expect(bus.read(0xcf8, 4)).toBe(0xffffffff);
    bus.register({ owner: "again", start: 0xcf8, length: 4 });
  });

  it("a device with no handlers reads ones and ignores writes", () => {
    const bus = new PortBus();
    bus.register({ owner: "mute", start: 0x300, length: 1 });
    expect(bus.read(0x300, 1)).toBe(0xff);
    bus.write(0x300, 1, 0);
  });
});

describe("MMIO bus", () => {
  it("routes accesses, reads open bus elsewhere and refuses overlaps", () => {
    const bus = new MmioBus();
    const regs = new Uint32Array(8);
    bus.register({
      owner: "ioapic",
      base: 0xfec00000,
      length: 0x20,
      sizes: 4,
      read: (a) => regs[(a - 0xfec00000) >> 2]!,
      write: (a, _s, v) => {
        regs[(a - 0xfec00000) >> 2] = v;
      },
    });
    bus.write(0xfec00010, 4, 0xcafebabe);
    expect(bus.read(0xfec00010, 4)).toBe(0xcafebabe);
    expect(bus.read(0xfed00000, 4)).toBe(0xffffffff);
    expect(bus.read(0xfed00000, 1)).toBe(0xff);
    expect(() => bus.register({ owner: "hpet", base: 0xfec0001c, length: 0x400 })).toThrow(
      'MMIO range 0xfec0001c-0xfec0041b for "hpet" overlaps 0xfec00000-0xfec0001f owned by "ioapic"',
    );
    expect(bus.find(0xfec0001f)?.owner).toBe("ioapic");
    expect(bus.find(0xfec00020)).toBeUndefined();
  });

  it("splits accesses the device does not take whole", () => {
    const bus = new MmioBus();
    const bytes = new Uint8Array(8);
    bus.register({
      owner: "bytes",
      base: 0xb8000,
      length: 8,
      sizes: 1,
      read: (a) => bytes[a - 0xb8000]!,
      write: (a, _s, v) => {
        bytes[a - 0xb8000] = v;
      },
    });
    bus.write(0xb8002, 4, 0x0741_0748);
    expect([...bytes.slice(2, 6)]).toEqual([0x48, 0x07, 0x41, 0x07]);
    expect(bus.read(0xb8002, 2)).toBe(0x0748);
    expect(bus.read(0xb8006, 4)).toBe((0xffff0000 | (bytes[7]! << 8) | bytes[6]!) >>> 0);
  });
});

describe("IRQ lines", () => {
  it("tells the sink only about level changes, and pulse makes an edge", () => {
    const events: string[] = [];
    const line = new IrqLine({ setIrq: (irq, l) => events.push(`${irq}:${l ? 1 : 0}`) }, 5);
    line.raise();
    line.raise();
    line.lower();
    line.pulse();
    expect(events).toEqual(["5:1", "5:0", "5:1", "5:0"]);
  });

  it("a shared line is the OR of its drivers", () => {
    const events: boolean[] = [];
    const shared = new SharedIrq({ setIrq: (_i, l) => events.push(l) }, 11);
    const a = shared.line();
    const b = shared.line();
    a.raise();
    b.raise();
    a.lower();
    b.lower();
    expect(events).toEqual([true, false]);
  });
});

describe("clock helpers", () => {
  it("converts between ns and ticks without drift over long times", () => {
    const hz = 1_193_182;
    expect(nsToTicks(1e9, hz)).toBe(hz);
    expect(nsToTicks(86_400e9 + 1e9, hz)).toBe(86_401 * hz);
    for (const t of [0, 1, 17, hz - 1, hz, 123_456_789_012]) {
      const ns = ticksToNs(t, hz);
      expect(nsToTicks(ns, hz)).toBe(t);
      if (ns > 0) expect(nsToTicks(ns - 1, hz)).toBe(t - 1);
    }
    const c = new ManualClock();
    c.advance(10);
    expect(() => c.set(5)).toThrow();
  });
});

describe("access counts per owner", () => {
  it("counts the accesses each device's ranges take, across removal, on both buses", () => {
    const ports = new PortBus();
    const h = ports.register({ owner: "dev A", start: 0x100, length: 4, sizes: 1 | 2, read: () => 0 });
    ports.register({ owner: "dev B", start: 0x200, length: 1 });
    ports.read(0x100, 2);
    ports.read(0x100, 4); // split into two word accesses
    ports.write(0x200, 1, 0);
    ports.read(0x300, 1); // unclaimed: nobody's
    h.remove();
    ports.register({ owner: "dev A", start: 0x180, length: 4, read: () => 0 });
    ports.read(0x180, 1);
    expect(ports.accessCounts()).toEqual(
      new Map([
        ["dev A", 4],
        ["dev B", 1],
      ]),
    );
    const mmio = new MmioBus();
    const m = mmio.register({ owner: "bar", base: 0xfe000000, length: 0x1000, read: () => 1 });
    mmio.read(0xfe000010, 4);
    mmio.write(0xfe000010, 4, 0);
    m.remove();
    m.remove();
    expect(mmio.accessCounts()).toEqual(new Map([["bar", 2]]));
  });
});
