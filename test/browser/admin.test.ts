// The datacenter in a tab (docs/datacenter-in-a-tab.md) in Chromium: the engine in the page, its
// database PGlite in IndexedDB, two hosts as Workers. Through the administration view as a user
// clicks it: define a VM from domain XML, start it on a Worker host, see its console print the
// tiny Linux's shell prompt and answer a command, live-migrate it to the other host, then reload
// the page and find the inventory (VM, hosts, events) still there.

import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
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
    page.on("console", (m) => {
      if (m.text().startsWith("engine:")) console.log(m.text());
    });
    await page.goto(`${h.url}admin.html?hosts=2`);
    await ready(page, 2);
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
    const after = await inventory(page);
    expect(after.vms.map((v) => v.name)).toEqual(["vm1"]);
    expect(after.hosts.map((x) => x.name).sort()).toEqual(["host1", "host2"]);
    const codes = after.events.map((e) => String(e.code));
    expect(codes).toContain("VM_ADDED");
    expect(h.problems).toEqual([]);
  });
});
