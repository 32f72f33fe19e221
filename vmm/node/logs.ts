// QEMU's -d/-D: what happens in the guest, logged between slices to stderr or a file. Items:
// int (exceptions: the counts by vector that rose in a slice, with the last one's details),
// cpu_reset (the CPU state at power-on and each reboot), exits (new entries of the core's trace
// ring: every VM exit in the hypervisor modes), post (POST codes at port 0x80).

import { writeSync } from "node:fs";
import type { Machine } from "../lib/machine.js";
import { registersReport } from "../monitor/report.js";
import { readCoreStats } from "../stats/index.js";
import type { LogItem } from "./sinks.js";
import { openSinkFile } from "./sinks.js";

export function startLogs(machine: Machine, items: Set<LogItem>, file: string | undefined): void {
  if (items.size === 0) return;
  const fd = file ? openSinkFile("-D", file) : 2;
  const log = (text: string) => writeSync(fd, text.endsWith("\n") ? text : `${text}\n`);
  let counts = machine.vm.cpu.exceptionCounts();
  let traced = 0;
  const onVm = () => {
    counts = machine.vm.cpu.exceptionCounts();
    traced = 0;
    if (items.has("cpu_reset")) log(`CPU Reset (CPU 0)\n${registersReport(machine.vm)}`);
    if (items.has("post"))
      machine.vm.devices.post.onCode = (code) => log(`POST code 0x${code.toString(16).padStart(2, "0")}`);
  };
  onVm();
  machine.onVm.push(onVm);
  machine.on("slice", () => {
    const vm = machine.vm;
    if (items.has("int")) {
      const now = vm.cpu.exceptionCounts();
      const rose = now.map((n, v) => [v, n - (counts[v] ?? 0)] as const).filter(([, d]) => d > 0);
      if (rose.length) {
        const e = vm.cpu.lastException;
        const err = e.error === null ? "" : ` error 0x${e.error.toString(16)}`;
        log(
          `exceptions at insn ${vm.cpu.instructions}: ${rose.map(([v, d]) => `#${v} x${d}`).join(", ")}; last: vector ${e.vector}${err} at EIP 0x${e.eip.toString(16)}`,
        );
      }
      counts = now;
    }
    if (items.has("exits")) {
      const { trace } = readCoreStats(vm.cpu);
      const fresh = trace.entries.filter((t) => t.seq > traced);
      if (trace.recorded - traced > fresh.length)
        log(`(${trace.recorded - traced - fresh.length} exits not shown: the ring wrapped)`);
      for (const t of fresh) {
        log(
          `exit #${t.seq} ${t.kind} ${t.name} eip=0x${t.eip.toString(16)} qual=0x${t.qualification.toString(16)} gpa=0x${t.gpa.toString(16)}`,
        );
      }
      traced = trace.recorded;
    }
  });
}
