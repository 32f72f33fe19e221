// -chardev, in QEMU's spelling, for the virtio console's port (hvc0 in a Linux guest):
//
//   -chardev stdio,id=ID | file,id=ID,path=PATH | null,id=ID
//   -device virtio-serial-pci -device virtconsole,chardev=ID
//
// Our virtio-serial-pci has one port and no MULTIPORT (devices/virtio/console.ts): Linux makes
// that port hvc0 whether or not a virtconsole is given. A virtconsole names where the port's
// bytes go; without one they go nowhere (QEMU's virtio-serial-pci alone has no port at all).
// A stdio chardev writes to the terminal and takes the keyboard: what is typed goes to hvc0
// instead of COM1 (QEMU refuses two users of stdio; here -serial stdio still shows COM1's
// output, so `-append console=hvc0` gives the shell on hvc0 with nothing else to change).
// A file chardev is opened (truncated) when the command line is read, so a bad path fails
// before the guest starts. Socket chardevs are not here (a one-line error says so).

import { writeSync } from "node:fs";
import { UserInputError } from "./files.js";
import { wordAndKeyValues } from "./qemu-options.js";
import { openSinkFile } from "./sinks.js";

export type ChardevArg = { id: string } & ({ kind: "stdio" } | { kind: "null" } | { kind: "file"; path: string });

/** One -chardev value. */
export function parseChardev(value: string): ChardevArg {
  const flag = `-chardev ${value}`;
  const { head, kv } = wordAndKeyValues("-chardev", value);
  const id = kv.get("id");
  if (!id) throw new UserInputError(`${flag}: id=NAME is required`);
  const allow = (...keys: string[]) => {
    for (const k of kv.keys())
      if (k !== "id" && !keys.includes(k)) throw new UserInputError(`${flag}: no option '${k}'`);
  };
  if (head === "stdio" || head === "null") {
    allow(head === "stdio" ? "signal" : "");
    return { id, kind: head };
  }
  if (head === "file") {
    allow("path");
    const path = kv.get("path");
    if (!path) throw new UserInputError(`${flag}: path=FILE is required`);
    return { id, kind: "file", path };
  }
  throw new UserInputError(`${flag}: this machine has the chardev backends stdio, file and null`);
}

/**
 * The chardev of each console port, from the -chardev list and each port's virtconsole binding
 * (drives.ts consoleBindings); a wrong or unused id is a one-line error. Opens nothing.
 */
export function resolveConsoles(chardevs: ChardevArg[], bindings: (string | undefined)[]): (ChardevArg | undefined)[] {
  const byId = new Map<string, ChardevArg>();
  for (const c of chardevs) {
    if (byId.has(c.id)) throw new UserInputError(`-chardev: id=${c.id} is used twice`);
    byId.set(c.id, c);
  }
  const used = new Set<string>();
  const out = bindings.map((name) => {
    if (name === undefined) return undefined;
    const chardev = byId.get(name);
    if (!chardev) throw new UserInputError(`-device virtconsole: no -chardev with id=${name}`);
    if (used.has(name)) throw new UserInputError(`-device virtconsole: chardev ${name} is already in use`);
    used.add(name);
    return chardev;
  });
  for (const c of chardevs) if (!used.has(c.id)) throw new UserInputError(`-chardev id=${c.id}: no device uses it`);
  return out;
}

/** Where a console port's bytes go, and (for stdio) where the keyboard's go. */
export interface ConsolePort {
  readonly chardev: ChardevArg | undefined;
  /** The guest wrote these bytes to the port. */
  output(bytes: Uint8Array): void;
}

/** The device side of a port: the current VirtioConsole (a reboot makes a new one). */
export interface ConsoleInput {
  send(bytes: Uint8Array): void;
}

/**
 * The console ports of a run, kept across reboots: each build attaches its new device to the
 * same port, so a file stays open and the keyboard keeps reaching hvc0.
 */
export class ConsolePorts {
  private readonly ports: { port: ConsolePort; device?: ConsoleInput }[] = [];

  constructor(
    chardevs: (ChardevArg | undefined)[],
    private readonly stdout: NodeJS.WritableStream,
  ) {
    for (const chardev of chardevs) this.ports.push({ port: { chardev, output: this.writer(chardev) } });
  }

  private writer(chardev: ChardevArg | undefined): (bytes: Uint8Array) => void {
    if (chardev?.kind === "stdio") return (bytes) => this.stdout.write(bytes);
    if (chardev?.kind === "file") {
      const fd = openSinkFile(`-chardev file,id=${chardev.id}`, chardev.path);
      return (bytes) => writeSync(fd, bytes);
    }
    return () => {};
  }

  /** Port `n` (in the order of the virtio-serial-pci devices) for a new device. */
  attach(n: number, device: ConsoleInput): ConsolePort {
    const slot = this.ports[n];
    if (!slot) throw new Error(`no console port ${n}`);
    slot.device = device;
    return slot.port;
  }

  /** Whether a port's chardev is stdio: then the keyboard goes to it (see keyboard()). */
  get takesKeyboard(): boolean {
    return this.ports.some((p) => p.port.chardev?.kind === "stdio");
  }

  /** Keyboard bytes to the (first) port on stdio. */
  keyboard(bytes: number[]): void {
    const slot = this.ports.find((p) => p.port.chardev?.kind === "stdio");
    slot?.device?.send(Uint8Array.from(bytes));
  }
}
