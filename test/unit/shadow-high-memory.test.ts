// The hypervisor's per-frame table covers all of guest-physical space: page tables above 512 MiB
// are write-tracked like any others (the table used to stop at 512 MiB, and `-m 513` under a
// hypervisor mode died with a RangeError).

import { describe, expect, it } from "vitest";
import { Cpu, REG, SEG } from "../../vmm/cpu.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { configureVirtualization } from "../../vmm/virt/vmcs.js";

const MiB = 1 << 20;
const PD = 600 * MiB;
const PT = PD + 0x1000;
const FRAME_X = PD + 0x2000;
const FRAME_Y = PD + 0x3000;
const LIN = 0x40000000; // PDE 256

function put32(cpu: Cpu, addr: number, v: number): void {
  cpu.writePhysical(addr, Uint8Array.of(v, v >>> 8, v >>> 16, v >>> 24));
}

describe("shadow paging with page tables above 512 MiB", () => {
  for (const mode of ["bt", "hvm"] as const) {
    it(`${mode}: a guest PTE rewrite at ${PT / MiB} MiB reaches the shadow without INVLPG`, async () => {
      const cpu = await Cpu.create(loadCoreModule(), 640 * MiB);
      configureVirtualization(cpu, mode, "shadow");
      // Identity-map the first 4 MiB with a 4 MiB page (code), the page table itself through
      // PDE 150 (600 MiB), and LIN through PT to FRAME_X.
      put32(cpu, PD, 0x83); // 4 MiB page at 0, present, writable
      put32(cpu, PD + 150 * 4, (PD & 0xffc00000) | 0x83);
      put32(cpu, PD + 256 * 4, PT | 0x3);
      put32(cpu, PT, FRAME_X | 0x3);
      put32(cpu, FRAME_X, 0x11111111);
      put32(cpu, FRAME_Y, 0x22222222);
      cpu.setSegment(SEG.CS, { selector: 8, base: 0, limit: 0xffffffff, attr: 0xc09b });
      for (const s of [SEG.SS, SEG.DS, SEG.ES, SEG.FS, SEG.GS]) {
        cpu.setSegment(s, { selector: 0x10, base: 0, limit: 0xffffffff, attr: 0xc093 });
      }
      cpu.setCr(4, 0x10); // PSE
      cpu.setCr(3, PD);
      cpu.setCr(0, 0x80000011);
      cpu.setReg(REG.ESP, 0x9000);
      // mov eax,[LIN]; mov dword [PT through its 4 MiB alias], FRAME_Y|3; mov ebx,[LIN]; hlt
      const ptAlias = (PT & 0x3fffff) | (150 << 22);
      const code = [0xa1, ...le(LIN), 0xc7, 0x05, ...le(ptAlias), ...le(FRAME_Y | 3), 0x8b, 0x1d, ...le(LIN), 0xf4];
      cpu.writePhysical(0x7000, Uint8Array.from(code));
      cpu.eip = 0x7000;
      cpu.stopOnException = true;
      expect(cpu.run(100)).toBe("halt");
      expect(cpu.reg(REG.EAX)).toBe(0x11111111);
      // The write to the tracked page table zapped the shadow entry: the new frame shows.
      expect(cpu.reg(REG.EBX)).toBe(0x22222222);
    });
  }
});

function le(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}
