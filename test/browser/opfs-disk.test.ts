// A disk kept in the browser's origin private file system (web/src/opfs-disk.ts), in Chromium:
// the tiny Linux boots with /dev/vda backed by an OPFS file the Worker makes from the blank image
// (read and written through a sync access handle, in place), writes a line to a sector, and after
// the page is reloaded (a new Worker, a new VM) reads the same line back from the disk.

import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness, waitFor } from "./harness.js";

describe("a disk kept in OPFS, in Chromium", () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness();
  });

  afterAll(async () => {
    await h?.close();
  });

  const serial = (page: Page) => page.evaluate(() => window.__x86lab.serialText());
  const prompt = (page: Page) =>
    waitFor(
      page,
      "the shell prompt",
      () => serial(page),
      (s) => s.includes("~ # "),
      90_000,
    );
  /** Types a shell command and returns what it printed before `marker` (computed by the shell, so the echoed command does not match). */
  const run = async (page: Page, command: string, marker: string) => {
    const from = (await serial(page)).length;
    await page.click("#terminal");
    await page.keyboard.type(command);
    await page.keyboard.press("Enter");
    const out = await waitFor(
      page,
      `'${command}' to print ${marker}`,
      async () => (await serial(page)).slice(from),
      (s) => s.includes(`\n${marker}`),
      30_000,
    );
    return out.slice(0, out.indexOf(`\n${marker}`));
  };

  it("boots from an OPFS-backed disk, writes, and finds the data after a reload", async () => {
    const page = await h.newPage();
    await page.goto(`${h.url}?guest=linux-opfs&mode=native&lang=en`);
    await prompt(page);
    // A fresh browser profile: the disk is the blank image (sector 2048 starts with 2048 & 0xff = 0).
    const before = await run(
      page,
      "dd if=/dev/vda bs=512 skip=2048 count=1 2>/dev/null | od -An -tx1 -N16; echo r-$((2+2))",
      "r-4",
    );
    expect(before).toMatch(/00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00/);
    await run(
      page,
      "echo x86lab-opfs-$((6*7)) | dd of=/dev/vda bs=512 seek=2048 conv=fsync 2>/dev/null; echo w-$((1+1))",
      "w-2",
    );
    await page.reload();
    await prompt(page);
    const after = await run(
      page,
      "dd if=/dev/vda bs=512 skip=2048 count=1 2>/dev/null | head -c 15; echo; echo r-$((3+3))",
      "r-6",
    );
    expect(after).toContain("x86lab-opfs-42");
    // The file is there for the page too, at the disk's size.
    const size = await page.evaluate(async () => {
      const dir = await navigator.storage.getDirectory();
      return (await (await dir.getFileHandle("x86lab-virtio-blk-64M.img")).getFile()).size;
    });
    expect(size).toBe(64 << 20);
    expect(h.problems).toEqual([]);
  }, 240_000);
});
