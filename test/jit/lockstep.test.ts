// The JIT against the interpreter in lockstep (vmm/jit/lockstep.ts): the same guest in two
// machines, one compiling every block on sight, one interpreting, compared after every few
// thousand instructions (registers, flags, segments, control registers, counters) and their
// RAM every few million, and the crossing counters too. The tiny Linux boots to its shell
// natively, under hvm with shadow paging, under pv with EPT and under bt (whose kernel code the JIT
// compiles with callouts, and whose user code it runs directly); the lab kernels run to their end
// under hvm and pv.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadKernel } from "../../vmm/boot/kernel.js";
import { TranslationKind } from "../../vmm/generated/abi.js";
import { lockstep } from "../../vmm/jit/lockstep.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { readCoreStats } from "../../vmm/stats/core-stats.js";
import { countOf } from "../../vmm/stats/stats.js";
import type { MmuMode, VirtMode } from "../../vmm/virt/vmcs.js";
import { Vm } from "../../vmm/vm.js";

const file = (p: string) => new Uint8Array(readFileSync(new URL(`../../${p}`, import.meta.url)));

interface Guest {
  kernel: string;
  initrd?: string;
  cmdline: string;
  mem: number;
}
const LINUX: Guest = {
  kernel: "guests/linux/bzImage",
  initrd: "guests/linux/initramfs.cpio.gz",
  cmdline: "console=ttyS0 panic=-1",
  mem: 64,
};
const SENSITIVE: Guest = { kernel: "guests/labs/sensitive/sensitive.elf", cmdline: "sensitive", mem: 32 };
const NANOBENCH: Guest = { kernel: "guests/labs/nanobench/nanobench.elf", cmdline: "nanobench", mem: 32 };

async function pair(g: Guest, mode: VirtMode, mmu?: MmuMode, jitThreshold = 1) {
  const out = { jit: "", interpreter: "" };
  const make = async (jit: boolean) => {
    const vm = await Vm.create({
      module: loadCoreModule(),
      ramBytes: g.mem << 20,
      mode,
      mmu,
      jit,
      jitThreshold,
      onSerial: (com, b) => {
        if (com === 1) out[jit ? "jit" : "interpreter"] += String.fromCharCode(b);
      },
    });
    loadKernel(vm.cpu, file(g.kernel), g.initrd ? file(g.initrd) : undefined, g.cmdline);
    return vm;
  };
  return { jit: await make(true), interpreter: await make(false), out };
}

describe("JIT and interpreter in lockstep", () => {
  it.each([
    ["native", "direct"],
    ["hvm", "shadow"],
    ["pv", "ept"],
    ["bt", "shadow"],
  ] as const)(
    "the tiny Linux boots to its shell the same way (%s, MMU %s)",
    (mode, mmu) => linuxInLockstep(mode, mmu),
    600_000,
  );

  async function linuxInLockstep(mode: VirtMode, mmu: MmuMode) {
    // A low threshold (compiled after 100 visits, 40x sooner than by default) so that most of the
    // boot runs compiled; the lab kernels compile everything from the first execution.
    const p = await pair(LINUX, mode, mmu, 100);
    const r = lockstep(p.jit, p.interpreter, {
      instructions: 600_000_000,
      step: 50_000,
      ramEvery: 50_000_000,
      until: () => p.out.jit.includes("~ # "),
    });
    expect(r.divergence).toBeNull();
    expect(p.out.jit).toContain("~ # ");
    expect(p.out.jit).toBe(p.out.interpreter);
    // The JIT really ran the boot: most instructions came from compiled code.
    expect(p.jit.cpu.jit!.stats.blocksCompiled).toBeGreaterThan(500);
    if (mode === "bt") {
      // bt's hot kernel code is the JIT's too, as wasm with callouts: kernel instructions
      // compiled, and the kernel's callouts made from compiled code as from the cache.
      const snap = readCoreStats(p.jit.cpu);
      expect(countOf(snap, "translation", TranslationKind.compiled)).toBeGreaterThan(1000);
      expect(countOf(snap, "callout")).toBe(countOf(readCoreStats(p.interpreter.cpu), "callout"));
    }
  }

  it.each([
    ["sensitive", "hvm", SENSITIVE],
    ["sensitive", "pv", SENSITIVE],
    ["nanobench", "hvm", NANOBENCH],
    ["nanobench", "pv", NANOBENCH],
  ] as const)(
    "the %s lab kernel runs to its end the same way (%s)",
    async (_name, mode, g) => {
      const p = await pair(g, mode);
      const r = lockstep(p.jit, p.interpreter, { instructions: 200_000_000, step: 5_000, ramEvery: 5_000_000 });
      expect(r.divergence).toBeNull();
      expect(r.ended).toBe("debug-exit");
      expect(p.out.jit).toBe(p.out.interpreter);
    },
    300_000,
  );
});
