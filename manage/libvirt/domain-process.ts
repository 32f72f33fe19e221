// A running domain is a detached process of the project's command line (vmm/node/cli.ts, with the
// flags domain-argv.ts makes), as libvirt's domains are qemu processes: it outlives the command
// that started it, and any later command finds it again from its run directory:
//
//   NAME.pid       its process id (written when it starts; checked against /proc before use)
//   NAME.qmp       QMP's unix socket (the only way in: query-status, stop, cont, savevm, migrate...)
//   NAME.console   COM1's unix socket (virsh console)
//   NAME.log       its stdout and stderr (how the run ended: "[x86lab: quit]", an error)
//   NAME.end       written by whoever ended it on purpose: "destroyed", "shutdown", "migrated", "saved"
//
// A pid file whose process is gone (or is another program now) is stale: the domain ended, and
// how is read from NAME.end and the log's last line (libvirt's shutoff reasons).

import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type DomainPlaces, domainArgv } from "./domain-argv.js";
import type { DomainDef } from "./domain-xml.js";
import { QmpClient } from "./qmp-client.js";

export interface RunPaths {
  pid: string;
  qmp: string;
  console: string;
  log: string;
  end: string;
}

/** The files of domain NAME in a run directory. */
export function runPaths(runDir: string, name: string): RunPaths {
  const base = `${runDir}/${name}`;
  return { pid: `${base}.pid`, qmp: `${base}.qmp`, console: `${base}.console`, log: `${base}.log`, end: `${base}.end` };
}

export interface StartOptions extends Omit<DomainPlaces, "qmp" | "console"> {
  /** How to run the command line: defaults to this Node with tsx and vmm/node/cli.ts. */
  command?: string[];
  /** Milliseconds to wait for QMP to answer (default 20000). */
  timeoutMs?: number;
  /** Another name for the run files (a migration destination beside its source). */
  runName?: string;
}

/** Why a domain process is no longer there, in libvirt's shutoff reasons. */
export type EndReason = "shutdown" | "destroyed" | "crashed" | "migrated" | "saved" | "failed";

export class DomainProcessError extends Error {}

const CLI = fileURLToPath(new URL("../../vmm/node/cli.ts", import.meta.url));

/** tsx's loader by its own URL, so a process started from any directory finds it. */
export const TSX_LOADER = import.meta.resolve("tsx");

export function defaultCommand(): string[] {
  return [process.execPath, "--import", TSX_LOADER, CLI];
}

/** Whether pid is alive and is this domain's process (its command line names the QMP socket). */
function ownsPid(pid: number, qmp: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    // ESRCH: gone; EPERM: another user's process now, so not ours.
    void e;
    return false;
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "latin1")
      .split("\0")
      .some((a) => a.includes(qmp));
  } catch {
    return false;
  }
}

function readPid(path: string): number | undefined {
  try {
    const n = Number(readFileSync(path, "utf8").trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** The last non-empty line of the domain's log (how the command line said the run ended). */
export function lastLogLine(log: string): string {
  try {
    const lines = readFileSync(log, "utf8")
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== "");
    return lines.at(-1) ?? "";
  } catch {
    return "";
  }
}

/** How an ended domain ended: the .end file if someone ended it on purpose, else its log. */
export function endReason(paths: RunPaths): EndReason {
  try {
    const r = readFileSync(paths.end, "utf8").trim();
    if (["shutdown", "destroyed", "migrated", "saved", "failed"].includes(r)) return r as EndReason;
  } catch {}
  const last = lastLogLine(paths.log);
  if (/^\[x86lab: (quit|powered down)\]$|^guest reset .*-no-reboot\)$|^guest halted/.test(last)) return "shutdown";
  return "crashed";
}

/** A domain process, started here or found from its pid file. */
export class DomainProcess {
  private client: QmpClient | undefined;

  constructor(
    readonly name: string,
    readonly pid: number,
    readonly paths: RunPaths,
  ) {}

  /** The process still runs (and is still ours). */
  get alive(): boolean {
    return ownsPid(this.pid, this.paths.qmp);
  }

  /** A QMP connection (made once, kept for this object). */
  async qmp(timeoutMs = 5000): Promise<QmpClient> {
    if (this.client && !this.client.isClosed) return this.client;
    this.client = await QmpClient.connect({ path: this.paths.qmp }, timeoutMs);
    return this.client;
  }

  /** Records why the process is about to end (read by endReason). */
  markEnd(reason: EndReason): void {
    writeFileSync(this.paths.end, `${reason}\n`);
  }

  /** Waits until the process is gone; false if it still runs after timeoutMs. */
  async waitExit(timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (this.alive) {
      if (Date.now() > until) return false;
      await new Promise((r) => setTimeout(r, 50));
    }
    return true;
  }

  /** Asks the process to quit over QMP (the guest is not asked: there is no ACPI), then waits. */
  async quit(reason: EndReason, timeoutMs = 10000): Promise<void> {
    this.markEnd(reason);
    try {
      const q = await this.qmp();
      await q.execute("quit").catch(() => {});
    } catch {}
    if (!(await this.waitExit(timeoutMs))) await this.kill(reason);
    this.cleanup();
  }

  /** SIGTERM, then SIGKILL after two seconds (libvirt's destroy). */
  async kill(reason: EndReason = "destroyed"): Promise<void> {
    this.markEnd(reason);
    this.client?.close();
    try {
      process.kill(this.pid, "SIGTERM");
    } catch {}
    if (!(await this.waitExit(2000))) {
      try {
        process.kill(this.pid, "SIGKILL");
      } catch {}
      await this.waitExit(2000);
    }
    this.cleanup();
  }

  /** Removes the pid file and sockets of an ended process (keeps the log and the end reason). */
  cleanup(): void {
    this.client?.close();
    this.client = undefined;
    for (const p of [this.paths.pid, this.paths.qmp, this.paths.console]) rmSync(p, { force: true });
  }

  close(): void {
    this.client?.close();
    this.client = undefined;
  }
}

/**
 * The process of domain NAME from its run directory: running (and ours), or undefined when there
 * is none; a stale pid file (the process died, or the pid is another program's) is removed.
 */
export function findDomainProcess(runDir: string, name: string): DomainProcess | undefined {
  const paths = runPaths(runDir, name);
  const pid = readPid(paths.pid);
  if (pid === undefined) {
    if (existsSync(paths.pid)) rmSync(paths.pid, { force: true });
    return undefined;
  }
  const p = new DomainProcess(name, pid, paths);
  if (p.alive) return p;
  p.cleanup();
  return undefined;
}

/** Whether NAME has a pid file whose process is gone (it ended without us): then its end reason. */
export function staleEnd(runDir: string, name: string): EndReason | undefined {
  const paths = runPaths(runDir, name);
  const pid = readPid(paths.pid);
  if (pid === undefined || ownsPid(pid, paths.qmp)) return undefined;
  return endReason(paths);
}

/**
 * Starts a domain as a detached process and waits until its QMP answers. A definition the
 * machine cannot honour throws DomainXmlError before anything runs; a process that ends before
 * QMP answers throws DomainProcessError with the last line of its log.
 */
export async function startDomainProcess(
  def: DomainDef,
  runDir: string,
  opts: StartOptions = {},
): Promise<DomainProcess> {
  const name = opts.runName ?? def.name;
  mkdirSync(runDir, { recursive: true });
  const paths = runPaths(runDir, name);
  const lock = takeStartLock(`${runDir}/${name}.starting`, name);
  try {
    if (findDomainProcess(runDir, name)) throw new DomainProcessError(`domain '${name}' is already running`);
    return await spawnDomain(def, name, paths, opts);
  } finally {
    rmSync(lock, { force: true });
  }
}

/**
 * Two starts of one domain at once (two virsh commands) would make two processes fighting over
 * its sockets: the second waits for nothing and is refused while the first one's lock file names
 * a live process; a lock left by a process that died is taken over.
 */
function takeStartLock(lock: string, name: string): string {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lock, `${process.pid}\n`, { flag: "wx" });
      return lock;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const holder = readPid(lock);
      let alive = false;
      try {
        if (holder !== undefined) process.kill(holder, 0);
        alive = holder !== undefined;
      } catch {}
      if (alive) throw new DomainProcessError(`domain '${name}' is being started by process ${holder}`);
      rmSync(lock, { force: true });
    }
  }
  throw new DomainProcessError(`domain '${name}': cannot take ${lock}`);
}

async function spawnDomain(def: DomainDef, name: string, paths: RunPaths, opts: StartOptions): Promise<DomainProcess> {
  const argv = domainArgv(def, { ...opts, qmp: paths.qmp, console: paths.console });
  for (const p of [paths.end, paths.qmp, paths.console]) rmSync(p, { force: true });
  const log = openSync(paths.log, "w");
  const [cmd, ...pre] = opts.command ?? defaultCommand();
  const child = spawn(cmd!, [...pre, ...argv], { detached: true, stdio: ["ignore", log, log], cwd: process.cwd() });
  closeSync(log);
  if (child.pid === undefined) throw new DomainProcessError(`domain '${name}': the process did not start`);
  writeFileSync(paths.pid, `${child.pid}\n`);
  let exited: number | null | undefined;
  child.on("exit", (code) => {
    exited = code;
  });
  child.unref();
  const proc = new DomainProcess(name, child.pid, paths);
  const until = Date.now() + (opts.timeoutMs ?? 20000);
  for (;;) {
    if (exited !== undefined) {
      rmSync(paths.pid, { force: true });
      writeFileSync(paths.end, "failed\n");
      throw new DomainProcessError(
        `domain '${name}' did not start: ${lastLogLine(paths.log) || `exit status ${exited}`}`,
      );
    }
    if (existsSync(paths.qmp)) {
      try {
        await proc.qmp(2000);
        return proc;
      } catch {}
    }
    if (Date.now() > until) {
      await proc.kill("failed");
      throw new DomainProcessError(`domain '${name}': QMP did not answer in ${opts.timeoutMs ?? 20000} ms`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
