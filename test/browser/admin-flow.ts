// The datacenter in a tab driven through the administration view as a user clicks it, shared by
// test/browser/admin.test.ts (npm test) and admin-moves.slow.ts (npm run test:slow, with the
// live migration and a host's maintenance).

import type { Page } from "playwright-core";
import { expect } from "vitest";
import { type Harness, screenshot, seriousViolations, waitFor } from "./harness.js";

export const inventory = (page: Page) => page.evaluate(() => window.__x86admin.inventory());
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

/** Waits until the datacenter has started and its hosts are in the states named ("host1:up,host2:up"). */
async function ready(page: Page, hosts: string): Promise<void> {
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
    `hosts ${hosts}`,
    async () =>
      (await inventory(page)).hosts
        .map((x) => `${x.name}:${x.status}`)
        .sort()
        .join(),
    (s) => s === hosts,
    30_000,
  );
}

/**
 * Opens the datacenter in a tab with two Worker hosts, defines vm1 from the New VM form, starts
 * it, waits for its console's shell prompt and a command's answer; with `moves`, live-migrates it
 * to the other host, checks its console there, and puts that host in maintenance (the VM moves
 * back); then reloads the page and checks the inventory. Returns the steps' timings.
 */
export async function datacenterFlow(h: Harness & { shots: string[] }, moves: boolean): Promise<string> {
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
  await ready(page, "host1:up,host2:up");
  step("database, engine and 2 hosts up");
  expect(await seriousViolations(page)).toEqual([]);
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

  let afterReload = "host1:up,host2:up";
  if (moves) {
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

    // Maintenance of the VM's host: the engine migrates the VM away, then marks the host.
    const hostNow = (moved!.host as { id: string }).id;
    const hostName = (await inventory(page)).hosts.find((x) => x.id === hostNow)!.name!;
    await page.locator(`#hosts tr[data-name="${hostName}"] button`).click();
    await waitFor(
      page,
      `${hostName} in maintenance and vm1 back on the other host`,
      async () => {
        const inv = await inventory(page);
        const vm = inv.vms.find((v) => v.name === "vm1");
        return `${inv.hosts.find((x) => x.id === hostNow)?.status} ${vm?.status} ${(vm?.host as { id: string } | undefined)?.id === hostNow}`;
      },
      (s) => s === "maintenance up false",
      60_000,
    );
    step("maintenance: the VM migrated away");
    const other = hostName === "host1" ? "host2" : "host1";
    afterReload = [`${hostName}:maintenance`, `${other}:up`].sort().join();
  }

  // A reload ends the page's Workers (the hosts) and its engine; the database is in IndexedDB.
  await page.reload();
  await ready(page, afterReload);
  step("reload: database, engine and hosts up again");
  const after = await inventory(page);
  expect(after.vms.map((v) => v.name)).toEqual(["vm1"]);
  expect(after.hosts.map((x) => x.name).sort()).toEqual(["host1", "host2"]);
  const codes = after.events.map((e) => String(e.code));
  expect(codes).toContain("VM_ADDED");
  if (moves) expect(codes).toContain("VM_MIGRATED");
  expect(h.problems).toEqual([]);
  return `${steps.join("; ")}\n${engineLog.filter((l) => l.includes("MIGRATED")).join("\n")}`;
}
