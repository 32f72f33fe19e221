// Install friction (issue 14): npm 11 blocks dependencies' install scripts and warns about every
// one package.json's allowScripts does not decide. Each package of the lock file with an install
// script has a decision there, so a fresh `npm install` prints no such warning; a new dependency
// with a script fails here until someone reviews it.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const ROOT = new URL("../../", import.meta.url);
const json = (name: string) => JSON.parse(readFileSync(new URL(name, ROOT), "utf8"));

describe("npm install", () => {
  it("every dependency with an install script is decided in allowScripts", () => {
    const pkg = json("package.json") as { allowScripts?: Record<string, boolean> };
    const lock = json("package-lock.json") as { packages: Record<string, { hasInstallScript?: boolean }> };
    const withScripts = Object.entries(lock.packages)
      .filter(([path, p]) => path !== "" && p.hasInstallScript)
      .map(([path]) => path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length));
    expect(withScripts.length).toBeGreaterThan(0);
    for (const name of withScripts) expect(pkg.allowScripts ?? {}, name).toHaveProperty([name]);
  });
});
