// The guest's COM1 on an xterm.js terminal: guest bytes are written as they arrive (not through
// Preact), keys typed go to the guest.

import { Terminal } from "@xterm/xterm";
import { useEffect, useRef } from "preact/hooks";
import type { Machine } from "../machine.js";
import { useUi } from "./context.js";

export function Console({ machine }: { machine: Machine }) {
  const { t } = useUi();
  const host = useRef<HTMLDivElement>(null);
  const term = useRef<Terminal | undefined>(undefined);
  useEffect(() => {
    const tm = new Terminal({ cols: 80, rows: 25, fontSize: 12, scrollback: 5000, convertEol: false });
    tm.open(host.current!);
    term.current = tm;
    const encoder = new TextEncoder();
    machine.serialSink = (bytes) => tm.write(bytes);
    const sub = tm.onData((data) => machine.input(encoder.encode(data)));
    window.__x86labTerminalText = () => {
      const buf = tm.buffer.active;
      const lines: string[] = [];
      for (let i = 0; i < buf.length; i++) lines.push(buf.getLine(i)?.translateToString(true) ?? "");
      return lines.join("\n").replace(/\n+$/, "");
    };
    // The terminal takes Tab (shell completion), so a keyboard user leaves it with Escape then
    // Tab: the Escape still reaches the guest, the Tab right after it moves the page's focus.
    let escaped = false;
    tm.attachCustomKeyEventHandler((e) => {
      if (e.type !== "keydown") return true;
      if (e.key === "Tab" && escaped) return false;
      escaped = e.key === "Escape";
      return true;
    });
    return () => {
      sub.dispose();
      tm.dispose();
    };
  }, [machine]);
  // A new boot starts on a clear screen.
  useEffect(() => term.current?.reset(), [machine.bootCount]);
  useEffect(() => {
    if (host.current) host.current.querySelector("textarea")?.setAttribute("aria-label", t("console.label"));
  });
  return (
    <section class="panel" aria-labelledby="console-title" id="console">
      <h2 id="console-title">{t("console.title")}</h2>
      <div id="terminal" ref={host} />
    </section>
  );
}
