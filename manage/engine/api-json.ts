// Rows as oVirt's REST API shows them (JSON): ids and names, an href for each object and its
// links, statuses in oVirt's lower-case spelling, memory in bytes.

import type { EventRow } from "./events.js";
import type {
  ClusterRow,
  DatacenterRow,
  DiskRow,
  HostRow,
  NetworkRow,
  SnapshotRow,
  StorageDomainRow,
  TemplateRow,
  VmRow,
} from "./inventory.js";
import { POLICIES, type PolicyName } from "./policies.js";

export const API = "/ovirt-engine/api";
const MiB = 1024 * 1024;
const ref = (kind: string, id: string | null) => (id ? { id, href: `${API}/${kind}/${id}` } : undefined);

export function vmJson(v: VmRow) {
  return {
    id: v.id,
    name: v.name,
    href: `${API}/vms/${v.id}`,
    status: v.status,
    status_detail: v.status_detail || undefined,
    memory: v.memory_mib * MiB,
    cpu: { topology: { sockets: v.vcpus, cores: 1, threads: 1 } },
    high_availability: { enabled: v.ha, priority: v.ha_priority },
    cluster: ref("clusters", v.cluster_id),
    host: ref("hosts", v.host_id),
    template: ref("templates", v.template_id),
    creation_time: new Date(v.created).toISOString(),
    actions: {
      link: ["start", "stop", "shutdown", "migrate"].map((a) => ({ rel: a, href: `${API}/vms/${v.id}/${a}` })),
    },
  };
}

export function hostJson(h: HostRow) {
  return {
    id: h.id,
    name: h.name,
    href: `${API}/hosts/${h.id}`,
    status: h.status,
    status_detail: h.status_detail || undefined,
    address: h.address,
    memory: h.memory_mib * MiB,
    cpu: { type: h.cpu_type, topology: { sockets: h.cpus, cores: 1, threads: 1 } },
    cluster: ref("clusters", h.cluster_id),
    last_heartbeat: h.last_heartbeat ? new Date(h.last_heartbeat).toISOString() : undefined,
  };
}

export function clusterJson(c: ClusterRow) {
  const p = POLICIES[c.migration_policy as PolicyName];
  return {
    id: c.id,
    name: c.name,
    href: `${API}/clusters/${c.id}`,
    cpu: { type: c.cpu_type },
    data_center: ref("datacenters", c.datacenter_id),
    migration: {
      policy: { id: c.migration_policy, name: p?.title, description: p?.description },
      bandwidth: { custom_value: c.migration_bandwidth_mib },
    },
  };
}

export const datacenterJson = (d: DatacenterRow) => ({
  id: d.id,
  name: d.name,
  href: `${API}/datacenters/${d.id}`,
  description: d.description,
});

export const storageDomainJson = (s: StorageDomainRow) => ({
  id: s.id,
  name: s.name,
  href: `${API}/storagedomains/${s.id}`,
  type: s.type,
  status: s.status,
  status_detail: s.status_detail || undefined,
  storage: { type: "localfs", path: s.path },
  data_center: ref("datacenters", s.datacenter_id),
});

export const diskJson = (d: DiskRow, sd: StorageDomainRow) => ({
  id: d.id,
  name: d.name,
  href: `${API}/disks/${d.id}`,
  format: d.format === "qcow2" ? "cow" : "raw",
  sparse: d.sparse,
  provisioned_size: d.provisioned_size,
  status: d.status,
  path: `${sd.path.replace(/\/$/, "")}/${d.file}`,
  storage_domain: ref("storagedomains", d.storage_domain_id),
});

export const networkJson = (n: NetworkRow) => ({
  id: n.id,
  name: n.name,
  href: `${API}/networks/${n.id}`,
  description: n.description,
  kind: n.kind,
  data_center: ref("datacenters", n.datacenter_id),
});

export const templateJson = (t: TemplateRow) => ({
  id: t.id,
  name: t.name,
  href: `${API}/templates/${t.id}`,
  memory: t.memory_mib * MiB,
  cluster: ref("clusters", t.cluster_id),
});

export const snapshotJson = (s: SnapshotRow) => ({
  id: s.id,
  description: s.description,
  snapshot_status: s.status,
  date: new Date(s.created).toISOString(),
  vm: ref("vms", s.vm_id),
});

export const eventJson = (e: EventRow) => ({
  id: String(e.id),
  time: new Date(e.time).toISOString(),
  severity: e.severity,
  code: e.code,
  description: e.description,
  vm: ref("vms", e.vm_id),
  host: ref("hosts", e.host_id),
  user: e.user_name ? { name: e.user_name } : undefined,
});
