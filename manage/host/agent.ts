// The host agent (oVirt's VDSM in miniature): `npm run host-agent -- --engine HOST:PORT --name h1`.
// It connects to the engine, says what it offers (memory, CPUs, CPU type), beats, runs the VMs the
// engine asks for as detached domain processes (vm-runner.ts), migrates them (migrate-out.ts),
// relays their consoles, and watches the storage domains' directories. When the engine goes away
// it keeps its VMs running and connects again, so a restarted engine finds them.

import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from "node:fs";
import { connect } from "node:net";
import { cpus, totalmem } from "node:os";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { create } from "../../vmm/node/img-commands.js";
import { type JsonLink, jsonLines } from "../engine/host-link-node.js";
import type { FromHost, StorageDomainRef, ToHost } from "../engine/host-protocol.js";
import { migrateOut } from "./migrate-out.js";
import { VmRunner } from "./vm-runner.js";

/** This project's CPU (README: family 6 model 3, FPU VME DE PSE TSC MSR CX8 SEP PGE CMOV). */
const CPU_TYPE = "x86lab-p6";

const HELP = `usage: npm run host-agent -- --engine HOST:PORT [--name NAME] [--memory MIB] [--cpus N]
  [--cluster NAME] [--address ADDR] [--run-dir DIR] [--cpu-type TYPE]

  --engine    where the engine listens for hosts (its --hosts-port)
  --name      this host's name in the inventory (default: the machine's hostname)
  --memory    MiB offered to VMs (default: half the machine's memory)
  --cpus      vCPUs offered (default: the machine's CPU count)
  --address   where this host's incoming migrations listen (default 127.0.0.1)
  --run-dir   where VM processes keep their sockets, pid files and logs (default .run/host-NAME)`;

export interface AgentOptions {
  engine: { host: string; port: number };
  name: string;
  memoryMib: number;
  cpus: number;
  cpuType: string;
  cluster?: string;
  address: string;
  runDir: string;
  log?: (line: string) => void;
}

export class HostAgent {
  private link: JsonLink<FromHost, ToHost> | undefined;
  private beat: ReturnType<typeof setInterval> | undefined;
  private storage: StorageDomainRef[] = [];
  private stopped = false;
  private savedList = "";
  readonly runner: VmRunner;

  constructor(private readonly o: AgentOptions) {
    mkdirSync(o.runDir, { recursive: true });
    this.runner = new VmRunner(
      o.runDir,
      o.address,
      (vmId, state, reason) => this.send({ type: "vm-state", vmId, state, reason }),
      (vmId, session, data) => this.send({ type: "console-output", vmId, session, data }),
    );
    writeFileSync(`${o.runDir}/agent.pid`, `${process.pid}\n`);
    // VMs an earlier agent of this host left running (it was restarted): found again by pid file.
    try {
      this.runner.adopt(JSON.parse(readFileSync(`${o.runDir}/vms.json`, "utf8")) as string[]);
    } catch {}
  }

  /** The ids of the VMs this host runs, for a restarted agent (above). */
  private saveList(): void {
    const ids = JSON.stringify([...this.runner.vms.keys()]);
    if (ids !== this.savedList) writeFileSync(`${this.o.runDir}/vms.json`, ids);
    this.savedList = ids;
  }

  private send(m: FromHost): void {
    this.link?.send(m);
  }

  private log(s: string): void {
    this.o.log?.(`[${this.o.name}] ${s}`);
  }

  /** Connects, and connects again whenever the link drops, until stop(). */
  run(): void {
    if (this.stopped) return;
    const sock = connect(this.o.engine.port, this.o.engine.host);
    const link = jsonLines<FromHost, ToHost>(sock);
    sock.on("connect", () => {
      this.link = link;
      this.log(`connected to the engine at ${this.o.engine.host}:${this.o.engine.port}`);
      link.send({
        type: "hello",
        name: this.o.name,
        cluster: this.o.cluster,
        capacity: { memoryMib: this.o.memoryMib, cpus: this.o.cpus, cpuType: this.o.cpuType },
        address: this.o.address,
        pid: process.pid,
        vms: this.runner.list(),
      });
    });
    link.onMessage((m) => void this.handle(m));
    link.onClose(() => {
      if (this.link === link) this.link = undefined;
      if (this.beat) clearInterval(this.beat);
      this.beat = undefined;
      if (!this.stopped) setTimeout(() => this.run(), 300);
    });
  }

  stop(): void {
    this.stopped = true;
    if (this.beat) clearInterval(this.beat);
    this.link?.close();
  }

  private storageView(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const d of this.storage) {
      try {
        out[d.id] = statSync(d.path).isDirectory() ? "" : `${d.path} is not a directory`;
      } catch {
        out[d.id] = `directory ${d.path} is missing`;
      }
    }
    return out;
  }

  private async heartbeat(): Promise<void> {
    await this.runner.poll();
    this.saveList();
    this.send({ type: "heartbeat", vms: this.runner.list(), storage: this.storageView() });
  }

  private async handle(m: ToHost): Promise<void> {
    switch (m.type) {
      case "welcome":
        this.storage = m.storageDomains;
        if (this.beat) clearInterval(this.beat);
        this.beat = setInterval(() => void this.heartbeat(), m.heartbeatMs);
        void this.heartbeat();
        return;
      case "storage-domains":
        this.storage = m.storageDomains;
        return;
      case "console-attach":
        try {
          this.runner.attach(m.vmId, m.session);
        } catch (e) {
          this.send({ type: "event", severity: "warning", message: `console: ${(e as Error).message}`, vmId: m.vmId });
        }
        return;
      case "console-input":
        return this.runner.input(m.vmId, m.session, m.data);
      case "console-detach":
        return this.runner.detach(m.vmId, m.session);
    }
    const req = m.req;
    try {
      const result = await this.request(m);
      this.send({ type: "reply", req, ok: true, result });
    } catch (e) {
      this.log(`${m.type} failed: ${(e as Error).message}`);
      this.send({ type: "reply", req, ok: false, error: (e as Error).message });
    }
  }

  private async request(m: Extract<ToHost, { req: number }>): Promise<Record<string, unknown> | undefined> {
    switch (m.type) {
      case "start":
        return this.runner.start(m.vmId, m.domainXml, !!m.incoming);
      case "shutdown":
      case "destroy":
        await this.runner.end(m.vmId, m.type);
        return undefined;
      case "migrate": {
        const v = this.runner.get(m.vmId);
        v.state = "migrating-out";
        try {
          const r = await migrateOut(await v.proc.qmp(), m.uri, m.plan, (p) =>
            this.send({ type: "migration-progress", req: m.req, vmId: m.vmId, ...p }),
          );
          await this.runner.end(m.vmId, "migrated");
          return r;
        } catch (e) {
          v.state = "running";
          throw e;
        }
      }
      case "migrate-cancel":
        await (await this.runner.get(m.vmId).proc.qmp()).execute("migrate_cancel");
        return undefined;
      case "list":
        return { vms: this.runner.list() };
      case "snapshot":
        await (await this.runner.get(m.vmId).proc.qmp()).execute("human-monitor-command", {
          "command-line": `savevm ${m.name}`,
        });
        return undefined;
      case "create-volume": {
        if (m.format === "qcow2" && m.preallocated)
          throw new Error("a preallocated volume is raw here (the project's img creates qcow2 thin only)");
        if (existsSync(m.path)) throw new Error(`${m.path} exists`);
        const out = create(m.path, { format: m.format, size: String(m.sizeBytes) });
        if (m.preallocated) {
          const fd = openSync(m.path, "r+");
          const zero = Buffer.alloc(1 << 20);
          for (let off = 0; off < m.sizeBytes; off += zero.length)
            writeSync(fd, zero, 0, Math.min(zero.length, m.sizeBytes - off), off);
          closeSync(fd);
        }
        return { output: out };
      }
    }
  }
}

function main(): void {
  const { values } = parseArgs({
    options: {
      engine: { type: "string" },
      name: { type: "string" },
      memory: { type: "string" },
      cpus: { type: "string" },
      "cpu-type": { type: "string" },
      cluster: { type: "string" },
      address: { type: "string" },
      "run-dir": { type: "string" },
      quiet: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help || !values.engine) {
    console.log(HELP);
    process.exit(values.help ? 0 : 2);
  }
  const m = /^(.*):(\d+)$/.exec(values.engine);
  if (!m) {
    console.error(`host-agent: --engine ${values.engine}: expected HOST:PORT`);
    process.exit(2);
  }
  const num = (v: string | undefined, d: number, what: string) => {
    if (v === undefined) return d;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) {
      console.error(`host-agent: --${what} ${v}: expected a positive whole number`);
      process.exit(2);
    }
    return n;
  };
  const name = values.name ?? (process.env.HOSTNAME || "host");
  const agent = new HostAgent({
    engine: { host: m[1] || "127.0.0.1", port: Number(m[2]) },
    name,
    memoryMib: num(values.memory, Math.floor(totalmem() / 2 / 2 ** 20), "memory"),
    cpus: num(values.cpus, cpus().length, "cpus"),
    cpuType: values["cpu-type"] ?? CPU_TYPE,
    cluster: values.cluster,
    address: values.address ?? "127.0.0.1",
    runDir: resolve(values["run-dir"] ?? `.run/host-${name}`),
    log: values.quiet ? undefined : (l) => console.log(l),
  });
  agent.run();
  process.on("SIGTERM", () => {
    agent.stop();
    process.exit(0);
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
