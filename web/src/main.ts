// The page: an xterm.js terminal wired to the guest's COM1, a panel showing the guest's VGA text
// screen, and a Worker that runs the VM.

import "@xterm/xterm/css/xterm.css";
import "./style.css";
import { Terminal } from "@xterm/xterm";
import { checkModes, defaultMmu, MMU_MODES, type MmuMode, VIRT_MODES, type VirtMode } from "../../vmm/virt/vmcs.js";
import type { FromWorker, StatsMessage, ToWorker, VgaMessage } from "./protocol.js";

const term = new Terminal({ cols: 100, rows: 32, convertEol: false, scrollback: 5000 });
term.open(document.getElementById("terminal")!);
term.focus();
const statusEl = document.getElementById("status")!;
const vgaEl = document.getElementById("vga")!;
const statsEl = document.getElementById("stats")!;

/** The mode from the address (?mode=hvm&mmu=shadow); null with a reason when it cannot boot Linux. */
function requestedMode(): { mode: VirtMode; mmu: MmuMode } | { error: string } {
  const q = new URLSearchParams(location.search);
  const mode = (q.get("mode") ?? "native") as VirtMode;
  if (!VIRT_MODES.includes(mode)) return { error: `unknown mode '${mode}' (${VIRT_MODES.join(", ")})` };
  if (mode === "trap") return { error: "the trap mode runs the lab kernels only (npm start -- -kernel ...)" };
  const mmu = (q.get("mmu") ?? defaultMmu(mode)) as MmuMode;
  if (!MMU_MODES.includes(mmu)) return { error: `unknown mmu '${mmu}' (shadow, ept)` };
  const err = checkModes(mode, mmu);
  return err ? { error: err } : { mode, mmu };
}

/** The crossings panel: counters by kind and reason, walk figures, modeled cycles per profile. */
function drawStats(s: StatsMessage): void {
  const table = document.createElement("table");
  const head = table.insertRow();
  for (const h of ["kind", "reason", "core", "host"]) {
    const th = document.createElement("th");
    th.textContent = h;
    head.append(th);
  }
  for (const r of s.rows) {
    const tr = table.insertRow();
    for (const v of [r.kind, `${r.reason} ${r.name}`, nf.format(r.core), nf.format(r.host)])
      tr.insertCell().textContent = v;
  }
  const notes = document.createElement("p");
  notes.textContent =
    `mode ${s.mode}, memory ${s.mmu}; ${nf.format(s.tlbMisses)} TLB misses, ` +
    `${s.refsPerMiss.toFixed(2)} references per miss. Modeled cycles (cost model, not measured): ` +
    s.modeled.map((m) => `${m.profile} ${nf.format(Math.round(m.cycles))}`).join(", ");
  if (s.rows.length === 0) statsEl.replaceChildren("no crossings yet", notes);
  else statsEl.replaceChildren(table, notes);
}

/**
 * Draws a VGA text snapshot into the <pre>: one span per run of cells with the same colours,
 * a newline after each row. The cursor cell gets the class vga-cursor (a blinking underline).
 */
function drawVga(screen: VgaMessage): void {
  const { cols, rows, lines, attrs, colors, cursor } = screen;
  const frag = document.createDocumentFragment();
  if (screen.graphics) {
    frag.append("(graphics mode)");
  } else {
    for (let r = 0; r < rows; r++) {
      const chars = Array.from(lines[r] ?? "");
      let run = "";
      let runKey = -1;
      const flush = () => {
        if (run === "") return;
        const span = document.createElement("span");
        const attr = runKey & 0xff;
        let bg = (attr >> 4) & 0x0f;
        if (screen.blink) {
          if (bg & 0x08) span.className = "vga-blink";
          bg &= 0x07;
        }
        span.style.color = colors[attr & 0x0f] ?? "#aaa";
        if (bg !== 0) span.style.backgroundColor = colors[bg] ?? "#000";
        if (runKey & 0x100) span.className = "vga-cursor";
        span.textContent = run;
        frag.append(span);
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
      if (r < rows - 1) frag.append("\n");
    }
  }
  vgaEl.replaceChildren(frag);
}

const worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
const send = (msg: ToWorker) => worker.postMessage(msg);
const encoder = new TextEncoder();
const nf = new Intl.NumberFormat("en");

worker.onmessage = (ev: MessageEvent<FromWorker>) => {
  const msg = ev.data;
  switch (msg.type) {
    case "serial":
      term.write(msg.bytes);
      break;
    case "vga":
      drawVga(msg);
      break;
    case "stats":
      drawStats(msg);
      break;
    case "status":
      statusEl.textContent =
        msg.state === "loading"
          ? "loading core and guest…"
          : `${msg.note ?? msg.state} · ${nf.format(msg.instructions)} instructions retired · ${msg.mips.toFixed(1)} MIPS`;
      break;
    case "error":
      statusEl.textContent = `error: ${msg.message}`;
      term.write(`\r\n\x1b[31m[x86lab: ${msg.message}]\x1b[0m\r\n`);
      break;
  }
};
worker.onerror = (ev) => {
  statusEl.textContent = `worker error: ${ev.message}`;
};

term.onData((data) => {
  const bytes = encoder.encode(data);
  send({ type: "input", bytes });
});

const asset = (name: string) => new URL(name, document.baseURI).href;
const chosen = requestedMode();
if ("error" in chosen) {
  statusEl.textContent = `error: ${chosen.error}`;
} else {
  // The link of the mode in use is shown as current.
  document.querySelectorAll<HTMLAnchorElement>("#modes a").forEach((a) => {
    if (a.search === location.search) a.className = "current";
  });
  send({
    type: "start",
    coreUrl: asset("core.wasm"),
    kernelUrl: asset("guest/bzImage"),
    initrdUrl: asset("guest/initramfs.cpio.gz"),
    cmdline: "console=ttyS0 panic=-1",
    memMiB: 64,
    mode: chosen.mode,
    mmu: chosen.mmu,
  });
}

/**
 * A hook for tests and the console: the terminal's text, the status line, and the VGA panel's
 * text (read back from the panel itself, one line per row, trailing spaces removed).
 */
declare global {
  interface Window {
    __x86lab: { screenText(): string; status(): string; vgaText(): string; statsText(): string };
  }
}
window.__x86lab = {
  screenText() {
    const buf = term.buffer.active;
    const lines: string[] = [];
    for (let i = 0; i < buf.length; i++) lines.push(buf.getLine(i)?.translateToString(true) ?? "");
    return lines.join("\n").replace(/\n+$/, "");
  },
  status: () => statusEl.textContent ?? "",
  statsText: () => statsEl.textContent ?? "",
  vgaText: () =>
    (vgaEl.textContent ?? "")
      .split("\n")
      .map((l) => l.trimEnd())
      .join("\n"),
};
