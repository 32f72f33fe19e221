// Vitest global setup for npm test: one folder per run in which the browser tests' harness
// builds web/ once (test/browser/harness.ts). Each browser test file used to run its own Vite
// build, about 15 s of a core each; the first harness to need the page builds it, the others
// wait for it. The folder goes away when the run ends, so a run never serves an older build.

import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    /** An empty folder for this run's build of web/ (test/browser/harness.ts fills it once). */
    webBuildDir: string;
  }
}

export default function setup(project: TestProject): () => void {
  const build = join(fileURLToPath(new URL("../../", import.meta.url)), "build");
  mkdirSync(build, { recursive: true });
  const dir = mkdtempSync(join(build, "web-test-run-"));
  project.provide("webBuildDir", dir);
  return () => rmSync(dir, { recursive: true, force: true });
}
