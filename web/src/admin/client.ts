// The administration view's one way of talking to an engine: oVirt's REST shape (collections and
// actions under /ovirt-engine/api, JSON bodies) over a transport. Two transports: fetch to an
// engine server (rest-transport.ts), or a direct call into an engine running in this page (the
// datacenter in a tab, manage/browser/). The view only ever sees EngineClient.

/** A request as oVirt's REST API takes it: `path` is under /ovirt-engine/api (e.g. "/vms/123/start"). */
export interface ApiRequest {
  method: "GET" | "POST" | "PUT" | "DELETE";
  path: string;
  body?: unknown;
}

export interface ApiResponse {
  status: number;
  body: unknown;
}

/** A VM's serial console: the guest's bytes (UTF-8 for a terminal), text typed to it. */
export interface ConsoleSession {
  onData(cb: (bytes: Uint8Array) => void): void;
  onClose(cb: (why: string) => void): void;
  send(text: string): void;
  close(): void;
}

export interface EngineTransport {
  /** Where the engine is, for the view's header ("this tab", or the server's address). */
  readonly where: string;
  request(req: ApiRequest): Promise<ApiResponse>;
  console(vmId: string): Promise<ConsoleSession>;
}

/** The collections the view lists, by their oVirt path and the key of their JSON list. */
export const COLLECTIONS = {
  datacenters: "data_center",
  clusters: "cluster",
  hosts: "host",
  storagedomains: "storage_domain",
  networks: "network",
  vms: "vm",
  events: "event",
} as const;

export type Collection = keyof typeof COLLECTIONS;

/** One object of a collection as oVirt's JSON gives it (the view reads the fields it shows). */
export interface ApiObject {
  id: string;
  name?: string;
  status?: string;
  [field: string]: unknown;
}

/** An error the engine answered with (oVirt's `fault`: reason and detail), or a transport's. */
export class EngineError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** oVirt's fault body: { reason, detail }; anything else is shown as it came. */
export function faultText(status: number, body: unknown): string {
  if (body && typeof body === "object") {
    const f = body as { reason?: unknown; detail?: unknown; fault?: { reason?: unknown; detail?: unknown } };
    const fault = f.fault ?? f;
    const parts = [fault.reason, fault.detail].filter((p) => typeof p === "string" && p !== "");
    if (parts.length) return parts.join(": ");
  }
  return typeof body === "string" && body ? body : `the engine answered ${status}`;
}

export class EngineClient {
  constructor(readonly transport: EngineTransport) {}

  private async call(req: ApiRequest): Promise<unknown> {
    const res = await this.transport.request(req);
    if (res.status >= 400) throw new EngineError(res.status, faultText(res.status, res.body));
    return res.body;
  }

  /** A collection's objects (oVirt answers `{ "vm": [...] }`; an empty collection may be `{}`). */
  async list(collection: Collection): Promise<ApiObject[]> {
    const body = (await this.call({ method: "GET", path: `/${collection}` })) as Record<string, unknown> | undefined;
    const items = body?.[COLLECTIONS[collection]];
    if (items === undefined) return [];
    if (!Array.isArray(items)) throw new EngineError(500, `/${collection}: "${COLLECTIONS[collection]}" is not a list`);
    return items as ApiObject[];
  }

  get(collection: Collection, id: string): Promise<ApiObject> {
    return this.call({ method: "GET", path: `/${collection}/${encodeURIComponent(id)}` }) as Promise<ApiObject>;
  }

  /** Adds an object (POST to the collection); the engine answers with it. */
  add(collection: Collection, body: unknown): Promise<ApiObject> {
    return this.call({ method: "POST", path: `/${collection}`, body }) as Promise<ApiObject>;
  }

  remove(collection: Collection, id: string): Promise<unknown> {
    return this.call({ method: "DELETE", path: `/${collection}/${encodeURIComponent(id)}` });
  }

  /** An action, as oVirt spells it: POST /vms/{id}/start with an `action` body. */
  action(collection: Collection, id: string, action: string, body: Record<string, unknown> = {}): Promise<unknown> {
    return this.call({ method: "POST", path: `/${collection}/${encodeURIComponent(id)}/${action}`, body });
  }

  console(vmId: string): Promise<ConsoleSession> {
    return this.transport.console(vmId);
  }
}
