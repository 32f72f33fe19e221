// A small QMP client: JSON lines over a unix socket or TCP (the greeting, qmp_capabilities,
// then commands one at a time with their answers, and events as they come). This is how the
// management layer talks to a running domain, as libvirt talks to QEMU; it never reaches into
// the VM otherwise.

import { connect, type Socket } from "node:net";

export type QmpTarget = { path: string } | { host: string; port: number };

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

/** An error answer: QEMU's class (GenericError, CommandNotFound) and description. */
export class QmpError extends Error {
  constructor(
    readonly errorClass: string,
    readonly desc: string,
  ) {
    super(desc);
  }
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

export class QmpClient {
  private buffer = "";
  private readonly pending: Pending[] = [];
  private readonly listeners = new Set<(e: QmpEvent) => void>();
  private closed = false;
  private closeError: Error | undefined;
  private greeting?: Pending;
  private constructor(private readonly sock: Socket) {}

  /** Connects, reads the greeting and negotiates capabilities. */
  static async connect(target: QmpTarget, timeoutMs = 5000): Promise<QmpClient> {
    const sock = "path" in target ? connect(target.path) : connect(target.port, target.host);
    const client = new QmpClient(sock);
    sock.setEncoding("utf8");
    const greeted = new Promise<unknown>((resolve, reject) => {
      client.greeting = { resolve, reject };
    });
    sock.on("data", (d: string) => client.onData(d));
    sock.on("error", (e) => client.fail(e));
    sock.on("close", () => client.fail(new Error("QMP connection closed")));
    const timer = setTimeout(() => client.fail(new Error(`no QMP greeting in ${timeoutMs} ms`)), timeoutMs);
    try {
      await greeted;
      await client.execute("qmp_capabilities");
    } catch (e) {
      client.close();
      throw e;
    } finally {
      clearTimeout(timer);
    }
    return client;
  }

  private onData(d: string): void {
    this.buffer += d;
    let nl = this.buffer.indexOf("\n");
    while (nl >= 0) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      nl = this.buffer.indexOf("\n");
      if (line === "") continue;
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        this.fail(new Error(`QMP sent a line that is not JSON: ${line.slice(0, 80)}`));
        return;
      }
      if ("QMP" in msg) {
        this.greeting?.resolve(msg);
        this.greeting = undefined;
      } else if ("event" in msg) {
        for (const l of this.listeners) l(msg as unknown as QmpEvent);
      } else if ("return" in msg) this.pending.shift()?.resolve(msg["return"]);
      else if ("error" in msg) {
        const e = msg["error"] as { class?: string; desc?: string };
        this.pending.shift()?.reject(new QmpError(e.class ?? "GenericError", e.desc ?? "error"));
      }
    }
  }

  private fail(e: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.closeError = e;
    this.greeting?.reject(e);
    for (const p of this.pending.splice(0)) p.reject(e);
    this.sock.destroy();
  }

  /** Runs a command and returns its `return` value; an error answer throws QmpError. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    if (this.closed) return Promise.reject(this.closeError ?? new Error("QMP connection closed"));
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ resolve: resolve as (v: unknown) => void, reject });
      this.sock.write(`${JSON.stringify(args ? { execute: command, arguments: args } : { execute: command })}\n`);
    });
  }

  /** A human monitor command's text (info status, savevm NAME, ...). */
  hmp(commandLine: string): Promise<string> {
    return this.execute<string>("human-monitor-command", { "command-line": commandLine });
  }

  onEvent(cb: (e: QmpEvent) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  /** Resolves with the first event of this name (and optional test) within the time given. */
  waitEvent(name: string, timeoutMs: number, test: (e: QmpEvent) => boolean = () => true): Promise<QmpEvent> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`no ${name} event in ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.onEvent((e) => {
        if (e.event !== name || !test(e)) return;
        clearTimeout(timer);
        off();
        resolve(e);
      });
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  close(): void {
    this.closed = true;
    for (const p of this.pending.splice(0)) p.reject(new Error("QMP connection closed"));
    this.sock.destroy();
  }
}
