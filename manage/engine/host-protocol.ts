// What the engine and a host agent say to each other, like oVirt's engine and VDSM. Every message
// is a plain JSON-serializable object; a Node agent sends them as JSON lines over a socket
// (host-link-node.ts), a host in the page over a MessagePort to its Worker.
//
// A request from the engine carries `req`, a number unique on that link; the host answers each
// with one `reply` carrying the same number (ok, or an error message), possibly after progress
// messages. VM state changes, heartbeats and console output come unasked.

/** The CPU model a host offers and a cluster demands (docs/engine.md: CPU types). */
export type CpuType = string;

/** A VM's state as a host sees its process. */
export type HostVmState = "starting" | "running" | "paused" | "migrating-in" | "migrating-out" | "stopped" | "crashed";

export interface HostVm {
  vmId: string;
  state: HostVmState;
  /** The VM's process id on that host (for fencing and for the record). */
  pid?: number;
}

export interface Capacity {
  /** Memory the host offers its VMs, MiB. */
  memoryMib: number;
  /** Virtual CPUs the host offers (the project's VMs have one each). */
  cpus: number;
  cpuType: CpuType;
}

/**
 * What a migration policy gives one migration (oVirt's policies, docs/engine.md): the downtime
 * limit to start with, then a convergence schedule keyed by stalls (pre-copy iterations in which
 * the remaining memory did not shrink), as VDSM applies it with migrate-set-parameters.
 */
export interface MigrationPlan {
  policy: "minimal_downtime" | "suspend_workload" | "post_copy";
  initialDowntimeMs: number;
  /** After `stalls` stalled iterations: raise the downtime limit, or abort (the source runs on). */
  convergence: { stalls: number; downtimeMs: number | "abort" }[];
  /** MiB/s. */
  bandwidthMib: number;
  /** Throttle the guest when it dirties memory faster than it is sent (QEMU's auto-converge). */
  autoConverge: boolean;
  /** Give up (the source runs on) after this long. */
  timeoutMs: number;
}

export interface StorageDomainRef {
  id: string;
  type: "data" | "iso";
  path: string;
}

export type ToHost =
  /** First message after the host's hello: who it is in the inventory, and how often to beat. */
  | {
      type: "welcome";
      hostId: string;
      heartbeatMs: number;
      /** The storage domains the host should watch (it reports them in each heartbeat). */
      storageDomains: StorageDomainRef[];
    }
  | { type: "storage-domains"; storageDomains: StorageDomainRef[] }
  /** Runs a VM from its domain XML; `incoming` waits paused for a migration (reply: `result.uri`). */
  | { type: "start"; req: number; vmId: string; domainXml: string; incoming?: boolean }
  /** Asks the guest to power off (QMP system_powerdown); the VM ends as `stopped`. */
  | { type: "shutdown"; req: number; vmId: string }
  /** Ends the VM's process now. */
  | { type: "destroy"; req: number; vmId: string }
  /** Sends the running VM to `uri` (where the destination's `start` with `incoming` listens). */
  | { type: "migrate"; req: number; vmId: string; uri: string; plan: MigrationPlan }
  | { type: "migrate-cancel"; req: number; vmId: string }
  | { type: "list"; req: number }
  /** Saves an internal snapshot of a running VM's state and disks (QMP snapshot-save). */
  | { type: "snapshot"; req: number; vmId: string; name: string }
  /** Creates a volume in a data domain (the project's img create: qcow2 or raw, thin or preallocated). */
  | {
      type: "create-volume";
      req: number;
      path: string;
      format: "raw" | "qcow2";
      sizeBytes: number;
      preallocated: boolean;
    }
  /** Starts sending the VM's console output (`console-output`); `input` goes to the guest. */
  | { type: "console-attach"; vmId: string; session: string }
  | { type: "console-input"; vmId: string; session: string; data: string }
  | { type: "console-detach"; vmId: string; session: string };

export type FromHost =
  /** The first message: the host's name and what it offers, and the VMs it already runs. */
  | {
      type: "hello";
      name: string;
      capacity: Capacity;
      /** Where the host's incoming migrations listen (a hostname or address). */
      address: string;
      /** The cluster it asks to join when the engine does not know it yet (default: "Default"). */
      cluster?: string;
      /** The agent's process id, for the fence step (docs/engine.md). */
      pid?: number;
      vms: HostVm[];
    }
  | {
      type: "heartbeat";
      vms: HostVm[];
      /** Storage domain id -> "" when its directory is there, else what is wrong. */
      storage?: Record<string, string>;
    }
  | { type: "vm-state"; vmId: string; state: HostVmState; reason?: string; pid?: number }
  | { type: "reply"; req: number; ok: true; result?: Record<string, unknown> }
  | { type: "reply"; req: number; ok: false; error: string }
  | {
      type: "migration-progress";
      req: number;
      vmId: string;
      status: string;
      transferredBytes: number;
      remainingBytes: number;
      downtimeLimitMs: number;
    }
  /** Console bytes as Latin-1 text (each char one byte), so any byte survives JSON. */
  | { type: "console-output"; vmId: string; session: string; data: string }
  | { type: "event"; severity: "normal" | "warning" | "error"; message: string; vmId?: string };

/** One connection between the engine and one host agent. */
export interface HostLink {
  send(m: ToHost): void;
  onMessage(cb: (m: FromHost) => void): void;
  onClose(cb: () => void): void;
  close(): void;
}

/** The bytes of a string of Latin-1 chars (console data), and back. */
export function latin1ToBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

export function bytesToLatin1(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 4096) s += String.fromCharCode(...b.subarray(i, i + 4096));
  return s;
}
