// Where a VM runs: among the cluster's hosts that are Up and whose CPU type is the cluster's,
// those with room for the VM's memory and vCPUs; of those, the one with the most free memory
// (oVirt's evenly_distributed policy). When none fits, the error names every host and why.

export interface HostLoad {
  id: string;
  name: string;
  status: string;
  cpuType: string;
  memoryMib: number;
  cpus: number;
  /** Memory and vCPUs of the VMs placed there (running, starting, or migrating to it). */
  usedMemoryMib: number;
  usedCpus: number;
}

export interface Need {
  memoryMib: number;
  vcpus: number;
  cpuType: string;
}

export type Pick = { host: HostLoad } | { error: string };

export function pickHost(need: Need, hosts: HostLoad[], exclude: string[] = []): Pick {
  const why: string[] = [];
  let best: HostLoad | undefined;
  for (const h of hosts) {
    if (exclude.includes(h.id)) {
      why.push(`${h.name}: the VM's own host`);
      continue;
    }
    if (h.status !== "up") {
      why.push(`${h.name}: is ${h.status}`);
      continue;
    }
    if (h.cpuType !== need.cpuType) {
      why.push(`${h.name}: CPU type ${h.cpuType || "(none)"} is not the cluster's ${need.cpuType}`);
      continue;
    }
    const freeMem = h.memoryMib - h.usedMemoryMib;
    if (freeMem < need.memoryMib) {
      why.push(`${h.name}: ${freeMem} MiB free, the VM needs ${need.memoryMib} MiB`);
      continue;
    }
    const freeCpus = h.cpus - h.usedCpus;
    if (freeCpus < need.vcpus) {
      why.push(`${h.name}: ${freeCpus} vCPUs free, the VM needs ${need.vcpus}`);
      continue;
    }
    if (!best || freeMem > best.memoryMib - best.usedMemoryMib) best = h;
  }
  if (best) return { host: best };
  return {
    error: `There is no host that satisfies current scheduling constraints${why.length ? `: ${why.join("; ")}` : " (the cluster has no hosts)"}`,
  };
}
