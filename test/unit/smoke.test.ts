import { describe, expect, it } from "vitest";
import { Cpu, SEG } from "../../vmm/cpu.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";

describe("core smoke", () => {
  it("starts at the reset vector and halts on HLT", async () => {
    const cpu = await Cpu.create(loadCoreModule(), 1 << 20);
    expect(cpu.eip).toBe(0xfff0);
    expect(cpu.segment(SEG.CS).base).toBe(0xffff0000);
    cpu.writePhysical(0x7c00, new Uint8Array([0x90, 0x90, 0xf4]));
    cpu.setRealSegment(SEG.CS, 0);
    cpu.eip = 0x7c00;
    expect(cpu.run(100)).toBe("halt");
    expect(cpu.eip).toBe(0x7c03);
    expect(cpu.instructions).toBe(3n);
  });
});
