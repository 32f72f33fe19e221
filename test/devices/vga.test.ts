import { describe, expect, it } from "vitest";
import { MmioBus } from "../../devices/bus/mmio-bus.js";
import { PortBus } from "../../devices/bus/port-bus.js";
import { CP437, decodeCp437 } from "../../devices/vga/cp437.js";
import { toAnsi } from "../../devices/vga/render.js";
import { Vga } from "../../devices/vga/vga.js";

function setup() {
  const vga = new Vga();
  const ports = new PortBus();
  const mmio = new MmioBus();
  vga.attach(ports, mmio);
  const puts = (row: number, col: number, s: string, attr = 0x07, base = 0xb8000) => {
    for (let i = 0; i < s.length; i++) mmio.write(base + (row * 80 + col + i) * 2, 2, s.charCodeAt(i) | (attr << 8));
  };
  const crtc = (index: number, value: number) => ports.write(0x3d4, 2, index | (value << 8));
  return { vga, ports, mmio, puts, crtc };
}

describe("VGA text mode", () => {
  it("starts in 80x25 colour text with a blank screen", () => {
    const { vga } = setup();
    const s = vga.textScreen();
    expect(s.cols).toBe(80);
    expect(s.rows).toBe(25);
    expect(s.graphics).toBe(false);
    expect(s.enabled).toBe(true);
    expect(s.lines).toHaveLength(25);
    expect(s.lines[0]).toBe(" ".repeat(80));
  });

  it("shows text written at 0xB8000 with its attributes and reads it back", () => {
    const { vga, mmio, puts } = setup();
    puts(0, 0, "Hello", 0x1f);
    puts(24, 75, "end", 0x4e);
    const s = vga.textScreen();
    expect(s.lines[0]!.startsWith("Hello ")).toBe(true);
    expect(s.lines[24]!.endsWith("end  ")).toBe(true);
    expect(s.attrs[0]).toBe(0x1f);
    expect(s.chars[24 * 80 + 75]).toBe(0x65);
    expect(s.attrs[24 * 80 + 75]).toBe(0x4e);
    expect(mmio.read(0xb8000, 4)).toBe(0x1f651f48); // 'H' 0x1f 'e' 0x1f
    expect(mmio.read(0xb8001, 1)).toBe(0x1f);
    expect(vga.text().split("\n")[0]).toBe("Hello");
  });

  it("follows the CRTC start address", () => {
    const { vga, puts, crtc } = setup();
    puts(1, 0, "second line");
    crtc(0x0c, 0);
    crtc(0x0d, 80);
    expect(vga.textScreen().lines[0]!.trimEnd()).toBe("second line");
  });

  it("places the cursor from CRTC 0x0E/0x0F and hides it with CR0A bit 5", () => {
    const { vga, ports, crtc } = setup();
    const loc = 3 * 80 + 17;
    crtc(0x0e, loc >> 8);
    crtc(0x0f, loc & 0xff);
    let c = vga.textScreen().cursor;
    expect(c).toMatchObject({ row: 3, col: 17, visible: true, start: 0x0d, end: 0x0e });
    ports.write(0x3d4, 1, 0x0a);
    ports.write(0x3d5, 1, 0x20);
    c = vga.textScreen().cursor;
    expect(c.visible).toBe(false);
    ports.write(0x3d4, 1, 0x0a);
    expect(ports.read(0x3d5, 1)).toBe(0x20);
  });

  it("the attribute controller flip-flop alternates index and data and 0x3DA resets it", () => {
    const { vga, ports } = setup();
    ports.read(0x3da, 1);
    ports.write(0x3c0, 1, 0x10); // index 0x10, PAS clear: screen blanked
    expect(vga.textScreen().enabled).toBe(false);
    ports.write(0x3c0, 1, 0x08); // data: blink enable
    expect(vga.attr[0x10]).toBe(0x08);
    ports.write(0x3c0, 1, 0x21); // index 1 with PAS
    ports.read(0x3da, 1); // back to index state
    ports.write(0x3c0, 1, 0x22); // index 2 with PAS (not data for index 1)
    ports.write(0x3c0, 1, 0x15); // data for palette register 2
    expect(vga.attr[1]).toBe(0x01);
    expect(vga.attr[2]).toBe(0x15);
    expect(ports.read(0x3c0, 1)).toBe(0x22);
    expect(ports.read(0x3c1, 1)).toBe(0x15);
    const s = vga.textScreen();
    expect(s.enabled).toBe(true);
    expect(s.blink).toBe(true);
  });

  it("misc output bit 0 moves the CRTC and status ports between 0x3Dx and 0x3Bx", () => {
    const { vga, ports } = setup();
    expect(ports.read(0x3cc, 1)).toBe(0x67);
    ports.write(0x3d4, 1, 0x0f);
    expect(ports.read(0x3d4, 1)).toBe(0x0f);
    expect(ports.read(0x3b4, 1)).toBe(0xff);
    expect(ports.read(0x3ba, 1)).toBe(0xff);
    ports.write(0x3c2, 1, 0x66); // mono
    expect(vga.colorPorts).toBe(false);
    ports.write(0x3b4, 1, 0x0f);
    ports.write(0x3b5, 1, 0x42);
    ports.write(0x3d5, 1, 0x99); // ignored now
    expect(vga.crtc[0x0f]).toBe(0x42);
    expect(ports.read(0x3d5, 1)).toBe(0xff);
    expect(ports.read(0x3b5, 1)).toBe(0x42);
    expect(ports.read(0x3ba, 1)).not.toBe(0xff);
  });

  it("input status 1 toggles vertical retrace so polling loops end", () => {
    const { ports } = setup();
    const wait = (set: boolean) => {
      for (let i = 0; i < 100; i++) if (((ports.read(0x3da, 1) & 0x08) !== 0) === set) return i;
      return -1;
    };
    for (let frame = 0; frame < 3; frame++) {
      expect(wait(false)).toBeGreaterThanOrEqual(0);
      expect(wait(true)).toBeGreaterThanOrEqual(0);
    }
    const seen = new Set<number>();
    for (let i = 0; i < 40; i++) seen.add(ports.read(0x3da, 1) & 0x01);
    expect([...seen].sort()).toEqual([0, 1]);
  });

  it("decodes CP437 box drawing and symbols", () => {
    const { vga, mmio } = setup();
    const bytes = [0xc9, 0xcd, 0xbb, 0xb3, 0xc4, 0xda, 0xbf, 0xdb, 0x01, 0x03, 0xfb, 0xe1];
    for (const [i, b] of bytes.entries()) mmio.write(0xb8000 + i * 2, 1, b);
    expect(vga.textScreen().lines[0]!.slice(0, bytes.length)).toBe("╔═╗│─┌┐█☺♥√ß");
    expect(CP437).toHaveLength(256);
    expect(decodeCp437([0x41, 0x7f, 0x80, 0xb0])).toBe("A⌂Ç░");
  });

  it("mono text at 0xB0000 when the memory map selects it", () => {
    const { vga, ports, mmio, puts } = setup();
    ports.write(0x3ce, 2, 0x06 | (0x0a << 8)); // GR06: B0000 32K, odd/even
    puts(0, 0, "mono", 0x07, 0xb0000);
    expect(vga.textScreen().lines[0]!.startsWith("mono")).toBe(true);
    expect(mmio.read(0xb8000, 1)).toBe(0xff); // outside the window
  });

  it("counts changes so a UI redraws only when needed", () => {
    const { vga, puts, ports } = setup();
    const v0 = vga.changed;
    vga.textScreen();
    expect(vga.changed).toBe(v0);
    puts(0, 0, "x");
    const v1 = vga.changed;
    expect(v1).toBeGreaterThan(v0);
    ports.read(0x3da, 1);
    expect(vga.changed).toBe(v1);
    expect(vga.textScreen().version).toBe(v1);
  });

  it("keeps CR00-CR07 write-protected while CR11 bit 7 is set", () => {
    const { vga, crtc } = setup();
    crtc(0x01, 0x27);
    expect(vga.crtc[1]).toBe(0x4f);
    crtc(0x11, 0x0e);
    crtc(0x01, 0x27);
    expect(vga.crtc[1]).toBe(0x27);
    expect(vga.textScreen().cols).toBe(40);
  });

  it("stores the DAC palette and reads it back", () => {
    const { vga, ports } = setup();
    expect(vga.textColors().slice(0, 8)).toEqual([
      "#000000",
      "#0000aa",
      "#00aa00",
      "#00aaaa",
      "#aa0000",
      "#aa00aa",
      "#aa5500",
      "#aaaaaa",
    ]);
    expect(vga.textColors()[15]).toBe("#ffffff");
    ports.write(0x3c8, 1, 7);
    for (const v of [0x3f, 0x20, 0x01]) ports.write(0x3c9, 1, v);
    ports.write(0x3c7, 1, 7);
    expect(ports.read(0x3c7, 1)).toBe(3);
    expect([ports.read(0x3c9, 1), ports.read(0x3c9, 1), ports.read(0x3c9, 1)]).toEqual([0x3f, 0x20, 0x01]);
    expect(ports.read(0x3c8, 1)).toBe(8);
    expect(vga.textColors()[7]).toBe("#ff8204");
  });

  it("loads a font into plane 2 as the BIOS does without touching the text", () => {
    const { vga, ports, mmio, puts } = setup();
    puts(0, 0, "text");
    // get_font_access: sequential planar access to plane 2 at 0xA0000
    ports.write(0x3c4, 2, 0x0100);
    ports.write(0x3c4, 2, 0x0402);
    ports.write(0x3c4, 2, 0x0704);
    ports.write(0x3c4, 2, 0x0300);
    ports.write(0x3ce, 2, 0x0204);
    ports.write(0x3ce, 2, 0x0005);
    ports.write(0x3ce, 2, 0x0406);
    for (let i = 0; i < 16; i++) mmio.write(0xa0000 + 0x41 * 32 + i, 1, 0x80 | i);
    expect(mmio.read(0xa0000 + 0x41 * 32 + 3, 1)).toBe(0x83);
    // release_font_access: back to odd/even text at 0xB8000
    ports.write(0x3c4, 2, 0x0100);
    ports.write(0x3c4, 2, 0x0302);
    ports.write(0x3c4, 2, 0x0304);
    ports.write(0x3c4, 2, 0x0300);
    ports.write(0x3ce, 2, 0x0004);
    ports.write(0x3ce, 2, 0x1005);
    ports.write(0x3ce, 2, 0x0e06);
    expect(vga.textScreen().lines[0]!.startsWith("text")).toBe(true);
    expect(vga.vram[(0x41 * 32 + 3) * 4 + 2]).toBe(0x83);
  });

  it("planar write modes use set/reset, the bit mask and the latches", () => {
    const { vga, ports, mmio } = setup();
    // mode 12h-like access: planar, A0000 64K
    ports.write(0x3c4, 2, 0x0604);
    ports.write(0x3c4, 2, 0x0f02);
    ports.write(0x3ce, 2, 0x0005);
    ports.write(0x3ce, 2, 0x0506);
    // write mode 0 with set/reset enabled on planes 0 and 2 (colour 5)
    ports.write(0x3ce, 2, 0x0500);
    ports.write(0x3ce, 2, 0x0f01);
    ports.write(0x3ce, 2, 0xf008); // bit mask: left nibble
    mmio.write(0xa0000, 1, 0x00);
    expect(Array.from(vga.vram.slice(0, 4))).toEqual([0xf0, 0x00, 0xf0, 0x00]);
    // read mode 0 returns the plane chosen by read map select
    ports.write(0x3ce, 2, 0x0204);
    expect(mmio.read(0xa0000, 1)).toBe(0xf0);
    // write mode 1 copies the latches
    ports.write(0x3ce, 2, 0x0105);
    mmio.write(0xa0001, 1, 0);
    expect(Array.from(vga.vram.slice(4, 8))).toEqual([0xf0, 0x00, 0xf0, 0x00]);
    // read mode 1: colour compare with 5 on all planes
    ports.write(0x3ce, 2, 0x0805);
    ports.write(0x3ce, 2, 0x0502);
    ports.write(0x3ce, 2, 0x0f07);
    expect(mmio.read(0xa0000, 1)).toBe(0xf0);
  });

  it("reset returns to mode 3 and clears memory", () => {
    const { vga, puts, ports } = setup();
    puts(0, 0, "junk");
    ports.write(0x3c2, 1, 0x66);
    vga.reset();
    expect(vga.colorPorts).toBe(true);
    expect(vga.textScreen().lines[0]).toBe(" ".repeat(80));
  });
});

describe("ANSI rendering", () => {
  it("maps VGA attributes to SGR colours and marks the cursor", () => {
    const { vga, puts, crtc } = setup();
    puts(0, 0, "Hi", 0x1e); // yellow on blue
    crtc(0x0e, 0);
    crtc(0x0f, 1);
    const ansi = toAnsi(vga.textScreen());
    const first = ansi.split("\r\n")[0]!;
    expect(first.startsWith("\x1b[0;93;44mH\x1b[0;93;44;7mi\x1b[0;30;40m ")).toBe(true);
    expect(ansi.split("\r\n")).toHaveLength(25);
  });
});
