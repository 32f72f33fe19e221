// The browser tests' harness: builds web/ with Vite into a temporary folder under build/ (once per
// `npm test` run, shared by the files: test/setup/web-build.ts), serves it on 127.0.0.1, and
// launches Debian's Chromium through playwright-core. Screenshots go to build/screenshots/ (test
// artifacts, not committed).

import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { extname, join, normalize, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, inject } from "vitest";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const SCREENSHOTS = join(ROOT, "build", "screenshots");
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

export interface Harness {
  browser: Browser;
  url: string;
  /** Page errors and console errors seen so far, on every page opened with newPage(). */
  problems: string[];
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

/** Builds web/ with Vite into `outDir`. */
function buildWeb(outDir: string): void {
  execFileSync(
    process.execPath,
    [join(ROOT, "node_modules/vite/bin/vite.js"), "build", "--config", "web/vite.config.ts", "--outDir", outDir],
    { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, NO_COLOR: "1" } },
  );
}

/**
 * This run's build in `dir` (test/setup/web-build.ts): the first caller (of any test file)
 * builds it, the others wait for its "done" (or "failed") marker.
 */
async function sharedBuild(dir: string): Promise<string> {
  const out = join(dir, "web");
  const done = join(dir, "done");
  const failed = join(dir, "failed");
  try {
    mkdirSync(join(dir, "lock")); // atomic: exactly one file builds
  } catch {
    const start = Date.now();
    while (!existsSync(done)) {
      if (existsSync(failed)) throw new Error(`the shared build of web/ failed: ${readFileSync(failed, "utf8")}`);
      if (Date.now() - start > 300_000) throw new Error(`the shared build of web/ in ${dir} did not finish in 5 min`);
      await new Promise((ok) => setTimeout(ok, 200));
    }
    return out;
  }
  try {
    buildWeb(out);
  } catch (e) {
    writeFileSync(failed, String(e));
    throw e;
  }
  writeFileSync(done, "");
  return out;
}

export async function startHarness(): Promise<Harness> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not installed (${CHROMIUM}): the browser test needs Debian's chromium. ` +
        "Install it with: sudo apt-get update && sudo apt-get install -y chromium " +
        "(or set CHROMIUM to a Chromium binary). .ci/run installs it in CI.",
    );
  }
  const shared = inject("webBuildDir");
  let outDir: string;
  if (shared) outDir = await sharedBuild(shared);
  else {
    mkdirSync(join(ROOT, "build"), { recursive: true });
    outDir = mkdtempSync(join(ROOT, "build", "web-test-"));
    buildWeb(outDir);
  }
  const server = await serve(resolve(outDir));
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS, timeout: 30_000 });
  const { port } = server.address() as AddressInfo;
  const problems: string[] = [];
  return {
    browser,
    url: `http://127.0.0.1:${port}/`,
    problems,
    async newPage() {
      const page = await browser.newPage({ viewport: { width: 1024, height: 768 } });
      page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
      page.on("console", (m) => {
        if (m.type() === "error") problems.push(`console: ${m.text()}`);
      });
      return page;
    },
    async close() {
      await browser.close();
      await new Promise((ok) => server.close(ok));
      if (!shared) rmSync(outDir, { recursive: true, force: true });
    },
  };
}

/** Polls `read` in the page until `test` passes; on timeout fails showing the last value and the status. */
export async function waitFor<T>(
  page: Page,
  what: string,
  read: () => T | Promise<T>,
  test: (v: T) => boolean,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let v = await read();
  while (!test(v)) {
    if (Date.now() > deadline) {
      const status = await page.evaluate(() => window.__x86lab?.status() ?? "(no hook)");
      throw new Error(`timed out waiting for ${what}\nstatus: ${status}\nlast: ${String(v).slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
    v = await read();
  }
  return v;
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

/**
 * A 512-byte MBR boot sector (real mode, at 0x7C00) that writes `message` and CR LF to COM1 and
 * then 0 to isa-debug-exit (port 0xF4), which ends the run. Hand-assembled:
 *   cli; xor ax,ax; mov ds,ax; mov si,msg; mov dx,0x3f8
 *   next: lodsb; test al,al; jz done; out dx,al; jmp next
 *   done: xor al,al; out 0xf4,al; hlt; jmp $-1
 */
export function bootSector(message: string): Buffer {
  const code = [
    0xfa, 0x31, 0xc0, 0x8e, 0xd8, 0xbe, 0x1a, 0x7c, 0xba, 0xf8, 0x03, 0xac, 0x84, 0xc0, 0x74, 0x03, 0xee, 0xeb, 0xf8,
    0x30, 0xc0, 0xe6, 0xf4, 0xf4, 0xeb, 0xfd,
  ];
  const mbr = Buffer.alloc(512);
  mbr.set(code, 0);
  mbr.write(`${message}\r\n\0`, code.length, "latin1");
  mbr[510] = 0x55;
  mbr[511] = 0xaa;
  return mbr;
}

/**
 * The harness of a describe block: started before its tests and closed after them; the
 * screenshots pushed to `shots` are listed at the end. Its fields are read inside the tests.
 */
export function useHarness(): Harness & { shots: string[] } {
  let harness: Harness | undefined;
  const shots: string[] = [];
  beforeAll(async () => {
    harness = await startHarness();
  });
  afterAll(async () => {
    await harness?.close();
    if (shots.length) console.log(`screenshots: ${shots.join(", ")}`);
  });
  const started = () => {
    if (!harness) throw new Error("the browser harness has not started");
    return harness;
  };
  return {
    get browser() {
      return started().browser;
    },
    get url() {
      return started().url;
    },
    get problems() {
      return started().problems;
    },
    newPage: () => started().newPage(),
    close: () => started().close(),
    shots,
  };
}

/** Everything the guest printed on COM1 since the page's last boot. */
export const serialText = (page: Page) => page.evaluate(() => window.__x86lab.serialText());

/** Waits until COM1 has printed `text`. */
export const untilSerial = (page: Page, what: string, text: string, ms: number) =>
  waitFor(
    page,
    what,
    () => serialText(page),
    (s) => s.includes(text),
    ms,
  );

/** Types a shell command into the terminal and waits until COM1 prints `marker` at a line start after it. */
export async function shell(page: Page, command: string, marker: string, ms = 30_000): Promise<string> {
  const from = (await serialText(page)).length;
  await page.click("#terminal");
  await page.keyboard.type(command);
  await page.keyboard.press("Enter");
  return waitFor(
    page,
    `'${command}' to print ${marker}`,
    async () => (await serialText(page)).slice(from),
    (s) => s.includes(`\n${marker}`),
    ms,
  );
}

/** Selects one of the page's tabs and waits for its panel. */
export async function openTab(page: Page, name: string): Promise<void> {
  await page.click(`#tab-${name}`);
  await page.waitForSelector(`#panel-${name}`);
}

const require = createRequire(import.meta.url);

/**
 * An axe-core scan of the page (or of the element `selector` names): its serious and critical
 * violations as "id target, target" lines (an empty list is a pass).
 */
export async function seriousViolations(page: Page, selector?: string): Promise<string[]> {
  if (!(await page.evaluate(() => "axe" in window)))
    await page.addScriptTag({ path: require.resolve("axe-core/axe.min.js") });
  return page.evaluate(async (sel) => {
    // biome-ignore lint/suspicious/noExplicitAny: axe-core is injected as a global script
    const axe = (window as any).axe;
    const r = await axe.run(sel ? document.querySelector(sel) : document, { resultTypes: ["violations"] });
    return r.violations
      .filter((v: { impact: string }) => v.impact === "serious" || v.impact === "critical")
      .map(
        (v: { id: string; nodes: { target: string[] }[] }) =>
          `${v.id} ${v.nodes
            .slice(0, 3)
            .map((n) => n.target.join(" "))
            .join(", ")}`,
      );
  }, selector);
}
