// `npm start`: boots a guest (Linux bzImage or Multiboot kernel) with its serial console on this
// terminal (raw mode).
// Ctrl-A X quits; Ctrl-A C toggles a small monitor (info registers, info stats, info jit, quit).
// Flags follow QEMU's (see args.ts and --help). With no -kernel, the project's tiny Linux boots.

import { closeSync, constants, fstatSync, openSync, writeSync } from "node:fs";
import { DiskImageError } from "../../devices/storage/block.js";
import { toAnsi } from "../../devices/vga/render.js";
import { loadKernel } from "../boot/kernel.js";
import { BootImageError } from "../boot/linux.js";
import { REG, SEG } from "../cpu.js";
import { FirmwareError, installFirmware } from "../firmware.js";
import { infoIo, infoPci, infoVirtio } from "../info.js";
import { formatJitInfo, jitInfo } from "../jit/info.js";
import { formatReport, PROFILES, readCoreStats, readStructureStats, readWalkStats } from "../stats/index.js";
import { Vm, type VmStop } from "../vm.js";
import { type Args, HelpRequest, parseArgs } from "./args.js";
import { legacyDrives, machinePci } from "./drives.js";
import { projectFile, readGuestFile, type SizeLimit, UserInputError } from "./files.js";
import { ATA_DISK_LIMIT, ATAPI_CD_LIMIT, fileSource } from "./image-file.js";
import { loadCoreModule } from "./load-core.js";
import { infoNetwork } from "./netdevs.js";

/** A BIOS image sits below 4 GiB in at most 1 MiB (installFirmware's own limit). */
const BIOS_LIMIT: SizeLimit = { bytes: 1 << 20, why: "the BIOS area below 4 GiB" };
/** The VGA BIOS is an option ROM: at most the 128 KiB window from 0xC0000 to 0xDFFFF. */
const OPTION_ROM_LIMIT: SizeLimit = { bytes: 128 << 10, why: "the option ROM window (0xC0000-0xDFFFF)" };
/**
 * Host input (Ctrl-A X, the monitor) is looked at between slices, so a slice (Vm.runSlice) is
 * bounded by wall time as well as by instructions: run() calls of STEP_INSTRUCTIONS until
 * SLICE_INSTRUCTIONS (idle time included) have run or SLICE_MS have passed. A step is small
 * because an instruction can cost microseconds (each iteration of `rep insb` is a port read).
 */
const STEP_INSTRUCTIONS = 20_000;
const SLICE_INSTRUCTIONS = 1_000_000;
const SLICE_MS = 25;

/** Where COM1's bytes go. A file is opened (truncated) before the guest starts. */
function serialSink(serial: Args["serial"], out: NodeJS.WriteStream): (byte: number) => void {
  if (serial === "none") return () => {};
  if (serial === "stdio") return (byte) => out.write(Uint8Array.of(byte));
  const fd = openSerialFile(serial.file);
  return (byte) => writeSync(fd, Uint8Array.of(byte));
}

function openSerialFile(path: string): number {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO nobody reads would otherwise block before the guest starts.
    const { O_WRONLY, O_CREAT, O_TRUNC, O_NONBLOCK } = constants;
    fd = openSync(path, O_WRONLY | O_CREAT | O_TRUNC | O_NONBLOCK);
  } catch (err) {
    throw new UserInputError(`-serial file:${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const stat = fstatSync(fd);
  if (!stat.isFile() && !stat.isCharacterDevice()) {
    closeSync(fd);
    throw new UserInputError(`-serial file:${path}: not a regular file or a character device`);
  }
  return fd;
}

function monitorCommand(vm: Vm, line: string): string {
  const cmd = line.trim();
  if (cmd === "info registers") {
    const c = vm.cpu;
    const r = (n: number) => c.reg(n).toString(16).padStart(8, "0");
    const seg = (s: number) => c.segment(s).selector.toString(16).padStart(4, "0");
    return (
      `EAX=${r(REG.EAX)} EBX=${r(REG.EBX)} ECX=${r(REG.ECX)} EDX=${r(REG.EDX)}\n` +
      `ESI=${r(REG.ESI)} EDI=${r(REG.EDI)} EBP=${r(REG.EBP)} ESP=${r(REG.ESP)}\n` +
      `EIP=${c.eip.toString(16).padStart(8, "0")} EFL=${c.eflags.toString(16).padStart(8, "0")} CPL=${c.cpl}\n` +
      `CS=${seg(SEG.CS)} DS=${seg(SEG.DS)} ES=${seg(SEG.ES)} SS=${seg(SEG.SS)} FS=${seg(SEG.FS)} GS=${seg(SEG.GS)}\n` +
      `CR0=${c.cr(0).toString(16)} CR2=${c.cr(2).toString(16)} CR3=${c.cr(3).toString(16)} CR4=${c.cr(4).toString(16)}\n`
    );
  }
  if (cmd === "info stats") return basicStats(vm) + crossingReport(vm, 0);
  if (cmd === "info pci") return infoPci(vm);
  if (cmd === "info virtio") return infoVirtio(vm);
  if (cmd === "info io") return infoIo(vm);
  if (cmd === "info jit") return `${formatJitInfo(jitInfo(vm.cpu))}\n`;
  if (cmd === "info network") return infoNetwork();
  if (cmd === "") return "";
  return `unknown command '${cmd}' (info registers, info stats, info pci, info virtio, info io, info jit, info network, quit)\n`;
}

/** The VM's crossings (counted by kind and reason), modeled cycles per profile, and measured time. */
function crossingReport(vm: Vm, hostMs: number): string {
  const walk = readWalkStats(vm.cpu);
  const st = readStructureStats(vm.cpu);
  let structures = "";
  if (vm.mmu === "shadow") {
    const s = st.shadow;
    structures += `shadow MMU: root cache ${s.rootHits} hits / ${s.rootMisses} misses, ${s.pagesInUse} pool pages in use, ${s.poolFlushes} pool flushes, ${s.unshadowed} tables unshadowed\n`;
  }
  if (vm.mmu === "ept") structures += `EPT: ${st.ept.poolFlushes} pool flushes, ${st.ept.remaps} leaves remapped\n`;
  if (vm.mode === "bt") {
    const b = st.bt;
    structures += `translator: ${b.blocks} blocks, ${b.cacheBytes} cache bytes, ${b.chained} chained transitions, ${b.lookups} lookups, ${b.codeWrites} code writes, ${b.invalidated} blocks invalidated, ${b.flushes} cache flushes\n`;
  }
  if (vm.mode === "pv") structures += `pv: ${st.pv.mmuUpdates} page-table entries in ${st.pv.mmuBatches} batches\n`;
  if (vm.mode === "trap")
    structures += `trap VMM: ${st.trap.emulated} instructions emulated, ${st.trap.reflected} events reflected\n`;
  return (
    `mode: ${vm.mode} (memory: ${vm.mmu})\n` +
    `page walks: ${walk.tlbMisses} TLB misses, ${walk.refsPerMiss.toFixed(2)} memory references per miss\n` +
    structures +
    `${formatReport(readCoreStats(vm.cpu), PROFILES, hostMs)}\n` +
    `device accesses (port and MMIO, by owner):\n${infoIo(vm)}`
  );
}

function basicStats(vm: Vm): string {
  const exc = vm.cpu
    .exceptionCounts()
    .map((n, v) => (n ? `#${v}: ${n}` : ""))
    .filter(Boolean)
    .join(", ");
  return (
    `instructions retired: ${vm.cpu.instructions}\nvirtual time: ${(vm.nowNs() / 1e9).toFixed(3)} s (${vm.clockMode})\n` +
    `exceptions: ${exc || "none"}\n`
  );
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  // Every image is loaded into guest RAM (the BIOS into its 1 MiB at the top of 4 GiB).
  const ram: SizeLimit = { bytes: args.memMiB * 2 ** 20, why: `the guest's RAM (-m ${args.memMiB})` };
  const kernel = args.firmwareBoot ? undefined : readGuestFile(args.kernel, "kernel", ram);
  const initrd = args.initrd ? readGuestFile(args.initrd, "initrd", ram) : undefined;
  const bios = args.bios ? readGuestFile(args.bios, "BIOS image", BIOS_LIMIT) : undefined;
  const out = process.stdout;
  const serialOut = serialSink(args.serial, out);
  // Drives and devices belong to the machine whatever boots it (-kernel with -hda attaches the
  // disk); each image is checked for type and size before it is opened.
  const pci = machinePci(
    { ...args.machine, drives: [...legacyDrives(args), ...args.machine.drives] },
    (path, what, writable) => fileSource(path, what, writable, what === "CD image" ? ATAPI_CD_LIMIT : ATA_DISK_LIMIT),
    args.memMiB * 1024 * 1024,
  );
  const vm = await Vm.create({
    module: loadCoreModule(),
    ramBytes: args.memMiB * 1024 * 1024,
    clock: args.clock,
    wallClockSeconds: args.rtcBase === "now" ? Math.floor(Date.now() / 1000) : args.rtcBase,
    mode: args.mode,
    mmu: args.mmu,
    jit: args.jit,
    onSerial: (com, byte) => {
      if (com === 1) serialOut(byte);
    },
    pci,
  });
  let screen: (() => void) | undefined;
  if (bios && args.firmwareBoot) {
    // The VGA text screen is drawn on the terminal whenever it changes (SeaBIOS prints there).
    const { vga } = installFirmware(vm, {
      bios,
      vgaBios: readGuestFile(projectFile("guests/seabios/vgabios.bin"), "VGA BIOS", OPTION_ROM_LIMIT),
      bootLetters: args.bootLetters,
      onReset: () => vm.requestStop({ kind: "reset", source: "PIIX3 0xCF9" }),
    });
    let drawn = -1;
    screen = () => {
      if (vga.changed === drawn) return;
      drawn = vga.changed;
      out.write(`\x1b[H\x1b[2J${toAnsi(vga.textScreen())}`);
    };
  } else if (kernel) {
    loadKernel(vm.cpu, kernel, initrd, args.append);
  }

  const stdin = process.stdin;
  const interactive = stdin.isTTY === true;
  if (interactive) stdin.setRawMode(true);
  let afterCtrlA = false;
  let monitor = false;
  let monitorLine = "";
  let quit = false;
  const onData = (chunk: Buffer) => {
    for (const b of chunk) {
      if (afterCtrlA) {
        afterCtrlA = false;
        if (b === 0x78 || b === 0x58)
          quit = true; // Ctrl-A X
        else if (b === 0x63 || b === 0x43) {
          monitor = !monitor;
          out.write(monitor ? "\r\n(monitor) " : "\r\n");
        } else if (b === 0x01) vm.devices.com1.receive(Uint8Array.of(0x01));
        continue;
      }
      if (b === 0x01) {
        afterCtrlA = true;
        continue;
      }
      if (monitor) {
        if (b === 0x0d || b === 0x0a) {
          out.write("\r\n");
          if (monitorLine.trim() === "quit") quit = true;
          else out.write(monitorCommand(vm, monitorLine).replace(/\n/g, "\r\n"));
          monitorLine = "";
          if (!quit) out.write("(monitor) ");
        } else if (b === 0x7f || b === 0x08) {
          monitorLine = monitorLine.slice(0, -1);
        } else {
          monitorLine += String.fromCharCode(b);
          out.write(String.fromCharCode(b));
        }
        continue;
      }
      vm.devices.com1.receive(Uint8Array.of(b));
    }
  };
  stdin.on("data", onData);
  stdin.on("end", () => {
    if (!interactive) quit = true;
  });
  stdin.resume();

  let stop: VmStop = { kind: "stopped" };
  // Instructions and idle time (vm.progress), so that an idle guest also reaches the limit.
  const startProgress = vm.progress;
  const executed = () => vm.progress - startProgress;
  const startMs = performance.now();
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  try {
    while (!quit && executed() < args.maxInstructions) {
      if (monitor) {
        await sleep(20);
        continue;
      }
      stop = vm.runSlice(Math.min(SLICE_INSTRUCTIONS, args.maxInstructions - executed()), SLICE_MS, STEP_INSTRUCTIONS);
      screen?.();
      if (stop.kind !== "limit") break;
      // Let host input in; when the guest is idle, do not spin. A guest waiting with nothing
      // scheduled sees the wall-clock time the host waited pass (and counted) as virtual time.
      if (vm.waiting) {
        const t0 = performance.now();
        await sleep(5);
        vm.waitedIdle((performance.now() - t0) * 1e6);
      } else await new Promise((r) => (vm.idleSinceLastRun ? setTimeout(r, 5) : setImmediate(r)));
    }
  } finally {
    if (interactive) stdin.setRawMode(false);
    stdin.pause();
  }
  if (args.stats) out.write(`\r\n${crossingReport(vm, performance.now() - startMs).replace(/\n/g, "\r\n")}`);
  if (quit) {
    out.write("\r\n[x86lab: quit]\r\n");
    return 0;
  }
  if (stop.kind === "limit") {
    out.write(
      `\r\n[x86lab: stopped after ${args.maxInstructions} instructions and idle time (--max-instructions)]\r\n`,
    );
    return 0;
  }
  switch (stop.kind) {
    case "shutdown":
      out.write(`\r\nguest shutdown (${stop.message})\r\n${stop.detail ? `${stop.detail}\r\n` : ""}`);
      return 0;
    case "halted":
      out.write("\r\nguest halted (HLT with interrupts disabled)\r\n");
      return 0;
    case "reset":
      out.write(`\r\nguest reset (${stop.source})\r\n`);
      return 0;
    case "debug-exit":
      return stop.status;
    case "vmexit":
      out.write(
        `\r\nunhandled VM exit (reason ${stop.reason}, qualification 0x${stop.qualification.toString(16)}) at EIP 0x${stop.eip.toString(16)}\r\n`,
      );
      return 1;
    default:
      return 0;
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof HelpRequest) {
      console.log(err.message);
      process.exit(0);
    }
    if (
      err instanceof UserInputError ||
      err instanceof BootImageError ||
      err instanceof FirmwareError ||
      err instanceof DiskImageError
    ) {
      console.error(`x86lab: ${err.message}`);
      process.exit(2);
    }
    console.error(err);
    process.exit(1);
  },
);
