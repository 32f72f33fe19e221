// VM actions (oVirt's POST /vms/{id}/start|stop|shutdown|migrate) and host maintenance. Each is an
// operations row while it runs; the VM is in `engine.busy` meanwhile, so host reports about it
// wait until the action has settled its state.

import type { Principal } from "./auth.js";
import { readDomain } from "./domain.js";
import type { ConsoleSession, Engine } from "./engine.js";
import { badRequest, conflict, EngineError } from "./errors.js";
import type { HostVmState } from "./host-protocol.js";
import type { HostSession } from "./host-session.js";
import {
  type ClusterRow,
  type HostRow,
  hostUsage,
  newId,
  one,
  type StorageDomainRow,
  type VmRow,
} from "./inventory.js";
import { beginOp, endOp } from "./operations.js";
import { isPolicy, migrationPlan } from "./policies.js";
import { type HostLoad, pickHost } from "./scheduler.js";

interface Console {
  vmId: string;
  hostId: string;
  data: ((d: string) => void)[];
  closed: ((why: string) => void)[];
}

export class VmControl {
  private placing: Promise<unknown> = Promise.resolve();
  private readonly consoles = new Map<string, Console>();

  constructor(private readonly e: Engine) {}

  /** Runs `fn` after every placement before it: two starts never take the same free memory. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const r = this.placing.then(fn, fn);
    this.placing = r.catch(() => {});
    return r;
  }

  async add(
    p: Principal,
    a: { xml: string; cluster?: string; ha?: boolean; haPriority?: number; templateId?: string },
  ): Promise<VmRow> {
    const d = readDomain(a.xml);
    const cluster = await one<ClusterRow>(this.e.db, "SELECT * FROM clusters WHERE id = $1 OR name = $1", [
      a.cluster ?? "Default",
    ]);
    if (!cluster) throw badRequest(`cluster '${a.cluster}' not found`);
    if (await one(this.e.db, "SELECT 1 FROM vms WHERE name = $1", [d.name]))
      throw conflict(`a VM named ${d.name} exists`);
    for (const n of d.networks)
      if (!(await one(this.e.db, "SELECT 1 FROM networks WHERE name = $1", [n])))
        throw badRequest(`the domain's interface is on network '${n}', which is not in the inventory`);
    const id = d.uuid && /^[0-9a-f-]{36}$/i.test(d.uuid) ? d.uuid.toLowerCase() : newId();
    const now = Date.now();
    await this.e.db.query(
      `INSERT INTO vms (id, name, cluster_id, domain, domain_xml, memory_mib, vcpus, status, ha, ha_priority, template_id, created, updated)
       VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, 'down', $8, $9, $10, $11, $11)`,
      [
        id,
        d.name,
        cluster.id,
        JSON.stringify(d.def),
        a.xml,
        d.memoryMib,
        d.vcpus,
        !!a.ha,
        a.haPriority ?? 1,
        a.templateId ?? null,
        now,
      ],
    );
    if (!p.admin) await this.e.auth.grant(id, p.name);
    await this.e.event({
      severity: "normal",
      code: "VM_ADDED",
      description: `VM ${d.name} was created by ${p.name}`,
      vmId: id,
      user: p.name,
    });
    return (await this.e.vm(p, id)) as VmRow;
  }

  async remove(p: Principal, id: string): Promise<void> {
    const v = await this.e.vm(p, id);
    if (v.status !== "down") throw conflict(`Cannot remove VM ${v.name}: it is ${v.status}; stop it first`);
    await this.e.db.query("DELETE FROM vms WHERE id = $1", [v.id]);
    await this.e.event({
      severity: "normal",
      code: "VM_REMOVED",
      description: `VM ${v.name} was removed by ${p.name}`,
      user: p.name,
    });
  }

  private async loads(clusterId: string): Promise<HostLoad[]> {
    const { rows } = await this.e.db.query<HostRow>("SELECT * FROM hosts WHERE cluster_id = $1 ORDER BY name", [
      clusterId,
    ]);
    const used = await hostUsage(this.e.db);
    return rows.map((h) => ({
      id: h.id,
      name: h.name,
      // A host whose link is gone is not a place to start anything, whatever its row says.
      status: h.status === "up" && !this.e.sessions.get(h.id)?.connected ? "not connected" : h.status,
      cpuType: h.cpu_type,
      memoryMib: h.memory_mib,
      cpus: h.cpus,
      usedMemoryMib: used.get(h.id)?.mem ?? 0,
      usedCpus: used.get(h.id)?.cpus ?? 0,
    }));
  }

  private async checkStorage(v: VmRow): Promise<void> {
    const d = readDomain(v.domain_xml);
    const { rows } = await this.e.db.query<StorageDomainRow>("SELECT * FROM storage_domains");
    for (const f of d.diskFiles) {
      const sd = rows.find((s) => f.startsWith(`${s.path.replace(/\/$/, "")}/`));
      if (sd && sd.status !== "active")
        throw conflict(
          `Cannot run VM ${v.name}: its disk ${f} is on storage domain ${sd.name}, which is inactive (${sd.status_detail})`,
        );
    }
  }

  private session(hostId: string): HostSession {
    const s = this.e.sessions.get(hostId);
    if (!s) throw new EngineError(503, `host ${this.e.hostNames.get(hostId) ?? hostId} is not connected`);
    return s;
  }

  /** Starts a Down VM on the host with the most room (or `hostId`). */
  async start(p: Principal, id: string, o: { hostId?: string; reason?: "ha_restart" } = {}): Promise<VmRow> {
    const v = await this.e.vm(p, id);
    if (v.status !== "down") throw conflict(`Cannot run VM ${v.name}: it is ${v.status}`);
    if (this.e.busy.has(v.id)) throw conflict(`Cannot run VM ${v.name}: another action on it is in progress`);
    await this.checkStorage(v);
    this.e.busy.add(v.id);
    let op = "";
    let host: HostLoad | undefined;
    try {
      host = await this.serial(async () => {
        const cluster = (await one<ClusterRow>(this.e.db, "SELECT * FROM clusters WHERE id = $1", [
          v.cluster_id,
        ])) as ClusterRow;
        let hosts = await this.loads(v.cluster_id);
        if (o.hostId) hosts = hosts.filter((h) => h.id === o.hostId || h.name === o.hostId);
        const pick = pickHost({ memoryMib: v.memory_mib, vcpus: v.vcpus, cpuType: cluster.cpu_type }, hosts);
        if ("error" in pick) throw conflict(`Cannot run VM ${v.name}. ${pick.error}`);
        await this.e.setVm(v.id, { status: "wait_for_launch", host_id: pick.host.id, status_detail: "" });
        return pick.host;
      });
      op = await beginOp(this.e.db, o.reason ?? "start", { vmId: v.id, hostId: host.id });
      const r = await this.session(host.id).request(
        { type: "start", vmId: v.id, domainXml: v.domain_xml },
        this.e.opts.startTimeoutMs,
      );
      await this.e.setVm(v.id, { status: "up", run_pid: typeof r.pid === "number" ? r.pid : null });
      await endOp(this.e.db, op, "done");
      await this.e.event({
        severity: "normal",
        code: "VM_STARTED",
        description: `VM ${v.name} was started on host ${host.name} by ${p.name}`,
        vmId: v.id,
        hostId: host.id,
        user: p.name,
      });
    } catch (err) {
      const msg = (err as Error).message;
      if (host) {
        await this.e.setVm(v.id, {
          status: "down",
          host_id: null,
          run_pid: null,
          status_detail: `failed to start on ${host.name}: ${msg}`,
        });
        await this.e.event({
          severity: "error",
          code: "VM_START_FAILED",
          description: `VM ${v.name} failed to start on host ${host.name}: ${msg}`,
          vmId: v.id,
          hostId: host.id,
        });
      } else {
        await this.e.event({ severity: "error", code: "VM_START_FAILED", description: msg, vmId: v.id });
      }
      if (op) await endOp(this.e.db, op, "failed", msg);
      throw err instanceof EngineError ? err : conflict(`Cannot run VM ${v.name}: ${msg}`);
    } finally {
      this.e.busy.delete(v.id);
    }
    return this.e.vm(p, v.id);
  }

  /** Power off (oVirt's stop: the process ends now) or shut down (the guest is asked). */
  async stop(p: Principal, id: string, how: "stop" | "shutdown"): Promise<VmRow> {
    const v = await this.e.vm(p, id);
    if (v.status === "down") throw conflict(`Cannot ${how} VM ${v.name}: it is down`);
    if (this.e.busy.has(v.id)) throw conflict(`Cannot ${how} VM ${v.name}: another action on it is in progress`);
    if (!v.host_id) {
      await this.e.setVm(v.id, { status: "down", status_detail: "" });
      return this.e.vm(p, v.id);
    }
    this.e.busy.add(v.id);
    const op = await beginOp(this.e.db, how, { vmId: v.id, hostId: v.host_id });
    try {
      if (how === "shutdown") await this.e.setVm(v.id, { status: "powering_down" });
      await this.session(v.host_id).request({ type: how === "stop" ? "destroy" : "shutdown", vmId: v.id }, 30_000);
      await this.e.setVm(v.id, { status: "down", host_id: null, run_pid: null, status_detail: `${how} by ${p.name}` });
      await endOp(this.e.db, op, "done");
      this.closeConsoles(v.id, "the VM is down");
      await this.e.event({
        severity: "normal",
        code: how === "stop" ? "VM_STOPPED" : "VM_SHUTDOWN",
        description: `VM ${v.name} was ${how === "stop" ? "powered off" : "shut down"} by ${p.name}`,
        vmId: v.id,
        user: p.name,
      });
    } catch (err) {
      const msg = (err as Error).message;
      await endOp(this.e.db, op, "failed", msg);
      throw new EngineError(409, `Cannot ${how} VM ${v.name}: ${msg}`);
    } finally {
      this.e.busy.delete(v.id);
    }
    return this.e.vm(p, v.id);
  }

  /** Live migration to `hostId` or the host the scheduler picks; resolves with the policy's note. */
  async migrate(
    p: Principal,
    id: string,
    o: { hostId?: string; policy?: string } = {},
  ): Promise<{ vm: VmRow; note?: string; downtimeMs?: number }> {
    const v = await this.e.vm(p, id);
    if (v.status !== "up" || !v.host_id) throw conflict(`Cannot migrate VM ${v.name}: it is ${v.status}`);
    if (this.e.busy.has(v.id)) throw conflict(`Cannot migrate VM ${v.name}: another action on it is in progress`);
    const from = v.host_id;
    const cluster = (await one<ClusterRow>(this.e.db, "SELECT * FROM clusters WHERE id = $1", [
      v.cluster_id,
    ])) as ClusterRow;
    const policy = o.policy ?? cluster.migration_policy;
    if (!isPolicy(policy))
      throw badRequest(`migration policy '${policy}' is not one of minimal_downtime, suspend_workload, post_copy`);
    const { plan, note } = migrationPlan(policy, cluster.migration_bandwidth_mib);
    this.e.busy.add(v.id);
    let op = "";
    let to: HostLoad | undefined;
    try {
      to = await this.serial(async () => {
        let hosts = await this.loads(v.cluster_id);
        if (o.hostId) {
          const t = hosts.find((h) => h.id === o.hostId || h.name === o.hostId);
          if (!t) throw badRequest(`host '${o.hostId}' is not in the VM's cluster`);
          if (t.id === from) throw conflict(`Cannot migrate VM ${v.name}: it already runs on ${t.name}`);
          hosts = [t];
        }
        const pick = pickHost({ memoryMib: v.memory_mib, vcpus: v.vcpus, cpuType: cluster.cpu_type }, hosts, [from]);
        if ("error" in pick) throw conflict(`Cannot migrate VM ${v.name}. ${pick.error}`);
        op = await beginOp(this.e.db, "migrate", {
          vmId: v.id,
          hostId: from,
          targetHostId: pick.host.id,
          params: { policy },
        });
        return pick.host;
      });
      await this.e.setVm(v.id, { status: "migrating", status_detail: `to ${to.name}` });
      const dest = this.session(to.id);
      const incoming = await dest.request(
        { type: "start", vmId: v.id, domainXml: v.domain_xml, incoming: true },
        this.e.opts.startTimeoutMs,
      );
      const uri = String(incoming.uri);
      let r: Record<string, unknown>;
      try {
        r = await this.session(from).request({ type: "migrate", vmId: v.id, uri, plan }, plan.timeoutMs + 10_000);
      } catch (err) {
        // The destination's waiting process goes; the source runs on (if its host is there).
        await dest.request({ type: "destroy", vmId: v.id }, 10_000).catch(() => {});
        throw err;
      }
      this.closeConsoles(v.id, `the VM moved to host ${to.name}`);
      await this.e.setVm(v.id, {
        status: "up",
        host_id: to.id,
        status_detail: "",
        run_pid: typeof incoming.pid === "number" ? incoming.pid : null,
      });
      await endOp(this.e.db, op, "done", note ?? "");
      const downtimeMs = typeof r.downtimeMs === "number" ? r.downtimeMs : undefined;
      await this.e.event({
        severity: "normal",
        code: "VM_MIGRATED",
        description: `VM ${v.name} migrated to host ${to.name} (${policy}${downtimeMs !== undefined ? `, downtime ${Math.round(downtimeMs)} ms` : ""})${note ? `; ${note}` : ""}`,
        vmId: v.id,
        hostId: to.id,
        user: p.name,
      });
      return { vm: await this.e.vm(p, v.id), note, downtimeMs };
    } catch (err) {
      const msg = (err as Error).message;
      if (to) {
        const source = this.e.sessions.get(from);
        await this.e.setVm(
          v.id,
          source
            ? { status: "up", status_detail: `migration to ${to.name} failed: ${msg}` }
            : {
                status: "unknown",
                status_detail: `migration to ${to.name} failed and its host is not connected: ${msg}`,
              },
        );
        await this.e.event({
          severity: "error",
          code: "VM_MIGRATION_FAILED",
          description: `Migration of VM ${v.name} to host ${to.name} failed: ${msg}`,
          vmId: v.id,
          hostId: to.id,
        });
      }
      if (op) await endOp(this.e.db, op, "failed", msg);
      throw err instanceof EngineError ? err : conflict(`Migration of VM ${v.name} failed: ${msg}`);
    } finally {
      this.e.busy.delete(v.id);
    }
  }

  /** Maintenance: every VM on the host migrates away, then the host is Maintenance. */
  async deactivateHost(p: Principal, id: string): Promise<HostRow> {
    this.e.requireAdmin(p);
    const h = await this.e.host(id);
    if (h.status === "maintenance") return h;
    if (!["up", "non_operational", "preparing_for_maintenance"].includes(h.status))
      throw conflict(`Cannot switch host ${h.name} to maintenance: it is ${h.status}`);
    const op = await beginOp(this.e.db, "maintenance", { hostId: h.id });
    return this.evacuate(p, h, op);
  }

  /** The rest of a maintenance (also what a restarted engine resumes). */
  async evacuate(p: Principal, h: HostRow, op: string): Promise<HostRow> {
    await this.e.setHost(h.id, { status: "preparing_for_maintenance", status_detail: "" });
    const { rows } = await this.e.db.query<VmRow>(
      "SELECT * FROM vms WHERE host_id = $1 AND status <> 'down' ORDER BY name",
      [h.id],
    );
    const failed: string[] = [];
    for (const v of rows) {
      try {
        await this.migrate(p, v.id);
      } catch (err) {
        failed.push(`${v.name}: ${(err as Error).message}`);
      }
    }
    if (failed.length) {
      const msg = `maintenance of host ${h.name} stopped: ${failed.join("; ")}`;
      await this.e.setHost(h.id, { status: "up", status_detail: msg });
      await endOp(this.e.db, op, "failed", msg);
      await this.e.event({ severity: "error", code: "HOST_MAINTENANCE_FAILED", description: msg, hostId: h.id });
      throw conflict(msg);
    }
    await this.e.setHost(h.id, { status: "maintenance", status_detail: "" });
    await endOp(this.e.db, op, "done");
    await this.e.event({
      severity: "normal",
      code: "HOST_MAINTENANCE",
      description: `Host ${h.name} is in maintenance (${rows.length} VMs migrated away) by ${p.name}`,
      hostId: h.id,
      user: p.name,
    });
    return this.e.host(h.id);
  }

  async activateHost(p: Principal, id: string): Promise<HostRow> {
    this.e.requireAdmin(p);
    const h = await this.e.host(id);
    if (h.status !== "maintenance")
      throw conflict(`Cannot activate host ${h.name}: it is ${h.status}, not maintenance`);
    const connected = this.e.sessions.has(h.id);
    await this.e.setHost(h.id, {
      status: connected ? "up" : "non_responsive",
      status_detail: connected ? "" : "activated while not connected",
    });
    await this.e.event({
      severity: "normal",
      code: "HOST_ACTIVATED",
      description: `Host ${h.name} was activated by ${p.name}`,
      hostId: h.id,
      user: p.name,
    });
    return this.e.host(h.id);
  }

  /** A host's report about one of its VMs, outside any action of the engine. */
  async hostReported(s: HostSession, vmId: string, state: HostVmState, reason?: string, pid?: number): Promise<void> {
    if (this.e.busy.has(vmId)) return;
    const v = await one<VmRow>(this.e.db, "SELECT * FROM vms WHERE id = $1", [vmId]);
    if (!v || v.host_id !== s.hostId) return; // a source after a migration, or a stray destination
    if (state === "running" && v.status !== "up")
      await this.e.setVm(vmId, { status: "up", status_detail: "", run_pid: pid ?? v.run_pid });
    else if (state === "paused" && v.status !== "paused")
      await this.e.setVm(vmId, { status: "paused", status_detail: reason ?? "" });
    else if ((state === "stopped" || state === "crashed") && v.status !== "down") {
      const why =
        state === "crashed"
          ? `its process ended on host ${s.name}: ${reason ?? "no reason given"}`
          : (reason ?? "the guest powered off");
      await this.e.setVm(vmId, { status: "down", host_id: null, run_pid: null, status_detail: why });
      this.closeConsoles(vmId, "the VM is down");
      await this.e.event({
        severity: state === "crashed" ? "error" : "normal",
        code: "VM_DOWN",
        description: `VM ${v.name} is down: ${why}`,
        vmId,
        hostId: s.hostId,
      });
    }
  }

  async openConsole(p: Principal, id: string): Promise<ConsoleSession> {
    const v = await this.e.vm(p, id);
    if (v.status !== "up" && v.status !== "paused")
      throw conflict(`Cannot open the console of VM ${v.name}: it is ${v.status}`);
    const s = this.session(v.host_id as string);
    const session = newId();
    const c: Console = { vmId: v.id, hostId: s.hostId, data: [], closed: [] };
    this.consoles.set(session, c);
    s.send({ type: "console-attach", vmId: v.id, session });
    return {
      onData: (cb) => c.data.push(cb),
      onClose: (cb) => c.closed.push(cb),
      write: (data) => this.e.sessions.get(c.hostId)?.send({ type: "console-input", vmId: v.id, session, data }),
      close: () => {
        if (!this.consoles.delete(session)) return;
        this.e.sessions.get(c.hostId)?.send({ type: "console-detach", vmId: v.id, session });
        for (const cb of c.closed) cb("closed");
      },
    };
  }

  consoleOutput(vmId: string, session: string, data: string): void {
    const c = this.consoles.get(session);
    if (c && c.vmId === vmId) for (const cb of c.data) cb(data);
  }

  private closeConsoles(vmId: string, why: string): void {
    for (const [id, c] of this.consoles)
      if (c.vmId === vmId) {
        this.consoles.delete(id);
        this.e.sessions.get(c.hostId)?.send({ type: "console-detach", vmId, session: id });
        for (const cb of c.closed) cb(why);
      }
  }
}
