// A connection in libvirt's shape (virConnect): persistent definitions in a state directory
// (state-dir.ts), running domains as detached processes of the project's command line
// (domain-process.ts) that any later connection to the same directory finds again, as libvirt's
// session daemon does; networks as processes of the project's switch and gateway
// (network-process.ts); directory storage pools (pools.ts). The methods are virsh's verbs;
// errors are LibvirtError with libvirt's wording where it has one.
//
// States and reasons are libvirt's: running (booted, unpaused, restored, migrated, from
// snapshot), paused (user, starting up, migration, ...), shut off (shutdown, destroyed, crashed,
// migrated, saved, failed, unknown). A process that died without being ended here is
// "shut off (crashed)" unless its log says the guest powered off.

import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { type DomainPlaces, domainArgv } from "./domain-argv.js";
import {
  type DomainProcess,
  type EndReason,
  endReason,
  findDomainProcess,
  runPaths,
  startDomainProcess,
} from "./domain-process.js";
import { type DomainDef, DomainXmlError, formatDomainXml, parseDomainXml } from "./domain-xml.js";
import { Networks } from "./networks.js";
import { Pools } from "./pools.js";
import { LibvirtError, readText, StateDir, stateDirFromUri, writeAtomic } from "./state-dir.js";

export { LibvirtError };

export type DomainStateName = "running" | "paused" | "shut off";

export interface DomainStatus {
  name: string;
  uuid: string;
  /** The running domain's id (absent when shut off). */
  id?: number;
  state: DomainStateName;
  /** libvirt's reason: booted, user, destroyed, crashed, ... */
  reason: string;
  persistent: boolean;
  pid?: number;
}

export interface ConnectionOptions {
  /** The state directory (default: $X86LAB_LIBVIRT_DIR or ~/.local/share/x86lab/libvirt). */
  dir?: string;
  /** A URI instead: x86lab:///session or x86lab:///STATE-DIR. */
  uri?: string;
  /** How to run the command line (tests may give their own; default: node + tsx + cli.ts). */
  command?: string[];
  /** Milliseconds a domain has to answer QMP after it starts. */
  startTimeoutMs?: number;
}

const PAUSED_REASON: Record<string, string> = {
  paused: "user",
  prelaunch: "starting up",
  inmigrate: "migration",
  postmigrate: "migration",
  "save-vm": "save",
  "restore-vm": "from snapshot",
  shutdown: "shutting down",
  "internal-error": "unknown",
  "io-error": "ioerror",
};

export class Connection {
  readonly store: StateDir;
  readonly networks: Networks;
  readonly pools: Pools;

  constructor(private readonly opts: ConnectionOptions = {}) {
    this.store = new StateDir(opts.dir ? resolve(opts.dir) : stateDirFromUri(opts.uri));
    this.networks = new Networks(this.store);
    this.pools = new Pools(this.store);
  }

  get runDir(): string {
    return this.store.run;
  }

  // ----- definitions -----

  private persistentDef(name: string): DomainDef | undefined {
    const xml = this.store.read("domains", name);
    return xml === undefined ? undefined : parseDomainXml(xml);
  }

  private liveDef(name: string): DomainDef | undefined {
    const xml = readText(this.store.runFile(`${name}.xml`));
    return xml === undefined ? undefined : parseDomainXml(xml);
  }

  /** The names of every domain: persistent ones and running transient ones. */
  domainNames(): string[] {
    const names = new Set(this.store.names("domains"));
    for (const f of this.store.names("run")) names.add(f);
    return [...names].sort();
  }

  /** A domain by name (or UUID, or running id, as virsh takes any of them). */
  resolveName(ref: string): string {
    const names = this.domainNames();
    if (names.includes(ref)) return ref;
    for (const n of names) {
      const def = this.liveDef(n) ?? this.persistentDef(n);
      if (def?.uuid === ref.toLowerCase()) return n;
      if (/^\d+$/.test(ref) && readText(this.store.runFile(`${n}.id`))?.trim() === ref && this.process(n)) return n;
    }
    throw new LibvirtError(`failed to get domain '${ref}'`);
  }

  /** Checks a definition as start would (networks need only be defined, not active). */
  private check(def: DomainDef): void {
    domainArgv(def, this.places(def.name, { checkOnly: true }));
  }

  /** Where a domain's sockets, networks and volumes are. */
  private places(name: string, o: { checkOnly?: boolean } = {}): DomainPlaces {
    const paths = runPaths(this.runDir, name);
    return {
      qmp: paths.qmp,
      console: paths.console,
      network: (n) => (o.checkOnly ? (this.networks.defined(n) ? "check" : undefined) : this.networks.socket(n)),
      volume: (pool, vol) => this.pools.volumePath(pool, vol),
      stateDir: this.store.path("vmstate", name),
    };
  }

  /** define: reads domain XML, fills in what libvirt fills in (uuid, MACs, absolute paths), keeps it. */
  defineXML(xml: string, cwd = process.cwd()): DomainDef {
    const def = parseDomainXml(xml);
    const old = this.persistentDef(def.name) ?? this.liveDef(def.name);
    if (old?.uuid && def.uuid && old.uuid !== def.uuid)
      throw new LibvirtError(`operation failed: domain '${def.name}' already exists with uuid ${old.uuid}`);
    for (const n of this.domainNames()) {
      const other = n === def.name ? undefined : (this.persistentDef(n) ?? this.liveDef(n));
      if (def.uuid && other?.uuid === def.uuid)
        throw new LibvirtError(`operation failed: domain '${n}' already exists with uuid ${def.uuid}`);
    }
    def.uuid ??= old?.uuid ?? randomUUID();
    const abs = (p: string | undefined) => (p === undefined || isAbsolute(p) ? p : resolve(cwd, p));
    def.os.kernel = abs(def.os.kernel);
    def.os.initrd = abs(def.os.initrd);
    def.os.loader = abs(def.os.loader);
    for (const d of def.devices) {
      if (d.kind === "disk" && d.type !== "volume") d.file = abs(d.file);
      if (d.kind === "interface" && !d.mac) {
        const b = randomBytes(3);
        d.mac = `52:54:00:${[...b].map((x) => x.toString(16).padStart(2, "0")).join(":")}`;
      }
      if ((d.kind === "serial" || d.kind === "console") && d.path) d.path = abs(d.path);
    }
    const clean = JSON.parse(JSON.stringify(def)) as DomainDef;
    this.check(clean);
    this.store.write("domains", clean.name, formatDomainXml(clean));
    return clean;
  }

  /** undefine: the definition goes; a running domain runs on as a transient one. */
  undefine(ref: string, opts: { snapshotsMetadata?: boolean } = {}): void {
    const name = this.resolveName(ref);
    if (!this.store.has("domains", name))
      throw new LibvirtError(`Requested operation is not valid: cannot undefine transient domain`);
    const snaps = this.store.names(`snapshots/${name}`);
    if (snaps.length > 0 && !opts.snapshotsMetadata)
      throw new LibvirtError(
        `Requested operation is not valid: cannot delete inactive domain with ${snaps.length} snapshots (use --snapshots-metadata)`,
      );
    if (opts.snapshotsMetadata) rmSync(this.store.path("snapshots", name), { recursive: true, force: true });
    this.store.remove("domains", name);
  }

  // ----- runtime -----

  /** The running process of a domain; a dead one's end is recorded and its files cleared. */
  process(name: string): DomainProcess | undefined {
    const paths = runPaths(this.runDir, name);
    const hadPid = existsSync(paths.pid);
    const p = findDomainProcess(this.runDir, name);
    if (p) return p;
    if (hadPid || existsSync(this.store.runFile(`${name}.xml`))) this.ended(name, endReason(paths));
    return undefined;
  }

  /** Records how a domain ended and drops its live files. */
  private ended(name: string, reason: EndReason): void {
    writeAtomic(runPaths(this.runDir, name).end, `${reason}\n`);
    for (const f of [`${name}.xml`, `${name}.id`, `${name}.reason`]) rmSync(this.store.runFile(f), { force: true });
  }

  private running(ref: string): { name: string; proc: DomainProcess } {
    const name = this.resolveName(ref);
    const proc = this.process(name);
    if (!proc) throw new LibvirtError("Requested operation is not valid: domain is not running");
    return { name, proc };
  }

  async status(ref: string): Promise<DomainStatus> {
    const name = this.resolveName(ref);
    const proc = this.process(name);
    const def = this.liveDef(name) ?? this.persistentDef(name);
    if (!def) throw new LibvirtError(`failed to get domain '${ref}'`);
    const persistent = this.store.has("domains", name);
    if (!proc) {
      const end = readText(runPaths(this.runDir, name).end)?.trim();
      return { name, uuid: def.uuid ?? "", state: "shut off", reason: end ?? "unknown", persistent };
    }
    let qs: { status: string; running: boolean };
    try {
      const q = await proc.qmp();
      qs = await q.execute<{ status: string; running: boolean }>("query-status");
    } finally {
      proc.close();
    }
    const id = Number(readText(this.store.runFile(`${name}.id`))?.trim());
    const base = { name, uuid: def.uuid ?? "", id: Number.isInteger(id) ? id : undefined, persistent, pid: proc.pid };
    if (qs.running) {
      const reason = readText(this.store.runFile(`${name}.reason`))?.trim() ?? "booted";
      return { ...base, state: "running", reason };
    }
    return { ...base, state: "paused", reason: PAUSED_REASON[qs.status] ?? "unknown" };
  }

  async list(all: boolean): Promise<DomainStatus[]> {
    const out: DomainStatus[] = [];
    for (const n of this.domainNames()) {
      let s: DomainStatus;
      try {
        s = await this.status(n);
      } catch (e) {
        if (e instanceof LibvirtError) continue; // a transient domain that just ended
        throw e;
      }
      if (all || s.state !== "shut off") out.push(s);
    }
    // virsh lists running domains by id, then the inactive ones by name.
    return out.sort((a, b) => (a.id ?? 1e9) - (b.id ?? 1e9) || a.name.localeCompare(b.name));
  }

  private nextId(): number {
    const file = this.store.runFile("next-id");
    const id = Number(readText(file)?.trim() ?? "1") || 1;
    writeAtomic(file, `${id + 1}\n`);
    return id;
  }

  /** Starts a process for def and records it as running (live XML, id, reason). */
  private async launch(
    def: DomainDef,
    reason: string,
    extra: { paused?: boolean; incoming?: string; loadvm?: string } = {},
    runDir = this.runDir,
  ): Promise<DomainProcess> {
    if (findDomainProcess(runDir, def.name))
      throw new LibvirtError("Requested operation is not valid: domain is already running");
    const places = this.places(def.name);
    let proc: DomainProcess;
    try {
      proc = await startDomainProcess(def, runDir, {
        network: places.network,
        volume: places.volume,
        stateDir: places.stateDir,
        ...extra,
        command: this.opts.command,
        timeoutMs: this.opts.startTimeoutMs,
      });
    } catch (e) {
      if (e instanceof DomainXmlError) throw new LibvirtError(`unsupported configuration: ${e.message}`);
      throw new LibvirtError(`internal error: ${(e as Error).message}`);
    }
    proc.close();
    writeAtomic(this.store.runFile(`${def.name}.xml`), formatDomainXml(def));
    writeAtomic(this.store.runFile(`${def.name}.id`), `${this.nextId()}\n`);
    writeAtomic(this.store.runFile(`${def.name}.reason`), `${reason}\n`);
    return proc;
  }

  async start(ref: string, opts: { paused?: boolean } = {}): Promise<void> {
    const name = this.resolveName(ref);
    if (this.process(name)) throw new LibvirtError("Requested operation is not valid: domain is already running");
    const def = this.persistentDef(name);
    if (!def) throw new LibvirtError(`failed to get domain '${ref}'`);
    await this.launch(def, "booted", { paused: opts.paused });
  }

  /** shutdown: there is no ACPI, so this is QMP's system_powerdown: the machine powers off at once. */
  async shutdown(ref: string): Promise<void> {
    const { name, proc } = this.running(ref);
    proc.markEnd("shutdown");
    const q = await proc.qmp();
    try {
      await q.execute("system_powerdown");
    } finally {
      proc.close();
    }
    if (!(await proc.waitExit(10000))) await proc.kill("shutdown");
    proc.cleanup();
    this.ended(name, "shutdown");
  }

  async reboot(ref: string): Promise<void> {
    const { proc } = this.running(ref);
    await this.qmpDo(proc, (q) => q.execute("system_reset"));
  }

  async destroy(ref: string): Promise<void> {
    const { name, proc } = this.running(ref);
    await proc.kill("destroyed");
    this.ended(name, "destroyed");
  }

  async suspend(ref: string): Promise<void> {
    const { proc } = this.running(ref);
    await this.qmpDo(proc, (q) => q.execute("stop"));
  }

  async resume(ref: string): Promise<void> {
    const { name, proc } = this.running(ref);
    await this.qmpDo(proc, (q) => q.execute("cont"));
    writeAtomic(this.store.runFile(`${name}.reason`), "unpaused\n");
  }

  private async qmpDo<T>(
    proc: DomainProcess,
    fn: (q: Awaited<ReturnType<DomainProcess["qmp"]>>) => Promise<T>,
  ): Promise<T> {
    const q = await proc.qmp();
    try {
      return await fn(q);
    } catch (e) {
      if (e instanceof LibvirtError) throw e;
      throw new LibvirtError(`internal error: ${(e as Error).message}`);
    } finally {
      proc.close();
    }
  }

  /** A human monitor command on a running domain (savevm, loadvm, migrate, info ...). */
  async monitor(ref: string, line: string): Promise<string> {
    const { proc } = this.running(ref);
    return this.qmpDo(proc, (q) => q.hmp(line));
  }

  /** dumpxml: the running definition (with its id) or the persistent one (--inactive). */
  dumpXML(ref: string, opts: { inactive?: boolean } = {}): string {
    const name = this.resolveName(ref);
    const running = this.process(name) !== undefined;
    const def =
      (!opts.inactive && running ? this.liveDef(name) : undefined) ?? this.persistentDef(name) ?? this.liveDef(name);
    if (!def) throw new LibvirtError(`failed to get domain '${ref}'`);
    const id = running && !opts.inactive ? Number(readText(this.store.runFile(`${name}.id`))?.trim()) : undefined;
    return formatDomainXml(def, { id: Number.isInteger(id) ? id : undefined });
  }

  /** The definition in effect (live if running). */
  domainDef(ref: string): DomainDef {
    const name = this.resolveName(ref);
    const def = (this.process(name) ? this.liveDef(name) : undefined) ?? this.persistentDef(name);
    if (!def) throw new LibvirtError(`failed to get domain '${ref}'`);
    return def;
  }

  /** The console's unix socket of a running domain. */
  consolePath(ref: string): string {
    const { name } = this.running(ref);
    const def = this.liveDef(name);
    const pty = def?.devices.some((d) => (d.kind === "serial" || d.kind === "console") && d.type === "pty");
    if (!pty) throw new LibvirtError("operation failed: cannot find character device <null>");
    return runPaths(this.runDir, name).console;
  }

  /** The process's CPU time in seconds (/proc/PID/stat utime + stime). */
  cpuSeconds(pid: number | undefined): number {
    if (pid === undefined) return 0;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return (Number(f[11]) + Number(f[12])) / 100;
    } catch {
      return 0;
    }
  }

  // ----- save, restore, snapshots, migration, disks: domain-ops.ts -----

  /** Used by domain-ops.ts. */
  internals() {
    return {
      liveDef: (n: string) => this.liveDef(n),
      persistentDef: (n: string) => this.persistentDef(n),
      launch: this.launch.bind(this),
      ended: this.ended.bind(this),
      running: this.running.bind(this),
      qmpDo: this.qmpDo.bind(this),
      check: this.check.bind(this),
    };
  }
}
