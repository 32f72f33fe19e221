// The administration view (web/admin.html) in Chromium, both ways it reaches an engine.
//
// The datacenter in a tab (docs/datacenter-in-a-tab.md): the engine in the page, its database
// PGlite in IndexedDB, two hosts as Workers. Through the view as a user clicks it: define a VM
// from domain XML, start it on a Worker host, see its console print the tiny Linux's shell prompt
// and answer a command, then reload the page and find the inventory (VM, hosts, events) still
// there. admin-moves.slow.ts adds the live migration and a host's maintenance (npm run test:slow).
//
// A remote engine: the engine's REST server (manage/engine/rest-node.ts) in this process with
// PGlite in memory and one in-process host (the engine tests' FakeHost), behind a small proxy
// that serves the built page and forwards /ovirt-engine, as `ENGINE=... npm run web:dev` does.
// The view signs in with HTTP Basic, lists the inventory, defines a VM through the form, starts
// it, and shows the engine's fault for an action that cannot be done.

import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPglite } from "../../manage/engine/db.js";
import { Engine } from "../../manage/engine/engine.js";
import { scryptHasher } from "../../manage/engine/node-services.js";
import { RestServer } from "../../manage/engine/rest-node.js";
import { FakeHost } from "../manage/engine/fake-host.js";
import { datacenterFlow, inventory } from "./admin-flow.js";
import { useHarness, waitFor } from "./harness.js";

const h = useHarness();

describe("the datacenter in a tab", () => {
  it("defines a VM, runs it on a Worker host with its console, and keeps the inventory over a reload", async () => {
    console.log(await datacenterFlow(h, false));
  });
});

/** Forwards /ovirt-engine to the engine and everything else to the page's static server. */
function proxy(pages: string, engine: number): Promise<Server> {
  const server = createServer((req, res) => {
    const target = req.url?.startsWith("/ovirt-engine") ? new URL(`http://127.0.0.1:${engine}`) : new URL(pages);
    const out = request(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    out.on("error", () => res.writeHead(502).end());
    req.pipe(out);
  });
  return new Promise((ok) => server.listen(0, "127.0.0.1", () => ok(server)));
}

describe("the admin view against an engine server", () => {
  let engine: Engine;
  let rest: RestServer;
  let front: Server;
  const host = new FakeHost("fake1", 1024);

  beforeAll(async () => {
    engine = new Engine(await openPglite("memory://"), {
      hasher: scryptHasher,
      admin: { name: "admin", password: "secret" },
      heartbeatMs: 500,
    });
    await engine.start();
    engine.acceptHost(host.link);
    host.hello();
    rest = new RestServer(engine);
    const port = await rest.listen(0);
    front = await proxy(h.url, port);
  });

  afterAll(async () => {
    front?.closeAllConnections();
    await new Promise((ok) => front?.close(ok));
    await rest?.close();
    host.kill();
    await engine?.close();
    await engine?.db.close();
  });

  it("signs in, lists, defines and starts a VM, and shows the engine's fault", async () => {
    const { port } = front.address() as AddressInfo;
    const page = await h.newPage();
    await page.goto(`http://127.0.0.1:${port}/admin.html?engine=&user=admin@internal&password=secret`);
    await waitFor(
      page,
      "the host up in the view",
      async () => (await inventory(page)).hosts.map((x) => `${x.name}:${x.status}`).join(),
      (s) => s === "fake1:up",
      30_000,
    );
    expect(await page.textContent(".where")).toContain(`127.0.0.1:${port}/ovirt-engine/api`);
    expect((await inventory(page)).clusters.map((c) => c.name)).toEqual(["Default"]);

    await page.fill("#new-vm-name", "web1");
    await page.click("#new-vm-define");
    await waitFor(
      page,
      "web1 listed",
      async () => (await inventory(page)).vms.map((v) => `${v.name}:${v.status}`).join(),
      (s) => s === "web1:down",
      10_000,
    );
    await page.locator('#vms tr[data-name="web1"] .vm-start').click();
    await waitFor(
      page,
      "web1 up",
      async () => (await inventory(page)).vms.map((v) => `${v.name}:${v.status}`).join(),
      (s) => s === "web1:up",
      10_000,
    );
    expect(host.vms.has((await inventory(page)).vms[0]!.id)).toBe(true);

    // One host: nowhere to migrate to. The engine's fault is shown as it gave it.
    await page.locator('#vms tr[data-name="web1"] .vm-migrate').click();
    const error = await page.locator("#admin-error").textContent({ timeout: 10_000 });
    expect(error).toMatch(/^Operation Failed: \[Cannot migrate VM web1/);
    expect(h.problems.filter((p) => !p.includes("409"))).toEqual([]);
  });
});
