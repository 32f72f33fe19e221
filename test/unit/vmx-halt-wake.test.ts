// A vCPU halted by its HLT exit waits in the VMM: the interrupt that wakes it is injected on the
// entry that ends the wait, with no external-interrupt exit of its own (KVM's halt blocks the
// vCPU in the host the same way). An interrupt that arrives while the guest runs still exits.
// Both under hvm (HLT exiting) and pv.

import { describe, expect, it } from "vitest";
import { Cpu, REG, SEG } from "../../vmm/cpu.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { readCoreStats } from "../../vmm/stats/core-stats.js";
import { ExitReason } from "../../vmm/stats/events.js";
import { configureVirtualization, type VirtMode } from "../../vmm/virt/vmcs.js";

const HLT = 0xf4;

async function haltedGuest(mode: VirtMode) {
  const cpu = await Cpu.create(loadCoreModule(), 1 << 20);
  cpu.setHost({
    ackInterrupt: () => {
      cpu.setIntr(false);
      return 0x20;
    },
  });
  configureVirtualization(cpu, mode, "ept");
  // IVT[0x20] -> 0:7D00 (inc bx; iret); code: sti; hlt; inc cx; cli; hlt
  cpu.writePhysical(0x80, Uint8Array.from([0x00, 0x7d, 0x00, 0x00]));
  cpu.writePhysical(0x7d00, Uint8Array.from([0x43, 0xcf]));
  cpu.writePhysical(0x7c00, Uint8Array.from([0xfb, HLT, 0x41, 0xfa, HLT]));
  cpu.setRealSegment(SEG.CS, 0);
  cpu.setRealSegment(SEG.SS, 0);
  cpu.setReg(REG.ESP, 0x7000);
  cpu.setReg(REG.EBX, 0);
  cpu.setReg(REG.ECX, 0);
  cpu.eip = 0x7c00;
  return cpu;
}

const exits = (cpu: Cpu, reason: number) =>
  readCoreStats(cpu)
    .counters.filter((c) => c.kind === "exit" && c.reason === reason)
    .reduce((n, c) => n + c.core + c.host, 0);

describe("VMX: waking a halted vCPU", () => {
  for (const mode of ["hvm", "pv"] as const) {
    it(`${mode}: the HLT exit is the idle period's one crossing; the wake-up interrupt is injected`, async () => {
      const cpu = await haltedGuest(mode);
      expect(cpu.run(100)).toBe("halt");
      expect(exits(cpu, ExitReason.hlt)).toBe(1);
      // The device raises its line while the vCPU waits in the VMM.
      cpu.setIntr(true);
      expect(cpu.run(100)).toBe("halt");
      expect(cpu.reg(REG.EBX)).toBe(1); // the handler ran
      expect(cpu.reg(REG.ECX)).toBe(1); // then the code after HLT
      expect(exits(cpu, ExitReason.externalInterrupt)).toBe(0);
      expect(exits(cpu, ExitReason.hlt)).toBe(2);
    });
  }
});
