// The inventory's collections in the REST API: data centers, clusters, storage domains and their
// disks, logical networks, templates, events and users. Administrators only, except events (a
// user sees the events of the VMs granted to them).

import type { Call, Route } from "./api.js";
import {
  clusterJson,
  datacenterJson,
  diskJson,
  eventJson,
  networkJson,
  storageDomainJson,
  templateJson,
} from "./api-json.js";
import { badRequest, conflict, EngineError, notFound } from "./errors.js";
import type { EventRow } from "./events.js";
import {
  type ClusterRow,
  type DatacenterRow,
  type DiskRow,
  type NetworkRow,
  newId,
  one,
  type StorageDomainRow,
  type TemplateRow,
} from "./inventory.js";
import { isPolicy } from "./policies.js";

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);
const refOf = (v: unknown): string | undefined =>
  typeof v === "object" && v !== null
    ? (str((v as Record<string, unknown>).id) ?? str((v as Record<string, unknown>).name))
    : undefined;
const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

function name(c: Call): string {
  const n = str(c.body.name);
  if (!n || !NAME.test(n)) throw badRequest(`name '${n ?? ""}' is not valid (1-64 letters, digits, _ . -)`);
  return n;
}

async function datacenter(c: Call, given: unknown): Promise<DatacenterRow> {
  const key = refOf(given) ?? "Default";
  const d = await one<DatacenterRow>(c.engine.db, "SELECT * FROM datacenters WHERE id = $1 OR name = $1", [key]);
  if (!d) throw badRequest(`data center '${key}' not found`);
  return d;
}

async function unique(c: Call, table: string, n: string): Promise<void> {
  if (await one(c.engine.db, `SELECT 1 FROM ${table} WHERE name = $1`, [n])) throw conflict(`${n} exists in ${table}`);
}

async function storageDomain(c: Call): Promise<StorageDomainRow> {
  const s = await one<StorageDomainRow>(c.engine.db, "SELECT * FROM storage_domains WHERE id = $1 OR name = $1", [
    c.params.id,
  ]);
  if (!s) throw notFound("storage domain", c.params.id);
  return s;
}

/** A cluster's `migration: {policy: {id}, bandwidth: {custom_value}}`, checked, over its defaults. */
function migrationOf(c: Call, policy0: string, bw0: number): { policy: string; bw: number } {
  const mig = (c.body.migration ?? {}) as Record<string, unknown>;
  const policy = refOf(mig.policy) ?? policy0;
  if (!isPolicy(policy))
    throw badRequest(`migration policy '${policy}' is not one of minimal_downtime, suspend_workload, post_copy`);
  const bw = Number((mig.bandwidth as Record<string, unknown> | undefined)?.custom_value ?? bw0);
  if (!Number.isInteger(bw) || bw < 1) throw badRequest("migration bandwidth must be a whole number of MiB/s");
  return { policy, bw };
}

/** GET of a whole collection, by name, administrators only. */
function listRoute<R>(path: string, summary: string, table: string, key: string, json: (r: R) => unknown): Route {
  return {
    method: "GET",
    path,
    summary,
    handler: admin(async (c) => ({
      [key]: (await c.engine.db.query<R>(`SELECT * FROM ${table} ORDER BY name`)).rows.map(json),
    })),
  };
}

function admin(fn: (c: Call) => Promise<unknown>): (c: Call) => Promise<unknown> {
  return async (c: Call) => {
    c.engine.requireAdmin(c.p);
    return fn(c);
  };
}

export const inventoryRoutes: Route[] = [
  listRoute<DatacenterRow>("/datacenters", "Data centers", "datacenters", "data_center", datacenterJson),
  {
    method: "POST",
    path: "/datacenters",
    summary: "Add a data center (name, description)",
    handler: admin(async (c) => {
      const n = name(c);
      await unique(c, "datacenters", n);
      const d = { id: newId(), name: n, description: str(c.body.description) ?? "" };
      await c.engine.db.query("INSERT INTO datacenters (id, name, description) VALUES ($1, $2, $3)", [
        d.id,
        d.name,
        d.description,
      ]);
      return datacenterJson(d);
    }),
  },
  listRoute<ClusterRow>(
    "/clusters",
    "Clusters: each has a CPU type (what its hosts must offer) and a migration policy",
    "clusters",
    "cluster",
    clusterJson,
  ),
  {
    method: "POST",
    path: "/clusters",
    summary:
      "Add a cluster (name, data_center, cpu: {type}, migration: {policy: {id}, bandwidth: {custom_value MiB/s}})",
    handler: admin(async (c) => {
      const n = name(c);
      await unique(c, "clusters", n);
      const dc = await datacenter(c, c.body.data_center);
      const cpu = str((c.body.cpu as Record<string, unknown> | undefined)?.type) ?? c.engine.opts.cpuType;
      const { policy, bw } = migrationOf(c, "minimal_downtime", 128);
      const id = newId();
      await c.engine.db.query(
        "INSERT INTO clusters (id, name, datacenter_id, cpu_type, migration_policy, migration_bandwidth_mib) VALUES ($1, $2, $3, $4, $5, $6)",
        [id, n, dc.id, cpu, policy, bw],
      );
      return clusterJson(
        (await one<ClusterRow>(c.engine.db, "SELECT * FROM clusters WHERE id = $1", [id])) as ClusterRow,
      );
    }),
  },
  {
    method: "PUT",
    path: "/clusters/{id}",
    summary: "Change a cluster's migration policy or bandwidth",
    handler: admin(async (c) => {
      const cl = await one<ClusterRow>(c.engine.db, "SELECT * FROM clusters WHERE id = $1 OR name = $1", [c.params.id]);
      if (!cl) throw notFound("cluster", c.params.id);
      const { policy, bw } = migrationOf(c, cl.migration_policy, cl.migration_bandwidth_mib);
      await c.engine.db.query("UPDATE clusters SET migration_policy = $2, migration_bandwidth_mib = $3 WHERE id = $1", [
        cl.id,
        policy,
        bw,
      ]);
      return clusterJson({ ...cl, migration_policy: policy, migration_bandwidth_mib: bw });
    }),
  },
  listRoute<StorageDomainRow>(
    "/storagedomains",
    "Storage domains (data: disk images; iso: install media) and whether their directories are there",
    "storage_domains",
    "storage_domain",
    storageDomainJson,
  ),
  {
    method: "POST",
    path: "/storagedomains",
    summary: "Add a storage domain: name, type data|iso, storage: {path} (a directory every host sees)",
    handler: admin(async (c) => {
      const n = name(c);
      await unique(c, "storage_domains", n);
      const type = c.body.type;
      if (type !== "data" && type !== "iso") throw badRequest("type must be data or iso");
      const path = str((c.body.storage as Record<string, unknown> | undefined)?.path);
      if (!path?.startsWith("/")) throw badRequest("storage: {path} must be an absolute directory path");
      const dc = await datacenter(c, c.body.data_center);
      const s: StorageDomainRow = {
        id: newId(),
        name: n,
        datacenter_id: dc.id,
        type,
        path,
        status: "active",
        status_detail: "",
      };
      await c.engine.db.query(
        "INSERT INTO storage_domains (id, name, datacenter_id, type, path) VALUES ($1, $2, $3, $4, $5)",
        [s.id, s.name, s.datacenter_id, s.type, s.path],
      );
      await c.engine.pushStorage();
      return storageDomainJson(s);
    }),
  },
  {
    method: "GET",
    path: "/storagedomains/{id}",
    summary: "One storage domain",
    handler: admin(async (c) => storageDomainJson(await storageDomain(c))),
  },
  {
    method: "GET",
    path: "/storagedomains/{id}/disks",
    summary: "The disks (volumes) of a data domain",
    handler: admin(async (c) => {
      const sd = await storageDomain(c);
      const { rows } = await c.engine.db.query<DiskRow>(
        "SELECT * FROM disks WHERE storage_domain_id = $1 ORDER BY name",
        [sd.id],
      );
      return { disk: rows.map((d) => diskJson(d, sd)) };
    }),
  },
  {
    method: "POST",
    path: "/storagedomains/{id}/disks",
    summary:
      "Create a volume in a data domain on a host: name, format cow|raw, sparse (thin) or not (preallocated, raw only), provisioned_size bytes",
    handler: admin(async (c) => {
      const sd = await storageDomain(c);
      if (sd.type !== "data") throw badRequest(`storage domain ${sd.name} holds ISO media, not disks`);
      if (sd.status !== "active") throw conflict(`storage domain ${sd.name} is ${sd.status}: ${sd.status_detail}`);
      const n = name(c);
      const format =
        c.body.format === "cow" || c.body.format === "qcow2" ? "qcow2" : c.body.format === "raw" ? "raw" : undefined;
      if (!format) throw badRequest("format must be cow (qcow2) or raw");
      const sparse = c.body.sparse !== false;
      const size = Number(c.body.provisioned_size);
      if (!Number.isInteger(size) || size < 512 || size % 512)
        throw badRequest("provisioned_size must be a positive multiple of 512 bytes");
      const file = `${n}.${format === "qcow2" ? "qcow2" : "img"}`;
      const host = [...c.engine.sessions.values()][0];
      if (!host) throw new EngineError(503, "no host is connected to create the volume");
      await host
        .request(
          {
            type: "create-volume",
            path: `${sd.path.replace(/\/$/, "")}/${file}`,
            format,
            sizeBytes: size,
            preallocated: !sparse,
          },
          120_000,
        )
        .catch((e: Error) => {
          throw conflict(`host ${host.name} could not create volume ${file} in ${sd.name}: ${e.message}`);
        });
      const d: DiskRow = {
        id: newId(),
        name: n,
        storage_domain_id: sd.id,
        file,
        format,
        sparse,
        provisioned_size: size,
        status: "ok",
      };
      await c.engine.db.query(
        "INSERT INTO disks (id, name, storage_domain_id, file, format, sparse, provisioned_size) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        [d.id, d.name, d.storage_domain_id, d.file, d.format, d.sparse, d.provisioned_size],
      );
      return diskJson(d, sd);
    }),
  },
  listRoute<NetworkRow>(
    "/networks",
    "Logical networks (the project's networks: nat like libvirt's default, or isolated)",
    "networks",
    "network",
    networkJson,
  ),
  {
    method: "POST",
    path: "/networks",
    summary: "Add a logical network: name, kind nat|isolated, description, xml (libvirt network XML, optional)",
    handler: admin(async (c) => {
      const n = name(c);
      await unique(c, "networks", n);
      const kind = c.body.kind ?? "nat";
      if (kind !== "nat" && kind !== "isolated") throw badRequest("kind must be nat or isolated");
      const dc = await datacenter(c, c.body.data_center);
      const row: NetworkRow = {
        id: newId(),
        name: n,
        datacenter_id: dc.id,
        kind,
        description: str(c.body.description) ?? "",
        xml: str(c.body.xml) ?? "",
      };
      await c.engine.db.query(
        "INSERT INTO networks (id, name, datacenter_id, kind, description, xml) VALUES ($1, $2, $3, $4, $5, $6)",
        [row.id, row.name, row.datacenter_id, row.kind, row.description, row.xml],
      );
      return networkJson(row);
    }),
  },
  listRoute<TemplateRow>("/templates", "Templates", "templates", "template", templateJson),
  {
    method: "POST",
    path: "/templates",
    summary: "Make a template from a VM's definition (name, vm: {id|name})",
    handler: admin(async (c) => {
      const n = name(c);
      await unique(c, "templates", n);
      const v = await c.engine.vm(c.p, refOf(c.body.vm) ?? "");
      const t: TemplateRow = {
        id: newId(),
        name: n,
        cluster_id: v.cluster_id,
        domain: v.domain,
        domain_xml: v.domain_xml,
        memory_mib: v.memory_mib,
        vcpus: v.vcpus,
        created: Date.now(),
      };
      await c.engine.db.query(
        "INSERT INTO templates (id, name, cluster_id, domain, domain_xml, memory_mib, vcpus, created) VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8)",
        [t.id, t.name, t.cluster_id, JSON.stringify(t.domain), t.domain_xml, t.memory_mib, t.vcpus, t.created],
      );
      return templateJson(t);
    }),
  },
  {
    method: "GET",
    path: "/events",
    summary: "The event log, newest first (?from=ID: only newer; ?max=N)",
    handler: async (c) => {
      const from = Number(c.query.get("from") ?? 0) || 0;
      const max = Math.min(1000, Number(c.query.get("max") ?? 100) || 100);
      const { rows } = c.p.admin
        ? await c.engine.db.query<EventRow>("SELECT * FROM events WHERE id > $1 ORDER BY id DESC LIMIT $2", [from, max])
        : await c.engine.db.query<EventRow>(
            "SELECT e.* FROM events e JOIN permissions p ON p.vm_id = e.vm_id WHERE p.user_id = $3 AND e.id > $1 ORDER BY e.id DESC LIMIT $2",
            [from, max, c.p.userId],
          );
      return { event: rows.map(eventJson) };
    },
  },
  {
    method: "GET",
    path: "/users",
    summary: "Users (administrators only)",
    handler: admin(async (c) => {
      const { rows } = await c.engine.db.query<{ id: string; name: string; role: string }>(
        "SELECT id, name, role FROM users ORDER BY name",
      );
      return {
        user: rows.map((u) => ({
          id: u.id,
          user_name: `${u.name}@internal`,
          name: u.name,
          administrator: u.role === "admin",
        })),
      };
    }),
  },
  {
    method: "POST",
    path: "/users",
    summary: "Add a user: user_name, password, administrator (boolean)",
    handler: admin(async (c) => {
      const n = str(c.body.user_name)?.replace(/@internal$/, "");
      const pw = str(c.body.password);
      if (!n || !pw) throw badRequest("a user needs user_name and password");
      const id = await c.engine.auth.addUser(n, pw, c.body.administrator === true ? "admin" : "user");
      return { id, user_name: `${n}@internal`, administrator: c.body.administrator === true };
    }),
  },
];
