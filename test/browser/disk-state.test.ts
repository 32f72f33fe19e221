// The lab's qcow2 Disk tab and its state files, in Chromium (playwright-core, 1024x768), on one
// boot of the tiny Linux with a thin-provisioned disk (a qcow2 overlay the page makes over a raw
// image, on virtio-blk): the guest writes with dd and the panel's allocated clusters, L2 tables
// and file size grow; a whole cluster of zeros becomes a zero cluster. Then the whole machine is
// downloaded as a state file, changed, and restored from that file (shell variable and disk
// allocation come back); a file that is not a saved VM and a damaged one are refused with an
// error shown as an error, and the running machine goes on unchanged (a file from another
// machine's configuration is refused the same way: test/state/format.test.ts lists the differences).
// Last, a generated qcow2 hard disk image is uploaded and booted by SeaBIOS, and the Disk tab
// shows its one data cluster.

import { readFileSync } from "node:fs";
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { MemoryFile } from "../../vmm/storage/file.js";
import { Qcow2Image } from "../../vmm/storage/qcow2.js";
import { createQcow2 } from "../../vmm/storage/qcow2-create.js";
import { bootSector, screenshot, serialText, seriousViolations, shell, useHarness, waitFor } from "./harness.js";

/** A 4 MiB qcow2 image (64 KiB clusters) whose only allocated cluster holds a boot sector that prints a line. */
function bootQcow2(): Buffer {
  const file = new MemoryFile("boot.qcow2");
  const header = createQcow2(file, { size: 4 << 20 });
  new Qcow2Image(file, header).write(0, bootSector("x86lab-qcow2-ok"));
  return Buffer.from(file.contents());
}

describe("the lab's Disk tab and state files in Chromium", () => {
  const h = useHarness();
  const { shots } = h;
  /** A Disk tab figure (the data-value of its row). */
  const figure = (page: Page, row: string) =>
    page.locator(`#disk tr[data-disk='${row}']`).getAttribute("data-value", { timeout: 5_000 }).then(Number);
  const untilFigure = (page: Page, row: string, ok: (n: number) => boolean, ms = 10_000) =>
    waitFor(page, `the Disk tab's ${row}`, () => figure(page, row).catch(() => Number.NaN), ok, ms);
  const alertText = (page: Page) => page.locator("#error[role=alert]").textContent({ timeout: 10_000 });

  it("shows the qcow2 overlay's clusters allocated as the guest writes, and saves, restores and refuses state files", async () => {
    const page = await h.newPage();
    await page.goto(`${h.url}?guest=linux-disk&mode=native&lang=en`);
    await waitFor(
      page,
      "the shell prompt",
      () => serialText(page),
      (s) => s.includes("~ # "),
      90_000,
    );
    await page.click("#tab-disk");
    await page.waitForSelector("#panel-disk #disk");
    // A fresh overlay: the header, refcount table and block, the L1 table; no data, no L2 table.
    const data0 = await untilFigure(page, "data", (n) => n >= 0);
    const file0 = await figure(page, "file");
    expect(await figure(page, "unallocated")).toBe(1024 - data0);

    // 16 clusters copied from the disk's start (the raw image's pattern, not zeros) to 4 MiB: 16 data clusters (and the first L2 table, if the boot wrote nothing).
    await shell(
      page,
      "dd if=/dev/vda of=/dev/vda bs=65536 count=16 skip=1 seek=64 oflag=direct 2>/dev/null; echo wrote-$((8*2))",
      "wrote-16",
    );
    const data1 = await untilFigure(page, "data", (n) => n >= data0 + 16);
    expect(data1).toBe(data0 + 16);
    expect(await figure(page, "l2")).toBe(1);
    const file1 = await figure(page, "file");
    expect(file1).toBeGreaterThanOrEqual(file0 + 16 * 65536);
    expect(await page.locator("#disk .cells .cell.data").count()).toBe(data1);
    // Writing the same clusters again allocates nothing.
    await shell(
      page,
      "dd if=/dev/vda of=/dev/vda bs=65536 count=16 skip=2 seek=64 oflag=direct 2>/dev/null; echo again-$((1+1))",
      "again-2",
    );
    expect(await figure(page, "data")).toBe(data1);
    expect(await figure(page, "file")).toBe(file1);
    // Whole clusters of zeros over the backing file: zero clusters, no data, the file does not grow.
    await shell(
      page,
      "dd if=/dev/zero of=/dev/vda bs=65536 count=4 seek=512 oflag=direct 2>/dev/null; echo zeroed-$((2*2))",
      "zeroed-4",
    );
    await untilFigure(page, "zero", (n) => n >= 4);
    expect(await figure(page, "file")).toBe(file1);
    shots.push(await screenshot(page, "disk-en"));
    // The panel in Korean: every heading, label and row of it changes.
    const panelText = () =>
      page.evaluate(() =>
        Array.from(
          document.querySelectorAll("#disk h3, #disk p, #disk caption, #disk th, #disk figcaption, #disk li"),
        ).map((e) => (e.textContent ?? "").trim()),
      );
    const en = await panelText();
    await page.selectOption("#lang", "ko");
    await page.waitForFunction(() => document.documentElement.lang === "ko");
    const ko = await panelText();
    expect(ko.length).toBe(en.length);
    expect(en.filter((e, i) => e === ko[i] && /[a-z]{3}/.test(e))).toEqual([]);
    await page.locator("#disk-summary").scrollIntoViewIfNeeded();
    shots.push(await screenshot(page, "disk-ko"));
    await page.selectOption("#lang", "en");
    // No serious or critical accessibility violation on the filled panel.
    expect(await seriousViolations(page, "#panel-disk")).toEqual([]);

    // The whole machine as a file the user keeps.
    await shell(page, "X=kept-$((6*7)); echo set-$X", "set-kept-42");
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download-state")]);
    expect(download.suggestedFilename()).toMatch(/^x86lab-linux-disk-native-direct-\d{8}T\d{6}Z\.x86vm$/);
    const state = readFileSync((await download.path())!);
    expect(state.subarray(0, 8).toString("latin1")).toBe("X86VMST\0");
    await page.locator("#notice").waitFor({ timeout: 10_000 });

    // Changed after the save: a new value, 8 more clusters.
    await shell(
      page,
      "X=changed; dd if=/dev/vda of=/dev/vda bs=65536 count=8 skip=3 seek=800 oflag=direct 2>/dev/null; echo now-$X",
      "now-changed",
    );
    await untilFigure(page, "data", (n) => n === data1 + 8);

    // Restored from the file: the variable and the disk's allocation as they were at the save.
    await page.setInputFiles("#state-file", {
      name: "mine.x86vm",
      mimeType: "application/octet-stream",
      buffer: state,
    });
    await waitFor(
      page,
      "the restore's notice",
      () => page.locator("#notice").textContent(),
      (s) => (s ?? "").includes("restored from mine.x86vm"),
      30_000,
    );
    await untilFigure(page, "data", (n) => n === data1);
    await shell(page, "echo value=$X", "value=kept-42");
    expect(await page.evaluate(() => window.__x86lab.state())).toBe("running");

    // Not a saved VM, and a damaged one: refused with an error shown as an error; the guest goes on.
    const statusColor = await page.locator("#status").evaluate((e) => getComputedStyle(e).color);
    await page.setInputFiles("#state-file", {
      name: "photo.png",
      mimeType: "image/png",
      buffer: Buffer.from("\x89PNG\r\n\x1a\n this is no saved VM".repeat(10), "latin1"),
    });
    expect(await alertText(page)).toMatch(/state file photo\.png was not loaded.*not a saved VM: wrong magic/);
    expect(await page.locator("#error").evaluate((e) => getComputedStyle(e).color)).not.toBe(statusColor);
    await page.click("#error button");
    const damaged = Buffer.from(state);
    damaged[Math.floor(damaged.length / 2)]! ^= 0xff;
    await page.setInputFiles("#state-file", {
      name: "damaged.x86vm",
      mimeType: "application/octet-stream",
      buffer: damaged,
    });
    expect(await alertText(page)).toMatch(/damaged\.x86vm was not loaded.*(checksum mismatch|damaged)/);
    await shell(page, "echo still=$X", "still=kept-42");
    expect(await figure(page, "data")).toBe(data1);
    shots.push(await screenshot(page, "state-file-error-en"));

    // An uploaded qcow2 hard disk image: SeaBIOS boots the boot sector stored in its one data cluster.
    await page.selectOption("#upload-kind", "hda");
    await page.setInputFiles("#upload", {
      name: "boot.qcow2",
      mimeType: "application/octet-stream",
      buffer: bootQcow2(),
    });
    await page.click("#boot");
    await waitFor(
      page,
      "the qcow2 disk's boot sector",
      () => serialText(page),
      (s) => s.includes("x86lab-qcow2-ok"),
      60_000,
    );
    await page.click("#tab-disk");
    await untilFigure(page, "data", (n) => n === 1);
    expect(await figure(page, "unallocated")).toBe(63);
    expect(await page.locator("#disk-title").textContent()).toContain("boot.qcow2");

    expect(h.problems).toEqual([]);
    await page.close();
  }, 180_000);
});
