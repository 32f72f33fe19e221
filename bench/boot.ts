// Boot benchmark: seconds (host wall time) from creating the VM to the tiny Linux's shell
// prompt on COM1, on the icount clock, in each virtualization mode with the JIT and on the
// interpreter alone; prints and writes bench/results/.
//
//   npm run bench:boot [-- --runs N] [--modes native,bt,hvm,pv] [--jit on|off|both] [--no-write]

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { loadLinux } from "../vmm/boot/linux.js";
import { formatJitInfo, jitInfo } from "../vmm/jit/info.js";
import { coreWasmPath, loadCoreModule } from "../vmm/node/load-core.js";
import { VIRT_MODES, type VirtMode } from "../vmm/virt/vmcs.js";
import { Vm } from "../vmm/vm.js";

const PROMPT = "~ # ";
const LIMIT = 3_000_000_000;
const repoRoot = fileURLToPath(new URL("..", import.meta.url));

interface BootRun {
  mode: VirtMode;
  jit: boolean;
  seconds: number;
  instructions: number;
  virtualSeconds: number;
  kernelSeconds: number;
}

async function bootOnce(
  module: WebAssembly.Module,
  kernel: Uint8Array,
  initrd: Uint8Array,
  mode: VirtMode,
  jit: boolean,
): Promise<BootRun & { jitReport: string }> {
  let out = "";
  const t0 = performance.now();
  const vm = await Vm.create({
    module,
    ramBytes: 64 << 20,
    mode,
    jit,
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
    mode,
    jit,
    seconds: (performance.now() - t0) / 1000,
    instructions: Number(vm.cpu.instructions),
    virtualSeconds: vm.nowNs() / 1e9,
    kernelSeconds,
    jitReport: jit ? formatJitInfo(jitInfo(vm.cpu)) : "",
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: "string", default: "3" },
      modes: { type: "string", default: "native,bt,hvm,pv" },
      jit: { type: "string", default: "both" },
      "no-write": { type: "boolean", default: false },
    },
  });
  const runs = Math.max(1, Number(values.runs) || 3);
  const write = !values["no-write"];
  const modes = values.modes.split(",").filter(Boolean) as VirtMode[];
  for (const m of modes) {
    if (!VIRT_MODES.includes(m)) throw new Error(`--modes: ${m} is not one of ${VIRT_MODES.join(", ")}`);
  }
  if (!["on", "off", "both"].includes(values.jit)) throw new Error(`--jit ${values.jit}: use on, off or both`);
  const engines = values.jit === "both" ? [true, false] : [values.jit === "on"];
  const module = loadCoreModule();
  const kernel = new Uint8Array(readFileSync(`${repoRoot}guests/linux/bzImage`));
  const initrd = new Uint8Array(readFileSync(`${repoRoot}guests/linux/initramfs.cpio.gz`));
  console.log(`core ${coreWasmPath()}`);
  console.log(
    `host ${os.cpus()[0]?.model ?? "unknown"} x${os.cpus().length}, node ${process.version}; best of ${runs}; load ${os.loadavg()[0].toFixed(2)}`,
  );
  const results: BootRun[] = [];
  const bests: BootRun[] = [];
  for (const mode of modes) {
    for (const jit of engines) {
      const these: (BootRun & { jitReport: string })[] = [];
      for (let i = 0; i < runs; i++) these.push(await bootOnce(module, kernel, initrd, mode, jit));
      const best = these.reduce((a, b) => (b.seconds < a.seconds ? b : a));
      for (const { jitReport: _, ...r } of these) results.push(r);
      const { jitReport, ...b } = best;
      bests.push(b);
      console.log(
        `${mode.padEnd(6)} ${jit ? "jit" : "interpreter"}: tiny Linux to shell prompt ${best.seconds.toFixed(2)} s host time ` +
          `(/init at ${best.kernelSeconds.toFixed(2)} s), ${(best.instructions / 1e6).toFixed(0)}M instructions, ` +
          `${best.virtualSeconds.toFixed(3)} s virtual`,
      );
      if (jitReport) console.log(jitReport.replace(/^/gm, "    "));
    }
  }
  const best = bests[0];
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
      load: os.loadavg(),
      runs: results,
      best,
      bests,
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
