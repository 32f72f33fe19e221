// Boots the tiny Linux (guests/linux) under a virtualization mode to its shell prompt, answers one
// command, and reports what it cost: guest instructions, host time, and the VM's crossing stats.
// Used by bench:modes and by the mode tests.

import { readFileSync } from "node:fs";
import { loadLinux } from "../../vmm/boot/linux.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { readCoreStats, readWalkStats, type WalkStats } from "../../vmm/stats/core-stats.js";
import type { StatsSnapshot } from "../../vmm/stats/stats.js";
import type { MmuMode, VirtMode } from "../../vmm/virt/vmcs.js";
import { Vm } from "../../vmm/vm.js";

const guest = (name: string) => new Uint8Array(readFileSync(new URL(`../../guests/linux/${name}`, import.meta.url)));

/** A line of current_clocksource (the echo of the command line does not match: it has a slash). */
const CLOCKSOURCE = /\n([a-z_-]+)\r?\n/;

export interface LinuxBootResult {
  /** Serial output. */
  output: string;
  /** Guest instructions retired from power-on to the prompt. */
  instructionsToPrompt: number;
  /** Host milliseconds from VM creation to the prompt. */
  hostMsToPrompt: number;
  /** The clocksource the kernel reports in sysfs after boot. */
  clocksource: string;
  /** Crossings from power-on to the prompt. */
  crossings: StatsSnapshot;
  /** Page walks from power-on to the prompt. */
  walk: WalkStats;
  vm: Vm;
}

/** Boots to the prompt, then reads the current clocksource; throws with the output's tail on failure. */
export async function bootLinux(
  mode: VirtMode,
  mmu?: MmuMode,
  limit = 2_000_000_000,
  jit = true,
): Promise<LinuxBootResult> {
  let out = "";
  const t0 = performance.now();
  const vm = await Vm.create({
    module: loadCoreModule(),
    ramBytes: 64 << 20,
    mode,
    mmu,
    jit,
    wallClockSeconds: 1704067200,
    onSerial: (com, b) => {
      if (com === 1) out += String.fromCharCode(b);
    },
  });
  loadLinux(vm.cpu, {
    kernel: guest("bzImage"),
    initrd: guest("initramfs.cpio.gz"),
    cmdline: "console=ttyS0 panic=-1",
  });
  let promptAt = -1;
  let hostMs = 0;
  let insns = 0;
  let crossings: StatsSnapshot | undefined;
  let walk: WalkStats | undefined;
  const stop = vm.run(limit, () => {
    if (promptAt < 0 && out.includes("~ # ")) {
      promptAt = out.length;
      hostMs = performance.now() - t0;
      insns = Number(vm.cpu.instructions);
      crossings = readCoreStats(vm.cpu);
      walk = readWalkStats(vm.cpu);
      vm.devices.com1.receive("cat /sys/devices/system/clocksource/clocksource0/current_clocksource\r");
    }
    if (promptAt >= 0 && CLOCKSOURCE.test(out.slice(promptAt))) vm.requestStop({ kind: "stopped" });
  });
  if (stop.kind !== "stopped") {
    throw new Error(`tiny Linux under ${mode}/${mmu ?? "default"}: ${JSON.stringify(stop)}\n${out.slice(-800)}`);
  }
  const m = CLOCKSOURCE.exec(out.slice(promptAt));
  return {
    output: out,
    instructionsToPrompt: insns,
    hostMsToPrompt: hostMs,
    clocksource: m ? m[1]! : "",
    crossings: crossings!,
    walk: walk!,
    vm,
  };
}
