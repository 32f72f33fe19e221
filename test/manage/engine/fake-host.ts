// An in-process host for engine tests: speaks host-protocol.ts over a HostLink pair and "runs"
// VMs as entries in a map, so the engine's logic is checked without processes.

import type { FromHost, HostLink, HostVm, ToHost } from "../../../manage/engine/host-protocol.js";

export class FakeHost {
  readonly vms = new Map<string, HostVm>();
  readonly seen: ToHost[] = [];
  private toEngine: ((m: FromHost) => void)[] = [];
  private closers: (() => void)[] = [];
  private beat: ReturnType<typeof setInterval> | undefined;
  alive = true;
  /** Makes the next migrate request fail with this message. */
  failMigration?: string;
  storage: Record<string, string> = {};
  /** Sends a heartbeat from before each start just ahead of the start's reply (a race to survive). */
  staleBeatOnStart = false;
  readonly link: HostLink;

  constructor(
    readonly name: string,
    readonly memoryMib: number,
    readonly cpuType = "x86lab-p6",
  ) {
    this.link = {
      send: (m) => queueMicrotask(() => this.handle(m)),
      onMessage: (cb) => {
        this.toEngine.push(cb);
      },
      onClose: (cb) => {
        this.closers.push(cb);
      },
      close: () => this.kill(),
    };
  }

  private emit(m: FromHost): void {
    if (this.alive) for (const cb of this.toEngine) cb(m);
  }

  hello(): void {
    this.emit({
      type: "hello",
      name: this.name,
      capacity: { memoryMib: this.memoryMib, cpus: 4, cpuType: this.cpuType },
      address: "127.0.0.1",
      vms: [...this.vms.values()],
    });
  }

  /** Stops answering and beating, as a killed process does (the link closes too). */
  kill(): void {
    if (!this.alive) return;
    this.alive = false;
    if (this.beat) clearInterval(this.beat);
    for (const cb of this.closers) cb();
  }

  private handle(m: ToHost): void {
    if (!this.alive) return;
    this.seen.push(m);
    const ok = (req: number, result?: Record<string, unknown>) => this.emit({ type: "reply", req, ok: true, result });
    switch (m.type) {
      case "welcome":
        this.beat = setInterval(
          () => this.emit({ type: "heartbeat", vms: [...this.vms.values()], storage: this.storage }),
          m.heartbeatMs,
        );
        return;
      case "start":
        if (this.staleBeatOnStart) this.emit({ type: "heartbeat", vms: [...this.vms.values()], storage: this.storage });
        this.vms.set(m.vmId, { vmId: m.vmId, state: m.incoming ? "migrating-in" : "running", pid: 1000 });
        ok(m.req, { uri: `tcp:127.0.0.1:1${this.name.length}`, pid: 1000 });
        return;
      case "destroy":
      case "shutdown":
        this.vms.delete(m.vmId);
        ok(m.req);
        return;
      case "migrate":
        if (this.failMigration) {
          const error = this.failMigration;
          this.failMigration = undefined;
          this.emit({ type: "reply", req: m.req, ok: false, error });
          return;
        }
        this.vms.delete(m.vmId);
        FakeHost.landed(m.vmId);
        ok(m.req, { downtimeMs: 12 });
        return;
      default:
        if ("req" in m) ok(m.req);
    }
  }

  /** Set by the test: the destination's VM turns running when a migration ends. */
  static landed: (vmId: string) => void = () => {};
}

export const domainXml = (name: string, mib: number) =>
  `<domain type='x86lab'><name>${name}</name><memory unit='MiB'>${mib}</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>`;
