// The guest's VGA text screen, shown once the guest has drawn something on it (a guest that uses
// only the serial console never gets an empty panel).

import type { JSX } from "preact";
import { useRef } from "preact/hooks";
import type { VgaMessage } from "../protocol.js";
import { useUi } from "./context.js";

function rowsOf(screen: VgaMessage): (JSX.Element | string)[] {
  const { cols, rows, lines, attrs, colors, cursor } = screen;
  const out: (JSX.Element | string)[] = [];
  for (let r = 0; r < rows; r++) {
    const chars = Array.from(lines[r] ?? "");
    let run = "";
    let runKey = -1;
    const flush = () => {
      if (run === "") return;
      const attr = runKey & 0xff;
      let bg = (attr >> 4) & 0x0f;
      let cls = "";
      if (screen.blink) {
        if (bg & 0x08) cls = "vga-blink";
        bg &= 0x07;
      }
      if (runKey & 0x100) cls = "vga-cursor";
      const style = { color: colors[attr & 0x0f] ?? "#aaa", backgroundColor: bg !== 0 ? colors[bg] : undefined };
      out.push(
        <span key={`${r}:${out.length}`} class={cls || undefined} style={style}>
          {run}
        </span>,
      );
      run = "";
    };
    for (let c = 0; c < cols; c++) {
      const isCursor = cursor.visible && cursor.row === r && cursor.col === c;
      const key = (screen.enabled ? attrs[r * cols + c]! : 0x07) | (isCursor ? 0x100 : 0);
      if (key !== runKey) {
        flush();
        runKey = key;
      }
      run += screen.enabled ? (chars[c] ?? " ") : " ";
    }
    flush();
    if (r < rows - 1) out.push("\n");
  }
  return out;
}

export function Vga({ screen, onKey }: { screen: VgaMessage | undefined; onKey(code: string, down: boolean): void }) {
  const { t } = useUi();
  const escaped = useRef(false);
  if (!screen?.used) return null;
  // Keys typed while the screen has focus go to the guest's PS/2 keyboard. Tab right after
  // Escape is left to the browser, so a keyboard user can move on (as in the console).
  const key = (e: KeyboardEvent, down: boolean) => {
    if (e.key === "Tab" && escaped.current) return;
    if (down) escaped.current = e.key === "Escape";
    e.preventDefault();
    onKey(e.code, down);
  };
  return (
    <section class="panel" aria-labelledby="vga-title">
      <h2 id="vga-title">{t("vga.title")}</h2>
      <div
        class="vga-input"
        role="application"
        // biome-ignore lint/a11y/noNoninteractiveTabindex: the screen takes keyboard input, as a terminal does
        tabIndex={0}
        aria-label={t("vga.label")}
        onKeyDown={(e) => key(e, true)}
        onKeyUp={(e) => key(e, false)}
      >
        <pre id="vga">{screen.graphics ? t("vga.graphics") : rowsOf(screen)}</pre>
      </div>
    </section>
  );
}
