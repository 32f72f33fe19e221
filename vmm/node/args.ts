// The command line of `npm start`: QEMU's flags (and the project's --mode/--mmu/--jit), parsed by
// the shared parser (command-line.ts) and each value checked here, so that bad input is a
// one-line UserInputError (exit status 2) before anything is read or run.

import { checkModes, defaultMmu, MMU_MODES, type MmuMode, VIRT_MODES, type VirtMode } from "../virt/vmcs.js";
import type { ClockMode } from "../vm.js";
import { parseChardev, resolveConsoles } from "./chardevs.js";
import { type CommandLine, HelpRequest, type OptionTable, parseCommandLine } from "./command-line.js";
import { consoleBindings, emptyMachineArgs, hasDrives, type MachineArgs, parseDevice, parseDrive } from "./drives.js";
import { projectFile, UserInputError } from "./files.js";
import { parseNetdev, parseNic } from "./netdevs.js";
import { serialSocketPath } from "./serial-socket.js";
import { type DebugSinks, type LogItem, parseDebugDevice, parseLogItems, parseSink, type Sink } from "./sinks.js";

export { HelpRequest };

/** Where the monitor or QMP listens: the terminal, a unix socket, a TCP port on loopback. */
export type Endpoint = { kind: "stdio" } | { kind: "unix"; path: string } | { kind: "tcp"; host: string; port: number };

export interface Args {
  memMiB: number;
  /** Firmware image: boot through the BIOS instead of loading the kernel directly. */
  bios?: string;
  bootLetters?: string;
  hda?: string;
  hdb?: string;
  hdc?: string;
  hdd?: string;
  cdrom?: string;
  /** -drive and -device (vmm/node/drives.ts). */
  machine: MachineArgs;
  /** COM1: the terminal (stdio), nowhere (none), or a file (file:PATH). */
  serial: Sink;
  /** -serial unix:PATH,server: COM1 on a unix socket (vmm/node/serial-socket.ts). */
  serialSocket?: string;
  kernel: string;
  /** The kernel is the project's tiny Linux (no -kernel given). */
  defaultKernel: boolean;
  initrd?: string;
  append: string;
  /** -append was given (a Multiboot kernel's command line is then "PATH ARGS", else "PATH"). */
  appendGiven: boolean;
  clock: ClockMode;
  /** -rtc base=: wall-clock seconds at power-on, "now" (the host's), or undefined (the clock's default). */
  rtcBase?: number | "now";
  maxInstructions: number;
  firmwareBoot?: boolean;
  mode: VirtMode;
  mmu?: MmuMode;
  /** Print the crossing stats and modeled cycles when the VM stops. */
  stats: boolean;
  /** Compile hot guest code to WebAssembly (--jit on, the default) or interpret only. */
  jit: boolean;
  /** -monitor: the human monitor on the terminal (Ctrl-A C, "vc"), on stdio alone, or none. */
  monitor: "vc" | "stdio" | "none";
  /** -qmp: QMP servers. */
  qmp: Endpoint[];
  /** -no-reboot: a guest reset ends the run instead of rebooting. */
  noReboot: boolean;
  /** -S: do not start the CPU (the monitor's `cont`, QMP's cont or gdb's continue does). */
  startPaused: boolean;
  /** -s / -gdb tcp::PORT: the gdb stub's port on loopback. */
  gdbPort?: number;
  /** -d: what to log; -D: where (default stderr). */
  log: Set<LogItem>;
  logFile?: string;
  /** -debugcon and -device isa-debugcon: where the debug console ports' bytes go. */
  debug: DebugSinks;
  /** -state-dir: where savevm keeps named states (absent: in memory for the run). */
  stateDir?: string;
  /** -loadvm NAME: start from a named state in -state-dir. */
  loadvm?: string;
  /** -incoming file:PATH: start from a saved-VM file. */
  incoming?: string;
  /** -incoming tcp:HOST:PORT or unix:PATH: wait for a live migration. */
  incomingLive?: string;
}

const OPTIONS: OptionTable = {
  m: {
    type: "string",
    qemu: true,
    value: "SIZE",
    help: "guest RAM: MiB, or a number with an M or G suffix (default 64)",
  },
  kernel: {
    type: "string",
    qemu: true,
    value: "FILE",
    help: "a Linux bzImage or a Multiboot kernel (default: the project's tiny Linux)",
  },
  initrd: { type: "string", qemu: true, value: "FILE", help: "the initrd (Linux) or the modules (Multiboot)" },
  append: { type: "string", qemu: true, value: "CMDLINE", help: "the kernel command line" },
  hda: {
    type: "string",
    qemu: true,
    value: "FILE",
    help: "IDE disk, primary master (writes stay in memory: snapshot)",
  },
  hdb: { type: "string", qemu: true, value: "FILE", help: "IDE disk, primary slave" },
  hdc: { type: "string", qemu: true, value: "FILE", help: "IDE disk, secondary master" },
  hdd: { type: "string", qemu: true, value: "FILE", help: "IDE disk, secondary slave" },
  cdrom: { type: "string", qemu: true, value: "FILE", help: "CD image (secondary master)" },
  snapshot: {
    type: "boolean",
    qemu: true,
    help: "every drive copy-on-write, snapshot=off ones too (writes go to a temporary qcow2 overlay)",
  },
  drive: {
    type: "string",
    qemu: true,
    multiple: true,
    value: "OPTS",
    help: "file=F[,if=ide|virtio|none][,format=raw][,media=disk|cdrom][,readonly=on]\n[,snapshot=off][,index=N][,id=NAME]",
  },
  device: {
    type: "string",
    qemu: true,
    multiple: true,
    value: "DRIVER[,OPTS]",
    help:
      "virtio-blk-pci,drive=NAME | virtio-rng-pci | virtio-net-pci | ne2k_pci | virtio-balloon-pci\n" +
      "(NICs take netdev=NAME and mac=52:54:00:xx:xx:xx) | virtio-serial-pci (one port: hvc0)\n" +
      "| virtconsole,chardev=ID (where that port's bytes go) | isa-debugcon[,iobase=0xe9|0x402][,chardev=SINK]\n" +
      "| isa-debug-exit[,iobase=0xf4] (the guest's write of V there ends the run with status V*2+1)",
  },
  chardev: {
    type: "string",
    qemu: true,
    multiple: true,
    value: "BACKEND,id=ID",
    help:
      "stdio | file,path=FILE | null: for -device virtconsole,chardev=ID; a stdio one also takes\n" +
      "the keyboard (typed keys go to hvc0 instead of COM1)",
  },
  netdev: {
    type: "string",
    qemu: true,
    multiple: true,
    value: "TYPE,id=NAME",
    help:
      "user[,net=ADDR/PREFIX][,host=ADDR][,restrict=on][,hostfwd=tcp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT]...\n" +
      "  a NAT network: DHCP, DNS, TCP/UDP out, forwards in (docs/networks.md)\n" +
      "| network,xml=FILE|name=default[,hostfwd=...][,restrict=on]: libvirt's network XML, shared by the NICs naming it\n" +
      "| socket,connect=HOST:PORT|listen=[HOST]:PORT\n" +
      "| stream,server=on|off,addr.type=inet|unix,addr.host=H,addr.port=P|addr.path=F: frames to another process",
  },
  nic: {
    type: "string",
    qemu: true,
    multiple: true,
    value: "user|none",
    help:
      "[,model=virtio-net-pci|ne2k_pci][,mac=...][,net=...][,host=...][,hostfwd=...]\n" +
      "-nic user is a NIC on its own NAT network (as -netdev user); -nic none: no NIC",
  },
  bios: {
    type: "string",
    qemu: true,
    value: "FILE",
    help: "firmware image; without -kernel, SeaBIOS boots from the drives",
  },
  boot: { type: "string", qemu: true, value: "[order=]LETTERS", help: "boot order for the firmware: a, c, d, n" },
  serial: {
    type: "string",
    qemu: true,
    value: "SINK",
    help: "COM1: stdio (default), none, file:PATH, unix:PATH,server[,wait=off] (a socket for a console client)",
  },
  debugcon: {
    type: "string",
    qemu: true,
    value: "SINK",
    help: "the debug console at port 0xE9: stdio, none (default), file:PATH",
  },
  monitor: {
    type: "string",
    qemu: true,
    value: "stdio|vc|none",
    help: "the human monitor: on the terminal behind Ctrl-A C (vc, the default), alone on stdio\n(the guest's serial output still shows; no guest input), or none",
  },
  qmp: {
    type: "string",
    qemu: true,
    multiple: true,
    value: "ENDPOINT",
    help: "QMP (JSON) server: unix:PATH[,server][,wait=off] | tcp:[HOST]:PORT[,server][,wait=off] | stdio",
  },
  nographic: { type: "boolean", qemu: true, help: "accepted for QEMU's sake: there is no graphical window anyway" },
  "no-reboot": { type: "boolean", qemu: true, help: "a guest reset ends the run (status 0) instead of rebooting" },
  S: { type: "boolean", help: "start with the CPU stopped (cont in the monitor or QMP, or gdb's continue)" },
  "state-dir": {
    type: "string",
    value: "DIR",
    help: "where the monitor's savevm keeps named states (NAME.x86vm); default: in memory for the run",
  },
  loadvm: { type: "string", qemu: true, value: "NAME", help: "start from the state savevm NAME saved in -state-dir" },
  incoming: {
    type: "string",
    qemu: true,
    value: "file:PATH|tcp:[HOST]:PORT|unix:PATH",
    help: "start from a saved-VM file (the monitor's migrate file:PATH writes one), or wait\nfor a live migration from a source's migrate tcp:|unix: (docs/migration.md)",
  },
  s: { type: "boolean", help: "shorthand for -gdb tcp::1234" },
  gdb: {
    type: "string",
    qemu: true,
    value: "tcp::PORT",
    help: "wait for gdb on 127.0.0.1:PORT (GDB remote serial protocol)",
  },
  d: {
    type: "string",
    value: "ITEM,...",
    help: "log: int (exceptions), cpu_reset, exits (VM exits from the trace ring), post (POST codes), help",
  },
  D: { type: "string", value: "FILE", help: "write the -d log to FILE instead of stderr" },
  rtc: {
    type: "string",
    qemu: true,
    value: "base=...",
    help:
      "base=utc|localtime|YYYY-MM-DD[THH:MM:SS]: the wall-clock time the RTC and kvmclock start\n" +
      "from: the host's now (utc, localtime) or a date (UTC); default 2024-01-01 under icount\n" +
      "(a run is the same every time), the host's now under realtime",
  },
  accel: {
    type: "string",
    qemu: true,
    value: "MODE[,mmu=M]",
    help: "how the guest runs: tcg (= native), trap, bt, hvm (kvm is an alias), pv; the same as --mode/--mmu",
  },
  mode: { type: "string", value: "MODE", help: "native (default), trap, bt, hvm, pv" },
  mmu: { type: "string", value: "shadow|ept", help: "memory virtualization for the hypervisor modes" },
  clock: {
    type: "string",
    value: "icount|realtime",
    help: "virtual time: instructions (reproducible, default) or the host's",
  },
  jit: {
    type: "string",
    value: "on|off",
    help: "compile hot guest code to WebAssembly (default on) or only interpret",
  },
  stats: { type: "boolean", help: "print the crossings and modeled cycles when the VM stops" },
  "max-instructions": {
    type: "string",
    value: "N",
    help:
      "stop after N instructions (a positive integer); idle time counts as the instructions it\n" +
      "stands for (1 ns each), and a guest waiting for input with no timer lets wall-clock time\n" +
      "pass as virtual time",
  },
  version: { type: "boolean", qemu: true, help: "print the version and exit" },
  help: { type: "boolean", short: "h", help: "this text" },
};

export const CLI: CommandLine = {
  program: "npm start --",
  summary:
    "Flags follow QEMU's spelling (one dash); --name and --name=value work too.\n" +
    "Keys on the terminal: Ctrl-A X quits, Ctrl-A C switches to the monitor and back, Ctrl-A A sends Ctrl-A.",
  options: OPTIONS,
};

/** The RAM a VM can have: the PCI hole starts at 3 GiB. */
const MAX_RAM_MIB = 3072;
const MIN_RAM_MIB = 16;

/** QEMU's -m: `[size=]N[M|G]` with M the default unit; the result must be whole MiB. */
export function parseMemSize(v: string): number {
  const m = /^(?:size=)?(\d+(?:\.\d+)?)([MmGg]?)$/.exec(v);
  const mib = m ? Number(m[1]) * (m[2].toUpperCase() === "G" ? 1024 : 1) : Number.NaN;
  if (!Number.isInteger(mib)) throw new UserInputError(`-m ${v}: give a size in MiB, or with an M or G suffix`);
  if (mib < MIN_RAM_MIB || mib > MAX_RAM_MIB) {
    throw new UserInputError(`-m ${v}: give ${MIN_RAM_MIB} to ${MAX_RAM_MIB} MiB (the PCI hole starts at 3 GiB)`);
  }
  return mib;
}

/** QEMU's -rtc base=: utc or localtime (the host's now) or a date, read as UTC. */
export function parseRtcBase(v: string): number | "now" {
  const m = /^base=(.*)$/.exec(v);
  const base = m ? m[1]! : "";
  if (base === "utc" || base === "localtime") return "now";
  const date = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2}))?$/.exec(base);
  const ms = date
    ? Date.UTC(+date[1]!, +date[2]! - 1, +date[3]!, +(date[4] ?? 0), +(date[5] ?? 0), +(date[6] ?? 0))
    : Number.NaN;
  if (!Number.isFinite(ms) || new Date(ms).toISOString().slice(0, 10) !== base.slice(0, 10) || ms < 0) {
    throw new UserInputError(`-rtc ${v}: use base=utc, base=localtime or base=YYYY-MM-DD[THH:MM:SS]`);
  }
  return ms / 1000;
}

/** A positive whole number of instructions. */
export function parseInstructionCount(flag: string, v: string): number {
  const n = /^\d+$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isSafeInteger(n) || n <= 0) throw new UserInputError(`${flag} ${v}: give a positive whole number`);
  return n;
}

/** A TCP port on loopback, 1 to 65535. */
export function parsePort(flag: string, v: string): number {
  const n = /^\d+$/.test(v) ? Number(v) : Number.NaN;
  if (!(n >= 1 && n <= 65535)) throw new UserInputError(`${flag} ${v}: give a port from 1 to 65535`);
  return n;
}

/** QEMU's chardev spellings for a server: unix:PATH,server / tcp:[HOST]:PORT,server / stdio. */
export function parseEndpoint(flag: string, v: string): Endpoint {
  const [head = "", ...opts] = v.split(",");
  for (const o of opts) {
    if (!/^(server(=on)?|nowait|wait=off)$/.test(o)) {
      throw new UserInputError(`${flag} ${v}: '${o}' is not supported (server, wait=off)`);
    }
  }
  if (head === "stdio") return { kind: "stdio" };
  if (head.startsWith("unix:") && head.length > 5) return { kind: "unix", path: head.slice(5) };
  const tcp = /^tcp:([^:]*):(\d+)$/.exec(head);
  if (tcp) {
    const host = tcp[1] || "127.0.0.1";
    if (host !== "127.0.0.1" && host !== "localhost" && host !== "::1") {
      throw new UserInputError(`${flag} ${v}: listens on loopback only (give tcp::PORT or tcp:127.0.0.1:PORT)`);
    }
    return { kind: "tcp", host, port: parsePort(flag, tcp[2]!) };
  }
  throw new UserInputError(`${flag} ${v}: use unix:PATH,server, tcp:[HOST]:PORT,server or stdio`);
}

/** -accel MODE[,mmu=M]: QEMU's accelerator names map to the project's modes (tcg: no hypervisor). */
function parseAccel(v: string): { mode: VirtMode; mmu?: MmuMode } {
  const [name = "", ...opts] = v.split(",");
  const alias: Record<string, VirtMode> = { tcg: "native", kvm: "hvm" };
  const mode = alias[name] ?? name;
  if (!(VIRT_MODES as readonly string[]).includes(mode)) {
    throw new UserInputError(`-accel ${v}: use tcg (native), trap, bt, hvm (kvm) or pv`);
  }
  let mmu: MmuMode | undefined;
  for (const o of opts) {
    const m = /^mmu=(.*)$/.exec(o);
    if (!m) throw new UserInputError(`-accel ${v}: '${o}' is not an option (mmu=shadow|ept)`);
    mmu = checkMmu(`-accel ${v}`, m[1]!);
  }
  return { mode: mode as VirtMode, mmu };
}

function checkMmu(flag: string, v: string): MmuMode {
  if (v === "direct" || !(MMU_MODES as readonly string[]).includes(v))
    throw new UserInputError(`${flag}: use shadow or ept`);
  return v as MmuMode;
}

export function parseArgs(argv: string[]): Args {
  const parsed = parseCommandLine(CLI, argv);
  const args: Args = {
    memMiB: 64,
    kernel: projectFile("guests/linux/bzImage"),
    defaultKernel: true,
    initrd: projectFile("guests/linux/initramfs.cpio.gz"),
    append: "console=ttyS0 panic=-1",
    appendGiven: false,
    clock: "icount",
    maxInstructions: Number.POSITIVE_INFINITY,
    serial: { kind: "stdio" },
    mode: "native",
    stats: false,
    jit: true,
    machine: emptyMachineArgs(),
    monitor: "vc",
    qmp: [],
    noReboot: false,
    startPaused: false,
    log: new Set(),
    debug: { consoles: new Map() },
  };
  let kernelGiven = false;
  let biosGiven = false;
  let initrdGiven = false;
  let nicCount = 0;
  let snapshotAll = false;
  // In order: -nic counts its position, -drive and -device keep theirs.
  for (const { name, flag, value: raw } of parsed.tokens) {
    const v = raw ?? "";
    switch (name) {
      case "version":
        throw new HelpRequest("x86lab 0.1.0 (QEMU-style command line; a full-system x86 emulator and hypervisor)");
      case "m":
        args.memMiB = parseMemSize(v);
        break;
      case "bios":
        args.bios = v;
        biosGiven = true;
        break;
      case "serial":
        args.serialSocket = serialSocketPath(v);
        args.serial = args.serialSocket === undefined ? parseSink("-serial", v) : { kind: "none" };
        break;
      case "debugcon":
        args.debug.consoles.set(0xe9, parseSink("-debugcon", v));
        break;
      case "hda":
      case "hdb":
      case "hdc":
      case "hdd":
      case "cdrom":
        args[name] = v;
        break;
      case "drive":
        args.machine.drives.push(parseDrive(v));
        break;
      case "snapshot":
        snapshotAll = true;
        break;
      case "device":
        if (!parseDebugDevice(v, args.debug)) args.machine.devices.push(parseDevice(v));
        break;
      case "chardev":
        args.machine.chardevs = [...(args.machine.chardevs ?? []), parseChardev(v)];
        break;
      case "netdev":
        args.machine.netdevs.push(parseNetdev(v));
        break;
      case "nic": {
        const r = parseNic(v, nicCount++);
        if (r) {
          args.machine.netdevs.push(r.netdev);
          args.machine.devices.push({ driver: r.nic.model, netdev: r.nic.netdev, mac: r.nic.mac });
        }
        break;
      }
      case "boot": {
        const letters = v.replace(/^order=/, "");
        if (!/^[acdn]+$/.test(letters)) throw new UserInputError(`-boot ${letters}: use drive letters a, c, d, n`);
        args.bootLetters = letters;
        break;
      }
      case "kernel":
        args.kernel = v;
        kernelGiven = true;
        break;
      case "initrd":
        args.initrd = v;
        initrdGiven = true;
        break;
      case "append":
        args.append = v;
        args.appendGiven = true;
        break;
      case "rtc":
        args.rtcBase = parseRtcBase(v);
        break;
      case "clock":
        if (v !== "icount" && v !== "realtime") throw new UserInputError(`--clock ${v}: use icount or realtime`);
        args.clock = v;
        break;
      case "jit":
        if (v !== "on" && v !== "off") throw new UserInputError(`--jit ${v}: use on or off`);
        args.jit = v === "on";
        break;
      case "mode":
        if (!(VIRT_MODES as readonly string[]).includes(v)) {
          throw new UserInputError(`--mode ${v}: use ${VIRT_MODES.join(", ")}`);
        }
        args.mode = v as VirtMode;
        break;
      case "mmu":
        args.mmu = checkMmu(`--mmu ${v}`, v);
        break;
      case "accel": {
        const a = parseAccel(v);
        args.mode = a.mode;
        if (a.mmu) args.mmu = a.mmu;
        break;
      }
      case "stats":
        args.stats = true;
        break;
      case "max-instructions":
        args.maxInstructions = parseInstructionCount(flag, v);
        break;
      case "monitor":
        if (v !== "stdio" && v !== "vc" && v !== "none")
          throw new UserInputError(`-monitor ${v}: use stdio, vc or none`);
        args.monitor = v;
        break;
      case "qmp":
        args.qmp.push(parseEndpoint("-qmp", v));
        break;
      case "no-reboot":
        args.noReboot = true;
        break;
      case "S":
        args.startPaused = true;
        break;
      case "state-dir":
        args.stateDir = v;
        break;
      case "loadvm":
        args.loadvm = v;
        break;
      case "incoming":
        if (/^(tcp|unix):./.test(v)) args.incomingLive = v;
        else if (!v.startsWith("file:") || v.length === 5)
          throw new UserInputError(`-incoming ${v}: use file:PATH, tcp:[HOST]:PORT or unix:PATH`);
        else args.incoming = v.slice(5);
        break;
      case "s":
        args.gdbPort = 1234;
        break;
      case "gdb": {
        const m = /^tcp:(?:127\.0\.0\.1|localhost)?:(\d+)$/.exec(v);
        if (!m) throw new UserInputError(`-gdb ${v}: use tcp::PORT (the stub listens on 127.0.0.1)`);
        args.gdbPort = parsePort("-gdb", m[1]!);
        break;
      }
      case "d":
        for (const item of parseLogItems(v)) args.log.add(item);
        break;
      case "D":
        args.logFile = v;
        break;
      default:
        // nographic: accepted, nothing to do.
        break;
    }
  }
  // -snapshot: as QEMU's, for every drive wherever it stands on the line.
  if (snapshotAll) for (const d of args.machine.drives) d.snapshot = true;
  if (kernelGiven && !initrdGiven) args.initrd = undefined;
  if (kernelGiven) args.defaultKernel = false;
  const modeError = checkModes(args.mode, args.mmu ?? defaultMmu(args.mode));
  if (modeError) throw new UserInputError(modeError);
  // Without a drive, only -state-dir can hold the state (a qcow2 drive keeps its own snapshots).
  const anyDrive = args.machine.drives.length > 0 || [args.hda, args.hdb, args.hdc, args.hdd].some((d) => d);
  if (args.loadvm !== undefined && args.stateDir === undefined && !anyDrive) {
    throw new UserInputError("-loadvm needs -state-dir DIR or a qcow2 drive (where savevm put the state)");
  }
  if (args.loadvm !== undefined && (args.incoming ?? args.incomingLive) !== undefined) {
    throw new UserInputError("-loadvm and -incoming both name a state to start from: give one");
  }
  if (args.qmp.filter((q) => q.kind === "stdio").length > 0 && args.monitor === "stdio") {
    throw new UserInputError("-qmp stdio and -monitor stdio cannot share the terminal");
  }
  const consoles = resolveConsoles(args.machine.chardevs ?? [], consoleBindings(args.machine));
  if (
    consoles.some((c) => c?.kind === "stdio") &&
    (args.monitor === "stdio" || args.qmp.some((q) => q.kind === "stdio"))
  ) {
    throw new UserInputError(
      "-chardev stdio takes the keyboard: it cannot share the terminal with -monitor/-qmp stdio",
    );
  }
  // With a disk or a CD and no -kernel, the firmware boots from its devices (SeaBIOS unless
  // -bios names another image).
  const anyDisk = [args.hda, args.hdb, args.hdc, args.hdd, args.cdrom].some((d) => d !== undefined);
  const fromDevices = (biosGiven || anyDisk || hasDrives(args.machine)) && !kernelGiven;
  if (fromDevices) {
    args.initrd = undefined;
    args.defaultKernel = false;
    args.bios ??= projectFile("guests/seabios/bios.bin");
    if (!args.bootLetters) args.bootLetters = args.cdrom && !args.hda ? "d" : "c";
  }
  args.firmwareBoot = fromDevices;
  return args;
}
