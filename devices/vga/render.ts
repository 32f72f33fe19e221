// Text-screen renderers for hosts: ANSI (a terminal, Node) from a TextScreen snapshot. The page
// draws from `chars`/`attrs` and `Vga.textColors()` itself.

import type { TextScreen } from "./vga.js";

/** VGA colour index (IRGB: blue = 1, green = 2, red = 4) to the ANSI colour number (RGB: red = 1). */
const VGA_TO_ANSI = [0, 4, 2, 6, 1, 5, 3, 7];

/**
 * The screen as ANSI text: SGR colours from the attributes (bright foreground for bit 3; bit 7
 * is blink or a bright background as the screen says), the cursor drawn in reverse video when
 * visible, one line per row joined by "\r\n", and a reset at the end. No cursor movement codes:
 * the caller homes the cursor or clears the terminal first.
 */
export function toAnsi(screen: TextScreen, options: { showCursor?: boolean } = {}): string {
  const { cols, rows, lines, attrs, cursor } = screen;
  const showCursor = options.showCursor ?? true;
  const out: string[] = [];
  for (let r = 0; r < rows; r++) {
    let line = "";
    let last = -1;
    const chars = Array.from(lines[r]!);
    for (let c = 0; c < cols; c++) {
      let attr = attrs[r * cols + c]!;
      if (!screen.enabled) attr = 0x07;
      const isCursor = showCursor && cursor.visible && cursor.row === r && cursor.col === c;
      const key = attr | (isCursor ? 0x100 : 0);
      if (key !== last) {
        line += sgr(attr, screen.blink, isCursor);
        last = key;
      }
      line += screen.enabled ? (chars[c] ?? " ") : " ";
    }
    out.push(line + "\x1b[0m");
  }
  return out.join("\r\n");
}

function sgr(attr: number, blinkMode: boolean, reverse: boolean): string {
  const fg = attr & 0x0f;
  let bg = (attr >> 4) & 0x0f;
  const codes = ["0"];
  if (blinkMode) {
    if (bg & 0x08) codes.push("5");
    bg &= 0x07;
  }
  codes.push(String((fg & 0x08 ? 90 : 30) + VGA_TO_ANSI[fg & 7]!));
  codes.push(String((bg & 0x08 ? 100 : 40) + VGA_TO_ANSI[bg & 7]!));
  if (reverse) codes.push("7");
  return `\x1b[${codes.join(";")}m`;
}
