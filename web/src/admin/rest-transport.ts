// The remote transport: an engine server's REST API in oVirt's shape (fetch, JSON), its user
// named by HTTP Basic authentication as oVirt's API takes it. The console is the engine's
// streaming endpoint (a chunked GET for the guest's bytes, a POST per input).

import { type ApiRequest, type ApiResponse, type ConsoleSession, type EngineTransport, faultText } from "./client.js";

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

  /**
   * The engine's console stream (docs/engine.md): GET /vms/{id}/console answers the guest's bytes
   * as they come, chunked, and names its session in X-Console-Session; POST
   * /vms/{id}/console?session=ID types its body.
   */
  async console(vmId: string): Promise<ConsoleSession> {
    const url = `${this.where}/vms/${encodeURIComponent(vmId)}/console`;
    const headers: Record<string, string> = {};
    if (this.auth) headers.Authorization = this.auth;
    const abort = new AbortController();
    const res = await this.fetch(url, { headers, signal: abort.signal });
    if (!res.ok || !res.body) {
      const text = await res.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {}
      throw new Error(faultText(res.status, body));
    }
    const session = res.headers.get("X-Console-Session") ?? "";
    const reader = res.body.getReader();
    let data: ((bytes: Uint8Array) => void) | undefined;
    let closed: ((why: string) => void) | undefined;
    const pump = async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        data?.(value);
      }
    };
    pump().then(
      () => closed?.("the console closed"),
      (e: unknown) => closed?.(abort.signal.aborted ? "closed" : (e as Error).message),
    );
    return {
      onData: (cb) => {
        data = cb;
      },
      onClose: (cb) => {
        closed = cb;
      },
      send: (text) => {
        void this.fetch(`${url}?session=${encodeURIComponent(session)}`, {
          method: "POST",
          headers: { ...headers, "Content-Type": "application/octet-stream" },
          body: new TextEncoder().encode(text),
        });
      },
      close: () => abort.abort(),
    };
  }
}
