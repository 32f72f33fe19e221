// The engine (oVirt's ovirt-engine in miniature): the inventory in a database, host agents that
// connect over HostLinks, and the work that keeps both true — placing and moving VMs, watching
// heartbeats, fencing hosts that stop answering and restarting their highly available VMs.
//
// Nothing here imports node: modules, so the same engine runs in a page (manage/browser) with its
// hosts as Workers. Everything that must survive a restart is in the database; what is only in
// memory (links, console sessions, the busy set) is rebuilt when hosts reconnect.

import { Auth, type PasswordHasher, type Principal } from "./auth.js";
import type { Db } from "./db.js";
import { recoverOperations } from "./engine-recovery.js";
import { EngineError, notFound } from "./errors.js";
import { logEvent, type NewEvent } from "./events.js";
import type { FromHost, HostLink, HostVm, StorageDomainRef } from "./host-protocol.js";
import { HostSession } from "./host-session.js";
import { HostWatch } from "./host-watch.js";
import { ensureDefaults, type HostRow, newId, one, setHost, setVm, type VmRow } from "./inventory.js";
import { migrate } from "./migrations.js";
import { VmControl } from "./vm-control.js";

/** The CPU type of this project's CPU (family 6 model 3, FPU VME DE PSE TSC MSR CX8 SEP PGE CMOV). */
export const DEFAULT_CPU_TYPE = "x86lab-p6";

export interface FenceTarget {
  hostId: string;
  name: string;
  address: string;
  agentPid?: number;
  vmPids: number[];
}

/** The fence step: makes sure a host that stopped answering runs nothing (docs/engine.md). */
export interface Fencer {
  fence(host: FenceTarget): Promise<{ ok: boolean; message: string }>;
}

export interface EngineOptions {
  /** How often hosts beat (ms). */
  heartbeatMs?: number;
  /** Beats missed before a host counts as NonResponsive. */
  missedHeartbeats?: number;
  fencer?: Fencer;
  hasher?: PasswordHasher;
  /** An administrator created at the first start (admin@internal in oVirt). */
  admin?: { name: string; password: string };
  cpuType?: string;
  startTimeoutMs?: number;
  /**
   * After the engine starts, how long a host that was Up has to connect again before it counts
   * as NonResponsive (default: the missed heartbeats' time plus 3 s for the listener to open).
   */
  reconnectGraceMs?: number;
  /** Hosts that say hello under a name the engine does not know join their cluster (default true). */
  autoRegister?: boolean;
  /** Called for what the engine logs beside the event table (tests, the CLI). */
  log?: (line: string) => void;
}

export type Change = { kind: "vm" | "host" | "event" | "storage"; id?: string };

export interface ConsoleSession {
  onData(cb: (data: string) => void): void;
  onClose(cb: (why: string) => void): void;
  write(data: string): void;
  close(): void;
}

export class Engine {
  readonly opts: Required<Omit<EngineOptions, "fencer" | "hasher" | "admin">> &
    Pick<EngineOptions, "fencer" | "hasher" | "admin">;
  readonly sessions = new Map<string, HostSession>();
  /** Host names by id, for messages about hosts that are not connected. */
  readonly hostNames = new Map<string, string>();
  readonly auth: Auth;
  readonly watch: HostWatch;
  readonly vms: VmControl;
  /** VMs an operation of this engine is working on: host reports about them wait. */
  readonly busy = new Set<string>();
  /** When start() finished: hosts have a grace time from here to reconnect after a restart. */
  startedAt = Date.now();
  private readonly listeners: ((c: Change) => void)[] = [];
  private closed = false;

  constructor(
    readonly db: Db,
    options: EngineOptions = {},
  ) {
    this.opts = {
      heartbeatMs: 2000,
      missedHeartbeats: 3,
      cpuType: DEFAULT_CPU_TYPE,
      startTimeoutMs: 60_000,
      autoRegister: true,
      log: () => {},
      reconnectGraceMs: (options.heartbeatMs ?? 2000) * (options.missedHeartbeats ?? 3) + 3000,
      ...options,
    };
    this.auth = new Auth(db, options.hasher);
    this.watch = new HostWatch(this);
    this.vms = new VmControl(this);
  }

  /** Brings the schema up to date, creates the defaults and ends or resumes open operations. */
  async start(): Promise<void> {
    await migrate(this.db);
    await ensureDefaults(this.db, this.opts.cpuType);
    if (this.opts.admin) await this.auth.ensureAdmin(this.opts.admin.name, this.opts.admin.password);
    await recoverOperations(this);
    this.startedAt = Date.now();
    this.watch.start();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watch.stop();
    for (const s of this.sessions.values()) {
      s.drop("the engine stopped");
      s.link.close();
    }
    this.sessions.clear();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  onChange(cb: (c: Change) => void): void {
    this.listeners.push(cb);
  }

  changed(c: Change): void {
    for (const cb of this.listeners) cb(c);
  }

  async event(e: NewEvent): Promise<void> {
    this.opts.log(`[${e.severity}] ${e.code}: ${e.description}`);
    await logEvent(this.db, e);
    this.changed({ kind: "event" });
  }

  /** A host agent connected: it says hello first, then beats. */
  acceptHost(link: HostLink): void {
    let session: HostSession | undefined;
    // Each message with the time it arrived: a heartbeat queued behind others must not undo what
    // an action recorded after it arrived (host-watch.ts reconcile).
    const queue: { m: FromHost; at: number }[] = [];
    let running = false;
    // Messages are handled one at a time, in order, as each touches the database.
    const pump = async () => {
      if (running) return;
      running = true;
      while (queue.length) {
        const { m, at } = queue.shift() as { m: FromHost; at: number };
        try {
          if (!session) {
            if (m.type !== "hello") continue;
            session = await this.hello(link, m);
          } else if (!session.settle(m)) await this.fromHost(session, m, at);
        } catch (e) {
          this.opts.log(`host message ${m.type}: ${(e as Error).message}`);
        }
      }
      running = false;
    };
    link.onMessage((m) => {
      if (session) session.lastSeen = Date.now();
      // Replies settle at once: an operation may wait on one while the queue is busy.
      if (session && m.type === "reply") {
        session.settle(m);
        return;
      }
      queue.push({ m, at: Date.now() });
      void pump();
    });
    link.onClose(() => {
      if (!session) return;
      session.drop("its connection closed");
      if (this.sessions.get(session.hostId) === session) this.sessions.delete(session.hostId);
      this.opts.log(`host ${session.name}: link closed`);
    });
  }

  private async hello(link: HostLink, m: Extract<FromHost, { type: "hello" }>): Promise<HostSession | undefined> {
    let host = await one<HostRow>(this.db, "SELECT * FROM hosts WHERE name = $1", [m.name]);
    const clusterName = m.cluster ?? "Default";
    const cluster = await one<{ id: string; cpu_type: string }>(
      this.db,
      "SELECT id, cpu_type FROM clusters WHERE name = $1",
      [clusterName],
    );
    if (!host) {
      if (!this.opts.autoRegister || !cluster) {
        link.close();
        this.opts.log(`host ${m.name}: refused (not in the inventory, cluster ${clusterName})`);
        return undefined;
      }
      const id = newId();
      await this.db.query(
        "INSERT INTO hosts (id, name, cluster_id, status, updated) VALUES ($1, $2, $3, 'connecting', $4)",
        [id, m.name, cluster.id, Date.now()],
      );
      host = (await one<HostRow>(this.db, "SELECT * FROM hosts WHERE id = $1", [id])) as HostRow;
      await this.event({
        severity: "normal",
        code: "HOST_ADDED",
        description: `Host ${m.name} was added to cluster ${clusterName}`,
        hostId: id,
      });
    }
    if (this.watch.isFailing(host.id)) {
      // Being fenced now: what this process runs is about to be killed; it may say hello again after.
      link.close();
      this.opts.log(`host ${m.name}: hello refused while it is being fenced`);
      return undefined;
    }
    const old = this.sessions.get(host.id);
    if (old) {
      old.drop("replaced by a new connection");
      old.link.close();
    }
    const session = new HostSession(host.id, host.name, link);
    this.hostNames.set(host.id, host.name);
    this.sessions.set(host.id, session);
    const clusterCpu = (
      await one<{ cpu_type: string }>(this.db, "SELECT cpu_type FROM clusters WHERE id = $1", [host.cluster_id])
    )?.cpu_type;
    let status: HostRow["status"] = "up";
    let detail = "";
    if (m.capacity.cpuType !== clusterCpu) {
      status = "non_operational";
      detail = `the host's CPU type ${m.capacity.cpuType} is not the cluster's ${clusterCpu}`;
    } else if (host.status === "maintenance" || host.status === "preparing_for_maintenance") {
      status = "maintenance";
    }
    // A host that was fenced and comes back is a new start of it: nothing of the old one runs.
    await setHost(this.db, host.id, {
      status,
      status_detail: detail,
      address: m.address,
      memory_mib: m.capacity.memoryMib,
      cpus: m.capacity.cpus,
      cpu_type: m.capacity.cpuType,
      agent_pid: m.pid ?? null,
      last_heartbeat: Date.now(),
    });
    session.send({
      type: "welcome",
      hostId: host.id,
      heartbeatMs: this.opts.heartbeatMs,
      storageDomains: await this.storageRefs(),
    });
    if (host.status !== status)
      await this.event({
        severity: status === "up" ? "normal" : "warning",
        code: status === "up" ? "HOST_UP" : "HOST_STATUS",
        description: `Host ${host.name} is ${status}${detail ? `: ${detail}` : ""} (${m.capacity.memoryMib} MiB, ${m.capacity.cpus} CPUs, ${m.capacity.cpuType})`,
        hostId: host.id,
      });
    await this.watch.reconcile(session, m.vms, undefined, Date.now());
    this.changed({ kind: "host", id: host.id });
    return session;
  }

  private async fromHost(s: HostSession, m: FromHost, receivedAt: number): Promise<void> {
    switch (m.type) {
      case "heartbeat":
        await this.db.query("UPDATE hosts SET last_heartbeat = $2 WHERE id = $1", [s.hostId, Date.now()]);
        await this.watch.reconcile(s, m.vms, m.storage, receivedAt);
        return;
      case "vm-state":
        return this.vms.hostReported(s, m.vmId, m.state, m.reason, m.pid);
      case "console-output":
        return this.vms.consoleOutput(m.vmId, m.session, m.data);
      case "event":
        return this.event({
          severity: m.severity,
          code: "HOST_EVENT",
          description: `${s.name}: ${m.message}`,
          hostId: s.hostId,
          vmId: m.vmId,
        });
      case "migration-progress":
        this.opts.log(
          `migration of ${m.vmId}: ${m.status} ${m.transferredBytes} B sent, ${m.remainingBytes} B left, limit ${m.downtimeLimitMs} ms`,
        );
        return;
      default:
        return;
    }
  }

  async storageRefs(): Promise<StorageDomainRef[]> {
    const { rows } = await this.db.query<StorageDomainRef>("SELECT id, type, path FROM storage_domains");
    return rows;
  }

  /** Tells every connected host which storage domains to watch. */
  async pushStorage(): Promise<void> {
    const storageDomains = await this.storageRefs();
    for (const s of this.sessions.values()) s.send({ type: "storage-domains", storageDomains });
  }

  async host(id: string): Promise<HostRow> {
    const h = await one<HostRow>(this.db, "SELECT * FROM hosts WHERE id = $1 OR name = $1", [id]);
    if (!h) throw notFound("host", id);
    return h;
  }

  /** A VM the principal may see (else 404, as oVirt answers for what a user cannot see). */
  async vm(p: Principal, id: string): Promise<VmRow> {
    const v = await one<VmRow>(this.db, "SELECT * FROM vms WHERE id = $1 OR name = $1", [id]);
    if (!v || !(await this.auth.maySee(p, v.id))) throw notFound("vm", id);
    return v;
  }

  requireAdmin(p: Principal): void {
    if (!p.admin) throw new EngineError(403, `user ${p.name} is not an administrator`);
  }

  /** Records a VM's state from its host (and the time), and tells listeners. */
  async setVm(id: string, f: Partial<VmRow>): Promise<void> {
    await setVm(this.db, id, f);
    this.changed({ kind: "vm", id });
  }

  async setHost(id: string, f: Partial<HostRow>): Promise<void> {
    await setHost(this.db, id, f);
    this.changed({ kind: "host", id });
  }

  reported(vms: HostVm[], id: string): HostVm | undefined {
    return vms.find((v) => v.vmId === id);
  }
}
