// Text reports the monitor's info commands and --stats share: registers, the crossing stats and
// the trace ring.

import { REG } from "../cpu.js";
import { infoIo } from "../info.js";
import { formatReport, PROFILES, readCoreStats, readStructureStats, readWalkStats } from "../stats/index.js";
import type { Vm } from "../vm.js";

const h8 = (n: number) => (n >>> 0).toString(16).padStart(8, "0");

/** QEMU-like `info registers`. */
export function registersReport(vm: Vm): string {
  const c = vm.cpu;
  const r = (n: number) => h8(c.reg(n));
  const f = c.eflags;
  const flagText = [
    [11, "O"],
    [10, "D"],
    [9, "I"],
    [7, "S"],
    [6, "Z"],
    [4, "A"],
    [2, "P"],
    [0, "C"],
  ]
    .map(([bit, ch]) => (f & (1 << (bit as number)) ? ch : "-"))
    .join("");
  const seg = (name: string, s: number) => {
    const d = c.segment(s);
    return `${name.padEnd(3)}=${d.selector.toString(16).padStart(4, "0")} ${h8(d.base)} ${h8(d.limit)} ${d.attr.toString(16).padStart(4, "0")}`;
  };
  return (
    `EAX=${r(REG.EAX)} EBX=${r(REG.EBX)} ECX=${r(REG.ECX)} EDX=${r(REG.EDX)}\n` +
    `ESI=${r(REG.ESI)} EDI=${r(REG.EDI)} EBP=${r(REG.EBP)} ESP=${r(REG.ESP)}\n` +
    `EIP=${h8(c.eip)} EFL=${h8(f)} [${flagText}] CPL=${c.cpl} HLT=${c.halted ? 1 : 0}\n` +
    `${["ES", "CS", "SS", "DS", "FS", "GS", "LDT", "TR"].map((n, i) => seg(n, i)).join("\n")}\n` +
    `CR0=${h8(c.cr(0))} CR2=${h8(c.cr(2))} CR3=${h8(c.cr(3))} CR4=${h8(c.cr(4))}\n`
  );
}

/** Instructions, virtual time, exceptions. */
export function basicStats(vm: Vm): string {
  const exc = vm.cpu
    .exceptionCounts()
    .map((n, v) => (n ? `#${v}: ${n}` : ""))
    .filter(Boolean)
    .join(", ");
  return (
    `instructions retired: ${vm.cpu.instructions}\nvirtual time: ${(vm.nowNs() / 1e9).toFixed(3)} s (${vm.clockMode})\n` +
    `exceptions: ${exc || "none"}\n`
  );
}

/**
 * The VM's crossings (counted by kind and reason), modeled cycles per profile, and the host time
 * the run took when it was measured (`hostMs` undefined: not shown).
 */
export function crossingReport(vm: Vm, hostMs?: number): string {
  const walk = readWalkStats(vm.cpu);
  const st = readStructureStats(vm.cpu);
  let structures = "";
  if (vm.mmu === "shadow") {
    const s = st.shadow;
    structures += `shadow MMU: root cache ${s.rootHits} hits / ${s.rootMisses} misses, ${s.pagesInUse} pool pages in use, ${s.poolFlushes} pool flushes, ${s.unshadowed} tables unshadowed\n`;
  }
  if (vm.mmu === "ept") structures += `EPT: ${st.ept.poolFlushes} pool flushes, ${st.ept.remaps} leaves remapped\n`;
  if (vm.mode === "bt") {
    const b = st.bt;
    structures += `translator: ${b.blocks} blocks, ${b.cacheBytes} cache bytes, ${b.chained} chained transitions, ${b.lookups} lookups, ${b.codeWrites} code writes, ${b.invalidated} blocks invalidated, ${b.flushes} cache flushes\n`;
  }
  if (vm.mode === "pv") structures += `pv: ${st.pv.mmuUpdates} page-table entries in ${st.pv.mmuBatches} batches\n`;
  if (vm.mode === "trap")
    structures += `trap VMM: ${st.trap.emulated} instructions emulated, ${st.trap.reflected} events reflected\n`;
  let report = formatReport(readCoreStats(vm.cpu), PROFILES, hostMs ?? 0);
  if (hostMs === undefined) report = report.replace(/\n?Measured host time[^\n]*/, "");
  return (
    `mode: ${vm.mode} (memory: ${vm.mmu})\n` +
    `page walks: ${walk.tlbMisses} TLB misses, ${walk.refsPerMiss.toFixed(2)} memory references per miss\n` +
    structures +
    `${report}\n` +
    `device accesses (port and MMIO, by owner):\n${infoIo(vm)}`
  );
}

/** The core's trace ring: the newest `limit` crossings. */
export function traceReport(vm: Vm, limit = 32): string {
  const { trace } = readCoreStats(vm.cpu);
  if (trace.entries.length === 0) return "trace ring empty (crossings are traced in the hypervisor modes)\n";
  const rows = trace.entries
    .slice(-limit)
    .map(
      (e) =>
        `#${e.seq} ${e.kind} ${e.name} (${e.where}) eip=${h8(e.eip)} qual=${h8(e.qualification)} gpa=${h8(e.gpa)} t=${e.vtime}`,
    );
  return `${trace.recorded} crossings traced, the ring keeps ${trace.capacity}; newest ${rows.length}:\n${rows.join("\n")}\n`;
}
