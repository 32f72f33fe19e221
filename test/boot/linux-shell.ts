// The tiny Linux booted directly to its busybox shell on COM1, with a helper that runs a command
// line and returns what it printed: the boot tests that drive a guest from its shell share it.

import { readFileSync } from "node:fs";
import { loadLinux } from "../../vmm/boot/linux.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { Vm, type VmOptions } from "../../vmm/vm.js";

const guest = (name: string) => new Uint8Array(readFileSync(new URL(`../../guests/linux/${name}`, import.meta.url)));

export interface LinuxShell {
  vm: Vm;
  /** Everything COM1 printed. */
  out: { text: string };
  /** Runs a command line and returns its output, once the next prompt is out. */
  sh(cmd: string): string;
}

/** Boots the tiny Linux with `cmdline` after `console=ttyS0` and waits for the shell's prompt. */
export async function bootToShell(
  options: Omit<VmOptions, "module" | "ramBytes" | "onSerial"> & { ramBytes?: number },
  cmdline = "",
): Promise<LinuxShell> {
  const out = { text: "" };
  const vm = await Vm.create({
    ramBytes: 64 << 20,
    ...options,
    module: loadCoreModule(),
    onSerial: (com, b) => {
      if (com === 1) out.text += String.fromCharCode(b);
    },
  });
  loadLinux(vm.cpu, {
    kernel: guest("bzImage"),
    initrd: guest("initramfs.cpio.gz"),
    cmdline: `console=ttyS0 ${cmdline}`.trim(),
  });
  const until = (text: string, limit: number, from = 0) => {
    const start = vm.cpu.instructions;
    while (!out.text.includes(text, from)) {
      if (Number(vm.cpu.instructions - start) > limit) {
        throw new Error(`no '${text}' after ${limit} instructions; output ends with:\n${out.text.slice(-800)}`);
      }
      const stop = vm.run(5_000_000);
      if (stop.kind !== "limit") throw new Error(`guest stopped: ${JSON.stringify(stop)}\n${out.text.slice(-800)}`);
    }
  };
  until("~ # ", 1_500_000_000);
  const sh = (cmd: string): string => {
    const from = out.text.length;
    vm.devices.com1.receive(`${cmd}; echo @@; echo done\r`);
    until("@@\r\ndone", 1_000_000_000, from);
    const end = out.text.indexOf("@@\r\ndone", from);
    until("~ # ", 100_000_000, end);
    return out.text.slice(from, end);
  };
  return { vm, out, sh };
}
