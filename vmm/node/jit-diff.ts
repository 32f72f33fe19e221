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
import { loadKernel } from "../boot/kernel.js";
import { formatJitInfo, jitInfo } from "../jit/info.js";
import { lockstep } from "../jit/lockstep.js";
import { MMU_MODES, type MmuMode, VIRT_MODES, type VirtMode } from "../virt/vmcs.js";
import { Vm } from "../vm.js";
import {
  type CommandLine,
  choiceOption,
  exitOnCommandLineError,
  integerOption,
  parseOrExit,
  stringOption,
} from "./command-line.js";
import { loadCoreModule } from "./load-core.js";

const projectFile = (p: string) => new URL(`../../${p}`, import.meta.url);

const COMMAND_LINE: CommandLine = {
  program: "npm run jit-diff --",
  options: {
    kernel: { type: "string", qemu: true, value: "FILE", help: "the kernel (default: the tiny Linux)" },
    initrd: { type: "string", qemu: true, value: "FILE", help: "the initrd" },
    append: { type: "string", qemu: true, value: "CMDLINE", help: "the kernel command line" },
    m: { type: "string", value: "MiB", help: "guest RAM in MiB (default 64)" },
    mode: { type: "string", value: "MODE", help: `${VIRT_MODES.join(", ")} (default native)` },
    mmu: { type: "string", value: "shadow|ept", help: "memory virtualization for the hypervisor modes" },
    instructions: { type: "string", value: "N", help: "instructions to compare (default 300000000)" },
    step: { type: "string", value: "N", help: "instructions between comparisons (default 10000)" },
    threshold: { type: "string", value: "N", help: "visits before a block is compiled (default 1)" },
  },
};
const parsed = parseOrExit(COMMAND_LINE, process.argv.slice(2));
const values = {
  kernel: stringOption(parsed, "kernel"),
  initrd: stringOption(parsed, "initrd"),
  append: stringOption(parsed, "append"),
};
let mode: VirtMode;
let mmu: MmuMode | undefined;
let instructions: number;
let step: number;
let threshold: number;
let memMiB: number;
try {
  mode = choiceOption(parsed, "mode", VIRT_MODES, "native");
  mmu = stringOption(parsed, "mmu") === undefined ? undefined : choiceOption(parsed, "mmu", MMU_MODES, "shadow");
  instructions = integerOption(parsed, "instructions", 300_000_000, 1, Number.MAX_SAFE_INTEGER);
  step = integerOption(parsed, "step", 10_000, 1, 2 ** 31 - 1);
  threshold = integerOption(parsed, "threshold", 1, 1, 2 ** 31 - 1);
  memMiB = integerOption(parsed, "m", 64, 16, 3072);
} catch (err) {
  exitOnCommandLineError(err);
}
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
