// The page: an xterm.js terminal wired to the guest's COM1, and a Worker that runs the VM.

import "@xterm/xterm/css/xterm.css";
import "./style.css";
import { Terminal } from "@xterm/xterm";
import type { FromWorker, ToWorker } from "./protocol.js";

const term = new Terminal({ cols: 100, rows: 32, convertEol: false, scrollback: 5000 });
term.open(document.getElementById("terminal")!);
term.focus();
const statusEl = document.getElementById("status")!;

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
send({
  type: "start",
  coreUrl: asset("core.wasm"),
  kernelUrl: asset("guest/bzImage"),
  initrdUrl: asset("guest/initramfs.cpio.gz"),
  cmdline: "console=ttyS0 panic=-1",
  memMiB: 64,
});

/** A hook for tests and the console: the terminal's text and the status line. */
declare global {
  interface Window {
    __x86lab: { screenText(): string; status(): string };
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
};
