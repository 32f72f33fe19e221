// The CPU compatibility check of a live migration: the guest has read CPUID on the source and
// may use any feature it saw, so the destination must present the same processor (vendor,
// signature) with at least the features the source's did (QEMU and libvirt refuse a destination
// CPU model that lacks a feature the guest was started with). The leaves are read by running
// CPUID in a scratch CPU of the VM's own core module (another build of the core may implement
// other features), with the VM's KVM paravirtual interface on or off as it is.

import { Cpu, REG, SEG } from "../cpu.js";
import { S_KVM_PARAVIRT } from "../generated/layout.js";
import type { Vm } from "../vm.js";

/** CPUID leaf → [EAX, EBX, ECX, EDX]. */
export type CpuidLeaves = Record<string, [number, number, number, number]>;

const LEAVES = [0, 1, 2, 0x4000_0000, 0x4000_0001];

/** The CPUID leaves the guest of `vm` sees, read from a scratch CPU built from `module`. */
export async function probeCpuid(vm: Vm, module: WebAssembly.Module): Promise<CpuidLeaves> {
  const cpu = await Cpu.create(module, 64 << 10, {}, { jit: false });
  cpu.setU32(S_KVM_PARAVIRT, vm.cpu.u32(S_KVM_PARAVIRT));
  cpu.ram.set([0x0f, 0xa2, 0xf4], 0x1000); // cpuid; hlt
  cpu.setRealSegment(SEG.CS, 0);
  const out: CpuidLeaves = {};
  for (const leaf of LEAVES) {
    cpu.eip = 0x1000;
    cpu.setReg(REG.EAX, leaf);
    cpu.setReg(REG.ECX, 0);
    cpu.run(1);
    out[`0x${leaf.toString(16)}`] = [cpu.reg(REG.EAX), cpu.reg(REG.EBX), cpu.reg(REG.ECX), cpu.reg(REG.EDX)].map(
      (v) => v >>> 0,
    ) as [number, number, number, number];
  }
  return out;
}

const hex = (v: number) => `0x${(v >>> 0).toString(16).padStart(8, "0")}`;
const NAMES = ["EAX", "EBX", "ECX", "EDX"];
/** Registers that hold feature bits: the destination must have every bit the source had. */
const FEATURE_REGS: Record<string, number[]> = { "0x1": [2, 3], "0x40000001": [0] };

/** What the destination (`dest`) lacks of what the guest saw on the source, one line each. */
export function cpuidDifferences(source: CpuidLeaves, dest: CpuidLeaves): string[] {
  const out: string[] = [];
  for (const [leaf, regs] of Object.entries(source)) {
    const d = dest[leaf];
    if (!d) {
      out.push(`CPUID leaf ${leaf}: the destination has no such leaf`);
      continue;
    }
    const features = FEATURE_REGS[leaf] ?? [];
    regs.forEach((v, i) => {
      if (features.includes(i)) {
        const missing = (v & ~d[i]!) >>> 0;
        if (missing !== 0)
          out.push(`CPUID leaf ${leaf} ${NAMES[i]}: the destination lacks feature bits ${hex(missing)}`);
      } else if (v >>> 0 !== d[i]! >>> 0) {
        out.push(`CPUID leaf ${leaf} ${NAMES[i]}: source ${hex(v)}, destination ${hex(d[i]!)}`);
      }
    });
  }
  return out;
}
