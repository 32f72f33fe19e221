// The in-page transport of the admin view: oVirt's REST requests answered by the engine in this
// page, with no HTTP between them. The paths, bodies and faults are the ones the engine's REST
// server answers over the network, so the view cannot tell the two apart. The student who opened
// the tab is its administrator (the engine's SYSTEM principal): there is nobody else to keep out.

import type { ApiRequest, ApiResponse, ConsoleSession, EngineTransport } from "../../web/src/admin/client.js";
import { SYSTEM } from "../engine/auth.js";
import type { Engine } from "../engine/engine.js";
import { EngineError } from "../engine/errors.js";
import type { EventRow } from "../engine/events.js";
import { latin1ToBytes } from "../engine/host-protocol.js";
import type { ClusterRow, DatacenterRow, HostRow, NetworkRow, StorageDomainRow, VmRow } from "../engine/inventory.js";

const MiB = 2 ** 20;
const ref = (id: string | null) => (id ? { id } : undefined);

/** Rows as oVirt's JSON shows them (sizes in bytes, references as { id }). */
const SHOW = {
  datacenters: (r: DatacenterRow) => ({ id: r.id, name: r.name, description: r.description, status: "up" }),
  clusters: (r: ClusterRow) => ({
    id: r.id,
    name: r.name,
    data_center: ref(r.datacenter_id),
    cpu: { type: r.cpu_type },
    migration: { policy: { id: r.migration_policy }, bandwidth: { custom_value: r.migration_bandwidth_mib } },
  }),
  hosts: (r: HostRow) => ({
    id: r.id,
    name: r.name,
    status: r.status,
    status_detail: r.status_detail || undefined,
    address: r.address,
    cluster: ref(r.cluster_id),
    memory: r.memory_mib * MiB,
    cpu: { type: r.cpu_type, topology: { cores: r.cpus } },
  }),
  storagedomains: (r: StorageDomainRow) => ({
    id: r.id,
    name: r.name,
    type: r.type,
    status: r.status,
    status_detail: r.status_detail || undefined,
    data_center: ref(r.datacenter_id),
    storage: { path: r.path },
  }),
  networks: (r: NetworkRow) => ({
    id: r.id,
    name: r.name,
    description: r.description,
    data_center: ref(r.datacenter_id),
  }),
  vms: (r: VmRow) => ({
    id: r.id,
    name: r.name,
    status: r.status,
    status_detail: r.status_detail || undefined,
    cluster: ref(r.cluster_id),
    host: ref(r.host_id),
    memory: r.memory_mib * MiB,
    cpu: { topology: { cores: r.vcpus } },
    high_availability: { enabled: r.ha, priority: r.ha_priority },
  }),
  events: (r: EventRow) => ({
    id: String(r.id),
    time: r.time,
    severity: r.severity,
    code: r.code,
    description: r.description,
    vm: ref(r.vm_id),
    host: ref(r.host_id),
  }),
} as const;

type Listed = keyof typeof SHOW;

const TABLES: Record<Listed, { table: string; key: string; order: string }> = {
  datacenters: { table: "datacenters", key: "data_center", order: "name" },
  clusters: { table: "clusters", key: "cluster", order: "name" },
  hosts: { table: "hosts", key: "host", order: "name" },
  storagedomains: { table: "storage_domains", key: "storage_domain", order: "name" },
  networks: { table: "networks", key: "network", order: "name" },
  vms: { table: "vms", key: "vm", order: "name" },
  // oVirt lists events newest first; the page asks for the last 100.
  events: { table: "events", key: "event", order: "id DESC LIMIT 100" },
};

const fault = (status: number, detail: string): ApiResponse => ({
  status,
  body: { fault: { reason: status === 404 ? "Not Found" : "Operation Failed", detail } },
});

export class PageTransport implements EngineTransport {
  readonly where = "this tab (datacenter in a tab)";

  constructor(private readonly engine: Engine) {}

  async request(req: ApiRequest): Promise<ApiResponse> {
    try {
      return { status: 200, body: await this.route(req) };
    } catch (e) {
      if (e instanceof EngineError) return fault(e.status, e.message);
      return fault(500, e instanceof Error ? e.message : String(e));
    }
  }

  private async route(req: ApiRequest): Promise<unknown> {
    const [collection, rawId, action] = req.path.replace(/^\/+/, "").split("/");
    const id = rawId === undefined ? undefined : decodeURIComponent(rawId);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const e = this.engine;
    if (req.method === "GET" && collection && collection in SHOW) {
      const t = TABLES[collection as Listed];
      const show = SHOW[collection as Listed] as (r: unknown) => unknown;
      if (id === undefined) {
        const { rows } = await e.db.query(`SELECT * FROM ${t.table} ORDER BY ${t.order}`);
        return { [t.key]: rows.map(show) };
      }
      if (collection === "vms") return show(await e.vm(SYSTEM, id));
      if (collection === "hosts") return show(await e.host(id));
    }
    if (collection === "vms" && req.method === "POST" && id === undefined) {
      const xml = body.domain_xml;
      if (typeof xml !== "string") throw new EngineError(400, "a VM is added from its domain XML (domain_xml)");
      const cluster = body.cluster as { id?: string; name?: string } | undefined;
      const ha = body.high_availability as { enabled?: boolean; priority?: number } | undefined;
      const vm = await e.vms.add(SYSTEM, {
        xml,
        cluster: cluster?.id ?? cluster?.name,
        ha: ha?.enabled,
        haPriority: ha?.priority,
      });
      return SHOW.vms(vm);
    }
    if (collection === "vms" && req.method === "DELETE" && id !== undefined) {
      await e.vms.remove(SYSTEM, id);
      return {};
    }
    if (req.method === "POST" && id !== undefined && action !== undefined) {
      if (collection === "vms") return this.vmAction(id, action, body);
      if (collection === "hosts" && action === "deactivate")
        return { status: "complete", host: SHOW.hosts(await e.vms.deactivateHost(SYSTEM, id)) };
      if (collection === "hosts" && action === "activate")
        return { status: "complete", host: SHOW.hosts(await e.vms.activateHost(SYSTEM, id)) };
    }
    throw new EngineError(404, `${req.method} ${req.path} is not part of this API`);
  }

  private async vmAction(id: string, action: string, body: Record<string, unknown>): Promise<unknown> {
    const vms = this.engine.vms;
    const host = body.host as { id?: string; name?: string } | undefined;
    switch (action) {
      case "start":
        return { status: "complete", vm: SHOW.vms(await vms.start(SYSTEM, id, { hostId: host?.id ?? host?.name })) };
      case "stop":
      case "shutdown":
        return { status: "complete", vm: SHOW.vms(await vms.stop(SYSTEM, id, action)) };
      case "migrate": {
        const policy = (body.migration_policy as { id?: string } | undefined)?.id;
        const r = await vms.migrate(SYSTEM, id, { hostId: host?.id ?? host?.name, policy });
        return { status: "complete", vm: SHOW.vms(r.vm), note: r.note, downtime_ms: r.downtimeMs };
      }
      default:
        throw new EngineError(404, `VM action '${action}' is not part of this API`);
    }
  }

  async console(vmId: string): Promise<ConsoleSession> {
    let s: Awaited<ReturnType<Engine["vms"]["openConsole"]>>;
    try {
      s = await this.engine.vms.openConsole(SYSTEM, vmId);
    } catch (e) {
      throw new Error(e instanceof Error ? e.message : String(e));
    }
    return {
      // The host sends the guest's bytes as Latin-1 text (one char a byte): bytes again for the terminal.
      onData: (cb) => s.onData((data) => cb(latin1ToBytes(data))),
      onClose: (cb) => s.onClose(cb),
      // What is typed is text; the guest gets its UTF-8 bytes, one char a byte on the way.
      send: (text) => s.write(String.fromCharCode(...new TextEncoder().encode(text))),
      close: () => s.close(),
    };
  }
}
