// The remote transport: an engine server's REST API in oVirt's shape (fetch, JSON), its user
// named by HTTP Basic authentication as oVirt's API takes it. The console is a WebSocket on the
// same server carrying the guest's serial text both ways.

import type { ApiRequest, ApiResponse, ConsoleSession, EngineTransport } from "./client.js";

export interface RestOptions {
  /** The server's origin (default: this page's), e.g. "http://127.0.0.1:8443". */
  origin?: string;
  user?: string;
  password?: string;
  /** The fetch to use (tests pass their own). */
  fetch?: typeof fetch;
}

export const API_ROOT = "/ovirt-engine/api";

export class RestTransport implements EngineTransport {
  readonly where: string;
  private readonly origin: string;
  private readonly auth: string | undefined;
  private readonly fetch: typeof fetch;

  constructor(opts: RestOptions = {}) {
    this.origin = (opts.origin ?? globalThis.location?.origin ?? "").replace(/\/+$/, "");
    this.where = `${this.origin}${API_ROOT}`;
    this.auth = opts.user !== undefined ? `Basic ${btoa(`${opts.user}:${opts.password ?? ""}`)}` : undefined;
    this.fetch = opts.fetch ?? globalThis.fetch.bind(globalThis);
  }

  async request(req: ApiRequest): Promise<ApiResponse> {
    const headers: Record<string, string> = { Accept: "application/json" };
    if (this.auth) headers.Authorization = this.auth;
    if (req.body !== undefined) headers["Content-Type"] = "application/json";
    let res: Response;
    try {
      res = await this.fetch(`${this.where}${req.path}`, {
        method: req.method,
        headers,
        body: req.body === undefined ? undefined : JSON.stringify(req.body),
      });
    } catch (e) {
      return { status: 503, body: { reason: "The engine cannot be reached", detail: (e as Error).message } };
    }
    const text = await res.text();
    let body: unknown = text;
    if (text && (res.headers.get("Content-Type") ?? "").includes("json")) {
      try {
        body = JSON.parse(text);
      } catch {
        return { status: 502, body: { reason: "The engine's answer is not JSON", detail: text.slice(0, 200) } };
      }
    }
    return { status: res.status, body: text ? body : undefined };
  }

  console(vmId: string): Promise<ConsoleSession> {
    const url = new URL(`${this.where}/vms/${encodeURIComponent(vmId)}/console`);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    const encoder = new TextEncoder();
    return new Promise((resolve, reject) => {
      ws.onerror = () => reject(new Error(`the console of VM ${vmId} could not be opened`));
      ws.onopen = () => {
        let closed: ((why: string) => void) | undefined;
        ws.onclose = (ev) => closed?.(ev.reason || "the console closed");
        resolve({
          onData: (cb) => {
            ws.onmessage = (ev) => cb(typeof ev.data === "string" ? encoder.encode(ev.data) : new Uint8Array(ev.data));
          },
          onClose: (cb) => {
            closed = cb;
          },
          send: (text) => ws.send(text),
          close: () => ws.close(),
        });
      };
    });
  }
}
