// A started network (`net-start`) is a detached process of network-daemon.ts, found again by
// later commands from its files in the run directory, as domains are (domain-process.ts):
//
//   net-NAME.pid      its process id
//   net-NAME.sock     the stream socket domains' NICs connect to
//   net-NAME.leases   the DHCP lease table (JSON), rewritten as it changes
//   net-NAME.log      its output

import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { lastLogLine, TSX_LOADER } from "./domain-process.js";

export interface NetworkRunPaths {
  pid: string;
  sock: string;
  leases: string;
  log: string;
}

export interface Lease {
  expiry: string;
  mac: string;
  protocol: string;
  address: string;
  hostname: string;
  clientId: string;
}

export function networkRunPaths(runDir: string, name: string): NetworkRunPaths {
  const base = `${runDir}/net-${name}`;
  return { pid: `${base}.pid`, sock: `${base}.sock`, leases: `${base}.leases`, log: `${base}.log` };
}

const DAEMON = fileURLToPath(new URL("./network-daemon.ts", import.meta.url));

function alivePid(paths: NetworkRunPaths): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(paths.pid, "utf8").trim());
    process.kill(pid, 0);
    if (!readFileSync(`/proc/${pid}/cmdline`, "latin1").includes(paths.sock)) return undefined;
  } catch {
    return undefined;
  }
  return pid;
}

/** The pid of the running network NAME, or undefined (a stale pid file is removed). */
export function findNetworkProcess(runDir: string, name: string): number | undefined {
  const paths = networkRunPaths(runDir, name);
  const pid = alivePid(paths);
  if (pid === undefined && existsSync(paths.pid)) {
    for (const p of [paths.pid, paths.sock]) rmSync(p, { force: true });
  }
  return pid;
}

/** Starts the network defined in xmlPath; resolves once its socket listens. */
export async function startNetworkProcess(
  runDir: string,
  name: string,
  xmlPath: string,
  timeoutMs = 15000,
): Promise<number> {
  mkdirSync(runDir, { recursive: true });
  const paths = networkRunPaths(runDir, name);
  if (findNetworkProcess(runDir, name) !== undefined) throw new Error(`network '${name}' is already active`);
  rmSync(paths.sock, { force: true });
  rmSync(paths.leases, { force: true });
  const log = openSync(paths.log, "w");
  const child = spawn(process.execPath, ["--import", TSX_LOADER, DAEMON, xmlPath, paths.sock, paths.leases], {
    detached: true,
    stdio: ["ignore", log, log],
  });
  closeSync(log);
  if (child.pid === undefined) throw new Error(`network '${name}': the process did not start`);
  writeFileSync(paths.pid, `${child.pid}\n`);
  let exited = false;
  child.on("exit", () => {
    exited = true;
  });
  child.unref();
  const until = Date.now() + timeoutMs;
  while (!existsSync(paths.sock)) {
    if (exited || Date.now() > until) {
      try {
        process.kill(child.pid, "SIGKILL");
      } catch {}
      rmSync(paths.pid, { force: true });
      const last = lastLogLine(paths.log);
      throw new Error(`network '${name}' did not start: ${last || "no socket"}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return child.pid;
}

/** Stops a running network (net-destroy). */
export async function stopNetworkProcess(runDir: string, name: string): Promise<void> {
  const paths = networkRunPaths(runDir, name);
  const pid = findNetworkProcess(runDir, name);
  if (pid === undefined) throw new Error(`network '${name}' is not active`);
  process.kill(pid, "SIGTERM");
  const until = Date.now() + 5000;
  while (alivePid(paths) !== undefined && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  if (alivePid(paths) !== undefined) process.kill(pid, "SIGKILL");
  for (const p of [paths.pid, paths.sock, paths.leases]) rmSync(p, { force: true });
}

/** The running network's DHCP leases. */
export function networkLeases(runDir: string, name: string): Lease[] {
  try {
    return JSON.parse(readFileSync(networkRunPaths(runDir, name).leases, "utf8")) as Lease[];
  } catch {
    return [];
  }
}
