// npm run jit-diff: runs a guest twice side by side, once with the JIT compiling everything it
// meets and once on the interpreter alone, and stops at the first difference in registers,
// flags, segments, control registers, counters, serial output or RAM (vmm/jit/lockstep.ts).
//
//   npm run jit-diff -- [-kernel FILE] [-initrd FILE] [-append CMDLINE] [-m MiB]
//                       [--mode native|bt|hvm|pv] [--mmu shadow|ept] [--instructions N]
//                       [--step N] [--threshold N]
//
// Exit status 0 when the runs agree, 1 on a difference, 2 on bad arguments.

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { loadKernel } from "../boot/kernel.js";
import { formatJitInfo, jitInfo } from "../jit/info.js";
import { lockstep } from "../jit/lockstep.js";
import { MMU_MODES, type MmuMode, VIRT_MODES, type VirtMode } from "../virt/vmcs.js";
import { Vm } from "../vm.js";
import { loadCoreModule } from "./load-core.js";

const projectFile = (p: string) => new URL(`../../${p}`, import.meta.url);

function fail(message: string): never {
  console.error(`jit-diff: ${message}`);
  process.exit(2);
}

const { values } = parseArgs({
  options: {
    kernel: { type: "string" },
    initrd: { type: "string" },
    append: { type: "string" },
    m: { type: "string", default: "64" },
    mode: { type: "string", default: "native" },
    mmu: { type: "string" },
    instructions: { type: "string", default: "300000000" },
    step: { type: "string", default: "10000" },
    threshold: { type: "string", default: "1" },
    help: { type: "boolean", short: "h" },
  },
  allowNegative: false,
  strict: true,
  // QEMU spells these with one dash.
  args: process.argv.slice(2).map((a) => (/^-(kernel|initrd|append|m)$/.test(a) ? `-${a}` : a)),
});
if (values.help) {
  console.log(
    readFileSync(new URL(import.meta.url), "utf8")
      .split("\n")
      .slice(4, 9)
      .join("\n")
      .replace(/^\/\/ ?/gm, ""),
  );
  process.exit(0);
}
const mode = values.mode as VirtMode;
if (!VIRT_MODES.includes(mode)) fail(`--mode ${values.mode}: use ${VIRT_MODES.join(", ")}`);
const mmu = values.mmu as MmuMode | undefined;
if (mmu !== undefined && !MMU_MODES.includes(mmu)) fail(`--mmu ${mmu}: use ${MMU_MODES.join(", ")}`);
const count = (name: string, v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) fail(`--${name} ${v}: a positive integer`);
  return n;
};
const instructions = count("instructions", values.instructions);
const step = count("step", values.step);
const threshold = count("threshold", values.threshold);
const memMiB = count("m", values.m);
const kernel = new Uint8Array(readFileSync(values.kernel ?? projectFile("guests/linux/bzImage")));
const initrd =
  values.initrd !== undefined || values.kernel === undefined
    ? new Uint8Array(readFileSync(values.initrd ?? projectFile("guests/linux/initramfs.cpio.gz")))
    : undefined;
const cmdline = values.append ?? "console=ttyS0 panic=-1";

const outputs = { jit: "", interpreter: "" };
async function machine(jit: boolean): Promise<Vm> {
  const vm = await Vm.create({
    module: loadCoreModule(),
    ramBytes: memMiB << 20,
    mode,
    mmu,
    jit,
    jitThreshold: threshold,
    onSerial: (_com, b) => {
      outputs[jit ? "jit" : "interpreter"] += String.fromCharCode(b);
    },
  });
  loadKernel(vm.cpu, kernel, initrd, cmdline);
  return vm;
}

const a = await machine(true);
const b = await machine(false);
const t0 = performance.now();
const r = lockstep(a, b, { instructions, step });
const seconds = (performance.now() - t0) / 1000;
const sameOutput = outputs.jit === outputs.interpreter;
console.log(
  `${r.instructions} instructions in ${r.steps} steps of ${step}, ${r.ramChecks} RAM comparisons, ${seconds.toFixed(1)} s${r.ended ? ` (the guest ${r.ended})` : ""}`,
);
console.log(formatJitInfo(jitInfo(a.cpu)));
if (r.divergence) {
  const d = r.divergence;
  console.log(`DIFFERENT after ${d.after} instructions: ${d.what} is ${d.jit} with the JIT, ${d.interpreter} without`);
  process.exit(1);
}
if (!sameOutput) {
  console.log("DIFFERENT serial output");
  process.exit(1);
}
console.log("same state, same RAM, same serial output");
