// -kernel as QEMU reads it: a Linux bzImage (boot protocol) or a Multiboot v1 kernel, told
// apart by the "HdrS" setup header. For Multiboot kernels, -initrd names the modules.

import type { Cpu } from "../cpu.js";
import { loadLinux } from "./linux.js";
import { loadMultiboot } from "./multiboot.js";

export type KernelFormat = "linux" | "multiboot";

export function kernelFormat(image: Uint8Array): KernelFormat {
  const isLinux =
    image.length > 0x206 &&
    image[0x202] === 0x48 &&
    image[0x203] === 0x64 &&
    image[0x204] === 0x72 &&
    image[0x205] === 0x53;
  return isLinux ? "linux" : "multiboot";
}

export function loadKernel(
  cpu: Cpu,
  kernel: Uint8Array,
  initrd: Uint8Array | undefined,
  cmdline: string,
): KernelFormat {
  const format = kernelFormat(kernel);
  if (format === "linux") loadLinux(cpu, { kernel, initrd, cmdline });
  else loadMultiboot(cpu, { kernel, cmdline, modules: initrd ? [{ data: initrd }] : [] });
  return format;
}
