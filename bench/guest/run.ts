// Runs one emulator process on the bench guest and times the marker lines on its stdout.

import { spawn } from "node:child_process";
import { type MarkerEvent, MarkerReader, type RunTimes, runTimes } from "./markers.js";
import type { Command } from "./peers.js";

export interface RunResult extends RunTimes {
  /** The run reached the end marker. */
  ok: boolean;
  error?: string;
  /** The console output, for a failed run's diagnosis (the last 64 KiB). */
  console: string;
}

const CONSOLE_KEEP = 64 << 10;
/** After the end marker: the guest powers off; a process still there then is killed. */
const GRACE_MS = 3000;

/** Runs `cmd` until the guest's end marker (or the timeout); onMarker sees each marker as it comes. */
export function runGuest(
  cmd: Command,
  timeoutMs: number,
  onMarker: (ev: MarkerEvent) => void = () => {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const reader = new MarkerReader();
    let consoleText = "";
    let stderr = "";
    let error: string | undefined;
    let settled = false;
    const t0 = performance.now();
    // stdin stays an open pipe: our CLI reads end of input as "quit"
    const child = spawn(cmd.file, cmd.args, { stdio: ["pipe", "pipe", "pipe"] });
    const kill = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    };
    const timer = setTimeout(() => {
      error = `no end marker after ${timeoutMs / 1000} s (timeout)`;
      kill();
    }, timeoutMs);
    let graceTimer: NodeJS.Timeout | undefined;
    child.stdout.on("data", (chunk: Buffer) => {
      const at = performance.now() - t0;
      const text = chunk.toString("latin1");
      consoleText = (consoleText + text).slice(-CONSOLE_KEEP);
      for (const ev of reader.feed(text, at)) onMarker(ev);
      if (reader.ended && !graceTimer) graceTimer = setTimeout(kill, GRACE_MS);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString("utf8")).slice(-4096);
    });
    const finish = (why?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (graceTimer) clearTimeout(graceTimer);
      child.stdin.destroy();
      const ok = reader.ended;
      if (!ok && !error) error = why ?? "the emulator exited before the end marker";
      if (!ok && stderr.trim()) error += `; stderr: ${stderr.trim().split("\n").slice(-3).join(" / ")}`;
      resolve({ ...runTimes(reader.events), ok, error: ok ? undefined : error, console: consoleText });
    };
    child.on("error", (err) => {
      finish(`cannot start ${cmd.file}: ${err.message}`);
    });
    child.on("close", () => finish());
    child.stdin.on("error", () => {});
  });
}
