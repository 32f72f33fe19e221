// Processes for the engine tests, started as a user would: the engine (npm run engine's
// main-node.ts) with a database, host agents (manage/host/agent.ts) on this machine, a REST client
// with HTTP Basic, a console reader, and a PostgreSQL server in a temporary directory (Debian's
// postgresql, run as the postgres user since the tests may run as root).

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../vmm/cli-process.js";

const ROOT = new URL("../../../", import.meta.url).pathname;
export const API_PATH = "/ovirt-engine/api";

export interface Proc {
  child: ChildProcess;
  out: { text: string };
  exited: Promise<number | null>;
}

function run(args: string[], extraEnv: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, ["--import", "tsx", ...args], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...extraEnv },
  });
  const out = { text: "" };
  child.stdout?.on("data", (d) => {
    out.text += d;
  });
  child.stderr?.on("data", (d) => {
    out.text += d;
  });
  return { child, out, exited: new Promise((r) => child.on("close", r)) };
}

export async function waitFor<T>(
  what: () => T | undefined | Promise<T | undefined>,
  ms: number,
  label: string,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await what();
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${label}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface EngineProc extends Proc {
  api: string;
  hostsPort: number;
}

export async function startEngine(
  db: string,
  o: { heartbeatMs: number; missed: number; hostsPort?: number },
): Promise<EngineProc> {
  const p = run([
    "manage/engine/main-node.ts",
    "--db",
    db,
    "--hosts-port",
    String(o.hostsPort ?? 0),
    "--http-port",
    "0",
    "--admin-password",
    "admin-secret",
    "--heartbeat-ms",
    String(o.heartbeatMs),
    "--missed",
    String(o.missed),
  ]);
  const m = await waitFor(
    () =>
      /hosts connect to [\d.]+:(\d+); API at (http:\S+)/.exec(p.out.text) ??
      (p.child.exitCode !== null ? null : undefined),
    90_000,
    "the engine to listen",
  );
  if (!m) throw new Error(`the engine exited: ${p.out.text}`);
  return { ...p, hostsPort: Number(m[1]), api: m[2] };
}

export interface AgentProc extends Proc {
  name: string;
  runDir: string;
}

export function startAgent(name: string, hostsPort: number, runRoot: string, memoryMib: number): AgentProc {
  const runDir = join(runRoot, name);
  const p = run([
    "manage/host/agent.ts",
    "--engine",
    `127.0.0.1:${hostsPort}`,
    "--name",
    name,
    "--memory",
    String(memoryMib),
    "--cpus",
    "2",
    "--run-dir",
    runDir,
  ]);
  return { ...p, name, runDir };
}

/** Kills every VM process the agents left (their pid files) and the agents. */
export function killAll(agents: AgentProc[]): void {
  for (const a of agents) {
    a.child.kill("SIGKILL");
    if (!existsSync(a.runDir)) continue;
    for (const f of readdirSync(a.runDir))
      if (f.endsWith(".pid")) {
        try {
          process.kill(Number(readFileSync(join(a.runDir, f), "utf8")), "SIGKILL");
        } catch {}
      }
  }
}

// biome-ignore lint/suspicious/noExplicitAny: the tests read the API's JSON answers field by field.
export type Json = Record<string, any>;

export class Client {
  constructor(
    readonly api: string,
    private readonly user: string,
    private readonly password: string,
  ) {}

  private auth(): string {
    return `Basic ${Buffer.from(`${this.user}:${this.password}`).toString("base64")}`;
  }

  async call(method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }> {
    const r = await fetch(`${this.api}${path}`, {
      method,
      headers: { authorization: this.auth(), "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : {} };
  }

  async ok(method: string, path: string, body?: unknown): Promise<Json> {
    const r = await this.call(method, path, body);
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  /** Waits until `n` hosts are Up. */
  async hostsUp(n: number, ms = 60_000): Promise<void> {
    await waitFor(
      async () =>
        ((await this.ok("GET", "/hosts")).host as Json[]).filter((h) => h.status === "up").length === n || undefined,
      ms,
      `${n} hosts up`,
    );
  }

  /** Opens the console stream; `text` grows as the guest writes; `type` sends keys. */
  async console(
    vm: string,
  ): Promise<{ status: number; text: () => string; type: (s: string) => Promise<number>; close: () => void }> {
    const ac = new AbortController();
    const r = await fetch(`${this.api}/vms/${vm}/console`, {
      headers: { authorization: this.auth() },
      signal: ac.signal,
    });
    let buf = "";
    const session = r.headers.get("x-console-session") ?? "";
    if (r.status === 200 && r.body) {
      const reader = r.body.getReader();
      void (async () => {
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) return;
            buf += Buffer.from(value).toString("latin1");
          }
        } catch {}
      })();
    } else buf = await r.text();
    return {
      status: r.status,
      text: () => buf,
      type: async (s) =>
        (
          await fetch(`${this.api}/vms/${vm}/console?session=${session}`, {
            method: "POST",
            headers: { authorization: this.auth() },
            body: s,
          })
        ).status,
      close: () => ac.abort(),
    };
  }
}

/** Types Enter until the tiny Linux's shell prompt shows, then runs `cmd` and waits for `want`. */
export async function shell(
  c: Awaited<ReturnType<Client["console"]>>,
  cmd: string,
  want: RegExp,
  ms = 90_000,
): Promise<string> {
  await waitFor(
    async () => {
      if (/~ # /.test(c.text())) return true;
      await c.type("\r");
      await new Promise((r) => setTimeout(r, 1000));
      return undefined;
    },
    ms,
    "the shell prompt",
  ).catch((e: Error) => {
    throw new Error(`${e.message}; the console showed: ${JSON.stringify(c.text().slice(-300))}`);
  });
  const from = c.text().length;
  await c.type(`${cmd}\r`);
  await waitFor(() => want.test(c.text().slice(from)) || undefined, 30_000, `${want} after ${cmd}`);
  return c.text().slice(from);
}

export const tinyLinuxXml = (name: string, mib = 32) => `<domain type='kvm'>
  <name>${name}</name>
  <memory unit='MiB'>${mib}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='i686'>hvm</type>
    <kernel>${ROOT}guests/linux/bzImage</kernel>
    <initrd>${ROOT}guests/linux/initramfs.cpio.gz</initrd>
    <cmdline>console=ttyS0</cmdline>
  </os>
  <devices>
    <serial type='pty'><target port='0'/></serial>
  </devices>
</domain>`;

export function tempDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `engine-${tag}-`));
}

const PG_BIN = "/usr/lib/postgresql/15/bin";

export interface PgServer {
  url: string;
  stop(): void;
}

/** True when Debian's PostgreSQL 15 server programs are installed (.ci/run installs them). */
export const havePostgres = () => existsSync(`${PG_BIN}/initdb`);

/** A PostgreSQL server in a temporary directory on a free port, as the postgres user. */
export async function startPostgres(): Promise<PgServer> {
  const dir = tempDir("pg");
  const uid = Number(execFileSync("id", ["-u", "postgres"]).toString());
  const gid = Number(execFileSync("id", ["-g", "postgres"]).toString());
  chownSync(dir, uid, gid);
  const asPg = (cmd: string, args: string[]) =>
    execFileSync("runuser", ["-u", "postgres", "--", `${PG_BIN}/${cmd}`, ...args], { cwd: dir, stdio: "pipe" });
  const data = join(dir, "data");
  asPg("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync"]);
  const port = await freePort();
  asPg("pg_ctl", [
    "-D",
    data,
    "-l",
    join(dir, "log"),
    "-w",
    "-o",
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
    "start",
  ]);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: () => {
      try {
        asPg("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
      } catch {}
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
