// KVM's paravirtual interface (Linux Documentation/virt/kvm/x86/cpuid.rst, msr.rst,
// hypercalls.rst): absent on the bare P6, present in the hvm and pv modes (VMX non-root
// operation, where CPUID and VMCALL exit to the VMM). With it, the tiny Linux (built with
// KVM_GUEST) detects KVM and runs on kvm-clock.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadLinux } from "../../vmm/boot/linux.js";
import { Cpu, REG, SEG } from "../../vmm/cpu.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { configureVirtualization } from "../../vmm/virt/vmcs.js";
import { Vm } from "../../vmm/vm.js";

/** Runs `code` in real mode at 0:7C00 with EAX = `eax` (and ECX = `ecx`) until HLT. */
async function run(code: number[], regs: Partial<Record<number, number>>, kvm: boolean): Promise<Cpu> {
  const cpu = await Cpu.create(loadCoreModule(), 1 << 20);
  configureVirtualization(cpu, kvm ? "hvm" : "native");
  cpu.writePhysical(0x7c00, Uint8Array.from([...code, 0xf4]));
  cpu.setRealSegment(SEG.CS, 0);
  cpu.eip = 0x7c00;
  for (const [r, v] of Object.entries(regs)) cpu.setReg(Number(r), v as number);
  cpu.stopOnException = true;
  return cpu;
}

const CPUID = [0x0f, 0xa2];
const VMCALL = [0x0f, 0x01, 0xc1];

describe("KVM paravirtual interface", () => {
  it("is absent on the bare CPU: no hypervisor bit, no signature leaf, VMCALL is #UD", async () => {
    let cpu = await run(CPUID, { [REG.EAX]: 1 }, false);
    expect(cpu.run(10)).toBe("halt");
    expect(cpu.reg(REG.ECX) >>> 31).toBe(0);
    cpu = await run(CPUID, { [REG.EAX]: 0x40000000 }, false);
    cpu.run(10);
    expect(cpu.reg(REG.EBX)).not.toBe(0x4b4d564b);
    cpu = await run(VMCALL, { [REG.EAX]: 9 }, false);
    expect(cpu.run(10)).toBe("exception");
    expect(cpu.lastException.vector).toBe(6);
  });

  it("with the interface: hypervisor bit, KVMKVMKVM, kvmclock features, VMCALL returns -KVM_ENOSYS", async () => {
    let cpu = await run(CPUID, { [REG.EAX]: 1 }, true);
    cpu.run(10);
    expect(cpu.reg(REG.ECX) >>> 31).toBe(1);
    cpu = await run(CPUID, { [REG.EAX]: 0x40000000 }, true);
    cpu.run(10);
    const sig = [REG.EBX, REG.ECX, REG.EDX].map((r) => cpu.reg(r));
    const text = String.fromCharCode(...sig.flatMap((v) => [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >>> 24]));
    expect(text).toBe("KVMKVMKVM\0\0\0");
    expect(cpu.reg(REG.EAX)).toBe(0x40000001);
    cpu = await run(CPUID, { [REG.EAX]: 0x40000001 }, true);
    cpu.run(10);
    expect(cpu.reg(REG.EAX) & (1 << 3)).not.toBe(0); // KVM_FEATURE_CLOCKSOURCE2
    cpu = await run(VMCALL, { [REG.EAX]: 99 }, true); // a number no hypervisor defines
    expect(cpu.run(10)).toBe("halt");
    expect(cpu.reg(REG.EAX) | 0).toBe(-1000);
    cpu = await run(VMCALL, { [REG.EAX]: 9 }, true); // KVM_HC_CLOCK_PAIRING without a TSC clocksource
    expect(cpu.run(10)).toBe("halt");
    expect(cpu.reg(REG.EAX) | 0).toBe(-95);
  });

  it("fills a pvclock structure when MSR_KVM_SYSTEM_TIME_NEW is written", async () => {
    // wrmsr(0x4b564d01, 0x8001): enable, structure at 0x8000
    const code = [0x66, 0xb9, 0x01, 0x4d, 0x56, 0x4b, 0x66, 0xb8, 0x01, 0x80, 0x00, 0x00, 0x66, 0x31, 0xd2, 0x0f, 0x30];
    const cpu = await run(code, {}, true);
    expect(cpu.run(100)).toBe("halt");
    const pv = new DataView(cpu.readPhysical(0x8000, 32).buffer);
    expect(pv.getUint32(0, true) % 2).toBe(0); // version even: consistent
    expect(pv.getUint32(24, true)).toBe(0x80000000); // tsc_to_system_mul: 1 ns per TSC tick
    expect(pv.getInt8(28)).toBe(1); // tsc_shift
    expect(pv.getUint8(29) & 1).toBe(1); // PVCLOCK_TSC_STABLE_BIT
  });

  it("the tiny Linux detects KVM and uses kvm-clock", async () => {
    let out = "";
    const vm = await Vm.create({
      module: loadCoreModule(),
      ramBytes: 64 << 20,
      mode: "hvm",
      wallClockSeconds: 1704067200,
      onSerial: (com, b) => {
        if (com === 1) out += String.fromCharCode(b);
      },
    });
    const guest = (n: string) => new Uint8Array(readFileSync(new URL(`../../guests/linux/${n}`, import.meta.url)));
    loadLinux(vm.cpu, {
      kernel: guest("bzImage"),
      initrd: guest("initramfs.cpio.gz"),
      cmdline: "console=ttyS0 panic=-1",
    });
    let asked = -1;
    const stop = vm.run(1_500_000_000, () => {
      if (asked < 0 && out.includes("~ # ")) {
        asked = out.length;
        vm.devices.com1.receive("cat /sys/devices/system/clocksource/clocksource0/current_clocksource\r");
      }
      if (asked >= 0 && /\nkvm-clock\r?\n/.test(out.slice(asked))) vm.requestStop({ kind: "stopped" });
    });
    expect(stop.kind, out.slice(-600)).toBe("stopped");
    expect(out).toContain("Hypervisor detected: KVM");
    expect(out).toContain("Switched to clocksource kvm-clock");
  });
});
