// The Worker that hosts the VM: the browser twin of vmm/node/cli.ts's main loop. It fetches the core
// and the guest, boots Linux with the icount clock, runs slices, posts the guest's COM1 output
// to the page and feeds keystrokes from the page into COM1. A VGA is attached too: its text
// screen is posted to the page whenever it changes (at most every VGA_EVERY_MS).

import { loadLinux } from "../../vmm/boot/linux.js";
import { readCoreStats, readWalkStats } from "../../vmm/stats/core-stats.js";
import { price } from "../../vmm/stats/cost-model.js";
import { PROFILES } from "../../vmm/stats/profiles.js";
import { Vm } from "../../vmm/vm.js";
import type { FromWorker, StartMessage, ToWorker } from "./protocol.js";

/** Instructions per slice: about 30-50 ms of guest time at the interpreter's speed. */
const SLICE = 3_000_000;
const STATUS_EVERY_MS = 250;
/** Rows of the crossings panel. */
const STATS_ROWS = 14;
/** Minimum time between two VGA snapshots (the last change is always sent, just later). */
const VGA_EVERY_MS = 100;

const post = (msg: FromWorker, transfer: Transferable[] = []) => self.postMessage(msg, { transfer });

let vm: Vm | undefined;
let started = false;

self.onmessage = (ev: MessageEvent<ToWorker>) => {
  const msg = ev.data;
  if (msg.type === "start" && !started) {
    started = true;
    boot(msg).catch((e: unknown) => post({ type: "error", message: e instanceof Error ? e.message : String(e) }));
  } else if (msg.type === "input") {
    vm?.devices.com1.receive(msg.bytes);
  }
};

async function fetchBytes(url: string, what: string): Promise<Response> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${what}: ${url} answered ${res.status} ${res.statusText}`);
  return res;
}

async function compileCore(url: string): Promise<WebAssembly.Module> {
  const res = await fetchBytes(url, "core.wasm");
  if (res.headers.get("Content-Type")?.startsWith("application/wasm")) return WebAssembly.compileStreaming(res);
  return WebAssembly.compile(await res.arrayBuffer());
}

/** Yields to the event loop (so input messages get in) without setTimeout's 4 ms clamp. */
function yieldNow(): Promise<void> {
  return new Promise((resolve) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => resolve();
    ch.port2.postMessage(null);
  });
}

async function boot(msg: StartMessage): Promise<void> {
  post({ type: "status", state: "loading", instructions: 0, mips: 0 });
  const [module, kernel, initrd] = await Promise.all([
    compileCore(msg.coreUrl),
    fetchBytes(msg.kernelUrl, "kernel").then((r) => r.arrayBuffer()),
    fetchBytes(msg.initrdUrl, "initrd").then((r) => r.arrayBuffer()),
  ]);

  let out: number[] = [];
  const machine = await Vm.create({
    module,
    ramBytes: msg.memMiB * 1024 * 1024,
    clock: "icount",
    vga: true,
    mode: msg.mode,
    mmu: msg.mmu,
    onSerial: (com, byte) => {
      if (com === 1) out.push(byte);
    },
  });
  loadLinux(machine.cpu, {
    kernel: new Uint8Array(kernel),
    initrd: new Uint8Array(initrd),
    cmdline: msg.cmdline,
    vgaText: true,
  });
  vm = machine;

  let lastMs = performance.now();
  let lastInsns = 0;
  const status = (state: "running" | "stopped", note?: string) => {
    const now = performance.now();
    const insns = machine.cpu.retired;
    const mips = now > lastMs ? (insns - lastInsns) / (now - lastMs) / 1000 : 0;
    lastMs = now;
    lastInsns = insns;
    post({ type: "status", state, instructions: insns, mips, note });
    postStats();
  };
  const postStats = () => {
    const snap = readCoreStats(machine.cpu);
    const walk = readWalkStats(machine.cpu);
    const rows = [...snap.counters].sort((a, b) => b.core + b.host - (a.core + a.host)).slice(0, STATS_ROWS);
    post({
      type: "stats",
      mode: machine.mode,
      mmu: machine.mmu,
      rows,
      tlbMisses: walk.tlbMisses,
      refsPerMiss: walk.refsPerMiss,
      modeled: PROFILES.map((p) => ({ profile: p.id, cycles: price(snap, p).modeledCycles })),
    });
  };
  const flush = () => {
    if (out.length === 0) return;
    const bytes = Uint8Array.from(out);
    out = [];
    post({ type: "serial", bytes }, [bytes.buffer]);
  };

  let vgaSent = -1;
  let vgaMs = Number.NEGATIVE_INFINITY;
  /** Posts the VGA text screen if it changed since the last one sent and the rate allows it. */
  const postVga = (force = false) => {
    const vga = machine.vga;
    if (!vga || vga.changed === vgaSent) return;
    const now = performance.now();
    if (!force && now - vgaMs < VGA_EVERY_MS) return;
    const s = vga.textScreen();
    vgaSent = s.version;
    vgaMs = now;
    const { row, col, visible } = s.cursor;
    post(
      {
        type: "vga",
        cols: s.cols,
        rows: s.rows,
        lines: s.lines,
        attrs: s.attrs,
        colors: vga.textColors(),
        cursor: { row, col, visible },
        blink: s.blink,
        enabled: s.enabled,
        graphics: s.graphics,
      },
      [s.attrs.buffer],
    );
  };

  status("running");
  for (;;) {
    const stop = machine.run(SLICE);
    flush();
    postVga(stop.kind !== "limit");
    if (stop.kind !== "limit") {
      const why =
        stop.kind === "shutdown"
          ? `guest shutdown (${stop.message})`
          : stop.kind === "reset"
            ? `guest reset (${stop.source})`
            : stop.kind === "debug-exit"
              ? `debug exit ${stop.status}`
              : "stopped";
      status("stopped", why);
      return;
    }
    if (performance.now() - lastMs >= STATUS_EVERY_MS) status("running");
    // When the guest is idle, do not spin.
    if (machine.idleSinceLastRun) await new Promise((r) => setTimeout(r, 5));
    else await yieldNow();
  }
}
