// The human monitor's commands (QEMU's names and output where they exist), for Ctrl-A C,
// -monitor stdio, QMP's human-monitor-command and the library. Each command returns its text;
// the line editing is the front end's (vmm/node/monitor-repl.ts uses node:readline). Other parts
// of the VMM add `info` subcommands with registerInfo (the network helper's `info network`).

import { encodePng, encodePpm, fontMissing, renderTextImage } from "../../devices/vga/image.js";
import { SEG } from "../cpu.js";
import * as L from "../generated/layout.js";
import { infoIo, infoPci, infoVirtio } from "../info.js";
import { formatJitInfo, jitInfo } from "../jit/info.js";
import type { Machine } from "../lib/machine.js";
import { VmStateError } from "../state/container.js";
import { formatMigrationInfo, type MigrationControl, setMigrationParameter } from "../state/migration-info.js";
import { infoSnapshots } from "../state/snapshot-table.js";
import {
  MemorySnapshotStore,
  SnapshotError,
  type SnapshotStore,
  StoredSnapshots,
  type VmSnapshots,
} from "../state/store.js";
import { resetCoreStats } from "../stats/index.js";
import { infoMtree, infoPic } from "./devices.js";
import { disassemble, formatDisasm, type Syntax } from "./disasm-syntax.js";
import { sendKeys } from "./keys.js";
import {
  type DumpFormat,
  dumpMemory,
  infoMem,
  infoTlb,
  MonitorError,
  parseAddress,
  parseFormat,
  readLinear,
  readPhysical,
} from "./memory.js";
import { basicStats, crossingReport, registersReport, traceReport } from "./report.js";

export { MonitorError };

/** What the monitor asks of its host (the CLI in Node, a page, a test). */
export interface MonitorHost {
  /** Ends the program (quit). */
  quit(): void;
  /** Writes a file (screendump); absent: the command says it cannot. */
  writeFile?(path: string, data: string | Uint8Array): void;
  /** Starts the gdb stub on a loopback port; returns what it says. */
  gdbserver?(port: number): Promise<string>;
  /** Host wall time the machine has run, for the measured line of `info stats`. */
  hostMs?(): number;
  /** Writes a binary file (migrate file:PATH); absent: the command says it cannot. */
  writeBytes?(path: string, data: Uint8Array): void;
  /** Where savevm keeps named states; absent: in memory for the life of the monitor. */
  snapshots?: SnapshotStore;
  /** savevm/loadvm/delvm as a whole (qcow2 internal snapshots); absent: over `snapshots`. */
  vmSnapshots?: VmSnapshots;
  /** A destination still waiting for an incoming migration (-incoming tcp:|unix:). */
  incoming?: IncomingWait;
  /** Live migration over sockets (migrate tcp:|unix:, info migrate); absent: file: only. */
  migration?: MigrationControl;
}

/** A destination waiting for its migration: `cont` asks for the guest to run once it is in. */
export interface IncomingWait {
  readonly waiting: boolean;
  /** QEMU's autostart: run the guest when the migration completes (as without -S). */
  autostart(): void;
}

export interface InfoCommand {
  help: string;
  run(args: string[]): string | Promise<string>;
}

interface Command {
  args: string;
  help: string;
  run(args: string[], rest: string): string | Promise<string>;
}

export class Monitor {
  private readonly info = new Map<string, InfoCommand>();
  private readonly commands = new Map<string, Command>();
  private readonly aliases = new Map<string, string>();
  private lastFormat: DumpFormat = { count: 1, format: "x", size: 4 };
  /** The syntax of x/i (set disassembly-flavor). */
  private syntax: Syntax = "att";

  constructor(
    readonly machine: Machine,
    private readonly host: MonitorHost,
  ) {
    this.addCommands();
    this.addInfo();
  }

  /** The host's live migration, if it has one (QMP's migrate commands use it). */
  get migration(): MigrationControl | undefined {
    return this.host.migration;
  }

  /** Adds (or replaces) an `info NAME` subcommand. */
  registerInfo(name: string, help: string, run: InfoCommand["run"]): void {
    this.info.set(name, { help, run });
  }

  /** The command names, for completion. */
  completions(): string[] {
    return [...this.commands.keys(), ...[...this.info.keys()].map((k) => `info ${k}`)];
  }

  /** Runs one command line; returns its output (an error is output too, one line). */
  async execute(line: string): Promise<string> {
    // QEMU takes the format glued to the command too: x/5i $eip is x /5i $eip.
    const text = line.trim().replace(/^(\w+)\//, "$1 /");
    const words = text.split(/\s+/).filter(Boolean);
    if (words.length === 0) return "";
    const name = this.aliases.get(words[0]!) ?? words[0]!;
    const cmd = this.commands.get(name);
    if (!cmd) return `unknown command: '${words[0]}' (help lists them)\n`;
    try {
      return await cmd.run(words.slice(1), text.slice(words[0]!.length).trim());
    } catch (err) {
      if (err instanceof MonitorError) return `${err.message}\n`;
      throw err;
    }
  }

  /** Writes a file for a command; the host's failure (a bad path, a full disk) is the command's error. */
  private writeOut(cmd: string, file: string, data: string | Uint8Array): void {
    try {
      this.host.writeFile?.(file, data);
    } catch (err) {
      throw new MonitorError(`${cmd}: cannot write '${file}': ${(err as Error).message}`);
    }
  }

  private add(name: string, args: string, help: string, run: Command["run"], ...aliases: string[]): void {
    this.commands.set(name, { args, help, run });
    for (const a of aliases) this.aliases.set(a, name);
  }

  private get vm() {
    return this.machine.vm;
  }

  /** The VM's saved state; a VM that cannot be saved now (a device mid-transfer) is a one-line error. */
  private async saved(command: string): Promise<Uint8Array> {
    try {
      return await this.vm.save();
    } catch (e) {
      if (e instanceof VmStateError) throw new MonitorError(`${command}: ${e.message}`);
      throw e;
    }
  }

  /** A file or store operation of the host: its failure (a bad path, a full disk) is a one-line error. */
  private async hostIo<T>(command: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (e) {
      throw new MonitorError(`${command}: ${(e as Error).message}`);
    }
  }

  private ownSnapshots?: VmSnapshots;
  private get snapshots(): VmSnapshots {
    if (this.host.vmSnapshots) return this.host.vmSnapshots;
    this.ownSnapshots ??= new StoredSnapshots(this.host.snapshots ?? new MemorySnapshotStore());
    return this.ownSnapshots;
  }

  /** A snapshot operation: its refusal (a SnapshotError, a state that does not fit) is one line. */
  private async snapshotOp(command: string, op: (s: VmSnapshots) => Promise<void>): Promise<string> {
    try {
      await op(this.snapshots);
    } catch (e) {
      if (e instanceof SnapshotError || e instanceof VmStateError) throw new MonitorError(`${command}: ${e.message}`);
      throw new MonitorError(`${command}: ${(e as Error).message}`);
    }
    return "";
  }

  /** QMP's snapshot-save, snapshot-load and snapshot-delete: the operation, refusals thrown. */
  async snapshot(kind: "save" | "load" | "delete", name: string): Promise<void> {
    await this.snapshots[kind](this.vm, name);
  }

  /** The machine waits for an incoming migration (QEMU's runstate inmigrate). */
  get waitingForMigration(): boolean {
    return this.host.incoming?.waiting === true;
  }

  /** `cont`: QEMU's qmp_cont. On a destination still waiting it only asks for the guest to run later. */
  resume(): string {
    if (this.machine.status === "ended") return "the machine has ended\n";
    if (this.host.incoming?.waiting) {
      this.host.incoming.autostart();
      return "";
    }
    this.machine.resume();
    return "";
  }

  private addCommands(): void {
    this.add("help", "[command]", "show the commands, or one command's help", (a) => this.help(a[0]), "?", "h");
    this.add("info", "subcommand", "show machine state (info with no argument lists what)", (a) => this.runInfo(a));
    this.add("x", "/fmt addr", "virtual memory dump from addr (fmt: count, x|d|u|o|c|a|i, b|h|w|g)", (a) =>
      this.dump(a, false),
    );
    this.add("set", "disassembly-flavor att|intel", "the syntax x/i and xp/i print (AT&T by default)", (a) => {
      if (a[0] !== "disassembly-flavor" || (a[1] !== "att" && a[1] !== "intel")) {
        throw new MonitorError("set: only 'set disassembly-flavor att|intel' is known");
      }
      this.syntax = a[1];
      return "";
    });
    this.add("xp", "/fmt addr", "physical memory dump from addr", (a) => this.dump(a, true));
    this.add("stop", "", "stop the CPU", () => {
      this.machine.pause("user");
      return "";
    });
    this.add("cont", "", "resume the CPU", () => this.resume(), "c");
    this.add("savevm", "name", "save the whole VM (CPU, RAM, devices, disks) as a named snapshot", async (a) => {
      if (!a[0]) throw new MonitorError("savevm: name the state");
      return this.snapshotOp("savevm", (s) => s.save(this.vm, a[0]!));
    });
    this.add(
      "loadvm",
      "name",
      "restore a named state saved by savevm (the VM keeps its run/stop status)",
      async (a) => {
        if (!a[0]) throw new MonitorError("loadvm: name the state");
        return this.snapshotOp("loadvm", (s) => s.load(this.vm, a[0]!));
      },
    );
    this.add(
      "migrate",
      "[-d] file:PATH|tcp:HOST:PORT|unix:PATH",
      "write the whole VM to a saved-VM file, or live-migrate it to a destination started with -incoming (-d: in the background)",
      async (a) => {
        const detach = a[0] === "-d";
        const target = a[detach ? 1 : 0]?.replace(/^"|"$/g, "");
        if (target?.startsWith("file:") && target.length > 5) {
          if (!this.host.writeBytes) throw new MonitorError("migrate: this host cannot write files");
          const bytes = await this.saved("migrate");
          await this.hostIo("migrate", async () => this.host.writeBytes!(target.slice(5), bytes));
          return "";
        }
        if (!target || !/^(tcp|unix):/.test(target))
          throw new MonitorError("migrate: use migrate [-d] file:PATH, tcp:HOST:PORT or unix:PATH");
        const control = this.host.migration;
        if (!control) throw new MonitorError("migrate: live migration is not available here: use migrate file:PATH");
        let job: Awaited<ReturnType<MigrationControl["start"]>>;
        try {
          job = await control.start(target);
        } catch (e) {
          throw new MonitorError(`migrate: ${(e as Error).message}`);
        }
        if (detach) return "";
        const info = await job.done;
        if (info.status === "cancelled") throw new MonitorError("migrate: cancelled (the VM runs on here)");
        if (info.status !== "completed") throw new MonitorError(`migrate: ${info.error ?? info.status}`);
        return "";
      },
    );
    this.add("migrate_cancel", "", "cancel the live migration in progress (the VM runs on here)", () => {
      if (!this.host.migration?.cancel()) return "migrate_cancel: no migration is running\n";
      return "";
    });
    this.add(
      "migrate_set_parameter",
      "name value",
      "max-bandwidth (MiB/s, or 32M), downtime-limit (ms), max-iterations, cpu-throttle-initial/-increment, max-cpu-throttle",
      (a) => {
        const control = this.host.migration;
        if (!control) throw new MonitorError("migrate_set_parameter: live migration is not available here");
        if (a.length !== 2) throw new MonitorError("migrate_set_parameter: give a name and a value");
        try {
          setMigrationParameter(control.parameters, a[0]!, a[1]!);
        } catch (e) {
          throw new MonitorError(`migrate_set_parameter: ${(e as Error).message}`);
        }
        return "";
      },
    );
    this.add(
      "migrate_set_capability",
      "auto-converge on|off",
      "throttle a guest whose migration does not converge",
      (a) => {
        const control = this.host.migration;
        if (!control) throw new MonitorError("migrate_set_capability: live migration is not available here");
        if (a[0] !== "auto-converge" || (a[1] !== "on" && a[1] !== "off"))
          throw new MonitorError("migrate_set_capability: only 'auto-converge on|off' is known");
        control.parameters["auto-converge"] = a[1] === "on";
        return "";
      },
    );
    this.add("delvm", "name", "delete a named state", async (a) => {
      if (!a[0]) throw new MonitorError("delvm: name the state");
      return this.snapshotOp("delvm", (s) => s.delete(this.vm, a[0]!));
    });
    this.add("system_reset", "", "reset the machine (the kernel or firmware boots again)", () => {
      this.machine.requestReset("monitor");
      return "";
    });
    this.add("system_powerdown", "", "power the machine off (no ACPI here: the guest is not asked first)", () => {
      this.machine.end({ kind: "powerdown" });
      return "";
    });
    this.add("sendkey", "keys", "send keys to the PS/2 keyboard: ctrl-alt-delete, a, ret, f1 ...", (a) => {
      if (!a[0]) throw new MonitorError("sendkey: name the keys, e.g. sendkey ctrl-alt-f1");
      sendKeys(this.vm.devices.i8042.keyboard, a[0]);
      return "";
    });
    this.add(
      "screendump",
      "file [-f ppm|png|txt]",
      "save the VGA text screen as a picture: PPM, PNG (-f png or a .png name), or text (.txt)",
      async (a) => {
        const { file, format } = screendumpArgs(a);
        const vga = this.vm.vga;
        if (!vga) throw new MonitorError("screendump: this machine has no VGA (firmware boot has one)");
        if (!this.host.writeFile) throw new MonitorError("screendump: no file system here");
        if (format === "txt") {
          this.writeOut("screendump", file, `${vga.text()}\n`);
          return "";
        }
        const image = renderTextImage(vga);
        this.writeOut("screendump", file, format === "png" ? await encodePng(image) : encodePpm(image));
        const screen = vga.textScreen();
        if (screen.graphics)
          return "screendump: a graphics mode is set; only text modes are drawn (the picture is black)\n";
        if (fontMissing(vga)) return "screendump: plane 2 holds no font (no VGA BIOS ran): the characters are blank\n";
        return "";
      },
    );
    this.add("gdbserver", "[tcp::port]", "start the gdb stub (default tcp::1234)", async (a) => {
      if (!this.host.gdbserver) throw new MonitorError("gdbserver: not available here");
      const spec = a[0] ?? "tcp::1234";
      const m = /^(?:tcp:(?:127\.0\.0\.1|localhost)?:)?(\d+)$/.exec(spec);
      const port = m ? Number(m[1]) : Number.NaN;
      if (!(port >= 1 && port <= 65535)) throw new MonitorError(`gdbserver: '${spec}' is not tcp::PORT`);
      return `${await this.host.gdbserver(port)}\n`;
    });
    this.add(
      "quit",
      "",
      "quit the emulator",
      () => {
        this.host.quit();
        return "";
      },
      "q",
    );
  }

  private help(name?: string): string {
    const line = (n: string, c: Command) => `${`${n} ${c.args}`.trim().padEnd(22)} -- ${c.help}`;
    if (name) {
      const key = this.aliases.get(name) ?? name;
      const c = this.commands.get(key);
      if (!c) return `unknown command: '${name}'\n`;
      return `${line(key, c)}\n${key === "info" ? this.infoHelp() : ""}`;
    }
    return `${[...this.commands].map(([n, c]) => line(n, c)).join("\n")}\n`;
  }

  private infoHelp(): string {
    return `${[...this.info].map(([n, c]) => `info ${n.padEnd(17)} -- ${c.help}`).join("\n")}\n`;
  }

  private async runInfo(args: string[]): Promise<string> {
    if (args.length === 0) return this.infoHelp();
    const sub = this.info.get(args[0]!);
    if (!sub) return `unknown info subcommand: '${args[0]}' (info lists them)\n`;
    return await sub.run(args.slice(1));
  }

  private dump(args: string[], physical: boolean): string {
    let rest = args;
    let f = { ...this.lastFormat, count: 1 };
    if (rest[0]?.startsWith("/")) {
      f = parseFormat(rest[0], this.lastFormat);
      rest = rest.slice(1);
    }
    if (rest.length === 0) throw new MonitorError(`${physical ? "xp" : "x"}: give an address`);
    this.lastFormat = f;
    const addr = parseAddress(this.vm.cpu, rest.join(""));
    const cpu = this.vm.cpu;
    const read = (a: number, n: number) => (physical ? readPhysical(cpu, a, n) : readLinear(cpu, a, n));
    if (f.format === "i") {
      // Decoded at the code segment's size; targets computed in its EIP space.
      const cs32 = cpu.u32(L.S_CS_DB) !== 0;
      const lines = disassemble(addr, f.count, cs32, cpu.segment(SEG.CS).base, this.syntax, read);
      return `${typeof lines === "string" ? lines : formatDisasm(lines)}\n`;
    }
    return dumpMemory(addr, f, read);
  }

  private addInfo(): void {
    const m = this.machine;
    this.registerInfo("snapshots", "the states savevm saved", async () => {
      try {
        return infoSnapshots(await this.snapshots.list(this.vm));
      } catch (e) {
        throw new MonitorError(`info snapshots: ${(e as Error).message}`);
      }
    });
    this.registerInfo("migrate", "the live migration's status and figures", () => {
      const control = this.host.migration;
      if (!control) throw new MonitorError("info migrate: live migration is not available here");
      return formatMigrationInfo(control.info(), control.parameters);
    });
    this.registerInfo("version", "the emulator's version", () => "x86lab 0.1.0\n");
    this.registerInfo("status", "whether the CPU runs", () => {
      if (m.status === "ended") return "VM status: ended\n";
      if (this.host.incoming?.waiting) return "VM status: paused (inmigrate)\n";
      const migrated = this.host.migration?.info()?.status === "completed";
      if (m.status === "paused" && migrated && m.pauseReason === "user") return "VM status: paused (postmigrate)\n";
      if (m.status === "paused")
        return `VM status: paused${m.pauseReason === "breakpoint" ? " (debug)" : m.pauseReason === "startup" ? " (prelaunch)" : ""}\n`;
      return "VM status: running\n";
    });
    this.registerInfo("registers", "the CPU's registers", () => registersReport(this.vm));
    this.registerInfo("cpus", "the CPUs", () => {
      const c = this.vm.cpu;
      return `* CPU #0: pc=0x${c.eip.toString(16).padStart(8, "0")}${c.halted ? " (halted)" : ""} mode=${this.vm.mode}\n`;
    });
    this.registerInfo(
      "stats",
      "instructions, exceptions, crossings and modeled cycles ('info stats reset' zeroes them)",
      (a) => {
        if (a[0] === "reset") {
          resetCoreStats(this.vm.cpu);
          return "crossing counters, trace ring and walk figures zeroed\n";
        }
        if (a[0] !== undefined) throw new MonitorError(`info stats ${a[0]}: only 'reset' is known`);
        return basicStats(this.vm) + crossingReport(this.vm, this.host.hostMs?.());
      },
    );
    this.registerInfo("trace", "the newest crossings in the core's trace ring ('info trace N')", (a) => {
      const n = a[0] === undefined ? 32 : Number(a[0]);
      if (!Number.isInteger(n) || n < 1) throw new MonitorError("info trace N: a positive count");
      return traceReport(this.vm, n);
    });
    this.registerInfo("tlb", "the guest's page mappings, page by page", () => infoTlb(this.vm.cpu));
    this.registerInfo("mem", "the guest's page mappings, ranges with the same rights merged", () =>
      infoMem(this.vm.cpu),
    );
    this.registerInfo("mtree", "the guest-physical memory map: RAM, ROM, device memory", () => infoMtree(this.vm));
    this.registerInfo("pic", "the two 8259A interrupt controllers", () => infoPic(this.vm));
    this.registerInfo("pci", "the functions on the PCI bus", () => infoPci(this.vm));
    this.registerInfo("virtio", "the virtio devices and their queues", () => infoVirtio(this.vm));
    this.registerInfo("io", "port and MMIO accesses by device", () => infoIo(this.vm));
    this.registerInfo("jit", "what the JIT compiled and ran", () => `${formatJitInfo(jitInfo(this.vm.cpu))}\n`);
  }
}

/** screendump's arguments: the file and -f FORMAT (else .png and .txt names choose; PPM otherwise). */
function screendumpArgs(args: string[]): { file: string; format: "ppm" | "png" | "txt" } {
  let file: string | undefined;
  let format: string | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "-f") format = args[++i];
    else if (file === undefined) file = args[i];
    else throw new MonitorError(`screendump: unexpected '${args[i]}'`);
  }
  if (!file) throw new MonitorError("screendump: give a file name");
  format ??= /\.png$/i.test(file) ? "png" : /\.txt$/i.test(file) ? "txt" : "ppm";
  if (format !== "ppm" && format !== "png" && format !== "txt") {
    throw new MonitorError(`screendump: format '${format}': use ppm, png or txt`);
  }
  return { file, format };
}
