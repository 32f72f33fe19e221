// The monitor's screendump picture (devices/vga/image.ts): after Debian's SeaBIOS and its VGA
// BIOS drew their banner (the VGA BIOS loads its font into plane 2 at the mode set), the text
// screen is rendered, written as PPM and PNG, and read back: both files parse, hold the same
// pixels, and each glyph cell, matched against the font in plane 2, gives back the characters
// and colours on the screen (no golden picture).

import { inflateSync, crc32 as zlibCrc32 } from "node:zlib";
import { describe, expect, it } from "vitest";
import { crc32 } from "../../devices/crc32.js";
import { encodePng, encodePpm, fontMissing, glyphLayout, glyphRow, renderTextImage } from "../../devices/vga/image.js";
import type { Vga } from "../../devices/vga/vga.js";
import { bootSeabiosNoDisk } from "../boot/seabios-boot.js";

function parsePpm(bytes: Uint8Array) {
  const head = /^P6\n(\d+) (\d+)\n255\n/.exec(new TextDecoder("latin1").decode(bytes.subarray(0, 32)));
  if (!head) throw new Error("not a P6 file");
  const width = Number(head[1]);
  const height = Number(head[2]);
  const rgb = bytes.subarray(head[0].length);
  expect(rgb.length).toBe(width * height * 3);
  return { width, height, rgb };
}

function parsePng(bytes: Uint8Array) {
  expect([...bytes.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 8;
  let width = 0;
  let height = 0;
  const idat: Uint8Array[] = [];
  const types: string[] = [];
  while (at < bytes.length) {
    const len = dv.getUint32(at);
    const type = new TextDecoder().decode(bytes.subarray(at + 4, at + 8));
    types.push(type);
    // Each chunk's CRC as zlib computes it.
    expect(dv.getUint32(at + 8 + len)).toBe(zlibCrc32(bytes.subarray(at + 4, at + 8 + len)));
    if (type === "IHDR") {
      width = dv.getUint32(at + 8);
      height = dv.getUint32(at + 12);
      expect([...bytes.subarray(at + 16, at + 21)]).toEqual([8, 2, 0, 0, 0]);
    }
    if (type === "IDAT") idat.push(bytes.subarray(at + 8, at + 8 + len));
    at += 12 + len;
  }
  expect(types).toEqual(["IHDR", "IDAT", "IEND"]);
  const raw = inflateSync(Buffer.concat(idat));
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    expect(raw[y * (1 + width * 3)]).toBe(0); // filter: none
    rgb.set(raw.subarray(y * (1 + width * 3) + 1, (y + 1) * (1 + width * 3)), y * width * 3);
  }
  return { width, height, rgb };
}

/**
 * Reads the picture back cell by cell: the cell's pixels must be two colours at most, and the
 * foreground pattern must be a glyph of the font in plane 2. Returns the text per row and the
 * (foreground, background) colours of each cell.
 */
function readCells(vga: Vga, img: { width: number; rgb: Uint8Array }, rows: number, cols: number) {
  const g = glyphLayout(vga);
  const glyphs = new Map<string, number>();
  // Space first, so that blank cells read as spaces (0x00 and 0xFF have blank glyphs too).
  for (const code of [0x20, ...Array.from({ length: 256 }, (_, i) => i)]) {
    const key = Array.from({ length: g.cellHeight }, (_, y) => glyphRow(vga, g.mapA, code, y)).join(",");
    if (!glyphs.has(key)) glyphs.set(key, code);
  }
  const colors = vga.textColors();
  const { attrs, cursor } = vga.textScreen();
  const lines: string[] = [];
  const cellColors: [string, string][] = [];
  let foreign = 0;
  for (let r = 0; r < rows; r++) {
    let line = "";
    for (let c = 0; c < cols; c++) {
      const attr = attrs[r * cols + c]!;
      const fg = colors[attr & 15]!;
      const bg = colors[attr >> 4]!;
      const px = (x: number, y: number) => {
        const p = ((r * g.cellHeight + y) * img.width + c * g.cellWidth + x) * 3;
        return `#${[0, 1, 2].map((i) => img.rgb[p + i]!.toString(16).padStart(2, "0")).join("")}`;
      };
      const rowsBits: number[] = [];
      for (let y = 0; y < g.cellHeight; y++) {
        let bits = 0;
        for (let x = 0; x < 8; x++) {
          const color = px(x, y);
          if (color !== fg && color !== bg) foreign++;
          if (color === fg && fg !== bg) bits |= 0x80 >> x;
        }
        rowsBits.push(bits);
      }
      const code = glyphs.get(rowsBits.join(","));
      // The cursor cell has its scan lines filled: read as "_".
      const atCursor = cursor.visible && cursor.row === r && cursor.col === c;
      line += atCursor ? "_" : code === undefined ? "?" : String.fromCharCode(code);
      cellColors.push([fg, bg]);
    }
    lines.push(line);
  }
  expect(foreign).toBe(0); // no pixel outside its cell's two colours
  return { lines, cellColors, layout: g, cursor };
}

describe("screendump: the VGA text screen as PPM and PNG", () => {
  it("draws the glyphs of plane 2 in the attribute colours; PPM and PNG hold the same pixels", async () => {
    const { vm, vga } = await bootSeabiosNoDisk();
    // A line of our own on row 20: yellow on blue, a line-drawing character and a full block.
    const text = [..."Hello, VGA"].map((ch) => ch.charCodeAt(0)).concat([0xc4, 0xdb]);
    for (const [i, ch] of text.entries()) {
      vm.devices.mmio.write(0xb8000 + (20 * 80 + i) * 2, 1, ch);
      vm.devices.mmio.write(0xb8000 + (20 * 80 + i) * 2 + 1, 1, 0x1e);
    }
    expect(fontMissing(vga)).toBe(false);
    const image = renderTextImage(vga);
    const screen = vga.textScreen();
    const ppm = parsePpm(encodePpm(image));
    const png = parsePng(await encodePng(image));
    expect([ppm.width, ppm.height]).toEqual([720, 400]); // 80x25 cells of 9x16 (mode 3)
    expect([png.width, png.height]).toEqual([720, 400]);
    expect(Buffer.from(png.rgb).equals(Buffer.from(ppm.rgb))).toBe(true);

    const { lines, cellColors, layout, cursor } = readCells(vga, ppm, screen.rows, screen.cols);
    expect(layout.cellWidth).toBe(9);
    expect(lines[0]).toMatch(/^SeaBIOS \(version 1\.\d+/);
    expect(lines.join("\n")).toContain("No bootable device.");
    expect(lines[20]!.slice(0, 12)).toBe(`Hello, VGA${String.fromCharCode(0xc4, 0xdb)}`);
    // Every cell reads back as the character the screen holds (blank glyphs as spaces).
    const blank = (s: string) => s.replace(/[\0\xa0]/g, " ");
    for (let r = 0; r < screen.rows; r++) {
      const want = Array.from(screen.chars.subarray(r * 80, r * 80 + 80), (b, c) =>
        cursor.visible && cursor.row === r && cursor.col === c ? "_" : String.fromCharCode(b),
      ).join("");
      expect(lines[r]).toBe(blank(want).replace(/\xff/g, " "));
    }
    // Yellow on blue through the palette and the DAC, as textColors reports them.
    expect(cellColors[20 * 80]).toEqual(["#ffff55", "#0000aa"]);
    // The ninth column: background for 'H', the eighth column repeated for the line character.
    const px = (x: number, y: number) => ppm.rgb.subarray((y * 720 + x) * 3, (y * 720 + x) * 3 + 3).join(",");
    const y0 = 20 * 16;
    for (let y = y0; y < y0 + 16; y++) {
      expect(px(8, y)).toBe("0,0,170");
      expect(px(10 * 9 + 8, y)).toBe(px(10 * 9 + 7, y));
    }
    expect(px(11 * 9 + 8, y0 + 3)).toBe("255,255,85"); // the full block fills its ninth column too
  }, 60_000);

  it("CRC-32 as zlib computes it", () => {
    const data = new TextEncoder().encode("IEND");
    expect(crc32(data)).toBe(zlibCrc32(data));
    expect(crc32(new Uint8Array(0))).toBe(0);
  });
});
