// The REST API in oVirt's shape, without a transport: a table of routes (method, path under
// /ovirt-engine/api, summary) and `callApi`, which the Node server (rest-node.ts) calls per
// request and a page could call directly. Collections answer `{"vm": [...]}`, objects their JSON,
// actions `{"status": "complete", ...}`; faults `{"reason", "detail"}` with oVirt's statuses.
// docs/engine-openapi.json documents every route (test/manage/engine/openapi.test.ts checks it).

import { inventoryRoutes } from "./api-inventory.js";
import { API, hostJson, snapshotJson, vmJson } from "./api-json.js";
import type { Principal } from "./auth.js";
import type { Engine } from "./engine.js";
import { badRequest, conflict, EngineError } from "./errors.js";
import { type HostRow, newId, type SnapshotRow, type VmRow } from "./inventory.js";

export interface Call {
  engine: Engine;
  p: Principal;
  params: Record<string, string>;
  body: Record<string, unknown>;
  query: URLSearchParams;
}

export interface Route {
  method: "GET" | "POST" | "PUT" | "DELETE";
  /** Under /ovirt-engine/api, with {id} for a path parameter. */
  path: string;
  summary: string;
  /** The console's stream and input are served by the transport (rest-node.ts). */
  transport?: "console-stream" | "console-input";
  handler?: (c: Call) => Promise<unknown>;
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);
const refOf = (v: unknown): string | undefined => {
  if (typeof v !== "object" || v === null) return undefined;
  const o = v as Record<string, unknown>;
  return str(o.id) ?? str(o.name);
};

async function visibleVms(c: Call): Promise<VmRow[]> {
  const { rows } = c.p.admin
    ? await c.engine.db.query<VmRow>("SELECT * FROM vms ORDER BY name")
    : await c.engine.db.query<VmRow>(
        "SELECT v.* FROM vms v JOIN permissions p ON p.vm_id = v.id WHERE p.user_id = $1 ORDER BY v.name",
        [c.p.userId],
      );
  return rows;
}

const vmRoutes: Route[] = [
  {
    method: "GET",
    path: "/vms",
    summary: "VMs the caller may see (all for an administrator, the granted ones for a user)",
    handler: async (c) => ({ vm: (await visibleVms(c)).map(vmJson) }),
  },
  {
    method: "POST",
    path: "/vms",
    summary: "Define a VM from libvirt domain XML (domain_xml), in a cluster, optionally highly available",
    handler: async (c) => {
      const xml = str(c.body.domain_xml);
      if (!xml) throw badRequest("the VM needs domain_xml (libvirt domain XML)");
      const ha = c.body.high_availability as { enabled?: boolean; priority?: number } | undefined;
      const v = await c.engine.vms.add(c.p, {
        xml,
        cluster: refOf(c.body.cluster),
        ha: !!ha?.enabled,
        haPriority: typeof ha?.priority === "number" ? ha.priority : undefined,
      });
      return vmJson(v);
    },
  },
  {
    method: "GET",
    path: "/vms/{id}",
    summary: "One VM",
    handler: async (c) => vmJson(await c.engine.vm(c.p, c.params.id)),
  },
  {
    method: "DELETE",
    path: "/vms/{id}",
    summary: "Remove a VM that is down",
    handler: async (c) => {
      await c.engine.vms.remove(c.p, c.params.id);
      return { status: "complete" };
    },
  },
  {
    method: "GET",
    path: "/vms/{id}/domainxml",
    summary: "The VM's domain XML as defined",
    handler: async (c) => ({ domain_xml: (await c.engine.vm(c.p, c.params.id)).domain_xml }),
  },
  {
    method: "POST",
    path: "/vms/{id}/start",
    summary: "Start the VM on the host with the most room (or host: {id|name})",
    handler: async (c) => ({
      status: "complete",
      vm: vmJson(await c.engine.vms.start(c.p, c.params.id, { hostId: refOf(c.body.host) })),
    }),
  },
  {
    method: "POST",
    path: "/vms/{id}/stop",
    summary: "Power the VM off now",
    handler: async (c) => ({ status: "complete", vm: vmJson(await c.engine.vms.stop(c.p, c.params.id, "stop")) }),
  },
  {
    method: "POST",
    path: "/vms/{id}/shutdown",
    summary: "Shut the VM down (QMP system_powerdown)",
    handler: async (c) => ({ status: "complete", vm: vmJson(await c.engine.vms.stop(c.p, c.params.id, "shutdown")) }),
  },
  {
    method: "POST",
    path: "/vms/{id}/migrate",
    summary:
      "Live-migrate the VM to host: {id|name} or the scheduler's pick, under the cluster's migration policy or migration_policy",
    handler: async (c) => {
      const r = await c.engine.vms.migrate(c.p, c.params.id, {
        hostId: refOf(c.body.host),
        policy:
          str(c.body.migration_policy) ?? refOf((c.body.migration as Record<string, unknown> | undefined)?.policy),
      });
      return { status: "complete", vm: vmJson(r.vm), downtime_ms: r.downtimeMs, details: r.note };
    },
  },
  {
    method: "GET",
    path: "/vms/{id}/console",
    summary:
      "The VM's serial console as a stream (text/plain, chunked; bytes as the guest sends them). The X-Console-Session header names the session for input",
    transport: "console-stream",
  },
  {
    method: "POST",
    path: "/vms/{id}/console",
    summary: "Type into the console: the request body's bytes go to the guest (?session= from the stream)",
    transport: "console-input",
  },
  {
    method: "POST",
    path: "/vms/{id}/permissions",
    summary: "Grant a user the VM (user: {name}): the user then sees and runs it (administrators only)",
    handler: async (c) => {
      c.engine.requireAdmin(c.p);
      const v = await c.engine.vm(c.p, c.params.id);
      const user = refOf(c.body.user);
      if (!user) throw badRequest("permissions need user: {name}");
      await c.engine.auth.grant(v.id, user);
      return { status: "complete", role: { name: "UserRole" }, user: { name: user }, vm: { id: v.id } };
    },
  },
  {
    method: "GET",
    path: "/vms/{id}/snapshots",
    summary: "The VM's snapshots",
    handler: async (c) => {
      const v = await c.engine.vm(c.p, c.params.id);
      const { rows } = await c.engine.db.query<SnapshotRow>(
        "SELECT * FROM snapshots WHERE vm_id = $1 ORDER BY created",
        [v.id],
      );
      return { snapshot: rows.map(snapshotJson) };
    },
  },
  {
    method: "POST",
    path: "/vms/{id}/snapshots",
    summary: "Snapshot a running VM (its state and disks, QMP savevm on its host; description names it)",
    handler: async (c) => {
      const v = await c.engine.vm(c.p, c.params.id);
      if (v.status !== "up" || !v.host_id) throw conflict(`Cannot snapshot VM ${v.name}: it is ${v.status}`);
      const description = str(c.body.description) ?? `snapshot-${Date.now()}`;
      const s = c.engine.sessions.get(v.host_id);
      if (!s) throw new EngineError(503, "the VM's host is not connected");
      await s.request({ type: "snapshot", vmId: v.id, name: description }, 60_000);
      const id = newId();
      await c.engine.db.query(
        "INSERT INTO snapshots (id, vm_id, description, status, created) VALUES ($1, $2, $3, 'ok', $4)",
        [id, v.id, description, Date.now()],
      );
      await c.engine.event({
        severity: "normal",
        code: "VM_SNAPSHOT",
        description: `Snapshot '${description}' of VM ${v.name} was created`,
        vmId: v.id,
        user: c.p.name,
      });
      return snapshotJson({ id, vm_id: v.id, description, status: "ok", created: Date.now() });
    },
  },
];

const hostRoutes: Route[] = [
  {
    method: "GET",
    path: "/hosts",
    summary:
      "Hosts and their states (up, maintenance, preparing_for_maintenance, non_operational, non_responsive, connecting, down)",
    handler: async (c) => {
      c.engine.requireAdmin(c.p);
      const { rows } = await c.engine.db.query<HostRow>("SELECT * FROM hosts ORDER BY name");
      return { host: rows.map(hostJson) };
    },
  },
  {
    method: "GET",
    path: "/hosts/{id}",
    summary: "One host",
    handler: async (c) => {
      c.engine.requireAdmin(c.p);
      return hostJson(await c.engine.host(c.params.id));
    },
  },
  {
    method: "POST",
    path: "/hosts/{id}/deactivate",
    summary: "Maintenance: live-migrate every VM away, then mark the host maintenance",
    handler: async (c) => ({ status: "complete", host: hostJson(await c.engine.vms.deactivateHost(c.p, c.params.id)) }),
  },
  {
    method: "POST",
    path: "/hosts/{id}/activate",
    summary: "Back from maintenance",
    handler: async (c) => ({ status: "complete", host: hostJson(await c.engine.vms.activateHost(c.p, c.params.id)) }),
  },
  {
    method: "POST",
    path: "/hosts/{id}/fence",
    summary:
      "fence_type manual: the administrator confirms a non-responsive host is down (its VMs are then restarted or reported down)",
    handler: async (c) => {
      c.engine.requireAdmin(c.p);
      if (c.body.fence_type !== "manual")
        throw badRequest("fence_type must be manual (the engine fences on its own otherwise)");
      const h = await c.engine.host(c.params.id);
      if (h.status !== "non_responsive") throw conflict(`Cannot confirm host ${h.name} down: it is ${h.status}`);
      await c.engine.watch.down(h, `confirmed down by ${c.p.name}`);
      return { status: "complete", host: hostJson(await c.engine.host(h.id)) };
    },
  },
];

export const ROUTES: Route[] = [
  {
    method: "GET",
    path: "/",
    summary: "The API's entry point: product information and the caller",
    handler: async (c) => ({
      product_info: { name: "x86lab engine", vendor: "x86 hypervisor lab", version: { major: 0, minor: 1 } },
      authenticated_user: { name: c.p.name, administrator: c.p.admin },
      link: ROUTES.filter((r) => r.method === "GET" && !r.path.includes("{")).map((r) => ({ href: `${API}${r.path}` })),
    }),
  },
  ...vmRoutes,
  ...hostRoutes,
  ...inventoryRoutes,
];

/** The route for a method and a path under /ovirt-engine/api, with its parameters. */
export function matchRoute(method: string, path: string): { route: Route; params: Record<string, string> } | undefined {
  const parts = path.replace(/\/+$/, "").split("/").filter(Boolean);
  for (const route of ROUTES) {
    if (route.method !== method) continue;
    const want = route.path.split("/").filter(Boolean);
    if (want.length !== parts.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < want.length && ok; i++) {
      if (want[i].startsWith("{")) params[want[i].slice(1, -1)] = decodeURIComponent(parts[i]);
      else ok = want[i] === parts[i];
    }
    if (ok) return { route, params };
  }
  return undefined;
}

export interface ApiAnswer {
  status: number;
  body: unknown;
}

/** One API call as the principal; errors become oVirt's faults. */
export async function callApi(
  engine: Engine,
  p: Principal,
  method: string,
  path: string,
  body: Record<string, unknown> = {},
  query = new URLSearchParams(),
): Promise<ApiAnswer> {
  const m = matchRoute(method, path);
  if (!m?.route.handler) {
    const exists = ROUTES.some((r) => r.method !== method && matchRoute(r.method, path));
    return fault(exists ? 405 : 404, exists ? "Method Not Allowed" : "Not Found", `${method} ${API}${path}`);
  }
  try {
    const out = await m.route.handler({ engine, p, params: m.params, body, query });
    return {
      status:
        method === "POST" &&
        !m.route.path.match(/\/(start|stop|shutdown|migrate|deactivate|activate|fence|permissions)$/)
          ? 201
          : 200,
      body: out,
    };
  } catch (e) {
    if (e instanceof EngineError) return fault(e.status, reasonOf(e.status), e.message);
    engine.opts.log(`API ${method} ${path}: ${(e as Error).stack}`);
    return fault(500, "Internal Server Error", (e as Error).message);
  }
}

function reasonOf(status: number): string {
  return status === 404
    ? "Not Found"
    : status === 403
      ? "Forbidden"
      : status === 400
        ? "Bad Request"
        : "Operation Failed";
}

export function fault(status: number, reason: string, detail: string): ApiAnswer {
  return { status, body: { reason, detail: `[${detail}]` } };
}
