// `npm start`: boots a guest (Linux bzImage or Multiboot kernel) with its serial console on this
// terminal (raw mode).
// Ctrl-A X quits; Ctrl-A C toggles a small monitor (info registers, info stats, quit).
// Flags follow QEMU's: -m MiB, -kernel, -initrd, -append, -nographic (the default),
// --clock icount|realtime, --mode native|trap|bt|hvm|pv, --mmu shadow|ept, --stats (print the
// crossing counts and modeled cycles on exit). With no -kernel, the project's tiny Linux boots.

import { openSync, writeSync } from "node:fs";
import { DiskImageError } from "../../devices/storage/block.js";
import { toAnsi } from "../../devices/vga/render.js";
import { loadKernel } from "../boot/kernel.js";
import { BootImageError } from "../boot/linux.js";
import { REG, SEG } from "../cpu.js";
import { FirmwareError, installFirmware } from "../firmware.js";
import { infoIo, infoPci, infoVirtio } from "../info.js";
import { formatReport, PROFILES, readCoreStats, readStructureStats, readWalkStats } from "../stats/index.js";
import { checkModes, defaultMmu, MMU_MODES, type MmuMode, VIRT_MODES, type VirtMode } from "../virt/vmcs.js";
import { type ClockMode, Vm, type VmStop } from "../vm.js";
import {
  emptyMachineArgs,
  hasDrives,
  legacyDrives,
  type MachineArgs,
  machinePci,
  parseDevice,
  parseDrive,
} from "./drives.js";
import { projectFile, readGuestFile, UserInputError } from "./files.js";
import { fileSource } from "./image-file.js";
import { loadCoreModule } from "./load-core.js";

interface Args {
  memMiB: number;
  /** Firmware image: boot through the BIOS instead of loading the kernel directly. */
  bios?: string;
  bootLetters?: string;
  hda?: string;
  cdrom?: string;
  /** -drive and -device (vmm/node/drives.ts). */
  machine: MachineArgs;
  /** COM1: the terminal (stdio), nowhere (none), or a file (file:PATH). */
  serial: "stdio" | "none" | { file: string };
  kernel: string;
  initrd?: string;
  append: string;
  clock: ClockMode;
  maxInstructions: number;
  firmwareBoot?: boolean;
  mode: VirtMode;
  mmu?: MmuMode;
  /** Print the crossing stats and modeled cycles when the VM stops. */
  stats: boolean;
}

const USAGE =
  "usage: npm start -- [-m MiB] [-kernel bzImage] [-initrd file] [-append cmdline] [--clock icount|realtime]\n" +
  "                    [--mode native|trap|bt|hvm|pv] [--mmu shadow|ept] [--stats]";

export function parseArgs(argv: string[]): Args {
  const args: Args = {
    memMiB: 64,
    kernel: projectFile("guests/linux/bzImage"),
    initrd: projectFile("guests/linux/initramfs.cpio.gz"),
    append: "console=ttyS0 panic=-1",
    clock: "icount",
    maxInstructions: Number.POSITIVE_INFINITY,
    serial: "stdio",
    mode: "native",
    stats: false,
    machine: emptyMachineArgs(),
  };
  let kernelGiven = false;
  let biosGiven = false;
  let initrdGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UserInputError(`${a} needs a value\n${USAGE}`);
      return v;
    };
    switch (a) {
      case "-m": {
        const v = value();
        const n = Number.parseInt(v.replace(/[Mm]$/, ""), 10);
        if (!Number.isFinite(n) || n < 16 || n > 3072) throw new UserInputError(`-m ${v}: give 16 to 3072 MiB`);
        args.memMiB = n;
        break;
      }
      case "-bios":
        args.bios = value();
        biosGiven = true;
        break;
      case "-serial": {
        const v = value();
        if (v === "stdio" || v === "none") args.serial = v;
        else if (v.startsWith("file:") && v.length > 5) args.serial = { file: v.slice(5) };
        else throw new UserInputError(`-serial ${v}: use stdio, none or file:PATH`);
        break;
      }
      case "-hda":
        args.hda = value();
        break;
      case "-cdrom":
        args.cdrom = value();
        break;
      case "-drive":
        args.machine.drives.push(parseDrive(value()));
        break;
      case "-device":
        args.machine.devices.push(parseDevice(value()));
        break;
      case "-boot": {
        const v = value().replace(/^order=/, "");
        if (!/^[acdn]+$/.test(v)) throw new UserInputError(`-boot ${v}: use drive letters a, c, d, n`);
        args.bootLetters = v;
        break;
      }
      case "-kernel":
        args.kernel = value();
        kernelGiven = true;
        break;
      case "-initrd":
        args.initrd = value();
        initrdGiven = true;
        break;
      case "-append":
        args.append = value();
        break;
      case "--clock": {
        const v = value();
        if (v !== "icount" && v !== "realtime") throw new UserInputError(`--clock ${v}: use icount or realtime`);
        args.clock = v;
        break;
      }
      case "--mode": {
        const v = value();
        if (!(VIRT_MODES as readonly string[]).includes(v)) {
          throw new UserInputError(`--mode ${v}: use ${VIRT_MODES.join(", ")}`);
        }
        args.mode = v as VirtMode;
        break;
      }
      case "--mmu": {
        const v = value();
        if (v === "direct" || !(MMU_MODES as readonly string[]).includes(v)) {
          throw new UserInputError(`--mmu ${v}: use shadow or ept`);
        }
        args.mmu = v as MmuMode;
        break;
      }
      case "--stats":
        args.stats = true;
        break;
      case "--max-instructions":
        args.maxInstructions = Number(value());
        break;
      case "-nographic":
        break;
      case "-h":
      case "--help":
        throw new UserInputError(USAGE);
      default:
        throw new UserInputError(`unknown option '${a}'\n${USAGE}`);
    }
  }
  if (kernelGiven && !initrdGiven) args.initrd = undefined;
  const modeError = checkModes(args.mode, args.mmu ?? defaultMmu(args.mode));
  if (modeError) throw new UserInputError(modeError);
  // With a disk or a CD and no -kernel, the firmware boots from its devices (SeaBIOS unless
  // -bios names another image).
  const fromDevices =
    (biosGiven || args.hda !== undefined || args.cdrom !== undefined || hasDrives(args.machine)) && !kernelGiven;
  if (fromDevices) {
    args.initrd = undefined;
    args.bios ??= projectFile("guests/seabios/bios.bin");
    if (!args.bootLetters) args.bootLetters = args.cdrom && !args.hda ? "d" : "c";
  }
  args.firmwareBoot = fromDevices;
  return args;
}

/** Where COM1's bytes go. A file is opened (truncated) before the guest starts. */
function serialSink(serial: Args["serial"], out: NodeJS.WriteStream): (byte: number) => void {
  if (serial === "none") return () => {};
  if (serial === "stdio") return (byte) => out.write(Uint8Array.of(byte));
  const fd = openSerialFile(serial.file);
  return (byte) => writeSync(fd, Uint8Array.of(byte));
}

function openSerialFile(path: string): number {
  try {
    return openSync(path, "w");
  } catch (err) {
    throw new UserInputError(`-serial file:${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
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
  if (cmd === "") return "";
  return `unknown command '${cmd}' (info registers, info stats, info pci, info virtio, info io, quit)\n`;
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
  const kernel = args.firmwareBoot ? undefined : readGuestFile(args.kernel, "kernel");
  const initrd = args.initrd ? readGuestFile(args.initrd, "initrd") : undefined;
  const bios = args.bios ? readGuestFile(args.bios, "BIOS image") : undefined;
  const out = process.stdout;
  const serialOut = serialSink(args.serial, out);
  // Drives and devices are the machine's whatever boots it (-kernel with -hda attaches the disk).
  const pci = machinePci(
    { drives: [...legacyDrives(args), ...args.machine.drives], devices: args.machine.devices },
    fileSource,
  );
  const vm = await Vm.create({
    module: loadCoreModule(),
    ramBytes: args.memMiB * 1024 * 1024,
    clock: args.clock,
    mode: args.mode,
    mmu: args.mmu,
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
      vgaBios: readGuestFile(projectFile("guests/seabios/vgabios.bin"), "VGA BIOS"),
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
  let executed = 0;
  const startMs = performance.now();
  try {
    while (!quit && executed < args.maxInstructions) {
      if (monitor) {
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      const before = vm.cpu.instructions;
      stop = vm.run(Math.min(5_000_000, args.maxInstructions - executed));
      screen?.();
      executed += Number(vm.cpu.instructions - before);
      if (stop.kind !== "limit") break;
      // Let host input in; when the guest is idle, do not spin.
      await new Promise((r) => (vm.idleSinceLastRun ? setTimeout(r, 5) : setImmediate(r)));
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
