// Runs a nanobench lab kernel (guests/labs/nanobench) under a virtualization mode and attributes
// the VM's crossings to each nanobenchmark: the core's counters are read when a result line
// starts (the benchmark's loop has just ended) and when the previous line ended, so the
// difference covers that benchmark's setup and timed loop. Printing the line's first character
// falls inside that window (its status poll and its write may cross into the VMM), so the
// crossings of printing one character, measured between the line's first and second characters,
// are taken out; so are console-write hypercalls (the pv build prints a whole line with one).

import { readFileSync } from "node:fs";
import { loadMultiboot } from "../../vmm/boot/multiboot.js";
import { PV_HC_CONSOLE_WRITE } from "../../vmm/generated/abi.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { readCoreStats, readWalkStats, type WalkStats } from "../../vmm/stats/core-stats.js";
import { diffSnapshots, type StatsSnapshot } from "../../vmm/stats/stats.js";
import type { MmuMode, VirtMode } from "../../vmm/virt/vmcs.js";
import { Vm, type VmStop } from "../../vmm/vm.js";

export interface NanobenchResult {
  name: string;
  iterations: number;
  /** Guest-measured RDTSC cycles per operation (icount: one tick per instruction). */
  perOp: number;
  /** The VM's crossings during this benchmark (setup and timed loop). */
  crossings: StatsSnapshot;
}

export interface NanobenchRun {
  mode: VirtMode;
  mmu: MmuMode;
  elf: string;
  results: NanobenchResult[];
  stop: VmStop;
  hostMs: number;
  walk: WalkStats;
  output: string;
}

const LINE = /^nanobench (\S+) (\d+) (\d+) (\d+\.\d\d)$/;

/** `elf` is a path under guests/labs (e.g. "nanobench/nanobench.elf"). */
export async function runNanobench(
  mode: VirtMode,
  mmu: MmuMode | undefined,
  elf: string,
  jit = true,
): Promise<NanobenchRun> {
  const kernel = new Uint8Array(readFileSync(new URL(`../../guests/labs/${elf}`, import.meta.url)));
  let out = "";
  let line = "";
  let vm: Vm | undefined;
  let lineStart: StatsSnapshot | undefined;
  let secondChar: StatsSnapshot | undefined;
  let lineEnd: StatsSnapshot | undefined;
  const results: NanobenchResult[] = [];
  const onByte = (byte: number) => {
    if (!vm) return;
    const c = String.fromCharCode(byte);
    out += c;
    if (line === "") lineStart = readCoreStats(vm.cpu);
    else if (line.length === 1) secondChar = readCoreStats(vm.cpu);
    if (c !== "\n") {
      if (c !== "\r") line += c;
      return;
    }
    const m = LINE.exec(line);
    if (m && lineStart && lineEnd && secondChar) {
      results.push({
        name: m[1]!,
        iterations: Number(m[2]),
        perOp: Number(m[4]),
        crossings: withoutCounts(diffSnapshots(lineEnd, lineStart), diffSnapshots(lineStart, secondChar)),
      });
    }
    lineEnd = readCoreStats(vm.cpu);
    line = "";
  };
  const t0 = performance.now();
  vm = await Vm.create({
    module: loadCoreModule(),
    ramBytes: 32 << 20,
    clock: "icount",
    mode,
    mmu,
    jit,
    onSerial: (com, byte) => {
      if (com === 1) onByte(byte);
    },
  });
  loadMultiboot(vm.cpu, { kernel, cmdline: "nanobench" });
  const stop = vm.run(200_000_000);
  return {
    mode,
    mmu: vm.mmu,
    elf,
    results,
    stop,
    hostMs: performance.now() - t0,
    walk: readWalkStats(vm.cpu),
    output: out,
  };
}

/** `a` with `b`'s counters taken out (never below zero); the trace is `a`'s. */
function withoutCounts(a: StatsSnapshot, b: StatsSnapshot): StatsSnapshot {
  const counters = a.counters
    .map((row) => {
      const sub = b.counters.find((r) => r.kind === row.kind && r.reason === row.reason);
      return { ...row, core: Math.max(0, row.core - (sub?.core ?? 0)), host: Math.max(0, row.host - (sub?.host ?? 0)) };
    })
    .filter(
      (row) => (row.core !== 0 || row.host !== 0) && !(row.kind === "hypercall" && row.reason === PV_HC_CONSOLE_WRITE), // printing, not benchmark work
    );
  const totals = { ...a.totals };
  for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] = 0;
  for (const row of counters) totals[row.kind] += row.core + row.host;
  return { ...a, counters, totals };
}
