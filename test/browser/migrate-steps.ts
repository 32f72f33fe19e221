// Live migration from the lab's Migrate tab, as the Chromium tests drive it (test/browser/
// migrate.test.ts in npm test; migrate-modes.slow.ts, the other modes, in npm run test:slow).

import type { Page } from "playwright-core";
import { expect } from "vitest";
import { type Harness, openTab, screenshot, seriousViolations, shell, untilSerial, waitFor } from "./harness.js";

export const infoStatus = (page: Page) =>
  page
    .locator("#migrate-info")
    .getAttribute("data-status", { timeout: 100 })
    .catch(() => null);

/** Waits until the Migrate tab shows the pre-copy running. */
export const untilActive = (page: Page) =>
  waitFor(
    page,
    "the pre-copy to be active",
    () => infoStatus(page),
    (s) => s === "active",
    30_000,
  );

/**
 * Boots the tiny Linux under `mode` and migrates it from the Migrate tab at `bandwidth` MiB/s,
 * while it dirties memory (`dirty`) or idle; the shell must answer on the destination.
 */
export async function migrateRunning(
  h: Harness & { shots: string[] },
  mode: string,
  mmu: string,
  opts: { dirty: boolean; bandwidth: number; shot?: string },
): Promise<void> {
  const { shot } = opts;
  const { shots } = h;
  const page = await h.newPage();
  await page.goto(`${h.url}?guest=linux&mode=${mode}&mmu=${mmu}&lang=en`);
  await untilSerial(page, "the shell prompt", "~ # ", 90_000);
  await shell(page, "X=before-$((6*7)); echo set-$X", "set-before-42");
  await openTab(page, "migrate");
  if (opts.dirty) {
    await page.click("#migrate-dirty");
    await untilSerial(page, "the dirtying loop", "\nx86lab-dirtying-4", 20_000);
  }
  await page.fill("#migrate-bandwidth", String(opts.bandwidth));
  await page.fill("#migrate-downtime", "300");
  await page.fill("#migrate-iterations", "8");
  await page.click("#migrate-start");
  // Live: the panel shows the pre-copy while the guest still runs on the source.
  await untilActive(page);
  expect(await page.locator("#migrate-console").textContent()).toBe("on the source");
  const done = await waitFor(
    page,
    "the migration to end",
    () => infoStatus(page),
    (s) => s === "completed" || s === "failed" || s === "cancelled",
    180_000,
  );
  expect(done, (await page.locator("#migrate-info").textContent()) ?? "").toBe("completed");
  await waitFor(
    page,
    "the console to switch",
    () => page.locator("#migrate-console").textContent(),
    (s) => s === "on the destination (the source has ended)",
    10_000,
  );
  const rounds = Number(await page.locator("#migrate-info").getAttribute("data-iterations"));
  expect(rounds).toBeGreaterThanOrEqual(1);
  expect(await page.locator("#migrate-rounds tbody tr").count()).toBe(rounds);
  const info = (await page.locator("#migrate-info").textContent()) ?? "";
  expect(info).toMatch(/downtime\d+ ms/);
  // The core's dirty log: EPT's dirty flags, else write protection through write tracking.
  expect(info).toMatch(mmu === "ept" ? /dirty logept-log/ : /dirty logwrite-track/);
  // The shell answers on the destination, with the variable set before the migration.
  await shell(page, "echo after-$X", "after-before-42");
  await shell(page, "rm -f /tmp/dirty; echo stopped-$((1+1))", "stopped-2");
  expect(await page.evaluate(() => window.__x86lab.state())).toBe("running");
  if (shot) {
    shots.push(await screenshot(page, shot));
    await page.locator("#migrate-rounds").scrollIntoViewIfNeeded();
    shots.push(await screenshot(page, `${shot.replace(/-en$/, "")}-rounds-en`));
    expect(await seriousViolations(page, "#panel-migrate")).toEqual([]);
    // Korean: every string of the panel changes (the QEMU field names stay, as code).
    await page.selectOption("#lang", "ko");
    await page.waitForFunction(() => document.documentElement.lang === "ko");
    expect(await page.locator("#migrate-title").textContent()).toBe("두 Worker 사이의 라이브 마이그레이션");
    shots.push(await screenshot(page, shot.replace(/-en$/, "-ko")));
  }
  expect(h.problems).toEqual([]);
  await page.close();
}
