// The monitor's front end on a terminal: node:readline gives the line editing (cursor keys,
// Backspace, Ctrl-U...), history (up and down) and completion (Tab) that QEMU's monitor has.

import { createInterface, type Interface } from "node:readline";
import type { Monitor } from "../monitor/monitor.js";

export const MONITOR_PROMPT = "(qemu) ";

export interface MonitorRepl {
  rl: Interface;
  /** Shows the prompt (when the monitor comes to the front). */
  prompt(): void;
  close(): void;
}

export function startMonitorRepl(
  monitor: Monitor,
  input: NodeJS.ReadableStream,
  output: NodeJS.WritableStream,
  terminal: boolean,
): MonitorRepl {
  const rl = createInterface({
    input,
    output,
    terminal,
    prompt: MONITOR_PROMPT,
    historySize: 200,
    removeHistoryDuplicates: true,
    completer: (line: string): [string[], string] => {
      const hits = monitor.completions().filter((c) => c.startsWith(line));
      return [hits, line];
    },
  });
  // One command at a time, in order, even when lines arrive together (a pipe, a paste).
  let queue = Promise.resolve();
  rl.on("line", (line) => {
    queue = queue.then(async () => {
      const text = await monitor.execute(line);
      if (text) output.write(text);
      if (monitor.machine.status !== "ended" || line.trim() === "") rl.prompt();
    });
  });
  return { rl, prompt: () => rl.prompt(), close: () => rl.close() };
}
