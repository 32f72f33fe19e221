// Boot benchmark: seconds (host wall time) from creating the VM to the tiny Linux's shell
// prompt on COM1, on the icount clock and the interpreter; prints and writes bench/results/.
//
//   npm run bench:boot [-- --runs N] [--no-write]

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { loadLinux } from "../vmm/boot/linux.js";
import { coreWasmPath, loadCoreModule } from "../vmm/node/load-core.js";
import { Vm } from "../vmm/vm.js";

const PROMPT = "~ # ";
const LIMIT = 3_000_000_000;
const repoRoot = fileURLToPath(new URL("..", import.meta.url));

interface BootRun {
  seconds: number;
  instructions: number;
  virtualSeconds: number;
  kernelSeconds: number;
}

async function bootOnce(module: WebAssembly.Module, kernel: Uint8Array, initrd: Uint8Array): Promise<BootRun> {
  let out = "";
  const t0 = performance.now();
  const vm = await Vm.create({
    module,
    ramBytes: 64 << 20,
    onSerial: (com, b) => {
      if (com === 1) out += String.fromCharCode(b);
    },
  });
  loadLinux(vm.cpu, { kernel, initrd, cmdline: "console=ttyS0 panic=-1" });
  let kernelSeconds = 0;
  while (!out.includes(PROMPT)) {
    if (Number(vm.cpu.instructions) > LIMIT) throw new Error(`no shell prompt after ${LIMIT} instructions`);
    const stop = vm.run(2_000_000);
    if (stop.kind !== "limit") throw new Error(`guest stopped: ${JSON.stringify(stop)}`);
    if (!kernelSeconds && out.includes("Run /init")) kernelSeconds = (performance.now() - t0) / 1000;
  }
  return {
    seconds: (performance.now() - t0) / 1000,
    instructions: Number(vm.cpu.instructions),
    virtualSeconds: vm.nowNs() / 1e9,
    kernelSeconds,
  };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const runsAt = argv.indexOf("--runs");
  const runs = runsAt >= 0 ? Math.max(1, Number(argv[runsAt + 1]) || 3) : 3;
  const write = !argv.includes("--no-write");
  const module = loadCoreModule();
  const kernel = new Uint8Array(readFileSync(`${repoRoot}guests/linux/bzImage`));
  const initrd = new Uint8Array(readFileSync(`${repoRoot}guests/linux/initramfs.cpio.gz`));
  const results: BootRun[] = [];
  for (let i = 0; i < runs; i++) results.push(await bootOnce(module, kernel, initrd));
  const best = results.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  console.log(`core ${coreWasmPath()}`);
  console.log(
    `host ${os.cpus()[0]?.model ?? "unknown"} x${os.cpus().length}, node ${process.version}; best of ${runs}`,
  );
  console.log(
    `tiny Linux to shell prompt: ${best.seconds.toFixed(2)} s host time (kernel reached /init at ${best.kernelSeconds.toFixed(2)} s), ` +
      `${(best.instructions / 1e6).toFixed(0)}M instructions, ${best.virtualSeconds.toFixed(3)} s virtual time (icount, 1 ns/instruction)`,
  );
  if (write) {
    const dir = `${repoRoot}bench/results`;
    mkdirSync(dir, { recursive: true });
    const stamp = new Date()
      .toISOString()
      .replace(/[-:]/g, "")
      .replace(/\.\d+Z$/, "Z");
    const doc = {
      benchmark: "boot",
      date: new Date().toISOString(),
      host: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, node: process.version },
      guest: "guests/linux bzImage + initramfs, direct boot, 64 MiB, icount clock",
      runs: results,
      best,
    };
    writeFileSync(`${dir}/boot-${stamp}.json`, `${JSON.stringify(doc, null, 2)}\n`);
    writeFileSync(`${dir}/boot-latest.json`, `${JSON.stringify(doc, null, 2)}\n`);
    console.log(`wrote bench/results/boot-${stamp}.json and bench/results/boot-latest.json`);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
