// Firmware mapped read-only at the top of the 4 GiB space executes from the reset vector
// (CS base 0xFFFF0000, IP 0xFFF0) and ignores writes, as ROM does.

import { describe, expect, it } from "vitest";
import { Cpu, REG } from "../../vmm/cpu.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";

describe("ROM mapping", () => {
  it("runs from the reset vector and drops writes to ROM", async () => {
    const cpu = await Cpu.create(loadCoreModule(), 1 << 20);
    const rom = new Uint8Array(0x10000).fill(0x90);
    rom[0xfff8] = 0x5a;
    // mov byte [cs:0xfff8], 0x12 ; mov al, [cs:0xfff8] ; hlt
    rom.set([0x2e, 0xc6, 0x06, 0xf8, 0xff, 0x12, 0x2e, 0xa0, 0xf8, 0xff, 0xf4], 0xffe0);
    rom.set([0xeb, 0xee], 0xfff0); // jmp short 0xffe0
    cpu.loadRom(0xffff0000, rom);
    cpu.reset();
    expect(cpu.run(100)).toBe("halt");
    expect(cpu.reg(REG.EAX) & 0xff).toBe(0x5a);
  });

  it("refuses images that are not whole pages", async () => {
    const cpu = await Cpu.create(loadCoreModule(), 1 << 20);
    expect(() => cpu.loadRom(0xfffff000, new Uint8Array(100))).toThrow(RangeError);
  });
});
