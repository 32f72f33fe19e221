// Watching hosts: heartbeats, what each host says it runs, and what happens when one stops
// answering. A host silent for `missedHeartbeats` beats is NonResponsive; the fence step
// (Engine's Fencer) makes sure nothing of it runs; then its highly available VMs start on other
// hosts, highest priority first, and its other VMs are Down. The times of each step are kept
// (`failovers`) and written into the events.

import { SYSTEM } from "./auth.js";
import type { Engine } from "./engine.js";
import type { HostVm } from "./host-protocol.js";
import type { HostSession } from "./host-session.js";
import type { HostRow, StorageDomainRow, VmRow } from "./inventory.js";

export interface Failover {
  host: string;
  /** Engine clock (ms): the last message from the host, when it was declared NonResponsive, fenced. */
  lastSeen: number;
  detectedAt: number;
  fencedAt?: number;
  fenceMessage?: string;
  restarts: { vm: string; priority: number; startedAt: number; upAt?: number; error?: string }[];
  down: string[];
}

/** The status detail of a highly available VM whose restart waits for a host with room. */
const HA_PENDING = "highly available, restart pending";

const WATCHED = ["up", "preparing_for_maintenance", "maintenance", "non_operational", "connecting"];

export class HostWatch {
  private timer: ReturnType<typeof setInterval> | undefined;
  private ticking = false;
  readonly failovers: Failover[] = [];
  /** What each host said it runs in its last heartbeat. */
  private readonly runs = new Map<string, HostVm[]>();
  private readonly storageSeen = new Map<string, Record<string, string>>();
  /** Hosts being failed over now (a second tick must not start another). */
  private readonly failing = new Set<string>();
  private ticks = 0;

  constructor(private readonly e: Engine) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), Math.max(20, this.e.opts.heartbeatMs / 2));
  }

  isFailing(hostId: string): boolean {
    return this.failing.has(hostId);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private async tick(): Promise<void> {
    if (this.ticking || this.e.isClosed) return;
    this.ticking = true;
    try {
      const limit = this.e.opts.heartbeatMs * this.e.opts.missedHeartbeats;
      const { rows } = await this.e.db.query<HostRow>("SELECT * FROM hosts WHERE status = ANY($1)", [WATCHED]);
      const now = Date.now();
      for (const h of rows) {
        const s = this.e.sessions.get(h.id);
        // After an engine start a host has the reconnect grace to say hello again.
        const seen = s
          ? s.lastSeen
          : Math.max(this.e.startedAt + this.e.opts.reconnectGraceMs - limit, Math.min(h.last_heartbeat ?? 0, now));
        if (now - seen > limit && !this.failing.has(h.id)) void this.notResponding(h, seen);
      }
      if (++this.ticks % 20 === 0) await this.retryHa();
    } catch (e) {
      this.e.opts.log(`host watch: ${(e as Error).message}`);
    } finally {
      this.ticking = false;
    }
  }

  private async notResponding(h: HostRow, lastSeen: number): Promise<void> {
    this.failing.add(h.id);
    const f: Failover = { host: h.name, lastSeen, detectedAt: Date.now(), restarts: [], down: [] };
    this.failovers.push(f);
    try {
      const s = this.e.sessions.get(h.id);
      if (s) {
        s.drop("it stopped answering");
        s.link.close();
        this.e.sessions.delete(h.id);
      }
      this.runs.delete(h.id);
      await this.e.setHost(h.id, {
        status: "non_responsive",
        status_detail: `no heartbeat for ${f.detectedAt - lastSeen} ms`,
      });
      const { rows: vms } = await this.e.db.query<VmRow>("SELECT * FROM vms WHERE host_id = $1 AND status <> 'down'", [
        h.id,
      ]);
      for (const v of vms)
        await this.e.setVm(v.id, { status: "unknown", status_detail: `host ${h.name} is not responding` });
      await this.e.event({
        severity: "error",
        code: "HOST_NON_RESPONSIVE",
        description: `Host ${h.name} is not responding: no heartbeat for ${f.detectedAt - lastSeen} ms`,
        hostId: h.id,
      });
      await this.fence(h, f, vms);
    } finally {
      this.failing.delete(h.id);
    }
  }

  /** Runs the fence step; when it confirms the host is down, fails its VMs over. */
  private async fence(h: HostRow, f: Failover, vms: VmRow[]): Promise<void> {
    const back = this.e.sessions.get(h.id);
    if (back && Date.now() - back.lastSeen < this.e.opts.heartbeatMs * 2) {
      await this.e.event({
        severity: "normal",
        code: "HOST_BACK",
        description: `Host ${h.name} answered again before it was fenced`,
        hostId: h.id,
      });
      return;
    }
    const fencer = this.e.opts.fencer;
    if (!fencer) {
      await this.e.setHost(h.id, {
        status_detail:
          "not responding; no fence agent: confirm it is down with POST /hosts/{id}/fence (fence_type manual)",
      });
      return;
    }
    const r = await fencer.fence({
      hostId: h.id,
      name: h.name,
      address: h.address,
      agentPid: h.agent_pid ?? undefined,
      vmPids: vms.map((v) => v.run_pid).filter((p): p is number => typeof p === "number"),
    });
    f.fenceMessage = r.message;
    if (!r.ok) {
      await this.e.setHost(h.id, { status_detail: `fencing failed: ${r.message}` });
      await this.e.event({
        severity: "error",
        code: "HOST_FENCE_FAILED",
        description: `Fencing host ${h.name} failed: ${r.message}; its VMs stay Unknown until it is confirmed down`,
        hostId: h.id,
      });
      return;
    }
    f.fencedAt = Date.now();
    await this.down(h, r.message, f);
  }

  /** The host is known to run nothing (fenced, or confirmed by an administrator). */
  async down(h: HostRow, how: string, f?: Failover): Promise<void> {
    await this.e.setHost(h.id, { status: "down", status_detail: how, agent_pid: null });
    await this.e.event({
      severity: "warning",
      code: "HOST_FENCED",
      description: `Host ${h.name} was fenced (${how})${f ? `: detected ${f.detectedAt - f.lastSeen} ms after its last heartbeat, fenced in ${(f.fencedAt ?? 0) - f.detectedAt} ms` : ""}`,
      hostId: h.id,
    });
    const { rows } = await this.e.db.query<VmRow>(
      "SELECT * FROM vms WHERE host_id = $1 AND status <> 'down' ORDER BY ha DESC, ha_priority DESC, name",
      [h.id],
    );
    for (const v of rows) {
      await this.e.setVm(v.id, {
        status: "down",
        host_id: null,
        run_pid: null,
        status_detail: `host ${h.name} was fenced`,
      });
      if (!v.ha) {
        f?.down.push(v.name);
        await this.e.event({
          severity: "error",
          code: "VM_DOWN",
          description: `VM ${v.name} is down: its host ${h.name} was fenced and it is not highly available`,
          vmId: v.id,
          hostId: h.id,
        });
      }
    }
    // Highly available VMs, highest priority first, each on the host with the most room.
    for (const v of rows.filter((x) => x.ha)) {
      const r: Failover["restarts"][number] = { vm: v.name, priority: v.ha_priority, startedAt: Date.now() };
      f?.restarts.push(r);
      try {
        await this.e.vms.start(SYSTEM, v.id, { reason: "ha_restart" });
        r.upAt = Date.now();
        await this.e.event({
          severity: "normal",
          code: "VM_HA_RESTARTED",
          description: `Highly available VM ${v.name} was restarted on another host in ${r.upAt - r.startedAt} ms${f ? ` (${r.upAt - f.lastSeen} ms after its host's last heartbeat)` : ""}`,
          vmId: v.id,
        });
      } catch (e) {
        r.error = (e as Error).message;
        await this.e.setVm(v.id, { status_detail: `${HA_PENDING}: ${r.error}` });
        await this.e.event({
          severity: "error",
          code: "VM_HA_RESTART_FAILED",
          description: `Highly available VM ${v.name} could not be restarted: ${r.error}`,
          vmId: v.id,
        });
      }
    }
  }

  /** Highly available VMs left down by a failover with no room: tried again now and then (oVirt does). */
  private async retryHa(): Promise<void> {
    const { rows } = await this.e.db.query<VmRow>(
      "SELECT * FROM vms WHERE ha AND status = 'down' AND status_detail LIKE $1 ORDER BY ha_priority DESC, name",
      [`${HA_PENDING}%`],
    );
    for (const v of rows) {
      try {
        await this.e.vms.start(SYSTEM, v.id, { reason: "ha_restart" });
        await this.e.event({
          severity: "normal",
          code: "VM_HA_RESTARTED",
          description: `Highly available VM ${v.name} was restarted (retry)`,
          vmId: v.id,
        });
      } catch (e) {
        await this.e.setVm(v.id, { status_detail: `${HA_PENDING}: ${(e as Error).message}` });
      }
    }
  }

  /** What a host says it runs, against the inventory; and its view of the storage domains. */
  async reconcile(
    s: HostSession,
    vms: HostVm[],
    storage: Record<string, string> | undefined,
    receivedAt: number,
  ): Promise<void> {
    this.runs.set(s.hostId, vms);
    const { rows } = await this.e.db.query<VmRow>("SELECT * FROM vms WHERE host_id = $1 OR id = ANY($2)", [
      s.hostId,
      vms.map((v) => v.vmId),
    ]);
    const graceOver = Date.now() - this.e.startedAt > this.e.opts.reconnectGraceMs;
    for (const v of rows) {
      // Busy, or changed since this report arrived (a start's reply settled while the report
      // waited in the queue): the report is older than what the row says.
      if (this.e.busy.has(v.id) || v.updated > receivedAt) continue;
      const here = vms.find((x) => x.vmId === v.id);
      const live = here && (here.state === "running" || here.state === "paused");
      if (v.host_id === s.hostId) {
        if (live) {
          const status = here.state === "paused" ? "paused" : "up";
          if (v.status !== status || (here.pid && v.run_pid !== here.pid))
            await this.e.setVm(v.id, { status, status_detail: "", run_pid: here.pid ?? v.run_pid });
        } else if (!here && ["up", "paused", "unknown", "powering_down", "migrating"].includes(v.status)) {
          // Not here: maybe it moved while the engine was away (another host reports it).
          const elsewhere = [...this.runs].find(
            ([h, list]) => h !== s.hostId && list.some((x) => x.vmId === v.id && x.state === "running"),
          );
          if (elsewhere) {
            await this.e.setVm(v.id, { host_id: elsewhere[0], status: "up", status_detail: "" });
          } else if (graceOver) {
            await this.e.setVm(v.id, {
              status: "down",
              host_id: null,
              run_pid: null,
              status_detail: `not running on its host ${s.name}`,
            });
            await this.e.event({
              severity: "warning",
              code: "VM_DOWN",
              description: `VM ${v.name} is down: its host ${s.name} does not run it`,
              vmId: v.id,
              hostId: s.hostId,
            });
          }
        }
      } else if (live && (v.status === "unknown" || v.status === "migrating")) {
        // The engine restarted mid-migration and the VM runs here now.
        const other = v.host_id ? this.runs.get(v.host_id) : undefined;
        if (!other?.some((x) => x.vmId === v.id && x.state === "running"))
          await this.e.setVm(v.id, { host_id: s.hostId, status: "up", status_detail: "", run_pid: here.pid ?? null });
      }
    }
    if (storage) await this.storage(s.hostId, storage);
  }

  private async storage(hostId: string, seen: Record<string, string>): Promise<void> {
    this.storageSeen.set(hostId, seen);
    const { rows } = await this.e.db.query<StorageDomainRow>("SELECT * FROM storage_domains");
    for (const d of rows) {
      const views = [...this.storageSeen.values()].map((r) => r[d.id]).filter((x) => x !== undefined);
      if (!views.length) continue;
      const ok = views.some((x) => x === "");
      if (ok && d.status !== "active") {
        await this.e.db.query("UPDATE storage_domains SET status = 'active', status_detail = '' WHERE id = $1", [d.id]);
        await this.e.event({
          severity: "normal",
          code: "STORAGE_DOMAIN_ACTIVE",
          description: `Storage domain ${d.name} is active again`,
        });
        this.e.changed({ kind: "storage", id: d.id });
      } else if (!ok && d.status === "active") {
        const why = views.find((x) => x) as string;
        await this.e.db.query("UPDATE storage_domains SET status = 'inactive', status_detail = $2 WHERE id = $1", [
          d.id,
          why,
        ]);
        await this.e.event({
          severity: "error",
          code: "STORAGE_DOMAIN_INACTIVE",
          description: `Storage domain ${d.name} is inactive: ${why}`,
        });
        this.e.changed({ kind: "storage", id: d.id });
      }
    }
  }

  /** Hosts whose last heartbeat listed this VM as running (for recovery). */
  runningOn(vmId: string): string[] {
    return [...this.runs].filter(([, l]) => l.some((x) => x.vmId === vmId && x.state === "running")).map(([h]) => h);
  }
}
