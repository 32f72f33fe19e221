// The administration view (web/admin.html) in Chromium, both ways it reaches an engine.
//
// The datacenter in a tab (docs/datacenter-in-a-tab.md): the engine in the page, its database
// PGlite in IndexedDB, two hosts as Workers. Through the view as a user clicks it: define a VM
// from domain XML, start it on a Worker host, see its console print the tiny Linux's shell prompt
// and answer a command, live-migrate it to the other host, then reload the page and find the
// inventory (VM, hosts, events) still there.
//
// A remote engine: the engine's REST server (manage/engine/rest-node.ts) in this process with
// PGlite in memory and one in-process host (the engine tests' FakeHost), behind a small proxy
// that serves the built page and forwards /ovirt-engine, as `ENGINE=... npm run web:dev` does.
// The view signs in with HTTP Basic, lists the inventory, defines a VM through the form, starts
// it, and shows the engine's fault for an action that cannot be done.

import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPglite } from "../../manage/engine/db.js";
import { Engine } from "../../manage/engine/engine.js";
import { scryptHasher } from "../../manage/engine/node-services.js";
import { RestServer } from "../../manage/engine/rest-node.js";
import { FakeHost } from "../manage/engine/fake-host.js";
import { screenshot, useHarness, waitFor } from "./harness.js";

const h = useHarness();

const inventory = (page: Page) => page.evaluate(() => window.__x86admin.inventory());
const vmRow = (page: Page, name: string) => page.locator(`#vms tr[data-name="${name}"]`);
/** The VM's row as JSON, with the view's error and the last events (what a timeout shows). */
const vmOf = async (page: Page, name: string) => {
  const inv = await inventory(page);
  const vm = inv.vms.find((v) => v.name === name);
  const error = await page
    .locator("#admin-error")
    .textContent({ timeout: 10 })
    .catch(() => "");
  const events = inv.events.slice(0, 5).map((e) => e.description);
  return vm && Object.assign(vm, { toString: () => JSON.stringify({ vm, error, events }) });
};
const consoleText = (page: Page, vm: string) => page.evaluate((n) => window.__x86admin.consoleText(n), vm);

async function ready(page: Page, hosts: number): Promise<void> {
  await waitFor(
    page,
    "the datacenter to start",
    () => page.evaluate(() => window.__x86admin.state),
    (s) => s !== "starting",
    60_000,
  );
  expect(await page.evaluate(() => window.__x86admin.state)).toBe("ready");
  await waitFor(
    page,
    `${hosts} hosts up`,
    async () => (await inventory(page)).hosts.filter((x) => x.status === "up").length,
    (n) => n === hosts,
    30_000,
  );
}

describe("the datacenter in a tab", () => {
  it("defines a VM, runs it on a Worker host with its console, migrates it, and keeps the inventory over a reload", async () => {
    const page = await h.newPage();
    const engineLog: string[] = [];
    page.on("console", (m) => {
      if (m.text().startsWith("engine:")) engineLog.push(m.text());
    });
    // How long each step took, printed at the end (docs/datacenter-in-a-tab.md quotes them).
    let t = Date.now();
    const steps: string[] = [];
    const step = (what: string) => {
      steps.push(`${what} ${Date.now() - t} ms`);
      t = Date.now();
    };
    await page.goto(`${h.url}admin.html?hosts=2`);
    await ready(page, 2);
    step("database, engine and 2 hosts up");
    const inv = await inventory(page);
    expect(inv.datacenters.map((d) => d.name)).toEqual(["Default"]);
    expect(inv.clusters.map((c) => c.name)).toEqual(["Default"]);
    expect(inv.hosts.map((x) => x.name).sort()).toEqual(["host1", "host2"]);

    await page.fill("#new-vm-name", "vm1");
    await page.click("#new-vm-define");
    await waitFor(
      page,
      "vm1 defined",
      () => vmOf(page, "vm1"),
      (v) => v?.status === "down",
      10_000,
    );

    await vmRow(page, "vm1").locator(".vm-start").click();
    const up = await waitFor(
      page,
      "vm1 up",
      () => vmOf(page, "vm1"),
      (v) => v?.status === "up",
      30_000,
    );
    const firstHost = (up!.host as { id: string }).id;
    step("defined and started");

    await vmRow(page, "vm1").locator(".vm-console").click();
    await waitFor(
      page,
      "the shell prompt on vm1's console",
      () => consoleText(page, "vm1"),
      (s) => s.includes("~ # "),
      60_000,
    );
    await page.click("#terminal-vm1");
    await page.keyboard.type("echo $((6*7))\n");
    await waitFor(
      page,
      "the guest's answer",
      () => consoleText(page, "vm1"),
      (s) => /\n42\s*\n/.test(s),
      20_000,
    );
    step("console: shell prompt and a command's answer");
    h.shots.push(await screenshot(page, "admin-console"));

    // Live migration to the other Worker host: the guest goes on answering there.
    await vmRow(page, "vm1").locator(".vm-migrate").click();
    const moved = await waitFor(
      page,
      "vm1 up on the other host",
      () => vmOf(page, "vm1"),
      (v) => v?.status === "up" && (v.host as { id: string }).id !== firstHost,
      60_000,
    );
    expect(moved).toBeDefined();
    step("live migration to the other host");
    await vmRow(page, "vm1").locator(".vm-console").click();
    await page.click("#terminal-vm1");
    await page.keyboard.type("echo $((6*8))\n");
    await waitFor(
      page,
      "the answer after the migration",
      () => consoleText(page, "vm1"),
      (s) => s.includes("48"),
      20_000,
    );

    // A reload ends the page's Workers (the hosts) and its engine; the database is in IndexedDB.
    await page.reload();
    await ready(page, 2);
    step("reload: database, engine and hosts up again");
    const after = await inventory(page);
    expect(after.vms.map((v) => v.name)).toEqual(["vm1"]);
    expect(after.hosts.map((x) => x.name).sort()).toEqual(["host1", "host2"]);
    const codes = after.events.map((e) => String(e.code));
    expect(codes).toContain("VM_ADDED");
    expect(codes).toContain("VM_MIGRATED");
    console.log(`${steps.join("; ")}\n${engineLog.filter((l) => l.includes("MIGRATED")).join("\n")}`);
    expect(h.problems).toEqual([]);
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
