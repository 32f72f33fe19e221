// Talking to a tiny Linux guest on the CLI's console from a test (live migration, savevm): wait
// for text on stdout, run a shell command and take what it printed.

import type { CliProcess } from "../vmm/cli-process.js";

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until stdout (from `from` on) shows `pattern`; the error shows the output's end. */
export async function until(p: CliProcess, pattern: RegExp | string, from = 0, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  const found = () =>
    typeof pattern === "string" ? p.output.stdout.includes(pattern, from) : pattern.test(p.output.stdout.slice(from));
  while (!found()) {
    if (Date.now() > end)
      throw new Error(
        `no ${pattern} in time; stdout ends:\n${p.output.stdout.slice(-1200)}\nstderr:\n${p.output.stderr}`,
      );
    await sleep(50);
  }
}

/** Runs a shell command on the guest's console; returns what it printed. */
export async function sh(p: CliProcess, cmd: string, ms = 60_000): Promise<string> {
  const from = p.output.stdout.length;
  p.child.stdin.write(`${cmd}; echo @@$((40+2))\r`);
  await until(p, "@@42", from, ms);
  return p.output.stdout.slice(from, p.output.stdout.indexOf("@@42", from));
}
