// The lab in a real browser (Chromium through playwright-core, at 1024x768). One full guest boot
// (the tiny Linux: shell, uname, the VGA panel, measure-this, pause and resume); everything else
// runs the short lab kernels (and, for the labs that need it, the tiny Linux doing one job): every
// guided lab to its automatic checks, the trace, costs and glossary views, an uploaded kernel, a
// kept medium, an error shown as an error, the language switch, settings surviving a reload,
// keyboard navigation and an axe-core scan. Screenshots of each view go to
// build/screenshots/.

import { readFileSync } from "node:fs";
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import {
  bootSector,
  ROOT,
  screenshot,
  serialText as serial,
  seriousViolations,
  openTab as tab,
  untilSerial,
  useHarness,
  waitFor,
} from "./harness.js";

/** Waits until the machine's run has stopped (the lab kernels end by themselves). */
function untilStopped(page: Page, what: string, ms: number): Promise<unknown> {
  return waitFor(
    page,
    what,
    () => page.evaluate(() => window.__x86lab.state()),
    (s) => s === "stopped",
    ms,
  );
}

/** A 1 MiB disk image whose boot sector prints a line on COM1 and ends the run. */
function bootDisk(): Buffer {
  const img = Buffer.alloc(1 << 20);
  img.set(bootSector("x86lab-disk-ok"), 0);
  return img;
}

describe("the lab (web/) in Chromium", () => {
  const h = useHarness();
  const { shots } = h;
  const terminal = (page: Page) => page.evaluate(() => window.__x86lab.screenText());
  const state = (page: Page) => page.evaluate(() => window.__x86lab.state());

  it("boots the tiny Linux, answers uname, draws on the VGA panel and measures one command", async () => {
    const page = await h.newPage();
    await page.goto(h.url);
    const t0 = Date.now();
    await waitFor(
      page,
      "the shell prompt",
      () => terminal(page),
      (s) => /(^|\n)~ #/.test(s),
      60_000,
    );
    const bootMs = Date.now() - t0;
    // Nothing drawn on the VGA yet (printk goes to ttyS0): the panel is not shown at all.
    expect(await page.locator("#vga").count()).toBe(0);

    await page.click("#terminal");
    await page.keyboard.type("uname -a");
    await page.keyboard.press("Enter");
    const answerAfterEcho = (s: string) => {
      const echo = s.lastIndexOf("uname -a\n");
      return echo < 0 ? undefined : /^Linux \S+ .*$/m.exec(s.slice(echo + "uname -a\n".length))?.[0];
    };
    const screen = await waitFor(
      page,
      "uname's answer",
      () => terminal(page),
      (s) => !!answerAfterEcho(s),
      20_000,
    );
    expect(answerAfterEcho(screen)).toMatch(/^Linux .* i686/);

    // The VGA panel appears once the guest draws on it; the marker is computed by the shell, so
    // only output that went through the VGA can satisfy the check.
    const marker = "x86lab-vga-42";
    await page.keyboard.type("echo x86lab-vga-$((6*7)) > /dev/tty0");
    await page.keyboard.press("Enter");
    const vga = await waitFor(
      page,
      "the marker on the VGA panel",
      () => page.evaluate(() => window.__x86lab.vgaText()),
      (s) => s.includes(marker),
      20_000,
    );
    const rows = vga.split("\n");
    expect(rows).toHaveLength(25);
    expect(rows.indexOf(marker)).toBeGreaterThanOrEqual(0);
    shots.push(await screenshot(page, "linux-crossings-en"));

    // The VGA screen takes keyboard input: a reader on tty1 (the VT the VGA shows) gets a line
    // typed on the screen through the PS/2 keyboard and reports it on the serial console.
    // The reader opens tty1 before it says so: keys typed after that wait in the tty's buffer,
    // however long the guest takes to reach read() (no race with the guest's speed).
    await page.click("#terminal");
    await page.keyboard.type(
      "(exec 3< /dev/tty1; echo kbd-ready-$((3*3)) > /dev/ttyS0; read line <&3; echo kbd-got-$line > /dev/ttyS0) &",
    );
    await page.keyboard.press("Enter");
    await untilSerial(page, "the keyboard reader", "kbd-ready-9", 20_000);
    await page.click(".vga-input");
    await page.keyboard.type("hello9");
    await page.keyboard.press("Enter");
    await untilSerial(page, "the keyboard line on COM1", "kbd-got-hello9", 20_000);

    // Measure this: only what happened between start and stop.
    const totalBefore = await page.evaluate(() => window.__x86lab.counters().reduce((a, r) => a + r.core + r.host, 0));
    await page.click("#measure");
    await page.click("#terminal");
    await page.keyboard.type("ls /proc > /dev/null; echo measured-$((2+3))");
    await page.keyboard.press("Enter");
    await waitFor(
      page,
      "the command's output",
      () => terminal(page),
      (s) => s.includes("measured-5"),
      20_000,
    );
    await page.click("#measure");
    const measured = await waitFor(
      page,
      "the measurement",
      () =>
        page
          .locator("#measured")
          .textContent({ timeout: 100 })
          .catch(() => ""),
      (s) => (s ?? "").length > 0,
      10_000,
    );
    const insns = Number(/([\d,]+) guest instructions/.exec(measured ?? "")?.[1]?.replace(/,/g, ""));
    expect(insns).toBeGreaterThan(0);
    // The command walked page tables: the measured counts are there, and smaller than the totals.
    const measuredRefs = await page.locator("#measured tr[data-counter='walkRef:0'] td.num").first().textContent();
    const refs = Number((measuredRefs ?? "").replace(/,/g, ""));
    expect(refs).toBeGreaterThan(0);
    const totalAfter = await page.evaluate(() => window.__x86lab.counters().reduce((a, r) => a + r.core + r.host, 0));
    expect(refs).toBeLessThan(totalAfter);
    expect(totalAfter).toBeGreaterThan(totalBefore);

    // Measure one command: the lab types it and stops at the prompt, with no click in between.
    await page.fill("#measure-command", "cat /proc/uptime");
    await page.click("#measure-run");
    const byCommand = await waitFor(
      page,
      "the command's measurement",
      () =>
        page
          .locator("#measured")
          .textContent({ timeout: 100 })
          .catch(() => ""),
      (s) => !!s && s !== measured,
      20_000,
    );
    expect(byCommand).toMatch(/[\d,]+ guest instructions/);
    expect(await page.locator("#measure").textContent()).toBe("Start measuring");
    expect(await terminal(page)).toMatch(/cat \/proc\/uptime\n[\d.]+ [\d.]+/);

    // Pause stops the guest's clock; resume goes on.
    await page.click("#pause");
    const frozen = await waitFor(
      page,
      "the paused status",
      () => page.evaluate(() => window.__x86lab.status()),
      (s) => s.startsWith("paused"),
      5_000,
    );
    await page.waitForTimeout(600);
    expect(await page.evaluate(() => window.__x86lab.status())).toBe(frozen);
    await page.click("#resume");
    await waitFor(
      page,
      "running again",
      () => state(page),
      (s) => s === "running",
      5_000,
    );
    expect(h.problems).toEqual([]);
    console.log(`browser: shell prompt ${(bootMs / 1000).toFixed(1)} s after load; measured ${insns} instructions`);
    await page.close();
  }, 150_000);

  /** Runs every step of a lab: predicts the step's answer, runs it, waits for its checks. */
  async function runLab(page: Page, labId: string): Promise<string[]> {
    await tab(page, "labs");
    await page.selectOption("#lab", labId);
    const steps = page.locator(`article[data-lab='${labId}'] .lab-step`);
    const n = await steps.count();
    const results: string[] = [];
    for (let i = 0; i < n; i++) {
      const step = steps.nth(i);
      const id = await step.getAttribute("data-step");
      // Predict the first choice (the test does not know the answer; the page says whether it was right).
      await step.locator("input[type=radio]").first().check();
      await step.locator("button.run-step").click();
      // Watching another view while the step runs loses neither the prediction nor the result.
      await tab(page, "crossings");
      await tab(page, "labs");
      // A lab kernel ends in a second or two; the tiny Linux doing one job boots first (tens of seconds).
      await step.locator(".results").waitFor({ timeout: 240_000 });
      expect(await step.locator("input[type=radio]").first().isChecked()).toBe(true);
      const items = await step
        .locator(".results li")
        .evaluateAll((lis) => lis.map((li) => `${li.getAttribute("data-pass")} ${li.textContent}`));
      results.push(...items.map((s) => `${id}: ${s}`));
    }
    return results;
  }

  it("runs every guided lab to its automatic checks, and shows trace, costs and glossary", async () => {
    const page = await h.newPage();
    await page.goto(`${h.url}?guest=sensitive&mode=native`);
    await untilStopped(page, "the lab kernel to end", 20_000);

    // Every lab the page offers, every step to its automatic check.
    await tab(page, "labs");
    const labIds = await page.locator("#lab option").evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
    expect(labIds).toEqual(expect.arrayContaining(["popek-goldberg", "shadow-vs-ept"]));
    // shadow-vs-ept last: the trace check below reads its final step's crossings.
    // The thin-provisioning and live-migration labs run in migrate.test.ts (with their own checks).
    const own = ["shadow-vs-ept", "thin-provisioning", "live-migration"];
    const order = [...labIds.filter((id) => !own.includes(id)), "shadow-vs-ept"];
    for (const id of order) {
      const results = await runLab(page, id);
      expect(results.length, id).toBeGreaterThanOrEqual(3);
      expect(
        results.filter((r) => !r.includes(": true ")),
        results.join("\n"),
      ).toEqual([]);
      if (id === "popek-goldberg") {
        // The trap step's own output: most probes are violations there, none under bt or hvm.
        const trap = await page.locator("[data-step='trap'] .results").textContent();
        expect(trap).toMatch(/observed 1[1-9]|observed [2-9]\d/);
      }
      shots.push(await screenshot(page, `lab-${id}-en`));
    }

    // The last step ran nanobench under hvm with EPT: the trace shows its port I/O exits, decoded.
    await tab(page, "trace");
    const trace = await page.locator("#trace tbody").textContent();
    expect(trace).toContain("I/O instruction");
    expect(trace).toMatch(/out port 0x03f8, 1 byte/);
    await page.fill("#trace-filter", "0x00f4");
    const filtered = await page.locator("#trace tbody tr").allTextContents();
    expect(filtered.length).toBeGreaterThan(0);
    for (const row of filtered) expect(row).toContain("0x00f4");
    shots.push(await screenshot(page, "trace-en"));

    await tab(page, "costs");
    expect(await page.locator("#measured-time").textContent()).toMatch(/Host time running the guest[\d,.]+ ms/);
    const modeled = await page.locator("#modeled tbody tr").allTextContents();
    expect(modeled.length).toBeGreaterThanOrEqual(2);
    expect(modeled.join("\n")).toMatch(/pentium4-2006.*[1-9]/);
    // The JIT's figures beside the mode's structures (the JIT is on by default).
    expect(await page.locator("#jit-stats").textContent()).toMatch(/[\d,]+ blocks compiled to WebAssembly/);
    shots.push(await screenshot(page, "costs-en"));

    // The page-walk view of an address nanobench maps: the 2-D walk, 14 references.
    await tab(page, "walk");
    await page.fill("#walk-address", "00101234");
    await page.click("#walk-go");
    const walk = await waitFor(
      page,
      "the page-walk view",
      () =>
        page
          .locator("#walk")
          .textContent({ timeout: 100 })
          .catch(() => ""),
      (x) => (x ?? "").includes("memory references"),
      10_000,
    );
    expect(walk).toContain(
      "Linear 0x00101234 → guest-physical 0x00101234; a TLB fill of it makes 14 memory references.",
    );
    expect(walk).toContain("EPT walk for the PTE at guest-physical");
    shots.push(await screenshot(page, "walk-en"));

    await tab(page, "glossary");
    await page.fill("#glossary-filter", "EPT violation");
    const gl = await page.locator("#glossary").textContent();
    expect(gl).toContain("Appendix C");
    shots.push(await screenshot(page, "glossary-en"));
    expect(h.problems).toEqual([]);
    await page.close();
  }, 900_000);

  it("runs the VM with no view at all in bare.html (bench:web's baseline)", async () => {
    const page = await h.newPage();
    await page.goto(`${h.url}bare.html?guest=sensitive&mode=bt`);
    await untilStopped(page, "the lab kernel in bare.html", 20_000);
    expect(await serial(page)).toMatch(/violations 0/);
    expect(h.problems).toEqual([]);
    await page.close();
  }, 30_000);

  it("saves the running Linux in the browser and restores it into a fresh boot, where it continues", async () => {
    const page = await h.newPage();
    await page.goto(h.url);
    const prompt = (from: number) => (s: string) => /(^|\n)~ # $/.test(s.slice(from).trimEnd() + " ");
    await waitFor(page, "the shell prompt", () => terminal(page), prompt(0), 60_000);
    await page.click("#terminal");
    // Shell state that only the saved machine has: a variable set before the save.
    await page.keyboard.type("X=kept-$((6*7))");
    await page.keyboard.press("Enter");
    await waitFor(
      page,
      "the prompt after X=",
      () => serial(page),
      (s) => s.indexOf("~ #", s.indexOf("X=kept-")) > 0,
      20_000,
    );
    await page.click("#save-state");
    await page.waitForSelector("#restore-state:not([disabled])", { timeout: 30_000 });
    // A reload is a fresh Worker and a fresh boot of the same guest: it has no X.
    await page.reload();
    await waitFor(page, "the shell prompt after the reload", () => terminal(page), prompt(0), 60_000);
    await page.waitForSelector("#restore-state:not([disabled])", { timeout: 10_000 });
    await page.click("#restore-state");
    // The restore is done when the Worker answers; the guest then runs on from the saved point.
    await new Promise((r) => setTimeout(r, 1000));
    await page.click("#terminal");
    await page.keyboard.type("echo value=$X");
    await page.keyboard.press("Enter");
    const out = await waitFor(
      page,
      "the restored shell's answer",
      () => serial(page),
      (s) => s.includes("value=kept-42"),
      30_000,
    );
    expect(out).toContain("value=kept-42");
    expect(await state(page)).toBe("running");
    await page.close();
  });

  it("runs two modes side by side, each in its own Worker, and says where each paid", async () => {
    const page = await h.newPage();
    await page.goto(`${h.url}?guest=nanobench&mode=native`);
    await untilStopped(page, "the first run", 20_000);
    await tab(page, "compare");
    await page.uncheck("#compare-modes input[value='hvm-ept']");
    await page.click("#compare-run");
    const rows = page.locator("#compare-summary tbody tr");
    await waitFor(
      page,
      "both modes to end",
      () => rows.evaluateAll((trs) => trs.map((tr) => tr.children[1]?.textContent ?? "")),
      (st) => st.length === 2 && st.every((x) => x === "ended"),
      30_000,
    );
    expect(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-mode")))).toEqual([
      "native",
      "hvm-shadow",
    ]);
    const paid = await rows.evaluateAll((trs) => trs.map((tr) => Number(tr.getAttribute("data-paid"))));
    expect(paid[0]).toBe(0); // native: nothing crosses into a hypervisor
    expect(paid[1]).toBeGreaterThan(3000); // hvm with shadow paging: the #PF, INVLPG and I/O exits
    const hvmRow = await rows.nth(1).textContent();
    expect(hvmRow).toMatch(/exits [\d,]+/);
    expect(hvmRow).toMatch(/shadow faults [\d,]+/);
    expect(hvmRow).toMatch(/\d\.\d\d×/); // host time against native, measured
    shots.push(await screenshot(page, "compare-en"));
    expect(h.problems).toEqual([]);
    await page.close();
  }, 60_000);

  it("boots an uploaded kernel and a generated disk image, and shows a bad kernel as an error", async () => {
    const page = await h.newPage();
    await page.goto(`${h.url}?guest=sensitive&mode=native`);
    await untilStopped(page, "the first run", 20_000);
    const elf = readFileSync(`${ROOT}guests/labs/sensitive/sensitive.elf`);
    await page.setInputFiles("#upload", { name: "my-kernel.elf", mimeType: "application/octet-stream", buffer: elf });
    await page.selectOption("#mode", "bt");
    await page.click("#boot");
    await untilSerial(page, "the uploaded kernel's run", "sensitive done", 20_000);
    expect(await serial(page)).toMatch(/violations 0/);
    const runningColor = await page.locator("#status").evaluate((e) => getComputedStyle(e).color);

    // A generated disk image: SeaBIOS boots its boot sector, which prints on COM1 and ends the run.
    await page.selectOption("#upload-kind", "hda");
    await page.setInputFiles("#upload", {
      name: "generated.img",
      mimeType: "application/octet-stream",
      buffer: bootDisk(),
    });
    await page.selectOption("#mode", "native");
    await page.click("#boot");
    await untilSerial(page, "the disk's boot sector", "x86lab-disk-ok", 60_000);
    await untilStopped(page, "the disk's run to end", 10_000);
    // SeaBIOS drew on the VGA, so the screen is shown.
    expect(await page.evaluate(() => window.__x86lab.vgaText())).toMatch(/SeaBIOS|Booting from Hard Disk/);
    shots.push(await screenshot(page, "upload-disk-en"));

    // Kept in this browser (IndexedDB): listed among the guests after a reload, boots again, can be forgotten.
    await page.click("#keep-medium");
    await page.locator("#forget-medium").waitFor({ timeout: 10_000 });
    await page.goto(`${h.url}?guest=sensitive&mode=native`);
    await untilStopped(page, "the run after the reload", 20_000);
    const keptValue = "kept:hda:generated.img";
    await page.locator(`#guest option[value='${keptValue}']`).waitFor({ state: "attached", timeout: 10_000 });
    await page.selectOption("#guest", keptValue);
    await page.waitForFunction(() => (document.querySelector("#guest") as HTMLSelectElement).value === "upload");
    await page.click("#boot");
    await untilSerial(page, "the kept disk's boot sector", "x86lab-disk-ok", 60_000);
    shots.push(await screenshot(page, "kept-media-en"));
    // The chosen kept medium is itself remembered: a reload boots it again.
    await page.goto(h.url);
    await untilSerial(page, "the kept disk booted after a reload", "x86lab-disk-ok", 60_000);
    expect(await page.locator("#guest").inputValue()).toBe("upload");
    await page.click("#forget-medium");
    await page.locator("#keep-medium").waitFor({ timeout: 10_000 });
    expect(await page.locator(`#guest option[value='${keptValue}']`).count()).toBe(0);

    // A file that is no kernel: a clear error, in the error style, and the page still works.
    await page.selectOption("#upload-kind", "kernel");
    const junk = Buffer.from("this is not a kernel\n".repeat(100));
    await page.setInputFiles("#upload", { name: "junk.bin", mimeType: "application/octet-stream", buffer: junk });
    await page.click("#boot");
    const alert = page.locator("#error[role=alert]");
    await alert.waitFor({ timeout: 10_000 });
    expect(await alert.textContent()).toMatch(/Error: .*[Mm]ultiboot/);
    const errorColor = await alert.evaluate((e) => getComputedStyle(e).color);
    expect(errorColor).not.toBe(runningColor);
    shots.push(await screenshot(page, "upload-error-en"));
    h.problems.length = 0; // the Worker's failed boot is reported by the page, not a page error
    await page.close();
  }, 180_000);

  it("switches every visible string to Korean and back, and remembers the choice", async () => {
    const page = await h.newPage();
    await page.goto(`${h.url}?guest=nanobench&mode=hvm&mmu=shadow`);
    await untilStopped(page, "nanobench's run", 20_000);
    const chrome = () =>
      page.evaluate(() => {
        const own = (e: Element) =>
          Array.from(e.childNodes)
            .filter((n) => n.nodeType === Node.TEXT_NODE)
            .map((n) => n.textContent ?? "")
            .join("")
            .trim();
        const sel = "h1, h2, h3, h4, h5, label, legend, caption, thead th, [role=tab], button:not(.term), p, dt, .note";
        return Array.from(document.querySelectorAll(sel)).map((e) => ({ id: e.id || e.tagName, text: own(e) }));
      });
    const seen: Record<string, string[]> = {};
    for (const name of ["crossings", "trace", "costs", "walk", "disk", "migrate", "compare", "labs", "glossary"]) {
      await tab(page, name);
      const en = await chrome();
      await page.selectOption("#lang", "ko");
      await page.waitForFunction(() => document.documentElement.lang === "ko");
      const ko = await chrome();
      expect(ko.length, name).toBe(en.length);
      const unchanged = en.filter((e, i) => e.text === ko[i]!.text && /[a-z]{3}/.test(e.text)).map((e) => e.text);
      seen[name] = unchanged;
      if (name === "labs") shots.push(await screenshot(page, "labs-ko"));
      await page.selectOption("#lang", "en");
      await page.waitForFunction(() => document.documentElement.lang === "en");
    }
    expect(seen).toEqual({
      crossings: [],
      trace: [],
      costs: [],
      walk: [],
      disk: [],
      migrate: [],
      compare: [],
      labs: [],
      glossary: [],
    });

    // The choice, the guest, the JIT setting and the tab survive a reload.
    await page.selectOption("#jit", "off");
    await page.selectOption("#lang", "ko");
    await tab(page, "costs");
    await page.goto(h.url);
    await page.waitForFunction(() => document.documentElement.lang === "ko");
    expect(await page.locator("h1").textContent()).toBe("x86 하이퍼바이저 실습실");
    expect(await page.locator("#guest").inputValue()).toBe("nanobench");
    expect(await page.locator("#mmu").inputValue()).toBe("shadow");
    expect(await page.locator("#tab-costs").getAttribute("aria-selected")).toBe("true");
    expect(await page.locator("#jit").inputValue()).toBe("off");
    await untilStopped(page, "nanobench without the JIT", 30_000);
    expect(await page.locator("#jit-stats").textContent()).toContain("JIT 꺼짐");
    shots.push(await screenshot(page, "costs-ko"));
    await page.close();
  }, 90_000);

  it("is keyboard navigable, fits 1024x768, and passes an axe-core scan", async () => {
    const page = await h.newPage();
    await page.goto(`${h.url}?guest=sensitive&mode=trap&lang=en`);
    await untilStopped(page, "the lab kernel to end", 20_000);
    // The first Tab reaches the skip link; the tab list moves with the arrow keys.
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.className)).toBe("skip");
    await page.focus("#tab-crossings");
    await page.keyboard.press("ArrowRight");
    await page.waitForFunction(() => document.activeElement?.id === "tab-trace");
    expect(await page.locator("#tab-trace").getAttribute("aria-selected")).toBe("true");
    await page.keyboard.press("End");
    await page.waitForFunction(() => document.activeElement?.id === "tab-glossary");

    // No horizontal scrolling at 1024x768.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);

    const serious: string[] = [];
    for (const name of ["crossings", "trace", "costs", "walk", "disk", "migrate", "compare", "labs", "glossary"]) {
      await tab(page, name);
      serious.push(...(await seriousViolations(page)).map((v) => `${name}: ${v}`));
    }
    expect(serious).toEqual([]);
    expect(h.problems).toEqual([]);
    await page.close();
  }, 90_000);
});
