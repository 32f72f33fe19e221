// The lab kernels of guests/labs (committed Multiboot ELF builds) on the bare machine
// ("native"), on the icount clock: nanobench prints one well-formed line per nanobenchmark,
// and sensitive sees every sensitive instruction behave as on a correctly virtualized CPU.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadMultiboot } from "../../vmm/boot/multiboot.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { Vm, type VmStop } from "../../vmm/vm.js";

const LABS = new URL("../../guests/labs/", import.meta.url);

async function runLab(name: string): Promise<{ lines: string[]; stop: VmStop }> {
  const kernel = new Uint8Array(readFileSync(new URL(`${name}/${name}.elf`, LABS)));
  let out = "";
  const vm = await Vm.create({
    module: loadCoreModule(),
    ramBytes: 32 << 20,
    clock: "icount",
    onSerial: (com, byte) => {
      if (com === 1) out += String.fromCharCode(byte);
    },
  });
  loadMultiboot(vm.cpu, { kernel, cmdline: name });
  // The kernel ends the run itself through isa-debug-exit after its "done" line.
  const stop = vm.run(20_000_000);
  return { lines: out.split("\r\n").filter((l) => l !== ""), stop };
}

const BENCHMARKS = [
  "syscall-int80",
  "syscall-sysenter",
  "in-port80",
  "privreg-clts",
  "callret",
  "pgfault",
  "divzero",
  "ptwrite",
];

describe("lab kernels, native", () => {
  it("nanobench times every nanobenchmark and exits through isa-debug-exit", async () => {
    const { lines, stop } = await runLab("nanobench");
    expect(stop).toEqual({ kind: "debug-exit", status: 1 }); // wrote 0: QEMU's (0 << 1) | 1
    expect(lines.at(-1)).toBe("nanobench done");
    const seen = new Map<string, { iters: number; total: number; perOp: number }>();
    for (const l of lines.slice(1, -1)) {
      const m = /^nanobench (\S+) (\d+) (\d+) (\d+\.\d\d)$/.exec(l);
      expect(m, l).not.toBeNull();
      const [, name, iters, total, perOp] = m!;
      seen.set(name, { iters: Number(iters), total: Number(total), perOp: Number(perOp) });
    }
    expect([...seen.keys()]).toEqual(BENCHMARKS);
    for (const [name, b] of seen) {
      expect(b.iters, name).toBeGreaterThan(0);
      expect(b.total, name).toBeGreaterThan(0);
      expect(b.perOp, name).toBeCloseTo(b.total / b.iters, 1);
    }
    // icount: 1 TSC tick per instruction, so each operation costs its instructions exactly.
    // callret = call, ret, dec, jnz; in-port80 = in, dec, jnz.
    expect(seen.get("callret")!.perOp).toBe(4);
    expect(seen.get("in-port80")!.perOp).toBe(3);
  });

  it("sensitive sees every sensitive instruction behave correctly in ring 0", async () => {
    const { lines, stop } = await runLab("sensitive");
    expect(stop).toEqual({ kind: "debug-exit", status: 1 }); // wrote 0: QEMU's (0 << 1) | 1
    const checks = lines.filter((l) => / observed=/.test(l));
    const names = checks.map((l) => l.split(" ")[1]);
    expect(names).toEqual([
      "popf",
      "pushf",
      "sgdt",
      "sidt",
      "sldt",
      "smsw",
      "str",
      "lar",
      "lsl",
      "verr",
      "verw",
      "push-cs",
      "mov-cs",
      "push-ss",
      "mov-ss",
      "far-call",
      "far-jmp",
      "far-ret",
      "int",
      "iret",
    ]);
    for (const l of checks) expect(l).toMatch(/^sensitive \S+ observed=\S+ expected=\S+ ok$/);
    expect(lines).toContain(`sensitive summary checks ${checks.length} violations 0`);
    expect(lines.at(-1)).toBe("sensitive done");
  });
});
