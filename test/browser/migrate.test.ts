// The lab's newer views in Chromium (playwright-core, 1024x768): live migration of a running
// tiny Linux between two Workers from the Migrate tab (native with the write-tracking dirty log, hvm
// with EPT's), an uploaded kernel booted with a generated initrd and an edited command line, and
// the thin-provisioning and live-migration labs run to their automatic checks (pv and bt
// migrate in npm run test:slow, migrate-modes.slow.ts). Screenshots go
// to build/screenshots/.

import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { openTab, ROOT, screenshot, seriousViolations, shell, untilSerial, useHarness, waitFor } from "./harness.js";
import { infoStatus, migrateRunning, untilActive } from "./migrate-steps.js";

/** A cpio archive in the "newc" format the kernel's initramfs unpacker reads: regular files only. */
function cpio(files: Record<string, string>): Buffer {
  const parts: Buffer[] = [];
  const pad = (n: number) => Buffer.alloc((4 - (n % 4)) % 4);
  let ino = 1;
  const entry = (name: string, mode: number, data: Buffer) => {
    const fields = [ino++, mode, 0, 0, 1, 0, data.length, 0, 0, 0, 0, name.length + 1, 0];
    const header = `070701${fields.map((f) => f.toString(16).padStart(8, "0")).join("")}`;
    const head = Buffer.from(`${header}${name}\0`, "latin1");
    parts.push(head, pad(head.length), data, pad(data.length));
  };
  for (const [name, text] of Object.entries(files)) entry(name, 0o100644, Buffer.from(text));
  entry("TRAILER!!!", 0, Buffer.alloc(0));
  return Buffer.concat(parts);
}

describe("live migration, initrd upload and the new labs in Chromium", () => {
  const h = useHarness();
  const { shots } = h;

  it("migrates a running guest that dirties memory between two Workers under hvm (EPT log); the shell answers after", async () => {
    await migrateRunning(h, "hvm", "ept", { dirty: true, bandwidth: 4, shot: "migrate-en" });
  }, 300_000);

  it("and under native (the write-tracking dirty log, dirtying)", async () => {
    // (pv and bt, idle: npm run test:slow, test/browser/migrate-modes.slow.ts)
    await migrateRunning(h, "native", "direct", { dirty: true, bandwidth: 4 });
  }, 300_000);

  it("refuses bad parameters and shows a cancelled migration as an error; the source runs on with its shell", async () => {
    const page = await h.newPage();
    await page.goto(`${h.url}?guest=linux&mode=native&lang=en`);
    await untilSerial(page, "the shell prompt", "~ # ", 90_000);
    await openTab(page, "migrate");
    await page.fill("#migrate-bandwidth", "0");
    await page.click("#migrate-start");
    expect(await page.locator("#migrate-problem[role=alert]").textContent()).toMatch(/^Error: the bandwidth/);
    expect(await page.locator("#migrate-workers").count()).toBe(0);
    // Slow enough that the first round is still going when Cancel is pressed (by keyboard).
    await page.fill("#migrate-bandwidth", "0.2");
    await page.click("#migrate-start");
    await untilActive(page);
    await page.focus("#migrate-cancel");
    await page.keyboard.press("Enter");
    const alert = page.locator("#migrate-failed[role=alert]");
    await alert.waitFor({ timeout: 20_000 });
    expect(await alert.textContent()).toBe("Migration failed, the source runs on: migration cancelled");
    expect(await infoStatus(page)).toBe("cancelled");
    expect(await page.locator("#migrate-console").textContent()).toBe("on the source");
    const errorColor = await alert.evaluate((e) => getComputedStyle(e).color);
    expect(errorColor).not.toBe(await page.locator("#migrate-title").evaluate((e) => getComputedStyle(e).color));
    await shell(page, "echo still-$((20+22))", "still-42");
    shots.push(await screenshot(page, "migrate-cancelled-en"));
    expect(h.problems).toEqual([]);
    await page.close();
  }, 180_000);

  it("boots an uploaded kernel with a generated initrd and an edited command line", async () => {
    const page = await h.newPage();
    await page.goto(`${h.url}?guest=sensitive&mode=native&lang=en`);
    await waitFor(
      page,
      "the first run",
      () => page.evaluate(() => window.__x86lab.state()),
      (s) => s === "stopped",
      30_000,
    );
    const token = `tok${Date.now().toString(36)}`;
    // The tiny Linux's own initramfs (busybox, /init) with a generated cpio archive appended: the
    // kernel unpacks both, so the file exists only if the uploaded initrd was used.
    const base = readFileSync(`${ROOT}guests/linux/initramfs.cpio.gz`);
    const extra = gzipSync(cpio({ "x86lab-generated": `${token}\n` }));
    const initrd = Buffer.concat([base, Buffer.alloc((4 - (base.length % 4)) % 4), extra]);
    await page.setInputFiles("#upload", {
      name: "bzImage",
      mimeType: "application/octet-stream",
      buffer: readFileSync(`${ROOT}guests/linux/bzImage`),
    });
    await page.setInputFiles("#upload-initrd", {
      name: "generated.cpio.gz",
      mimeType: "application/gzip",
      buffer: initrd,
    });
    await page.locator("#initrd-name").filter({ hasText: "generated.cpio.gz" }).waitFor({ timeout: 5_000 });
    await page.fill("#upload-cmdline", `console=ttyS0 panic=-1 x86lab.token=${token}`);
    await page.click("#boot");
    await untilSerial(page, "the uploaded kernel's prompt", "~ # ", 90_000);
    await shell(page, "cat /x86lab-generated; echo done-$((1+1))", token);
    await shell(page, "cat /proc/cmdline", `console=ttyS0 panic=-1 x86lab.token=${token}`);
    shots.push(await screenshot(page, "upload-initrd-en"));
    expect(await seriousViolations(page, ".setup")).toEqual([]);
    expect(h.problems).toEqual([]);
    await page.close();
  }, 180_000);

  /** Runs every step of a lab with the expected prediction; returns "step: pass label" lines. */
  async function runLab(page: Page, labId: string): Promise<string[]> {
    await openTab(page, "labs");
    await page.selectOption("#lab", labId);
    const steps = page.locator(`article[data-lab='${labId}'] .lab-step`);
    const results: string[] = [];
    for (let i = 0; i < (await steps.count()); i++) {
      const step = steps.nth(i);
      const id = await step.getAttribute("data-step");
      // By keyboard: Space picks the first prediction (the page says whether it was right), Enter runs.
      await step.locator("input[type=radio]").first().focus();
      await page.keyboard.press("Space");
      await step.locator("button.run-step").focus();
      await page.keyboard.press("Enter");
      await step.locator(".results").waitFor({ timeout: 300_000 });
      const items = await step
        .locator(".results li")
        .evaluateAll((lis) => lis.map((li) => `${li.getAttribute("data-pass")} ${li.textContent}`));
      results.push(...items.map((s) => `${id}: ${s}`));
    }
    return results;
  }

  for (const [labId, tab] of [
    ["thin-provisioning", "disk"],
    ["live-migration", "migrate"],
  ] as const) {
    it(`runs the ${labId} lab to its automatic checks`, async () => {
      const page = await h.newPage();
      await page.goto(`${h.url}?guest=sensitive&mode=native&lang=en`);
      const results = await runLab(page, labId);
      expect(results.length).toBeGreaterThanOrEqual(6);
      expect(
        results.filter((r) => !r.includes(": true ")),
        results.join("\n"),
      ).toEqual([]);
      shots.push(await screenshot(page, `lab-${labId}-en`));
      expect(await seriousViolations(page, "#panel-labs")).toEqual([]);
      // The view the lab reads its figures from, as the last step left it.
      await openTab(page, tab);
      shots.push(await screenshot(page, `lab-${labId}-${tab}-en`));
      expect(h.problems).toEqual([]);
      await page.close();
    }, 600_000);
  }
});
