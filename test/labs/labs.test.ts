// The lab kernels of guests/labs (committed Multiboot ELF builds) on the bare machine
// ("native"), on the icount clock: nanobench prints one well-formed line per nanobenchmark,
// and sensitive sees every sensitive instruction behave as on a correctly virtualized CPU.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { runNanobench } from "../../bench/modes/nanobench.js";
import { loadMultiboot } from "../../vmm/boot/multiboot.js";
import { TRAP_REASON_SOFTWARE } from "../../vmm/generated/abi.js";
import * as L from "../../vmm/generated/layout.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { readCoreStats } from "../../vmm/stats/core-stats.js";
import { countOf } from "../../vmm/stats/stats.js";
import { readTrapState } from "../../vmm/virt/trap-state.js";
import type { MmuMode, VirtMode } from "../../vmm/virt/vmcs.js";
import { Vm, type VmStop } from "../../vmm/vm.js";

const LABS = new URL("../../guests/labs/", import.meta.url);

async function runLab(
  name: string,
  mode: VirtMode = "native",
  mmu?: MmuMode,
): Promise<{ lines: string[]; stop: VmStop }> {
  const kernel = new Uint8Array(readFileSync(new URL(`${name}/${name}.elf`, LABS)));
  let out = "";
  const vm = await Vm.create({
    module: loadCoreModule(),
    ramBytes: 32 << 20,
    clock: "icount",
    mode,
    mmu,
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

// ---- hardware-assisted (hvm) and pv ------------------------------------------------------------
// VMX non-root operation: sensitive sees correct values (the hardware does the right thing at
// ring 0); nanobench completes, and the crossings of each benchmark are the ones its operation
// implies for the MMU in use.

describe("lab kernels, hvm and pv", () => {
  for (const [mode, mmu] of [
    ["hvm", "ept"],
    ["hvm", "shadow"],
    ["pv", "ept"],
  ] as const) {
    it(`sensitive sees no violation under ${mode}/${mmu}`, async () => {
      const { lines, stop } = await runLab("sensitive", mode, mmu);
      expect(stop).toEqual({ kind: "debug-exit", status: 1 });
      expect(lines).toContain("sensitive summary checks 20 violations 0");
    });
  }

  for (const mmu of ["ept", "shadow"] as const) {
    it(`nanobench under hvm/${mmu}: one I/O exit per in, no exit for call/ret or a divide fault`, async () => {
      const r = await runNanobench("hvm", mmu, "nanobench/nanobench.elf");
      expect(r.stop).toEqual({ kind: "debug-exit", status: 1 });
      expect(r.results.map((b) => b.name)).toEqual(BENCHMARKS);
      const at = (name: string) => r.results.find((b) => b.name === name)!.crossings;
      expect(countOf(at("in-port80"), "exit", 30)).toBe(1000);
      expect(countOf(at("callret"), "exit")).toBe(0);
      expect(countOf(at("divzero"), "exit")).toBe(0);
      // Page faults are the guest's own under EPT; with shadow paging each is a #PF exit.
      expect(countOf(at("pgfault"), "exit", 0)).toBe(mmu === "shadow" ? 1000 : 0);
    });
  }
});

// ---- trap and emulate ------------------------------------------------------------------------
// The same kernels under the classic trap-and-emulate VMM (guest kernel at CPL 1, shadow
// descriptor tables, shadow page tables). Every byte a kernel prints costs two #GP traps (the
// UART status poll and the data write are port I/O at CPL 1).

/** KIND_TRAP counters by reason, after the run or at each printed line's first byte. */
type TrapCounts = Map<number, number>;

function trapCounts(vm: Vm): TrapCounts {
  const m: TrapCounts = new Map();
  for (const c of readCoreStats(vm.cpu).counters) if (c.kind === "trap") m.set(c.reason, c.core + c.host);
  return m;
}

async function runLabTrapped(name: string): Promise<{
  lines: string[];
  stop: VmStop;
  serialBytes: number;
  traps: TrapCounts;
  atLineStart: TrapCounts[];
  vm: Vm;
}> {
  const kernel = new Uint8Array(readFileSync(new URL(`${name}/${name}.elf`, LABS)));
  let out = "";
  const atLineStart: TrapCounts[] = [];
  let vm: Vm | undefined;
  vm = await Vm.create({
    module: loadCoreModule(),
    ramBytes: 32 << 20,
    clock: "icount",
    mode: "trap",
    onSerial: (com, byte) => {
      if (com !== 1 || !vm) return;
      if (out === "" || out.endsWith("\n")) atLineStart.push(trapCounts(vm));
      out += String.fromCharCode(byte);
    },
  });
  loadMultiboot(vm.cpu, { kernel, cmdline: name });
  const stop = vm.run(20_000_000);
  const lines = out.split("\r\n").filter((l) => l !== "");
  return { lines, stop, serialBytes: out.length, traps: trapCounts(vm), atLineStart, vm };
}

describe("lab kernels, trap and emulate", () => {
  it("sensitive completes and shows which sensitive instructions a CPL-1 kernel sees through", async () => {
    const { lines, stop, serialBytes, traps, vm } = await runLabTrapped("sensitive");
    expect(stop).toEqual({ kind: "debug-exit", status: 1 });
    expect(lines.at(-1)).toBe("sensitive done");
    const verdict = new Map(
      lines
        .filter((l) => / observed=/.test(l))
        .map((l) => {
          const [, name, observed, , result] = /^sensitive (\S+) observed=(\S+) expected=(\S+) (ok|VIOLATION)$/.exec(
            l,
          )!;
          return [name!, { observed, result }] as const;
        }),
    );
    const violations = [
      "pushf", // the real IF (1) while the guest's is 0
      "sgdt", // the VMM's GDT, mapped at 0xFFC00000, 64 KiB
      "sidt", // the VMM's shadow IDT
      "sldt", // the VMM's LDT selector
      "str", // the VMM's TSS selector
      "lar", // the shadow descriptor: DPL 1
      "push-cs", // RPL 1
      "mov-cs",
      "push-ss",
      "mov-ss",
      "far-call", // the shadow code segment (DPL 1) takes it without a trap, at RPL 1
      "far-jmp",
      "far-ret", // traps (RPL 0 < CPL 1) and is emulated, but resumes at CPL 1
      "int", // reflected through the guest's gate: the frame's CS has RPL 1
      "iret", // IRET at CPL 1 neither traps nor loads IF or IOPL
    ];
    const ok = [
      "popf", // POPF cannot set IF at CPL 1 either, but the PUSHF reading it back shows the real IF
      "smsw", // the VMM owns no CR0 bit: CR0's low word is the guest's
      "lsl", // limits are not truncated (the VMM's area is outside every lab segment's reach)
      "verr", // the DPL-1 shadow is readable and writable at CPL 1, as DPL 0 is at CPL 0
      "verw",
    ];
    expect([...verdict.entries()].filter(([, v]) => v.result === "VIOLATION").map(([n]) => n)).toEqual(violations);
    expect(
      [...verdict.entries()]
        .filter(([, v]) => v.result === "ok")
        .map(([n]) => n)
        .sort(),
    ).toEqual(ok.sort());
    expect(verdict.get("sgdt")!.observed).toBe("0xffc00000:0x0000ffff");
    expect(verdict.get("str")!.observed).toBe("0x0000fff8");
    expect(verdict.get("push-cs")!.observed).toBe("0x00000009");
    expect(lines).toContain(`sensitive summary checks 20 violations ${violations.length}`);
    // #GP traps: 2 per printed byte, plus 20 privileged instructions: _start's CLI, 9 port
    // writes of lab_cpu_init, LGDT, MOV SS (an RPL-0 selector), LTR, LLDT, LIDT, MOV from
    // CR0, the POPF probe's two CLIs, the far RET, and the isa-debug-exit write.
    expect(traps.get(13)).toBe(2 * serialBytes + 20);
    expect(traps.get(TRAP_REASON_SOFTWARE)).toBe(1); // INT 0x81
    expect(traps.size).toBe(2);
    const state = readTrapState(vm.cpu);
    expect(state.emulated).toBe(traps.get(13));
    expect(state.reflected).toBe(1);
  });

  it("nanobench completes; each benchmark costs the traps its operation implies", async () => {
    const { lines, stop, atLineStart, traps } = await runLabTrapped("nanobench");
    expect(stop).toEqual({ kind: "debug-exit", status: 1 });
    expect(lines.at(-1)).toBe("nanobench done");
    const names = lines.slice(1, -1).map((l) => {
      const m = /^nanobench (\S+) (\d+) (\d+) (\d+\.\d\d)$/.exec(l);
      expect(m, l).not.toBeNull();
      expect(Number(m![2])).toBe(1000);
      return m![1]!;
    });
    expect(names).toEqual(BENCHMARKS);
    // Traps from one line's first byte to the next one's: printing the first line (2 #GP per
    // byte, CR LF included), then the next benchmark's setup and loop.
    const per: Record<string, Record<string, number>> = {};
    names.forEach((name, i) => {
      const [from, to] = [atLineStart[i]!, atLineStart[i + 1]!];
      const d = (r: number) => (to.get(r) ?? 0) - (from.get(r) ?? 0);
      per[name] = { gp: d(13) - 2 * (lines[i]!.length + 2), de: d(0), pf: d(14), soft: d(TRAP_REASON_SOFTWARE) };
    });
    // The user-mode benchmarks end with one INT 0x80 back to the kernel.
    expect(per).toEqual({
      "syscall-int80": { gp: 0, de: 0, pf: 0, soft: 1001 }, // INT 0x80 reflected; IRET to ring 3 does not trap
      "syscall-sysenter": { gp: 2000, de: 0, pf: 0, soft: 1 }, // SYSENTER (SYSENTER_CS is 0) and SYSEXIT (CPL 1)
      "in-port80": { gp: 1000, de: 0, pf: 0, soft: 0 },
      "privreg-clts": { gp: 1000, de: 0, pf: 0, soft: 0 },
      callret: { gp: 0, de: 0, pf: 0, soft: 0 },
      pgfault: { gp: 0, de: 0, pf: 1000, soft: 1 }, // the guest's own #PF, reflected
      divzero: { gp: 0, de: 1000, pf: 0, soft: 1 },
      // INVLPG per write and one after the loop; each write to the shadowed page table is the
      // #PF a write-protected page table gives a trap-and-emulate VMM (the restore included).
      ptwrite: { gp: 1001, de: 0, pf: 1001, soft: 0 },
    });
    expect(traps.size).toBe(4);
  });
});

// ---- pv ----------------------------------------------------------------------------------------
// nanobench-pv.elf (nanobench.c and bench.asm built with -DPV) under the pv mode: its output goes
// through the console hypercall, the privileged-register benchmark uses the FPU task-switch
// hypercall instead of CLTS, and the page-table benchmark applies its PTE writes in batches of 32
// with the batched page-table hypercall (docs/hypercalls.md).

const PV_BATCH = 32;
const PV_ITERS = 1000;

describe("lab kernels, pv", () => {
  it("nanobench-pv runs every benchmark through hypercalls: batched PTE writes, no CR-access exits", async () => {
    const kernel = new Uint8Array(readFileSync(new URL("nanobench/nanobench-pv.elf", LABS)));
    let out = "";
    // Crossing counts as each line ends: the console hypercall calls onSerial synchronously, so
    // the difference between two lines is exactly what the benchmark between them cost.
    const atLine: { line: string; hypercalls: Map<number, number>; crExits: number }[] = [];
    const counts = (v: Vm) => {
      const hypercalls = new Map<number, number>();
      let crExits = 0;
      for (const c of readCoreStats(v.cpu).counters) {
        if (c.kind === "hypercall") hypercalls.set(c.reason, c.core + c.host);
        if (c.kind === "exit" && c.reason === 28) crExits += c.core + c.host;
      }
      return { hypercalls, crExits };
    };
    let vm: Vm | undefined;
    vm = await Vm.create({
      module: loadCoreModule(),
      ramBytes: 32 << 20,
      clock: "icount",
      mode: "pv",
      onSerial: (com, byte) => {
        if (com !== 1 || !vm) return;
        out += String.fromCharCode(byte);
        if (byte === 0x0a) atLine.push({ line: out.trimEnd().split("\r\n").at(-1)!, ...counts(vm) });
      },
    });
    loadMultiboot(vm.cpu, { kernel, cmdline: "nanobench-pv" });
    const stop = vm.run(20_000_000);
    expect(stop).toEqual({ kind: "debug-exit", status: 1 });
    const lines = out.split("\r\n").filter((l) => l !== "");
    expect(lines[0]).toBe(`nanobench start iterations ${PV_ITERS}`);
    expect(lines.at(-1)).toBe("nanobench done");
    const names = lines.slice(1, -1).map((l) => {
      const m = /^nanobench (\S+) (\d+) (\d+) (\d+\.\d\d)$/.exec(l);
      expect(m, l).not.toBeNull();
      expect(Number(m![2]), l).toBe(PV_ITERS);
      return m![1];
    });
    expect(names).toEqual(BENCHMARKS); // the native build's names, so the two compare line by line

    // Every line is one console hypercall (host-handled); no byte goes through the UART's port.
    expect(atLine.map((a) => a.line)).toEqual(lines);
    const row = readCoreStats(vm.cpu).counters.find((c) => c.kind === "hypercall" && c.reason === 64)!;
    expect(row).toMatchObject({ core: 0, host: lines.length });

    // Between the line before a benchmark's and its own line: that benchmark's crossings (plus
    // the console write of the line itself, which comes after its loop).
    const phase = (name: string) => {
      const i = atLine.findIndex((a) => a.line.startsWith(`nanobench ${name} `));
      const before = atLine[i - 1]!;
      const after = atLine[i]!;
      const hc = (nr: number) => (after.hypercalls.get(nr) ?? 0) - (before.hypercalls.get(nr) ?? 0);
      return { hc, crExits: after.crExits - before.crExits };
    };
    const privreg = phase("privreg-clts");
    expect(privreg.crExits).toBe(0);
    expect(privreg.hc(70)).toBe(PV_ITERS);
    const ptwrite = phase("ptwrite");
    // 31 full batches and one of 8 in the loop, and the restoring write after it.
    expect(ptwrite.hc(65)).toBe(Math.ceil(PV_ITERS / PV_BATCH) + 1);
    expect(ptwrite.crExits).toBe(0);
    const dv = new DataView(vm.cpu.memory.buffer);
    expect(Number(dv.getBigUint64(L.S_PV_MMU_UPDATES, true))).toBe(PV_ITERS + 1);
    expect(Number(dv.getBigUint64(L.S_PV_MMU_BATCHES, true))).toBe(Math.ceil(PV_ITERS / PV_BATCH) + 1);
  });
});
