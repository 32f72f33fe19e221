// A host of the in-page datacenter: the browser twin of the engine's Node host agent (as VDSM is
// oVirt's). It speaks manage/engine/host-protocol.ts on one MessagePort to the engine in the
// page and runs its VMs in this Worker with the project's library (vm-runner.ts). A live
// migration's byte stream goes on a second MessagePort pair that the page hands the two hosts
// (migration-broker.ts), the way VDSM's migrations go host to host and not through the engine.

import type { MigrationParameters } from "../../vmm/state/outgoing.js";
import {
  bytesToLatin1,
  type FromHost,
  type HostVm,
  type HostVmState,
  latin1ToBytes,
  type MigrationPlan,
  type ToHost,
} from "../engine/host-protocol.js";
import { vmSpecOf } from "./domain-spec.js";
import { type RunnerState, VmRunner } from "./vm-runner.js";

export interface HostAgentOptions {
  name: string;
  /** Memory (MiB) and vCPUs the host offers its VMs. */
  memoryMib: number;
  cpus: number;
  cpuType: string;
  cluster?: string;
  /** The page's address: the guest files are served under it (web/vite.config.ts). */
  baseUrl: string;
  module: WebAssembly.Module;
  /** Opens the listening end of a migration channel: its uri, and the port that receives. */
  listen(): Promise<{ uri: string; port: MessagePort }>;
  /** The sending end of the channel a destination listens on at `uri`. */
  connect(uri: string): Promise<MessagePort>;
}

interface Hosted {
  runner: VmRunner;
  state: HostVmState;
}

const STATES: Record<RunnerState, HostVmState> = {
  starting: "starting",
  running: "running",
  paused: "paused",
  migrating: "migrating-out",
  down: "stopped",
};

export class HostAgent {
  private readonly vms = new Map<string, Hosted>();
  /** Console sessions by VM: kept across a VM's restarts (and taken before it starts). */
  private readonly consoles = new Map<string, Set<string>>();
  private heartbeat: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly port: MessagePort,
    private readonly opts: HostAgentOptions,
  ) {
    port.onmessage = (ev: MessageEvent<ToHost>) => this.receive(ev.data);
    port.start();
    this.post({
      type: "hello",
      name: opts.name,
      capacity: { memoryMib: opts.memoryMib, cpus: opts.cpus, cpuType: opts.cpuType },
      address: opts.name,
      cluster: opts.cluster,
      vms: [],
    });
  }

  private post(m: FromHost): void {
    this.port.postMessage(m);
  }

  private list(): HostVm[] {
    return [...this.vms].map(([vmId, h]) => ({ vmId, state: h.state }));
  }

  private receive(m: ToHost): void {
    switch (m.type) {
      case "welcome":
        clearInterval(this.heartbeat);
        this.heartbeat = setInterval(() => this.post({ type: "heartbeat", vms: this.list() }), m.heartbeatMs);
        break;
      case "storage-domains":
        break;
      case "list":
        this.post({ type: "reply", req: m.req, ok: true, result: { vms: this.list() } });
        break;
      case "start":
        this.answer(m.req, () => this.start(m.vmId, m.domainXml, m.incoming ?? false));
        break;
      case "shutdown":
      case "destroy":
        this.answer(m.req, async () => {
          this.hosted(m.vmId).runner.stop(m.type === "shutdown" ? "shutdown" : "destroy");
          return {};
        });
        break;
      case "migrate":
        this.answer(m.req, () => this.migrate(m.req, m.vmId, m.uri, m.plan));
        break;
      case "migrate-cancel":
        this.answer(m.req, async () => {
          this.hosted(m.vmId).runner.cancelMigration();
          return {};
        });
        break;
      case "snapshot":
      case "create-volume":
        this.post({
          type: "reply",
          req: m.req,
          ok: false,
          error: `a host in the page cannot ${m.type} (no disks yet)`,
        });
        break;
      case "console-attach": {
        const set = this.consoles.get(m.vmId) ?? new Set();
        set.add(m.session);
        this.consoles.set(m.vmId, set);
        break;
      }
      case "console-detach":
        this.consoles.get(m.vmId)?.delete(m.session);
        break;
      case "console-input":
        this.vms.get(m.vmId)?.runner.input(latin1ToBytes(m.data));
        break;
    }
  }

  /** Runs a request and posts its one reply: its result, or its error's message. */
  private answer(req: number, fn: () => Promise<Record<string, unknown>>): void {
    fn().then(
      (result) => this.post({ type: "reply", req, ok: true, result }),
      (e: unknown) => this.post({ type: "reply", req, ok: false, error: e instanceof Error ? e.message : String(e) }),
    );
  }

  private hosted(vmId: string): Hosted {
    const h = this.vms.get(vmId);
    if (!h) throw new Error(`VM ${vmId} is not on host ${this.opts.name}`);
    return h;
  }

  private async start(vmId: string, domainXml: string, incoming: boolean): Promise<Record<string, unknown>> {
    const old = this.vms.get(vmId);
    if (old && old.state !== "stopped" && old.state !== "crashed")
      throw new Error(`VM ${vmId} is already ${old.state} on host ${this.opts.name}`);
    const spec = vmSpecOf(domainXml, this.opts.baseUrl);
    const hosted: Hosted = { runner: undefined as unknown as VmRunner, state: "starting" };
    const setState = (state: HostVmState, reason?: string) => {
      if (hosted.state === state) return;
      hosted.state = state;
      this.post({ type: "vm-state", vmId, state, reason });
    };
    hosted.runner = new VmRunner(spec, this.opts.module, {
      state: (s, detail) => {
        // An incoming migration's destination is "migrating-in" until the guest runs here.
        setState(s === "migrating" && detail === "incoming" ? "migrating-in" : STATES[s], detail);
      },
      console: (bytes) => {
        const sessions = this.consoles.get(vmId);
        if (!sessions?.size) return;
        const data = bytesToLatin1(bytes);
        for (const session of sessions) this.post({ type: "console-output", vmId, session, data });
      },
    });
    this.vms.set(vmId, hosted);
    const listening = incoming ? await this.opts.listen() : undefined;
    // The reply waits until the VM runs (as a Node host's waits for its process and QMP).
    try {
      const { ended } = await hosted.runner.start(listening?.port);
      ended.catch((e: unknown) => setState("crashed", (e as Error).message));
    } catch (e) {
      this.vms.delete(vmId);
      throw e;
    }
    return listening ? { uri: listening.uri } : {};
  }

  private async migrate(req: number, vmId: string, uri: string, plan: MigrationPlan): Promise<Record<string, unknown>> {
    const { runner } = this.hosted(vmId);
    const port = await this.opts.connect(uri);
    const params: Partial<MigrationParameters> = {
      "downtime-limit": plan.initialDowntimeMs,
      "max-bandwidth": plan.bandwidthMib * 2 ** 20,
      "auto-converge": plan.autoConverge,
    };
    const timeout = setTimeout(() => runner.cancelMigration(), plan.timeoutMs);
    try {
      const info = await runner.migrate(port, params, (i) =>
        this.post({
          type: "migration-progress",
          req,
          vmId,
          status: i.status,
          transferredBytes: i.transferredBytes,
          remainingBytes: i.remainingPages * 4096,
          downtimeLimitMs: plan.initialDowntimeMs,
        }),
      );
      this.vms.delete(vmId);
      return {
        downtimeMs: info.downtimeMs ?? null,
        totalTimeMs: info.totalTimeMs,
        transferredBytes: info.transferredBytes,
      };
    } finally {
      clearTimeout(timeout);
    }
  }
}
