// The page in a real browser: builds web/ with Vite into a temporary folder under build/,
// serves it on 127.0.0.1, and drives Debian's Chromium through playwright-core. The tiny Linux
// boots in the page's Worker to a shell prompt; the test types `uname -a` into the xterm.js
// terminal and reads the answer back from the terminal buffer (window.__x86lab.screenText()).
// Then it writes a line to /dev/tty0 (the kernel's VGA console) through the serial shell and
// reads it back from the page's VGA panel (window.__x86lab.vgaText(), the panel's own text).

import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const MIME: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".wasm": "application/wasm",
  ".json": "application/json",
  ".svg": "image/svg+xml",
};

/** A static file server for `dir` on an ephemeral loopback port. */
function serve(dir: string): Promise<Server> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    let file = normalize(join(dir, path));
    if (!file.startsWith(dir + sep) && file !== dir) {
      res.writeHead(403).end();
      return;
    }
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, "index.html");
    if (!existsSync(file)) {
      res.writeHead(404).end("not found");
      return;
    }
    res.writeHead(200, { "Content-Type": MIME[extname(file)] ?? "application/octet-stream" });
    res.end(readFileSync(file));
  });
  return new Promise((ok) => server.listen(0, "127.0.0.1", () => ok(server)));
}

describe("the page (web/) in Chromium", () => {
  let outDir = "";
  let server: Server | undefined;
  let browser: Browser | undefined;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `Chromium is not installed (${CHROMIUM}): the browser test needs Debian's chromium. ` +
          "Install it with: sudo apt-get update && sudo apt-get install -y chromium " +
          "(or set CHROMIUM to a Chromium binary). .ci/run installs it in CI.",
      );
    }
    outDir = mkdtempSync(join(ROOT, "build", "web-test-"));
    execFileSync(
      process.execPath,
      [join(ROOT, "node_modules/vite/bin/vite.js"), "build", "--config", "web/vite.config.ts", "--outDir", outDir],
      { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, NO_COLOR: "1" } },
    );
    server = await serve(resolve(outDir));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS, timeout: 30_000 });
    page = await browser.newPage();
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`console: ${m.text()}`);
    });
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((ok) => (server ? server.close(ok) : ok(undefined)));
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  /** Waits until the terminal's (or VGA panel's) text passes `test`; on timeout, fails showing it. */
  async function waitForScreen(
    what: string,
    test: (text: string) => boolean,
    timeoutMs: number,
    screen: "serial" | "vga" = "serial",
  ): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let text = "";
    while (Date.now() < deadline) {
      text = await page.evaluate(
        (which) => (which === "vga" ? window.__x86lab?.vgaText() : window.__x86lab?.screenText()) ?? "",
        screen,
      );
      if (test(text)) return text;
      await new Promise((r) => setTimeout(r, 100));
    }
    const status = await page.evaluate(() => window.__x86lab?.status() ?? "(no hook)");
    throw new Error(
      `timed out waiting for ${what}\nstatus: ${status}\n${problems.join("\n")}\n--- screen ---\n${text.slice(-3000)}`,
    );
  }

  it("boots the tiny Linux to a shell and answers uname -a", async () => {
    const { port } = server!.address() as AddressInfo;
    await page.goto(`http://127.0.0.1:${port}/`);
    const t0 = Date.now();
    await waitForScreen("the shell prompt", (s) => /(^|\n)~ #/.test(s), 60_000);
    const bootMs = Date.now() - t0;

    await page.click("#terminal");
    await page.keyboard.type("uname -a");
    await page.keyboard.press("Enter");
    // Kernel messages may interleave with the prompt and the echo, so look for the echoed
    // command on a line of its own or after the prompt, then uname's answer on a later line.
    const answerAfterEcho = (s: string) => {
      const echo = s.lastIndexOf("uname -a\n");
      return echo < 0 ? undefined : /^Linux \S+ .*$/m.exec(s.slice(echo + "uname -a\n".length))?.[0];
    };
    await waitForScreen("uname's answer", (s) => answerAfterEcho(s) !== undefined, 20_000);
    const typedMs = Date.now() - t0 - bootMs;
    const answer = answerAfterEcho(await page.evaluate(() => window.__x86lab.screenText()))!;
    expect(answer).toMatch(/^Linux .* i686/);
    expect(problems).toEqual([]);
    const status = await page.evaluate(() => window.__x86lab.status());
    expect(status).toMatch(/instructions retired/);

    // The VGA panel: the kernel's VGA console (vgacon, on tty0) has drawn nothing yet, since
    // printk goes to ttyS0 only. The marker is computed by the shell, so the command's serial echo
    // cannot satisfy the check: only output that went through the VGA to the panel can.
    const marker = "x86lab-vga-42";
    expect(await page.evaluate(() => window.__x86lab.vgaText())).not.toContain(marker);
    const t1 = Date.now();
    await page.keyboard.type("echo x86lab-vga-$((6*7)) > /dev/tty0");
    await page.keyboard.press("Enter");
    const vga = await waitForScreen("the marker on the VGA panel", (s) => s.includes(marker), 20_000, "vga");
    const vgaMs = Date.now() - t1;
    const rows = vga.split("\n");
    expect(rows).toHaveLength(25);
    expect(rows.indexOf(marker)).toBeGreaterThanOrEqual(0);
    // The cursor is drawn at the start of the row after the marker (the tty turned "\n" into CR LF).
    const cursor = await page.evaluate(() => {
      const pre = document.getElementById("vga")!;
      const cells = pre.querySelectorAll(".vga-cursor");
      if (cells.length !== 1) return { count: cells.length, row: -1, col: -1 };
      const range = document.createRange();
      range.setStart(pre, 0);
      range.setEndBefore(cells[0]!);
      const before = range.toString();
      return { count: 1, row: before.split("\n").length - 1, col: before.length - before.lastIndexOf("\n") - 1 };
    });
    expect(cursor).toEqual({ count: 1, row: rows.indexOf(marker) + 1, col: 0 });
    expect(problems).toEqual([]);
    console.log(
      `browser: shell prompt ${(bootMs / 1000).toFixed(1)} s after load, uname answered in ${typedMs} ms, ` +
        `VGA panel showed the marker ${vgaMs} ms after typing; ${status}`,
    );
    // Under the native mode nothing crosses into a hypervisor: the panel counts only the page
    // walks' references to the guest's own tables.
    const nativeStats = await page.evaluate(() => window.__x86lab.statsText());
    expect(nativeStats).toContain("walkRef0 guest page-table reference");
    expect(nativeStats).not.toMatch(/exit\d|callout\d|hypercall\d/);
  }, 120_000);

  it("boots under hvm with shadow paging and shows the VM exits it took", async () => {
    const { port } = server!.address() as AddressInfo;
    await page.goto(`http://127.0.0.1:${port}/?mode=hvm&mmu=shadow`);
    await waitForScreen("the shell prompt", (s) => /(^|\n)~ #/.test(s), 60_000);
    // The panel refreshes with the status line; wait for a refresh after the prompt.
    const deadline = Date.now() + 10_000;
    let stats = "";
    while (Date.now() < deadline) {
      stats = await page.evaluate(() => window.__x86lab.statsText());
      if (stats.includes("I/O instruction") && stats.includes("Exception or NMI")) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(stats).toContain("exit30 I/O instruction"); // port I/O exits (the serial console)
    expect(stats).toContain("exit0 Exception or NMI"); // #PF exits of the shadow MMU
    expect(stats).toContain("mode hvm, memory shadow");
    expect(stats).toMatch(/pentium4-2006 [\d,]+/);
    expect(await page.evaluate(() => document.querySelector("#modes a.current")?.textContent)).toBe("hvm, shadow");
    expect(problems).toEqual([]);
  }, 120_000);
});
