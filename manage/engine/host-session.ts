// One connected host agent as the engine sees it: requests with numbers and the replies that
// settle them. A link that closes fails every request still waiting, with the host's name.

import type { FromHost, HostLink, ToHost } from "./host-protocol.js";

type Request = ToHost extends infer M ? (M extends { req: number } ? Omit<M, "req"> : never) : never;

export class HostRequestError extends Error {}

export class HostSession {
  private nextReq = 1;
  private readonly waiting = new Map<
    number,
    { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }
  >();
  private closed = false;
  /** Heartbeat time (engine clock) of the last message from the host. */
  lastSeen = Date.now();

  constructor(
    readonly hostId: string,
    readonly name: string,
    readonly link: HostLink,
  ) {}

  /** Sends `m` and resolves with the reply's result, or rejects with the host's error. */
  request(m: Request, timeoutMs: number): Promise<Record<string, unknown>> {
    if (this.closed) return Promise.reject(new HostRequestError(`host ${this.name} is not connected`));
    const req = this.nextReq++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(req);
        reject(new HostRequestError(`host ${this.name} did not answer ${m.type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(req, { resolve, reject, timer });
      this.link.send({ ...m, req } as ToHost);
    });
  }

  send(m: ToHost): void {
    if (!this.closed) this.link.send(m);
  }

  /** Settles the request a reply answers; true when `m` was a reply. */
  settle(m: FromHost): boolean {
    if (m.type !== "reply") return false;
    const w = this.waiting.get(m.req);
    if (!w) return true;
    this.waiting.delete(m.req);
    clearTimeout(w.timer);
    if (m.ok) w.resolve(m.result ?? {});
    else w.reject(new HostRequestError(m.error));
    return true;
  }

  /** The link is gone: every waiting request fails. */
  drop(why: string): void {
    this.closed = true;
    for (const [req, w] of this.waiting) {
      clearTimeout(w.timer);
      w.reject(new HostRequestError(`host ${this.name}: ${why}`));
      this.waiting.delete(req);
    }
  }

  get connected(): boolean {
    return !this.closed;
  }
}
