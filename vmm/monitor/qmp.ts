// QMP, QEMU's machine protocol: JSON objects in both directions. A session greets, waits for
// qmp_capabilities, then answers commands ({"execute", "arguments", "id"} -> {"return"} or
// {"error": {"class", "desc"}}) and sends events (STOP, RESUME, RESET, SHUTDOWN) with a
// timestamp. The transport (socket, stdio) is the host's: it feeds bytes in and writes lines out.

import type { Machine, MachineEnd, PauseReason } from "../lib/machine.js";
import { queryMigrate, setMigrationParameter } from "../state/migration-info.js";
import type { Monitor } from "./monitor.js";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** The SHUTDOWN event's reason, in QEMU's words. */
export function shutdownReason(end: MachineEnd): { guest: boolean; reason: string } {
  switch (end.kind) {
    case "quit":
      return { guest: false, reason: end.by === "qmp" ? "host-qmp-quit" : "host-signal" };
    case "powerdown":
      return { guest: false, reason: "host-qmp-system-powerdown" };
    case "reset":
      return { guest: true, reason: "guest-reset" };
    case "shutdown":
      return { guest: true, reason: end.message === "triple fault" ? "guest-panic" : "guest-shutdown" };
    default:
      return { guest: true, reason: "guest-shutdown" };
  }
}

/** Splits a byte stream into top-level JSON objects (braces counted outside strings). */
export class JsonSplitter {
  private buf = "";
  private depth = 0;
  private inString = false;
  private escaped = false;
  private start = -1;

  push(text: string): string[] {
    const out: string[] = [];
    const base = this.buf.length;
    this.buf += text;
    for (let i = base; i < this.buf.length; i++) {
      const c = this.buf[i];
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === "\\") this.escaped = true;
        else if (c === '"') this.inString = false;
        continue;
      }
      if (c === '"') this.inString = true;
      else if (c === "{") {
        if (this.depth++ === 0) this.start = i;
      } else if (c === "}" && this.depth > 0 && --this.depth === 0) {
        out.push(this.buf.slice(this.start, i + 1));
        this.start = -1;
      } else if (this.depth === 0 && c.trim() !== "") {
        // Not an object: a JSON error for this token.
        out.push(c);
      }
    }
    this.buf = this.depth > 0 ? this.buf.slice(this.start) : "";
    if (this.depth > 0) this.start = 0;
    return out;
  }
}

const COMMANDS = [
  "qmp_capabilities",
  "query-status",
  "query-version",
  "query-commands",
  "stop",
  "cont",
  "system_reset",
  "system_powerdown",
  "human-monitor-command",
  "quit",
  "migrate",
  "query-migrate",
  "migrate_cancel",
  "migrate-set-parameters",
  "migrate-set-capabilities",
  "snapshot-save",
  "snapshot-load",
  "snapshot-delete",
  "query-jobs",
  "job-dismiss",
];

/** A finished snapshot job, as query-jobs shows it until job-dismiss. */
interface SnapshotJob {
  id: string;
  type: string;
  error?: string;
}

export class QmpSession {
  private negotiated = false;
  private readonly splitter = new JsonSplitter();
  private readonly offs: (() => void)[] = [];
  private readonly jobs = new Map<string, SnapshotJob>();

  constructor(
    private readonly machine: Machine,
    private readonly monitor: Monitor,
    private readonly send: (line: string) => void,
    private readonly quit: () => void,
  ) {
    send(
      JSON.stringify({
        QMP: { version: { qemu: { micro: 0, minor: 1, major: 0 }, package: "x86lab" }, capabilities: [] },
      }),
    );
    this.offs.push(
      machine.on("stop", (reason: PauseReason) => this.event("STOP", reason === "user" ? undefined : { reason })),
      machine.on("resume", () => this.event("RESUME")),
      machine.on("reset", (source) =>
        this.event("RESET", { guest: source !== "monitor" && source !== "qmp", reason: source }),
      ),
      machine.on("end", (end) => this.event("SHUTDOWN", shutdownReason(end))),
    );
  }

  /** Bytes from the client. */
  async receive(text: string): Promise<void> {
    for (const msg of this.splitter.push(text)) await this.handle(msg);
  }

  close(): void {
    for (const off of this.offs) off();
  }

  private event(name: string, data?: Record<string, Json>): void {
    if (!this.negotiated) return;
    const now = Date.now();
    const ev: Record<string, Json> = {
      event: name,
      timestamp: { seconds: Math.floor(now / 1000), microseconds: (now % 1000) * 1000 },
    };
    if (data) ev.data = data;
    this.send(JSON.stringify(ev));
  }

  private reply(id: Json | undefined, body: Record<string, Json>): void {
    this.send(JSON.stringify(id === undefined ? body : { ...body, id }));
  }

  private error(id: Json | undefined, cls: string, desc: string): void {
    this.reply(id, { error: { class: cls, desc } });
  }

  private async handle(text: string): Promise<void> {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      this.error(undefined, "GenericError", "JSON parse error");
      return;
    }
    if (typeof msg !== "object" || msg === null || Array.isArray(msg)) {
      this.error(undefined, "GenericError", "QMP input must be a JSON object");
      return;
    }
    const { execute, arguments: args = {}, id } = msg as { execute?: unknown; arguments?: unknown; id?: Json };
    if (typeof execute !== "string") {
      this.error(id, "GenericError", "QMP input lacks member 'execute'");
      return;
    }
    if (typeof args !== "object" || args === null || Array.isArray(args)) {
      this.error(id, "GenericError", "QMP input member 'arguments' must be an object");
      return;
    }
    if (!this.negotiated && execute !== "qmp_capabilities") {
      this.error(id, "CommandNotFound", "Expecting capabilities negotiation with 'qmp_capabilities'");
      return;
    }
    const a = args as Record<string, unknown>;
    const m = this.machine;
    switch (execute) {
      case "qmp_capabilities":
        if (this.negotiated)
          return this.error(id, "CommandNotFound", "Capabilities negotiation is already complete, command ignored");
        this.negotiated = true;
        return this.reply(id, { return: {} });
      case "query-status": {
        const status =
          m.status === "ended"
            ? "shutdown"
            : m.status === "paused"
              ? this.monitor.waitingForMigration
                ? "inmigrate"
                : m.pauseReason === "startup"
                  ? "prelaunch"
                  : m.pauseReason === "breakpoint"
                    ? "debug"
                    : "paused"
              : "running";
        return this.reply(id, { return: { status, singlestep: false, running: m.status === "running" } });
      }
      case "query-version":
        return this.reply(id, { return: { qemu: { major: 0, minor: 1, micro: 0 }, package: "x86lab" } });
      case "query-commands":
        return this.reply(id, { return: COMMANDS.map((name) => ({ name })) });
      case "stop":
        m.pause("user");
        return this.reply(id, { return: {} });
      case "cont":
        this.monitor.resume();
        return this.reply(id, { return: {} });
      case "system_reset":
        m.requestReset("qmp");
        return this.reply(id, { return: {} });
      case "system_powerdown":
        this.reply(id, { return: {} });
        m.end({ kind: "powerdown" });
        return;
      case "human-monitor-command": {
        const line = a["command-line"];
        if (typeof line !== "string") {
          return this.error(id, "GenericError", "Parameter 'command-line' is missing");
        }
        return this.reply(id, { return: await this.monitor.execute(line) });
      }
      case "quit":
        this.reply(id, { return: {} });
        this.quit();
        return;
      case "migrate":
      case "query-migrate":
      case "migrate_cancel":
      case "migrate-set-parameters":
      case "migrate-set-capabilities":
        return this.migration(execute, a, id);
      case "snapshot-save":
      case "snapshot-load":
      case "snapshot-delete":
        return this.snapshotJob(execute, a, id);
      case "query-jobs":
        return this.reply(id, {
          return: [...this.jobs.values()].map((j) => ({
            id: j.id,
            type: j.type,
            status: "concluded",
            "current-progress": 1,
            "total-progress": 1,
            ...(j.error === undefined ? {} : { error: j.error }),
          })),
        });
      case "job-dismiss": {
        const jobId = a.id;
        if (typeof jobId !== "string" || !this.jobs.delete(jobId))
          return this.error(id, "GenericError", `Job not found`);
        return this.reply(id, { return: {} });
      }
      default:
        return this.error(id, "CommandNotFound", `The command ${execute} has not been found`);
    }
  }

  /**
   * QEMU's snapshot-save/-load/-delete (job-id, tag; vmstate and devices as QEMU's, unchecked
   * here: the VM's own disks decide). The job runs at once; its JOB_STATUS_CHANGE events end in
   * "concluded", and query-jobs shows its error until job-dismiss, as in QEMU.
   */
  private async snapshotJob(execute: string, a: Record<string, unknown>, id: Json | undefined): Promise<void> {
    const jobId = a["job-id"];
    const tag = a.tag;
    if (typeof jobId !== "string") return this.error(id, "GenericError", "Parameter 'job-id' is missing");
    if (typeof tag !== "string") return this.error(id, "GenericError", "Parameter 'tag' is missing");
    if (this.jobs.has(jobId)) return this.error(id, "GenericError", `Job ID '${jobId}' already in use`);
    const job: SnapshotJob = { id: jobId, type: execute };
    this.jobs.set(jobId, job);
    this.reply(id, { return: {} });
    const status = (s: string) => this.event("JOB_STATUS_CHANGE", { status: s, id: jobId });
    status("created");
    status("running");
    try {
      await this.monitor.snapshot(
        execute === "snapshot-save" ? "save" : execute === "snapshot-load" ? "load" : "delete",
        tag,
      );
    } catch (e) {
      job.error = (e as Error).message;
      status("aborting");
      status("concluded");
      return;
    }
    status("waiting");
    status("pending");
    status("concluded");
  }

  /** QEMU's QMP migration commands, on the monitor host's live migration. */
  private async migration(execute: string, a: Record<string, unknown>, id: Json | undefined): Promise<void> {
    const control = this.monitor.migration;
    if (!control) return this.error(id, "GenericError", "live migration is not available here");
    switch (execute) {
      case "migrate": {
        const uri = a.uri;
        if (typeof uri !== "string") return this.error(id, "GenericError", "Parameter 'uri' is missing");
        if (uri.startsWith("file:")) {
          return this.reply(id, { return: await this.monitor.execute(`migrate ${uri}`) });
        }
        try {
          await control.start(uri);
        } catch (e) {
          return this.error(id, "GenericError", (e as Error).message);
        }
        return this.reply(id, { return: {} });
      }
      case "query-migrate":
        return this.reply(id, { return: queryMigrate(control.info()) as Json });
      case "migrate_cancel":
        control.cancel();
        return this.reply(id, { return: {} });
      case "migrate-set-parameters":
        try {
          for (const [k, v] of Object.entries(a)) {
            // QMP's max-bandwidth is in bytes per second.
            setMigrationParameter(control.parameters, k, k === "max-bandwidth" ? `${v}b` : String(v));
          }
        } catch (e) {
          return this.error(id, "GenericError", (e as Error).message);
        }
        return this.reply(id, { return: {} });
      default: {
        const caps = a.capabilities;
        if (!Array.isArray(caps)) return this.error(id, "GenericError", "Parameter 'capabilities' is missing");
        for (const c of caps as { capability?: unknown; state?: unknown }[]) {
          if (c.capability !== "auto-converge" || typeof c.state !== "boolean")
            return this.error(
              id,
              "GenericError",
              `capability '${String(c.capability)}' is not known (auto-converge is)`,
            );
          control.parameters["auto-converge"] = c.state;
        }
        return this.reply(id, { return: {} });
      }
    }
  }
}
