// The VMs of one host agent, each a detached domain process (manage/libvirt/domain-process.ts)
// named by its VM id in the agent's run directory, as VDSM runs its VMs through libvirt. The
// runner notices a process that ended on its own (crashed, or the guest powered off) and says why.

import { type AddressInfo, connect, createServer, type Socket } from "node:net";
import type { HostVm, HostVmState } from "../engine/host-protocol.js";
import {
  type DomainProcess,
  endReason,
  findDomainProcess,
  lastLogLine,
  startDomainProcess,
} from "../libvirt/domain-process.js";
import { parseDomainXml } from "../libvirt/domain-xml.js";

interface Vm {
  id: string;
  proc: DomainProcess;
  state: HostVmState;
  /** Set when the agent ends the process on purpose: its end is not a crash. */
  ending?: boolean;
  console?: Socket;
  sessions: Set<string>;
}

/** A loopback TCP port free a moment ago. */
async function freePort(host: string): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, host, r));
  const p = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return p;
}

export class VmRunner {
  readonly vms = new Map<string, Vm>();

  constructor(
    private readonly runDir: string,
    private readonly address: string,
    private readonly onEnded: (vmId: string, state: "stopped" | "crashed", reason: string) => void,
    private readonly onConsole: (vmId: string, session: string, data: string) => void,
  ) {}

  list(): HostVm[] {
    return [...this.vms.values()].map((v) => ({ vmId: v.id, state: v.state, pid: v.proc.pid }));
  }

  get(vmId: string): Vm {
    const v = this.vms.get(vmId);
    if (!v) throw new Error(`VM ${vmId} is not running on this host`);
    return v;
  }

  async start(vmId: string, domainXml: string, incoming: boolean): Promise<{ pid: number; uri?: string }> {
    if (this.vms.has(vmId)) throw new Error(`VM ${vmId} already runs on this host`);
    const def = parseDomainXml(domainXml);
    const uri = incoming ? `tcp:${this.address}:${await freePort(this.address)}` : undefined;
    const proc = await startDomainProcess(def, this.runDir, { runName: vmId, incoming: uri });
    this.vms.set(vmId, { id: vmId, proc, state: incoming ? "migrating-in" : "running", sessions: new Set() });
    return { pid: proc.pid, uri };
  }

  /** Ends the process: `shutdown` powers the machine off through QMP, `destroy` kills it. */
  async end(vmId: string, how: "shutdown" | "destroy" | "migrated"): Promise<void> {
    const v = this.get(vmId);
    v.ending = true;
    this.dropConsole(v);
    if (how === "destroy") await v.proc.kill("destroyed");
    else if (how === "migrated") await v.proc.quit("migrated");
    else {
      const q = await v.proc.qmp();
      v.proc.markEnd("shutdown");
      await q.execute("system_powerdown").catch(() => {});
      if (!(await v.proc.waitExit(15_000))) await v.proc.kill("shutdown");
      v.proc.cleanup();
    }
    this.vms.delete(vmId);
  }

  /** Checks every process (each heartbeat): ended ones are reported and forgotten. */
  async poll(): Promise<void> {
    for (const v of [...this.vms.values()]) {
      if (!v.proc.alive) {
        if (v.ending) continue;
        this.vms.delete(v.id);
        this.dropConsole(v);
        const r = endReason(v.proc.paths);
        v.proc.cleanup();
        this.onEnded(v.id, r === "shutdown" ? "stopped" : "crashed", `${r}: ${lastLogLine(v.proc.paths.log)}`);
        continue;
      }
      if (v.state === "migrating-in" || v.state === "paused" || v.state === "running") {
        try {
          const q = await v.proc.qmp(2000);
          const s = (await q.execute("query-status")) as { status?: string };
          if (s.status === "running") v.state = "running";
          else if (s.status === "paused" && v.state === "running") v.state = "paused";
        } catch {}
      }
    }
  }

  /** VMs left running by an earlier agent in this run directory (an agent restarted). */
  adopt(vmIds: string[]): void {
    for (const id of vmIds) {
      const proc = findDomainProcess(this.runDir, id);
      if (proc) this.vms.set(id, { id, proc, state: "running", sessions: new Set() });
    }
  }

  attach(vmId: string, session: string): void {
    const v = this.get(vmId);
    v.sessions.add(session);
    if (v.console) return;
    const sock = connect(v.proc.paths.console);
    v.console = sock;
    sock.on("data", (d: Buffer) => {
      const s = d.toString("latin1");
      for (const id of v.sessions) this.onConsole(vmId, id, s);
    });
    sock.on("error", () => sock.destroy());
    sock.on("close", () => {
      if (v.console === sock) v.console = undefined;
    });
  }

  input(vmId: string, session: string, data: string): void {
    const v = this.vms.get(vmId);
    if (v?.sessions.has(session)) v.console?.write(Buffer.from(data, "latin1"));
  }

  detach(vmId: string, session: string): void {
    const v = this.vms.get(vmId);
    if (!v) return;
    v.sessions.delete(session);
    if (v.sessions.size === 0) this.dropConsole(v);
  }

  private dropConsole(v: Vm): void {
    v.sessions.clear();
    v.console?.destroy();
    v.console = undefined;
  }
}
