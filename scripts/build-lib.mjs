// Builds the library for the package (npm pack runs it as prepack): TypeScript to dist/ with
// declarations (tsconfig.lib.json), and the files the Node entry loads at run time beside it
// (dist/build/core.wasm, dist/guests/linux/), where the compiled code looks for them.
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");
rmSync(dist, { recursive: true, force: true });
if (!existsSync(join(root, "build/core.wasm")))
  throw new Error('build/core.wasm is missing: run "npm run build" first');
execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", join(root, "tsconfig.lib.json")], {
  stdio: "inherit",
});
// The JIT decoder imports the instruction table, plain JavaScript that tsc does not copy.
for (const f of [
  "build/core.wasm",
  "guests/linux/bzImage",
  "guests/linux/initramfs.cpio.gz",
  "core/isa/table.mjs",
  "core/isa/x87.mjs",
]) {
  mkdirSync(dirname(join(dist, f)), { recursive: true });
  copyFileSync(join(root, f), join(dist, f));
}
console.log("dist/: the library, core.wasm and the tiny Linux");
