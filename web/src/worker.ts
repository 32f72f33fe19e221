// The Worker that hosts the VM: the browser twin of vmm/node/cli.ts's main loop. It fetches the
// core and the guest, boots it (a Linux bzImage or a Multiboot kernel) on the icount clock, runs
// slices, and posts the guest's COM1 output, its VGA text screen and the hypervisor's counters to
// the page. The page controls it: pause, resume, reset (a new boot of the same configuration),
// power off, and "measure this" (the counters' difference over an interval).

import { Ne2000 } from "../../devices/net/ne2000.js";
import { bytesSource, CowDisk } from "../../devices/storage/block.js";
import { VirtioNet } from "../../devices/virtio/net.js";
import { kernelFormat } from "../../vmm/boot/kernel.js";
import { loadLinux } from "../../vmm/boot/linux.js";
import { loadMultiboot } from "../../vmm/boot/multiboot.js";
import { installFirmware } from "../../vmm/firmware.js";
import { jitInfo } from "../../vmm/jit/info.js";
import { IdlePacer, yieldNow } from "../../vmm/lib/pacing.js";
import { MessagePortBackend } from "../../vmm/net/message-port.js";
import { parseMac } from "../../vmm/net/packet.js";
import type { MigratingMachine, OutgoingMigration } from "../../vmm/state/outgoing.js";
import { readCoreStats, readStructureStats, readWalkStats } from "../../vmm/stats/core-stats.js";
import { price } from "../../vmm/stats/cost-model.js";
import { PROFILES } from "../../vmm/stats/profiles.js";
import { diffSnapshots, type StatsSnapshot } from "../../vmm/stats/stats.js";
import { pageWalkView } from "../../vmm/virt/walk-view.js";
import { Vm, type VmOptions, type VmStop } from "../../vmm/vm.js";
import { diskFor, ScriptTyper } from "./guest-work.js";
import { fileDisk, opfsWork } from "./opfs-disk.js";
import type { FromWorker, MachineConfig, ModeledCost, NicConfig, ToWorker } from "./protocol.js";
import { isQcow2, Qcow2Disk } from "./qcow2-disk.js";
import { diskAllocation } from "./qcow2-view.js";
import { migrateIn, migrateOut } from "./worker-migration.js";

/** Instructions per slice: about 30-50 ms of guest time at the interpreter's speed. */
const SLICE = 3_000_000;
/** ...and at most this much host time, whatever an instruction costs (a REP INSB iteration is a port read). */
const SLICE_MS = 50;
const STATUS_EVERY_MS = 250;
/** Minimum time between two VGA snapshots (the last change is always sent, just later). */
const VGA_EVERY_MS = 100;

const post = (msg: FromWorker, transfer: Transferable[] = []) => self.postMessage(msg, { transfer });
const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** The running machine and what the loop needs to know about it. */
interface Session {
  vm: Vm;
  config: MachineConfig;
  /** Host milliseconds spent inside vm.run() since boot (measured, this browser's clock). */
  hostMs: number;
  paused: boolean;
  wake?: () => void;
  measure?: { snap: StatsSnapshot; instructions: number; hostMs: number };
  traceSent: number;
  /** A qcow2 disk (uploaded, or a built-in guest's overlay): the Disk tab shows its allocation. */
  qcow2?: Qcow2Disk;
  /** The guest stopped (the loop has ended; the counters can still be read). */
  ended?: boolean;
  /** A live migration of this guest to another Worker, while it runs. */
  migration?: OutgoingMigration;
}

let session: Session | undefined;
/** Bumped by every start, reset and power-off: a loop whose generation is old ends. */
let generation = 0;
/** Paces an idle guest against the page's clock (vmm/lib/pacing.ts). */
const pacer = new IdlePacer();
const moduleCache = new Map<string, Promise<WebAssembly.Module>>();
let lastConfig: MachineConfig | undefined;

self.onmessage = (ev: MessageEvent<ToWorker>) => {
  const msg = ev.data;
  switch (msg.type) {
    case "start":
      lastConfig = msg.config;
      start(msg.config);
      break;
    case "reset":
      if (lastConfig) start(lastConfig);
      break;
    case "power-off":
      stopSession();
      post({ type: "status", state: "off", instructions: 0, mips: 0 });
      break;
    case "input":
      session?.vm.devices.com1.receive(msg.bytes);
      break;
    case "key":
      session?.vm.devices.i8042.keyboard.keyByCode(msg.code, msg.down);
      break;
    case "walk":
      if (session) {
        const cpu = session.vm.cpu;
        const linear = msg.linear ?? cpu.eip;
        post({ type: "walk", view: pageWalkView(cpu, session.vm.mmu, linear), eip: cpu.eip });
      }
      break;
    case "pause":
      if (session) session.paused = true;
      break;
    case "resume":
      if (session?.paused) {
        session.paused = false;
        session.wake?.();
      }
      break;
    case "measure":
      if (session) measure(session, msg.action);
      break;
    case "save":
      // Between two slices (this handler runs when the loop yields), so the state is consistent.
      if (!session) post({ type: "state-error", message: "no machine is running" });
      else
        session.vm.save().then(
          (bytes) => post({ type: "saved", bytes }, [bytes.buffer]),
          (e: unknown) => post({ type: "state-error", message: errorText(e) }),
        );
      break;
    case "migrate-out":
      if (!session || !lastConfig) post({ type: "error", message: "no machine is running to migrate" });
      else {
        const s = session;
        compileCore(lastConfig.coreUrl).then((module) => {
          s.migration = migrateOut(loopMachine(s), module, msg.port, msg.params, post);
        });
      }
      break;
    case "migrate-cancel":
      session?.migration?.cancel();
      break;
    case "migrate-in":
      // The destination: the same configuration, booted paused; the guest runs once its state is here.
      lastConfig = msg.config;
      start(msg.config, (s) =>
        compileCore(msg.config.coreUrl).then((module) => migrateIn(loopMachine(s), module, msg.port, post)),
      );
      break;
    case "restore":
      if (!session) post({ type: "state-error", message: "boot the machine the state was saved from first" });
      else
        session.vm.restore(msg.bytes).then(
          () => post({ type: "restored" }),
          (e: unknown) => post({ type: "state-error", message: errorText(e) }),
        );
      break;
  }
};

function stopSession(): void {
  generation++;
  const s = session;
  session = undefined;
  s?.wake?.();
}

/** The run loop as a migration sees a machine: its VM, whether it runs, pause and resume. */
function loopMachine(s: Session): MigratingMachine {
  return {
    vm: s.vm,
    get status() {
      return session !== s || s.ended ? "ended" : s.paused ? "paused" : "running";
    },
    pause() {
      s.paused = true;
    },
    resume() {
      if (!s.paused) return;
      s.paused = false;
      s.wake?.();
    },
  };
}

/** Boots `config`; with `incoming`, the machine starts paused and is handed to it once built. */
function start(config: MachineConfig, incoming?: (s: Session) => void): void {
  stopSession();
  const gen = generation;
  boot(config, gen, incoming).catch((e: unknown) => {
    if (gen === generation) post({ type: "error", message: errorText(e) });
  });
}

async function fetchBytes(url: string, what: string): Promise<Response> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${what}: ${url} answered ${res.status} ${res.statusText}`);
  return res;
}

function compileCore(url: string): Promise<WebAssembly.Module> {
  let p = moduleCache.get(url);
  if (!p) {
    p = fetchBytes(url, "core.wasm").then((res) =>
      res.headers.get("Content-Type")?.startsWith("application/wasm")
        ? WebAssembly.compileStreaming(res)
        : res.arrayBuffer().then((b) => WebAssembly.compile(b)),
    );
    p.catch(() => moduleCache.delete(url));
    moduleCache.set(url, p);
  }
  return p;
}

async function fileBytes(f: NonNullable<MachineConfig["kernel"]>, what: string): Promise<Uint8Array> {
  if ("bytes" in f) return f.bytes;
  return new Uint8Array(await (await fetchBytes(f.url, what)).arrayBuffer());
}

function modeledCosts(snap: StatsSnapshot): ModeledCost[] {
  return PROFILES.map((p) => {
    const priced = price(snap, p);
    return { profile: p.id, cycles: priced.modeledCycles, unpriced: priced.unpriced.map((u) => u.kind) };
  });
}

function measure(s: Session, action: "start" | "stop"): void {
  const snap = readCoreStats(s.vm.cpu);
  if (action === "start") {
    s.measure = { snap, instructions: s.vm.cpu.retired, hostMs: s.hostMs };
    return;
  }
  const m = s.measure;
  if (!m) return;
  s.measure = undefined;
  const diff = diffSnapshots(m.snap, snap);
  post({
    type: "measured",
    counters: diff.counters,
    modeled: modeledCosts(diff),
    instructions: s.vm.cpu.retired - m.instructions,
    hostMs: s.hostMs - m.hostMs,
  });
}

function describeStop(stop: VmStop): { kind: string; detail: string } {
  switch (stop.kind) {
    case "shutdown":
      return { kind: stop.kind, detail: `${stop.message}${stop.detail ? ` (${stop.detail})` : ""}` };
    case "reset":
      return { kind: stop.kind, detail: stop.source };
    case "debug-exit":
      return { kind: stop.kind, detail: String(stop.status) };
    case "vmexit":
      return { kind: stop.kind, detail: `reason ${stop.reason} at EIP 0x${stop.eip.toString(16)}` };
    default:
      return { kind: stop.kind, detail: "" };
  }
}

/** The guest's PCI devices: its work's disk and, on the page's network, its NIC. */
function pciOf(config: MachineConfig, work: VmOptions["pci"]): VmOptions["pci"] {
  const pci = work || undefined;
  const nic = config.nic;
  if (!nic) return pci;
  const dev = newNic(nic);
  return dev instanceof VirtioNet
    ? { ...pci, virtio: [...(pci?.virtio ?? []), dev] }
    : { ...pci, functions: [...(pci?.functions ?? []), dev] };
}

/** The NIC on a MessagePort backend: its frames go to the page's switch and come from it. */
function newNic(nic: NicConfig): VirtioNet | Ne2000 {
  const backend = new MessagePortBackend(nic.port);
  const mac = parseMac(nic.mac);
  return nic.model === "virtio-net" ? new VirtioNet(backend, mac) : new Ne2000(backend, mac);
}

async function boot(config: MachineConfig, gen: number, incoming?: (s: Session) => void): Promise<void> {
  post({ type: "status", state: "loading", instructions: 0, mips: 0 });
  const disk = config.disk;
  const [module, kernel, initrd, bios, vgaBios] = await Promise.all([
    compileCore(config.coreUrl),
    config.kernel ? fileBytes(config.kernel, "kernel") : Promise.resolve(undefined),
    config.initrd ? fileBytes(config.initrd, "initrd") : Promise.resolve(undefined),
    disk && !config.kernel ? fileBytes({ url: disk.biosUrl }, "BIOS") : Promise.resolve(undefined),
    disk && !config.kernel ? fileBytes({ url: disk.vgaBiosUrl }, "VGA BIOS") : Promise.resolve(undefined),
  ]);
  if (!kernel && !(disk && bios)) throw new Error("nothing to boot: no kernel and no disk image");
  if (gen !== generation) return;

  let out: number[] = [];
  const typer = new ScriptTyper(config.work?.script);
  // A disk kept in OPFS is opened (or made) first; the others are made in memory.
  const work = config.work?.disk?.store === "opfs" ? await opfsWork(config.work) : diskFor(config.work);
  // An uploaded hard disk image in qcow2 format is opened as qcow2 (a copy: the upload never changes).
  let qcow2 = work && "qcow2" in work ? work.qcow2 : undefined;
  if (disk && !config.kernel && disk.kind === "hda" && isQcow2(disk.bytes))
    qcow2 = Qcow2Disk.fromImage(disk.name, disk.bytes);
  const vm = await Vm.create({
    module,
    ramBytes: config.memMiB * 1024 * 1024,
    clock: "icount",
    vga: config.vga,
    mode: config.mode,
    mmu: config.mmu,
    jit: config.jit,
    pci: pciOf(config, work?.pci),
    onSerial: (com, byte) => {
      if (com !== 1) return;
      out.push(byte);
      typer.onByte(byte);
    },
  });
  if (!kernel) {
    // Firmware boot: SeaBIOS boots the uploaded disk (c) or CD (d), copy-on-write over the bytes.
    const cd = disk!.kind === "cdrom";
    const medium =
      qcow2 ??
      (disk!.file && !cd ? fileDisk(disk!.file) : undefined) ??
      new CowDisk(bytesSource(disk!.bytes), {
        name: disk!.name,
        granularity: cd ? 2048 : 512,
        readOnly: cd,
      });
    installFirmware(vm, {
      bios: bios!,
      vgaBios,
      bootLetters: cd ? "d" : "c",
      hda: cd ? undefined : medium,
      cdrom: cd ? medium : undefined,
      onReset: () => vm.requestStop({ kind: "reset", source: "PIIX3 0xCF9" }),
    });
  } else if (kernelFormat(kernel) === "linux") {
    loadLinux(vm.cpu, { kernel, initrd, cmdline: config.cmdline, vgaText: config.vga });
  } else {
    loadMultiboot(vm.cpu, { kernel, cmdline: config.cmdline, modules: initrd ? [{ data: initrd }] : [] });
  }
  if (gen !== generation) return;
  const s: Session = { vm, config, hostMs: 0, paused: incoming !== undefined, traceSent: 0, qcow2 };
  const runStart = performance.now();
  session = s;
  incoming?.(s);

  let lastMs = performance.now();
  let lastInsns = 0;
  const status = (state: "running" | "paused" | "stopped", stop?: VmStop) => {
    const now = performance.now();
    const insns = vm.cpu.retired;
    const mips = now > lastMs && state === "running" ? (insns - lastInsns) / (now - lastMs) / 1000 : 0;
    lastMs = now;
    lastInsns = insns;
    // The counters first: a page that sees "stopped" then already holds the final ones.
    postStats();
    postDisk();
    post({ type: "status", state, instructions: insns, mips, stop: stop ? describeStop(stop) : undefined });
  };
  const postStats = () => {
    const snap = readCoreStats(vm.cpu);
    const trace = snap.trace.entries.filter((e) => e.seq > s.traceSent);
    s.traceSent = snap.trace.recorded;
    post({
      type: "stats",
      mode: vm.mode,
      mmu: vm.mmu,
      counters: snap.counters,
      trace,
      traceRecorded: snap.trace.recorded,
      walk: readWalkStats(vm.cpu),
      structures: readStructureStats(vm.cpu),
      jit: jitInfo(vm.cpu),
      modeled: modeledCosts(snap),
      instructions: vm.cpu.retired,
      hostMs: s.hostMs,
      wallMs: performance.now() - runStart,
    });
  };
  let diskSent = -1;
  /** The qcow2 disk's allocation, when its file changed since the last one sent. */
  const postDisk = () => {
    const d = s.qcow2;
    if (!d || d.fileWrites === diskSent) return;
    diskSent = d.fileWrites;
    const allocation = diskAllocation(d.image);
    post(
      {
        type: "disk",
        allocation,
        guestWrites: d.guestWrites,
        guestBytesWritten: d.guestBytesWritten,
        instructions: vm.cpu.retired,
      },
      [allocation.map.buffer],
    );
  };
  const flush = () => {
    if (out.length === 0) return;
    const bytes = Uint8Array.from(out);
    out = [];
    post({ type: "serial", bytes }, [bytes.buffer]);
  };

  let vgaSent = -1;
  let vgaMs = Number.NEGATIVE_INFINITY;
  let vgaUsed = false;
  /** Posts the VGA text screen if it changed since the last one sent and the rate allows it. */
  const postVga = (force = false) => {
    const vga = vm.vga;
    if (!vga || vga.changed === vgaSent) return;
    const now = performance.now();
    if (!force && now - vgaMs < VGA_EVERY_MS) return;
    const t = vga.textScreen();
    vgaSent = t.version;
    vgaMs = now;
    vgaUsed ||= t.graphics || t.lines.some((l) => l.trim() !== "");
    const { row, col, visible } = t.cursor;
    post(
      {
        type: "vga",
        cols: t.cols,
        rows: t.rows,
        lines: t.lines,
        attrs: t.attrs,
        colors: vga.textColors(),
        cursor: { row, col, visible },
        blink: t.blink,
        enabled: t.enabled,
        graphics: t.graphics,
        used: vgaUsed,
      },
      [t.attrs.buffer],
    );
  };

  status("running");
  for (;;) {
    if (s.paused) {
      status("paused");
      await new Promise<void>((resolve) => {
        s.wake = resolve;
      });
      s.wake = undefined;
      if (gen !== generation) return;
      lastMs = performance.now();
      status("running");
    }
    const t0 = performance.now();
    // Bounded by wall time too, so pause, reset and input are answered whatever the guest does.
    const stop = vm.runSlice(SLICE, SLICE_MS);
    s.hostMs += performance.now() - t0;
    flush();
    const script = typer.take();
    if (script) vm.devices.com1.receive(script);
    postVga(stop.kind !== "limit");
    if (stop.kind !== "limit") {
      // The session stays: its counters can still be read and a measurement ended.
      s.ended = true;
      status("stopped", stop);
      return;
    }
    if (performance.now() - lastMs >= STATUS_EVERY_MS) status("running");
    // When the guest is idle, do not spin (nor run its clock ahead of the host's).
    const ms = vm.idleSinceLastRun ? pacer.waitMs(vm.nowNs()) : 0;
    if (ms > 0) await new Promise((r) => setTimeout(r, ms));
    else await yieldNow();
    if (gen !== generation) return;
  }
}
