// The terminal as QEMU's -nographic uses it: stdin goes to the guest's COM1, except Ctrl-A
// sequences (Ctrl-A X quits, Ctrl-A C switches between the guest and the monitor, Ctrl-A A sends
// a Ctrl-A, Ctrl-A H lists them). Input is held until the guest's serial driver listens (the
// UART's receive interrupt is enabled: a driver resets the FIFO when it opens the port, losing
// what was there), so piped input such as `printf 'uname -a\n' | npm start` reaches the shell.

import { PassThrough } from "node:stream";
import type { Machine } from "../lib/machine.js";
import type { Monitor } from "../monitor/monitor.js";
import { type MonitorRepl, startMonitorRepl } from "./monitor-repl.js";

const CTRL_A = 0x01;
const HELP =
  "\r\nC-a h    print this help\r\nC-a x    exit emulator\r\nC-a c    switch between console and monitor\r\nC-a C-a  sends C-a\r\n";

/**
 * Splits input into keys (a byte, or an escape sequence: ESC [ ... final, ESC O x) and writes
 * each on its own, as a terminal delivers keys: readline edits a line right only when a cursor
 * key does not arrive in one chunk with the text around it.
 */
export function writeKeys(to: NodeJS.WritableStream, bytes: number[]): void {
  for (let i = 0; i < bytes.length; ) {
    let end = i + 1;
    if (bytes[i] === 0x1b && (bytes[i + 1] === 0x5b || bytes[i + 1] === 0x4f)) {
      end = i + 2;
      if (bytes[i + 1] === 0x4f) end++;
      else while (end < bytes.length && !(bytes[end]! >= 0x40 && bytes[end]! <= 0x7e)) end++;
      end = Math.min(end + (bytes[i + 1] === 0x5b ? 1 : 0), bytes.length);
    }
    to.write(Uint8Array.from(bytes.slice(i, end)));
    i = end;
  }
}

export interface Terminal {
  /** Moves held input into the guest when its serial port listens (each slice). */
  pump(): void;
  close(): void;
}

/** Whether COM1's driver has the receive interrupt on (LCR.DLAB clear and IER bit 0 set). */
export function serialListening(machine: Machine): boolean {
  const com1 = machine.vm.devices.com1;
  return (com1.read(3) & 0x80) === 0 && (com1.read(1) & 0x01) !== 0;
}

export function attachTerminal(opts: {
  machine: Machine;
  monitor: Monitor | undefined;
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  quit: () => void;
  /** Where typed bytes go instead of COM1 (a virtio console on stdio); it buffers them itself. */
  keyboard?: (bytes: number[]) => void;
}): Terminal {
  const { machine, monitor, stdin, stdout } = opts;
  const interactive = stdin.isTTY === true;
  if (interactive) stdin.setRawMode(true);
  const held: number[] = [];
  let afterCtrlA = false;
  let inMonitor = false;
  let repl: MonitorRepl | undefined;
  const monitorInput = new PassThrough();
  if (monitor) repl = startMonitorRepl(monitor, monitorInput, stdout, true);

  const pump = () => {
    if (held.length > 0 && opts.keyboard) opts.keyboard(held.splice(0));
    if (held.length === 0 || !serialListening(machine)) return;
    machine.vm.devices.com1.receive(held.splice(0));
  };
  const onData = (chunk: Buffer) => {
    let forMonitor: number[] = [];
    for (const b of chunk) {
      if (afterCtrlA) {
        afterCtrlA = false;
        const k = b | 0x20;
        if (k === 0x78) {
          opts.quit();
          return;
        }
        if (k === 0x63 && repl) {
          writeKeys(monitorInput, forMonitor);
          forMonitor = [];
          inMonitor = !inMonitor;
          stdout.write("\r\n");
          if (inMonitor) repl.prompt();
        } else if (k === 0x68) stdout.write(HELP);
        else if (b === CTRL_A || k === 0x61) (inMonitor ? forMonitor : held).push(CTRL_A);
        continue;
      }
      if (b === CTRL_A) afterCtrlA = true;
      else if (inMonitor) forMonitor.push(b);
      else held.push(b);
    }
    writeKeys(monitorInput, forMonitor);
    pump();
  };
  stdin.on("data", onData);
  stdin.resume();
  machine.on("slice", pump);
  machine.on("reset", pump);
  return {
    pump,
    close: () => {
      stdin.off("data", onData);
      if (interactive) stdin.setRawMode(false);
      stdin.pause();
      repl?.close();
    },
  };
}
