// The command line of `npm start`: QEMU-style flags, each value checked here so that bad input is
// a one-line UserInputError (exit status 2) before anything is read or run.

import { checkModes, defaultMmu, MMU_MODES, type MmuMode, VIRT_MODES, type VirtMode } from "../virt/vmcs.js";
import type { ClockMode } from "../vm.js";
import { emptyMachineArgs, hasDrives, type MachineArgs, parseDevice, parseDrive } from "./drives.js";
import { projectFile, UserInputError } from "./files.js";
import { parseNetdev, parseNic } from "./netdevs.js";

export interface Args {
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
}

const USAGE = `usage: npm start -- [options]
  -m SIZE               guest RAM: MiB, or a number with an M or G suffix (default 64)
  -kernel FILE          a Linux bzImage or a Multiboot kernel (default: the project's tiny Linux)
  -initrd FILE          the initrd (Linux) or the module (Multiboot)
  -append CMDLINE       the kernel command line
  -hda FILE, -cdrom FILE, -bios FILE, -boot [order=]LETTERS
                        IDE disk or CD image; without -kernel, SeaBIOS boots from the drives
  -drive file=F[,if=ide|virtio|none][,format=raw][,media=disk|cdrom][,readonly=on]
         [,snapshot=off][,index=N][,id=NAME]
  -device virtio-blk-pci,drive=NAME | virtio-rng-pci | virtio-net-pci | ne2k_pci
          | virtio-balloon-pci
                        (NICs take netdev=NAME and mac=52:54:00:xx:xx:xx)
  -netdev user,id=NAME[,net=ADDR/PREFIX][,host=ADDR][,restrict=on]
         [,hostfwd=tcp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT]...
                        a NAT network: DHCP, DNS, TCP/UDP out, forwards in (docs/networks.md)
  -netdev network,id=NAME,xml=FILE|name=default[,hostfwd=...][,restrict=on]
                        a network from libvirt's network XML, shared by the NICs naming it
  -netdev socket,id=NAME,connect=HOST:PORT|listen=[HOST]:PORT
  -netdev stream,id=NAME,server=on|off,addr.type=inet|unix,addr.host=H,addr.port=P|addr.path=F
                        frames to another process in QEMU's stream framing
  -nic user[,model=virtio-net-pci|ne2k_pci][,mac=...][,net=...][,host=...][,hostfwd=...]
       | -nic none      (a NIC with no netdev= has a wire whose one host answers ARP and ping)
  -serial stdio|none|file:PATH
  --clock icount|realtime, --mode native|trap|bt|hvm|pv, --mmu shadow|ept, --stats
  --jit on|off          compile hot guest code to WebAssembly (default on) or only interpret
  -rtc base=utc|localtime|YYYY-MM-DD[THH:MM:SS]
                        the wall-clock time the RTC and kvmclock start from: the host's now
                        (utc, localtime) or a date (UTC); default 2024-01-01 under icount (a run
                        is the same every time), the host's now under realtime
  --max-instructions N  stop after N instructions (a positive integer); idle time counts as the
                        instructions it stands for (1 ns each), and a guest waiting for input with
                        no timer lets wall-clock time pass as virtual time
  Ctrl-A X quits; Ctrl-A C toggles the monitor.`;

/** Asked for --help: the usage goes to stdout and the exit status is 0. */
export class HelpRequest extends Error {}

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
    jit: true,
    machine: emptyMachineArgs(),
  };
  let kernelGiven = false;
  let biosGiven = false;
  let initrdGiven = false;
  let nicCount = 0;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UserInputError(`${a} needs a value (npm start -- --help lists them)`);
      return v;
    };
    switch (a) {
      case "-m":
        args.memMiB = parseMemSize(value());
        break;
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
      case "-netdev":
        args.machine.netdevs.push(parseNetdev(value()));
        break;
      case "-nic": {
        const r = parseNic(value(), nicCount++);
        if (r) {
          args.machine.netdevs.push(r.netdev);
          args.machine.devices.push({ driver: r.nic.model, netdev: r.nic.netdev, mac: r.nic.mac });
        }
        break;
      }
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
      case "-rtc":
        args.rtcBase = parseRtcBase(value());
        break;
      case "--clock": {
        const v = value();
        if (v !== "icount" && v !== "realtime") throw new UserInputError(`--clock ${v}: use icount or realtime`);
        args.clock = v;
        break;
      }
      case "--jit": {
        const v = value();
        if (v !== "on" && v !== "off") throw new UserInputError(`--jit ${v}: use on or off`);
        args.jit = v === "on";
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
        args.maxInstructions = parseInstructionCount(a, value());
        break;
      case "-nographic":
        break;
      case "-h":
      case "--help":
        throw new HelpRequest(USAGE);
      default:
        throw new UserInputError(`unknown option '${a}' (npm start -- --help lists them)`);
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
