// Where a character stream goes (QEMU's chardev spellings for -serial and -debugcon), the debug
// devices -device names (isa-debugcon, isa-debug-exit), and the -d log items.

import { closeSync, constants, fstatSync, openSync, writeSync } from "node:fs";
import { HelpRequest } from "./command-line.js";
import { UserInputError } from "./files.js";
import { keyValues } from "./qemu-options.js";

export type Sink = { kind: "stdio" } | { kind: "none" } | { kind: "file"; path: string };

/** The debug console ports and where each one's bytes go (ports without an entry: nowhere). */
export interface DebugSinks {
  consoles: Map<number, Sink>;
}

/** The ports the machine has debug consoles at (QEMU's isa-debugcon default and SeaBIOS's). */
export const DEBUGCON_PORTS = [0xe9, 0x402];
/** The port isa-debug-exit sits at in this machine. */
export const DEBUG_EXIT_PORT = 0xf4;

export function parseSink(flag: string, v: string): Sink {
  if (v === "stdio" || v === "none") return { kind: v };
  if (v.startsWith("file:") && v.length > 5) return { kind: "file", path: v.slice(5) };
  throw new UserInputError(`${flag} ${v}: use stdio, none or file:PATH`);
}

function parsePortNumber(flag: string, v: string): number {
  const n = /^(0x[0-9a-f]+|\d+)$/i.test(v) ? Number(v) : Number.NaN;
  if (!(n >= 0 && n <= 0xffff)) throw new UserInputError(`${flag}: iobase=${v} is not a port number`);
  return n;
}

/**
 * -device isa-debugcon / isa-debug-exit: fills `debug` and returns true, or returns false for
 * another driver (drives.ts handles those). The ports are where this machine has them.
 */
export function parseDebugDevice(v: string, debug: DebugSinks): boolean {
  const comma = v.indexOf(",");
  const driver = comma < 0 ? v : v.slice(0, comma);
  if (driver !== "isa-debugcon" && driver !== "isa-debug-exit") return false;
  const flag = `-device ${v}`;
  const kv = keyValues(flag, comma < 0 ? "" : v.slice(comma + 1));
  if (driver === "isa-debug-exit") {
    for (const k of kv.keys())
      if (k !== "iobase" && k !== "iosize") throw new UserInputError(`${flag}: no option '${k}'`);
    const port = parsePortNumber(flag, kv.get("iobase") ?? "0xf4");
    if (port !== DEBUG_EXIT_PORT)
      throw new UserInputError(`${flag}: isa-debug-exit sits at iobase=0xf4 in this machine`);
    return true;
  }
  for (const k of kv.keys())
    if (k !== "iobase" && k !== "chardev") throw new UserInputError(`${flag}: no option '${k}'`);
  const port = parsePortNumber(flag, kv.get("iobase") ?? "0xe9");
  if (!DEBUGCON_PORTS.includes(port))
    throw new UserInputError(`${flag}: the debug consoles are at iobase=0xe9 and 0x402`);
  debug.consoles.set(port, parseSink(flag, kv.get("chardev") ?? "stdio"));
  return true;
}

export const LOG_ITEMS = {
  int: "exceptions the guest took (vector, error code, EIP), counted between slices",
  cpu_reset: "the CPU state at every power-on and reset",
  exits: "each VM exit from the core's trace ring (hypervisor modes)",
  post: "POST codes written to port 0x80",
} as const;
export type LogItem = keyof typeof LOG_ITEMS;

export function parseLogItems(v: string): LogItem[] {
  const items = v.split(",");
  if (items.includes("help")) {
    throw new HelpRequest(
      `Log items (comma separated):\n${Object.entries(LOG_ITEMS)
        .map(([k, d]) => `${k.padEnd(10)} ${d}`)
        .join("\n")}`,
    );
  }
  for (const i of items) {
    if (!(i in LOG_ITEMS))
      throw new UserInputError(`-d ${v}: no log item '${i}' (use ${Object.keys(LOG_ITEMS).join(", ")}, help)`);
  }
  return items as LogItem[];
}

/** A sink as a byte writer. A file is opened (truncated) now, so a bad path fails before boot. */
export function openSink(flag: string, sink: Sink, stdout: NodeJS.WritableStream): (byte: number) => void {
  if (sink.kind === "none") return () => {};
  if (sink.kind === "stdio") return (byte) => stdout.write(Uint8Array.of(byte));
  const fd = openSinkFile(flag, sink.path);
  return (byte) => writeSync(fd, Uint8Array.of(byte));
}

/** Opens a file to write to; FIFOs and terminals are fine, directories are not. */
export function openSinkFile(flag: string, path: string): number {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO nobody reads would otherwise block before the guest starts.
    const { O_WRONLY, O_CREAT, O_TRUNC, O_NONBLOCK } = constants;
    fd = openSync(path, O_WRONLY | O_CREAT | O_TRUNC | O_NONBLOCK);
  } catch (err) {
    throw new UserInputError(`${flag} file:${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const stat = fstatSync(fd);
  if (!stat.isFile() && !stat.isCharacterDevice()) {
    closeSync(fd);
    throw new UserInputError(`${flag} file:${path}: not a regular file or a character device`);
  }
  return fd;
}
