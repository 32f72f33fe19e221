// The administration view's client (web/src/admin/client.ts) over its remote transport with a
// stand-in fetch: the requests it makes in oVirt's shape (path, method, JSON body, Basic
// authentication) and how it reads lists and faults. No browser needed.

import { describe, expect, it } from "vitest";
import { EngineClient, EngineError, faultText } from "../../web/src/admin/client.js";
import { RestTransport } from "../../web/src/admin/rest-transport.js";

interface Seen {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
}

function fakeFetch(answer: (s: Seen) => { status: number; body?: unknown; type?: string }) {
  const seen: Seen[] = [];
  const f = (async (url: string, init: RequestInit) => {
    const s: Seen = {
      url,
      method: String(init.method),
      headers: init.headers as Record<string, string>,
      body: init.body as string,
    };
    seen.push(s);
    const a = answer(s);
    const text = a.body === undefined ? "" : typeof a.body === "string" ? a.body : JSON.stringify(a.body);
    return new Response(text || null, { status: a.status, headers: { "Content-Type": a.type ?? "application/json" } });
  }) as unknown as typeof fetch;
  return { f, seen };
}

describe("the admin view's engine client over REST", () => {
  it("lists a collection by oVirt's key and sends the user by Basic authentication", async () => {
    const { f, seen } = fakeFetch(() => ({ status: 200, body: { vm: [{ id: "1", name: "vm1", status: "up" }] } }));
    const client = new EngineClient(
      new RestTransport({ origin: "http://engine:8080/", user: "admin", password: "pw", fetch: f }),
    );
    expect(await client.list("vms")).toEqual([{ id: "1", name: "vm1", status: "up" }]);
    expect(seen[0]!.url).toBe("http://engine:8080/ovirt-engine/api/vms");
    expect(seen[0]!.method).toBe("GET");
    expect(seen[0]!.headers.Authorization).toBe(`Basic ${btoa("admin:pw")}`);
    expect(seen[0]!.headers.Accept).toBe("application/json");
  });

  it("reads an empty collection ({}) as no objects, and a wrong shape as an error", async () => {
    const empty = new EngineClient(
      new RestTransport({ origin: "http://e", fetch: fakeFetch(() => ({ status: 200, body: {} })).f }),
    );
    expect(await empty.list("hosts")).toEqual([]);
    const wrong = new EngineClient(
      new RestTransport({ origin: "http://e", fetch: fakeFetch(() => ({ status: 200, body: { host: "x" } })).f }),
    );
    await expect(wrong.list("hosts")).rejects.toThrow(/"host" is not a list/);
  });

  it("posts actions to /{collection}/{id}/{action} with a JSON action body", async () => {
    const { f, seen } = fakeFetch(() => ({ status: 200, body: { status: "complete" } }));
    const client = new EngineClient(new RestTransport({ origin: "http://e", fetch: f }));
    await client.action("vms", "a b", "migrate", { host: { id: "h2" } });
    expect(seen[0]!.url).toBe("http://e/ovirt-engine/api/vms/a%20b/migrate");
    expect(seen[0]!.method).toBe("POST");
    expect(JSON.parse(seen[0]!.body!)).toEqual({ host: { id: "h2" } });
    expect(seen[0]!.headers["Content-Type"]).toBe("application/json");
  });

  it("turns oVirt's fault into an EngineError with its reason and detail", async () => {
    const { f } = fakeFetch(() => ({
      status: 409,
      body: { fault: { reason: "Operation Failed", detail: "no host has room" } },
    }));
    const client = new EngineClient(new RestTransport({ origin: "http://e", fetch: f }));
    const err = await client.action("vms", "1", "start").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect((err as EngineError).status).toBe(409);
    expect((err as Error).message).toBe("Operation Failed: no host has room");
    expect(faultText(500, "")).toBe("the engine answered 500");
  });

  it("reports an engine that cannot be reached, or answers what is not JSON, as a clear error", async () => {
    const down = (async () => {
      throw new TypeError("fetch failed");
    }) as unknown as typeof fetch;
    await expect(new EngineClient(new RestTransport({ origin: "http://e", fetch: down })).list("vms")).rejects.toThrow(
      "The engine cannot be reached: fetch failed",
    );
    const garbled = fakeFetch(() => ({ status: 200, body: "{not json" })).f;
    await expect(
      new EngineClient(new RestTransport({ origin: "http://e", fetch: garbled })).list("vms"),
    ).rejects.toThrow(/not JSON/);
  });
});
