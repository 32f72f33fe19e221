// The machine state the JIT tests start their guests in: protected mode at ring 0 with flat
// 32-bit code and data segments (GDT selectors 0x08 and 0x10 as the descriptors' names; the
// caches are set directly), EFLAGS with only its reserved bit.

import { type Cpu, SEG } from "../../vmm/cpu.js";

export function enterFlatProtectedMode(cpu: Cpu): void {
  cpu.setCr(0, cpu.cr(0) | 1);
  cpu.setSegment(SEG.CS, { selector: 0x08, base: 0, limit: 0xffffffff, attr: 0xc09b });
  for (const s of [SEG.DS, SEG.ES, SEG.SS, SEG.FS, SEG.GS])
    cpu.setSegment(s, { selector: 0x10, base: 0, limit: 0xffffffff, attr: 0xc093 });
  cpu.cpl = 0;
  cpu.eflags = 2;
}
