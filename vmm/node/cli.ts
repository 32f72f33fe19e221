// `npm start`: boots a guest (Linux bzImage or Multiboot kernel, or firmware from the drives)
// with its serial console on this terminal, as QEMU's -nographic does. Ctrl-A X quits, Ctrl-A C
// switches to the monitor and back. Flags follow QEMU's (args.ts, --help); -monitor stdio, -qmp
// and -gdb give the monitor, QMP and the gdb stub. With no -kernel, the project's tiny Linux boots.

import { writeFileSync } from "node:fs";
import { DiskImageError } from "../../devices/storage/block.js";
import { BootImageError } from "../boot/linux.js";
import { FirmwareError } from "../firmware.js";
import { Machine, type MachineEnd } from "../lib/machine.js";
import { Monitor } from "../monitor/monitor.js";
import { crossingReport } from "../monitor/report.js";
import { VmStateError } from "../state/container.js";
import { parseArgs } from "./args.js";
import { planBoot } from "./boot-vm.js";
import { HelpRequest } from "./command-line.js";
import { exitStatus } from "./exit-status.js";
import { UserInputError } from "./files.js";
import { startGdbServer } from "./gdb-server.js";
import { startLogs } from "./logs.js";
import { incomingMigration, NodeMigrationControl } from "./migration-control.js";
import { startMonitorRepl } from "./monitor-repl.js";
import { infoNetwork } from "./netdevs.js";
import { startQmp } from "./qmp-server.js";
import { serveSerial } from "./serial-socket.js";
import { openSink } from "./sinks.js";
import { cliSnapshots, startFromState } from "./start-state.js";
import { attachTerminal } from "./terminal.js";

/** The exit status and the line that says why the run ended. */
function describeEnd(end: MachineEnd): { status: number; text?: string } {
  const status = exitStatus(end);
  switch (end.kind) {
    case "quit":
      return { status, text: "[x86lab: quit]" };
    case "limit":
      return {
        status,
        text: `[x86lab: stopped after ${end.instructions} instructions and idle time (--max-instructions)]`,
      };
    case "powerdown":
      return { status, text: "[x86lab: powered down]" };
    case "shutdown":
      return { status, text: `guest shutdown (${end.message})${end.detail ? `\r\n${end.detail}` : ""}` };
    case "halted":
      return { status, text: "guest halted (HLT with interrupts disabled)" };
    case "reset":
      return { status, text: `guest reset (${end.source}; -no-reboot)` };
    case "debug-exit":
      return { status };
    case "vmexit":
      return {
        status,
        text: `unhandled VM exit (reason ${end.reason}, qualification 0x${end.qualification.toString(16)}) at EIP 0x${end.eip.toString(16)}`,
      };
    case "error":
      return { status, text: `x86lab: internal error: ${end.message}` };
  }
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const out = process.stdout;
  const plan = planBoot(args, out);
  let serialOut = openSink("-serial", args.serial, out);
  const debugOut = new Map([...args.debug.consoles].map(([port, sink]) => [port, openSink("-debugcon", sink, out)]));
  const machine = await Machine.create(plan.build, {
    noReboot: args.noReboot,
    startPaused: args.startPaused || args.incomingLive !== undefined,
    maxInstructions: args.maxInstructions,
  });
  const serialSocket = args.serialSocket === undefined ? undefined : await serveSerial(args.serialSocket, machine);
  if (serialSocket) serialOut = serialSocket.output;
  machine.on("serial", (com, byte) => {
    if (com === 1) serialOut(byte);
  });
  machine.on("debugcon", (port, byte) => debugOut.get(port)?.(byte));
  if (plan.screen) {
    const screen = plan.screen;
    machine.on("slice", () => screen(out));
  }
  startLogs(machine, args.log, args.logFile);
  const { store: snapshots, snapshots: vmSnapshots } = cliSnapshots(args.stateDir);
  await startFromState(machine, args, vmSnapshots);
  // -incoming tcp:|unix:: waiting until the state is in; `cont` meanwhile asks for autostart.
  let incomingWaiting = args.incomingLive !== undefined;
  let autostart = !args.startPaused;
  const incoming = {
    get waiting() {
      return incomingWaiting;
    },
    autostart: () => {
      autostart = true;
    },
  };

  let runMs = 0;
  let runStart = machine.status === "running" ? performance.now() : undefined;
  machine.on("stop", () => {
    if (runStart !== undefined) runMs += performance.now() - runStart;
    runStart = undefined;
  });
  machine.on("resume", () => {
    runStart = performance.now();
  });
  const hostMs = () => runMs + (runStart === undefined ? 0 : performance.now() - runStart);
  const quit = (by: string) => machine.end({ kind: "quit", by });
  const closers: (() => void)[] = [];
  if (serialSocket) closers.push(serialSocket.close);
  const gdbservers = new Map<number, string>();
  const gdbserver = async (port: number) => {
    if (!gdbservers.has(port)) {
      const server = await startGdbServer(machine, port);
      closers.push(server.close);
      gdbservers.set(port, `Waiting for gdb connection on device 'tcp:127.0.0.1:${port}'`);
    }
    return gdbservers.get(port)!;
  };
  const migration = new NodeMigrationControl(machine);
  const monitor =
    args.monitor === "none"
      ? undefined
      : new Monitor(machine, {
          quit: () => quit("monitor"),
          writeFile: (path, data) => writeFileSync(path, data),
          writeBytes: (path, data) => writeFileSync(path, data),
          snapshots,
          vmSnapshots,
          incoming,
          gdbserver,
          hostMs,
          migration,
        });
  monitor?.registerInfo("network", "the virtual networks, their ports and leases", infoNetwork);
  if (args.gdbPort !== undefined) process.stderr.write(`${await gdbserver(args.gdbPort)}\n`);
  for (const q of args.qmp) {
    const qmpMonitor =
      monitor ??
      new Monitor(machine, {
        quit: () => quit("qmp"),
        hostMs,
        migration,
        vmSnapshots,
        incoming,
        snapshots,
        // human-monitor-command's migrate file:, screendump and dump-guest-memory write files here too.
        writeFile: (path, data) => writeFileSync(path, data),
        writeBytes: (path, data) => writeFileSync(path, data),
      });
    const server = await startQmp(q, machine, qmpMonitor, () => quit("qmp"), { stdin: process.stdin, stdout: out });
    closers.push(server.close);
  }
  const stdioTaken = args.qmp.some((q) => q.kind === "stdio");
  if (args.monitor === "stdio" && monitor) {
    const repl = startMonitorRepl(monitor, process.stdin, out, process.stdin.isTTY === true);
    repl.prompt();
    closers.push(repl.close);
  } else if (!stdioTaken) {
    const term = attachTerminal({
      machine,
      monitor: args.monitor === "vc" ? monitor : undefined,
      stdin: process.stdin,
      stdout: out,
      quit: () => quit("keyboard"),
      // A -chardev stdio on a virtconsole takes the keyboard (hvc0 instead of COM1).
      keyboard: plan.consoles.takesKeyboard ? (bytes) => plan.consoles.keyboard(bytes) : undefined,
    });
    closers.push(term.close);
  }

  if (args.incomingLive !== undefined) {
    // The guest runs once the source's state is here; a failed migration ends this process.
    const resume = () => {
      incomingWaiting = false;
      return autostart;
    };
    incomingMigration(machine, args.incomingLive, (l) => process.stderr.write(`${l}\n`), resume).catch((e: Error) => {
      for (const close of closers) close();
      process.stderr.write(`x86lab: incoming migration failed: ${e.message}\n`, () => process.exit(1));
    });
  }
  const end = await machine.run();
  for (const close of closers) close();
  if (args.stats) out.write(`\r\n${crossingReport(machine.vm, hostMs()).replace(/\n/g, "\r\n")}`);
  const { status, text } = describeEnd(end);
  if (text) out.write(`\r\n${text}\r\n`);
  return status;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof HelpRequest) {
      process.stdout.write(`${err.message}\n`, () => process.exit(0));
      return;
    }
    if (
      err instanceof UserInputError ||
      err instanceof BootImageError ||
      err instanceof FirmwareError ||
      err instanceof DiskImageError ||
      err instanceof VmStateError
    ) {
      process.stderr.write(`x86lab: ${err.message}\n`, () => process.exit(2));
      return;
    }
    // Anything else is a bug in the emulator: one line, no stack trace unless asked for.
    process.stderr.write(
      `x86lab: internal error: ${err instanceof Error ? err.message : String(err)}${process.env.X86LAB_DEBUG ? `\n${(err as Error).stack}` : " (X86LAB_DEBUG=1 shows the stack)"}\n`,
      () => process.exit(1),
    );
  },
);
