// Where the conformance data lives: vendored in test/conformance/data (public-domain
// SingleStepTests captures; provenance in its README), or else a `shared/conformance` directory
// found by walking up from the repository root (never a hard-coded absolute path).

import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (two levels above this file). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** The vendored copy in the repository. */
export const VENDORED_CONFORMANCE = join(REPO_ROOT, "test", "conformance", "data");

/**
 * The conformance data: the vendored copy when `start` is the repository, else the first
 * `shared/conformance` directory at or above `start`, or null.
 */
export function findSharedConformance(start = REPO_ROOT): string | null {
  if (resolve(start) === REPO_ROOT && existsSync(VENDORED_CONFORMANCE)) return VENDORED_CONFORMANCE;
  let dir = resolve(start);
  for (;;) {
    const candidate = join(dir, "shared", "conformance");
    if (existsSync(candidate) && statSync(candidate).isDirectory()) return candidate;
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

const DATA_FILE = /\.(moo|moo\.gz|json|json\.gz)$/i;

/** Whether a file name is one the runner reads (metadata.json is the SST side table, not tests). */
export function isDataFile(name: string): boolean {
  return DATA_FILE.test(name) && name.toLowerCase() !== "metadata.json" && !name.toLowerCase().endsWith(".meta.json");
}

/** Expands files and directories (recursively) into the sorted list of data files they hold. */
export function collectFiles(paths: string[]): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    const st = statSync(p);
    if (st.isDirectory()) {
      for (const name of readdirSync(p).sort()) {
        const child = join(p, name);
        if (statSync(child).isDirectory()) walk(child);
        else if (isDataFile(name)) out.push(child);
      }
    } else {
      out.push(p);
    }
  };
  for (const p of paths) walk(resolve(p));
  return out;
}
