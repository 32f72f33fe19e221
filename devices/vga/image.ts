// The text screen as a picture (the monitor's screendump): each cell drawn from the glyph the
// VGA's character generator reads, the font in plane 2 that the VGA BIOS loaded at the mode set,
// in the attribute's colours through the palette and the DAC (Vga.textColors), as QEMU's
// vga_draw_text does. Written as PPM (P6, QEMU's screendump default) or PNG (zlib through
// CompressionStream, in Node and browsers alike).
//
// Character generator (FreeVGA, "Sequencer Registers" and "Attribute Controller Registers"):
// SR01 bit 0 chooses 8-dot (1) or 9-dot (0) characters; in 9-dot mode the ninth column repeats
// the eighth for the line-drawing characters C0h-DFh when AR10 bit 2 (LGE) is set, else it is
// background. SR03 selects character maps A (bits 5,3,2) and B (bits 4,1,0); attribute bit 3
// picks map B. A glyph is 32 bytes in plane 2 at the map's base + code * 32, one byte per scan
// line, most significant bit leftmost; CR09 gives the scan lines per character.

import { crc32 } from "../crc32.js";
import type { Vga } from "./vga.js";

export interface RgbImage {
  width: number;
  height: number;
  /** Three bytes per pixel, row-major. */
  rgb: Uint8Array;
}

/** Plane-2 offsets of the eight character maps, by map number. */
const MAP_BASE = [0x0000, 0x4000, 0x8000, 0xc000, 0x2000, 0x6000, 0xa000, 0xe000];

/** The glyph layout the VGA scans out now. */
export interface GlyphLayout {
  cellWidth: 8 | 9;
  cellHeight: number;
  /** Plane-2 offsets of maps A and B. */
  mapA: number;
  mapB: number;
  lineGraphics: boolean;
}

export function glyphLayout(vga: Vga): GlyphLayout {
  const sr3 = vga.seq[3]!;
  return {
    cellWidth: vga.seq[1]! & 1 ? 8 : 9,
    cellHeight: (vga.crtc[9]! & 0x1f) + 1,
    mapA: MAP_BASE[(((sr3 >> 5) & 1) << 2) | ((sr3 >> 2) & 3)]!,
    mapB: MAP_BASE[(((sr3 >> 4) & 1) << 2) | (sr3 & 3)]!,
    lineGraphics: (vga.attr[0x10]! & 0x04) !== 0,
  };
}

/** Scan line `line` of character `code` in the map at plane-2 offset `map`. */
export function glyphRow(vga: Vga, map: number, code: number, line: number): number {
  return vga.vram[((map + code * 32 + line) & 0xffff) * 4 + 2]!;
}

/** The text screen as pixels: cols * cell width by rows * cell height. */
export function renderTextImage(vga: Vga): RgbImage {
  const screen = vga.textScreen();
  const g = glyphLayout(vga);
  const colors = vga.textColors().map((c) => [1, 3, 5].map((i) => Number.parseInt(c.slice(i, i + 2), 16)));
  const width = screen.cols * g.cellWidth;
  const height = screen.rows * g.cellHeight;
  const rgb = new Uint8Array(width * height * 3);
  if (!screen.enabled || screen.graphics) return { width, height, rgb };
  const { cursor } = screen;
  for (let r = 0; r < screen.rows; r++) {
    for (let c = 0; c < screen.cols; c++) {
      const code = screen.chars[r * screen.cols + c]!;
      const attr = screen.attrs[r * screen.cols + c]!;
      const fg = colors[attr & 0x0f]!;
      const bg = colors[screen.blink ? (attr >> 4) & 0x07 : attr >> 4]!;
      const map = attr & 0x08 ? g.mapB : g.mapA;
      const isCursor = cursor.visible && cursor.row === r && cursor.col === c;
      for (let y = 0; y < g.cellHeight; y++) {
        let bits = glyphRow(vga, map, code, y) << 1;
        // The ninth column: the eighth repeated for line graphics, else background.
        if (g.cellWidth === 9 && g.lineGraphics && code >= 0xc0 && code <= 0xdf) bits |= (bits >> 1) & 1;
        if (isCursor && y >= cursor.start && y <= cursor.end) bits = 0x1ff;
        let p = ((r * g.cellHeight + y) * width + c * g.cellWidth) * 3;
        for (let x = 0; x < g.cellWidth; x++, p += 3) {
          const color = (bits >> (8 - x)) & 1 ? fg : bg;
          rgb[p] = color[0]!;
          rgb[p + 1] = color[1]!;
          rgb[p + 2] = color[2]!;
        }
      }
    }
  }
  return { width, height, rgb };
}

/** Netpbm P6: a header, then the RGB bytes. */
export function encodePpm(img: RgbImage): Uint8Array {
  const head = new TextEncoder().encode(`P6\n${img.width} ${img.height}\n255\n`);
  const out = new Uint8Array(head.length + img.rgb.length);
  out.set(head);
  out.set(img.rgb, head.length);
  return out;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  dv.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** PNG (RGB, 8 bits per sample, no filtering): signature, IHDR, one zlib IDAT, IEND. */
export async function encodePng(img: RgbImage): Promise<Uint8Array> {
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, img.width);
  dv.setUint32(4, img.height);
  ihdr.set([8, 2, 0, 0, 0], 8); // depth 8, colour type 2 (RGB), deflate, filter 0, no interlace
  const raw = new Uint8Array(img.height * (1 + img.width * 3));
  for (let y = 0; y < img.height; y++) {
    // Each scan line starts with its filter type (0: none).
    raw.set(img.rgb.subarray(y * img.width * 3, (y + 1) * img.width * 3), y * (1 + img.width * 3) + 1);
  }
  const zlib = new Uint8Array(
    await new Response(new Blob([raw]).stream().pipeThrough(new CompressionStream("deflate"))).arrayBuffer(),
  );
  const parts = [
    Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a),
    chunk("IHDR", ihdr),
    chunk("IDAT", zlib),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Plane 2 holds no glyph for any visible character on screen (no VGA BIOS loaded a font, as on
 * a direct kernel boot with a VGA attached): the picture would show blank cells.
 */
export function fontMissing(vga: Vga): boolean {
  const g = glyphLayout(vga);
  const screen = vga.textScreen();
  const visible = [...new Set(screen.chars)].filter((c) => c !== 0 && c !== 0x20 && c !== 0xff);
  if (visible.length === 0) return false;
  for (const code of visible) {
    for (let y = 0; y < g.cellHeight; y++) if (glyphRow(vga, g.mapA, code, y) !== 0) return false;
  }
  return true;
}
