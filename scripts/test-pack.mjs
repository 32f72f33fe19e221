// npm run test:pack: packs the package (npm pack, which builds dist/), installs the tarball in a
// fresh temporary directory with nothing else, and boots the tiny Linux there through the
// library to its shell and a command. Exit status 0 when the guest answered.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "x86lab-pack-"));
try {
  // The library is built here, and npm pack skips its scripts: prepare would rebuild core.wasm.
  execFileSync(process.execPath, [join(root, "scripts/build-lib.mjs")], { stdio: "inherit" });
  const out = execFileSync("npm", ["pack", "--ignore-scripts", "--pack-destination", work, "--json"], {
    cwd: root,
    encoding: "utf8",
  });
  const tarball = join(work, JSON.parse(out.slice(out.indexOf("[")))[0].filename);
  const app = join(work, "app");
  execFileSync("mkdir", ["-p", app]);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--offline", "--ignore-scripts", tarball], {
    cwd: app,
    stdio: "inherit",
  });
  writeFileSync(
    join(app, "boot.mjs"),
    `import { createVm } from "x86-hypervisor-lab";
const vm = await createVm();
let text = "";
vm.on("serial", (b) => {
  text += String.fromCharCode(b);
  if (text.endsWith("~ # ") && !text.includes("uname")) vm.sendSerial("uname -sm\\n");
  if (/Linux i686/.test(text)) vm.stop();
});
const timer = setTimeout(() => vm.stop(), 120000);
await vm.run();
clearTimeout(timer);
if (!/Linux i686/.test(text)) { console.error(text); process.exit(1); }
console.log("the packed library booted the tiny Linux: " + text.match(/Linux i686/)[0]);
`,
  );
  execFileSync(process.execPath, ["boot.mjs"], { cwd: app, stdio: "inherit" });
} finally {
  rmSync(work, { recursive: true, force: true });
}
