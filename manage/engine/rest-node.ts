// The REST API on node:http: HTTP Basic authentication (user@internal:password, as oVirt
// accepts), JSON in and out through api.ts, and the console as a streaming endpoint: GET
// /vms/{id}/console answers text/plain, chunked, with the guest's bytes as they come (the
// X-Console-Session header names the session), POST /vms/{id}/console?session=ID types the body.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { callApi, fault, matchRoute } from "./api.js";
import { API } from "./api-json.js";
import type { Principal } from "./auth.js";
import type { ConsoleSession, Engine } from "./engine.js";
import { EngineError } from "./errors.js";
import { bytesToLatin1 } from "./host-protocol.js";

const MAX_BODY = 1 << 20;

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > MAX_BODY) throw new EngineError(400, `the request body is over ${MAX_BODY} bytes`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

export class RestServer {
  readonly server: Server;
  /** Successful logins for a minute, so each request does not pay for scrypt again. */
  private readonly logins = new Map<string, { p: Principal; until: number }>();
  private readonly consoles = new Map<string, { c: ConsoleSession; owner: string }>();

  constructor(private readonly engine: Engine) {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((e: Error) => {
        if (!res.headersSent) send(res, 500, { reason: "Internal Server Error", detail: `[${e.message}]` });
        else res.destroy();
      });
    });
  }

  async listen(port: number, host = "127.0.0.1"): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => resolve());
    });
    const a = this.server.address();
    return typeof a === "object" && a ? a.port : port;
  }

  async close(): Promise<void> {
    for (const { c } of this.consoles.values()) c.close();
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  private async principal(req: IncomingMessage): Promise<Principal | undefined> {
    const h = req.headers.authorization;
    if (!h?.startsWith("Basic ")) return undefined;
    const hit = this.logins.get(h);
    if (hit && hit.until > Date.now()) return hit.p;
    const raw = Buffer.from(h.slice(6), "base64").toString("utf8");
    const colon = raw.indexOf(":");
    if (colon < 0) return undefined;
    const name = raw.slice(0, colon).replace(/@internal$/, "");
    const p = await this.engine.auth.authenticate(name, raw.slice(colon + 1));
    if (p) this.logins.set(h, { p, until: Date.now() + 60_000 });
    return p;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://engine");
    if (!url.pathname.startsWith(API)) {
      const f = fault(404, "Not Found", `${url.pathname} (the API is under ${API})`);
      return send(res, f.status, f.body);
    }
    const p = await this.principal(req);
    if (!p) {
      res.setHeader("www-authenticate", 'Basic realm="ENGINE"');
      const f = fault(401, "Unauthorized", "a user name and password are needed (HTTP Basic: user@internal)");
      return send(res, f.status, f.body);
    }
    const path = url.pathname.slice(API.length) || "/";
    const method = req.method ?? "GET";
    const m = matchRoute(method, path);
    if (m?.route.transport === "console-stream") return this.consoleStream(p, m.params.id, res);
    if (m?.route.transport === "console-input") return this.consoleInput(p, m.params.id, url, req, res);
    let body: Record<string, unknown> = {};
    if (method === "POST" || method === "PUT") {
      const raw = (await readBody(req)).toString("utf8");
      if (raw.trim()) {
        try {
          const v = JSON.parse(raw) as unknown;
          if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error("not an object");
          body = v as Record<string, unknown>;
        } catch (e) {
          const f = fault(400, "Bad Request", `the request body is not a JSON object: ${(e as Error).message}`);
          return send(res, f.status, f.body);
        }
      }
    }
    const a = await callApi(this.engine, p, method, path, body, url.searchParams);
    send(res, a.status, a.body);
  }

  private async consoleStream(p: Principal, vmId: string, res: ServerResponse): Promise<void> {
    let c: ConsoleSession;
    try {
      c = await this.engine.vms.openConsole(p, vmId);
    } catch (e) {
      const err = e instanceof EngineError ? e : new EngineError(500, (e as Error).message);
      const f = fault(err.status, err.status === 404 ? "Not Found" : "Operation Failed", err.message);
      return send(res, f.status, f.body);
    }
    const session = crypto.randomUUID();
    this.consoles.set(session, { c, owner: p.userId });
    res.writeHead(200, {
      "content-type": "text/plain; charset=latin1",
      "x-console-session": session,
      "cache-control": "no-store",
    });
    res.flushHeaders();
    c.onData((d) => res.write(Buffer.from(d, "latin1")));
    c.onClose((why) => {
      this.consoles.delete(session);
      res.end(`\r\n[console closed: ${why}]\r\n`);
    });
    res.on("close", () => {
      if (this.consoles.delete(session)) c.close();
    });
  }

  private async consoleInput(
    p: Principal,
    vmId: string,
    url: URL,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    // The VM must be visible first: another user's VM is 404 whatever the session says.
    try {
      await this.engine.vm(p, vmId);
    } catch (e) {
      const err = e as EngineError;
      const f = fault(err.status ?? 500, "Not Found", err.message);
      return send(res, f.status, f.body);
    }
    const s = this.consoles.get(url.searchParams.get("session") ?? "");
    if (!s || s.owner !== p.userId) {
      const f = fault(
        404,
        "Not Found",
        "console session not found: open GET /vms/{id}/console first and pass its X-Console-Session",
      );
      return send(res, f.status, f.body);
    }
    s.c.write(bytesToLatin1(await readBody(req)));
    send(res, 200, { status: "complete" });
  }
}
