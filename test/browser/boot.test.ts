// The page in a real browser: builds web/ with Vite into a temporary folder under build/,
// serves it on 127.0.0.1, and drives Debian's Chromium through playwright-core. The tiny Linux
// boots in the page's Worker to a shell prompt; the test types `uname -a` into the xterm.js
// terminal and reads the answer back from the terminal buffer (window.__x86lab.screenText()).

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

  /** Waits until the terminal's text passes `test`; on timeout, fails showing the screen. */
  async function waitForScreen(what: string, test: (text: string) => boolean, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let text = "";
    while (Date.now() < deadline) {
      text = await page.evaluate(() => window.__x86lab?.screenText() ?? "");
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
    console.log(
      `browser: shell prompt ${(bootMs / 1000).toFixed(1)} s after load, uname answered in ${typedMs} ms; ${status}`,
    );
  }, 120_000);
});
