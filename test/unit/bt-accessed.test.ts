// The bt mode's translator fetches the next page only when an instruction's bytes go on into it,
// as the CPU does: a block whose first instruction ends inside the last bytes of a page leaves
// the next page's PTE Accessed bit alone (it used to probe that page and set the bit, which
// native execution never does).

import { describe, expect, it } from "vitest";
import { Cpu, REG, SEG } from "../../vmm/cpu.js";
import * as L from "../../vmm/generated/layout.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { configureVirtualization, type VirtMode } from "../../vmm/virt/vmcs.js";

const PD = 0x10000;
const PT = 0x11000;
const P = 1;
const RW = 2;
const A = 0x20;

async function pagedCpu(mode: VirtMode): Promise<Cpu> {
  const cpu = await Cpu.create(loadCoreModule(), 4 << 20);
  if (mode !== "native") configureVirtualization(cpu, mode, "shadow");
  const dv = (addr: number, v: number) => cpu.writePhysical(addr, Uint8Array.of(v, v >>> 8, v >>> 16, v >>> 24));
  for (let i = 0; i < 1024; i++) dv(PT + i * 4, (i << 12) | P | RW); // Accessed clear everywhere
  dv(PD, PT | P | RW);
  cpu.setSegment(SEG.CS, { selector: 8, base: 0, limit: 0xffffffff, attr: 0xc09b });
  for (const s of [SEG.SS, SEG.DS, SEG.ES, SEG.FS, SEG.GS]) {
    cpu.setSegment(s, { selector: 0x10, base: 0, limit: 0xffffffff, attr: 0xc093 });
  }
  cpu.setCr(3, PD);
  cpu.setCr(0, 0x80000011); // PG | ET | PE
  cpu.setReg(REG.ESP, 0x9000);
  cpu.stopOnException = true;
  return cpu;
}

function pte(cpu: Cpu, page: number): number {
  return new DataView(cpu.readPhysical(PT + page * 4, 4).buffer).getUint32(0, true);
}

describe("bt: the next page is fetched only when an instruction reaches it", () => {
  for (const mode of ["native", "bt"] as VirtMode[]) {
    it(`${mode}: a UD2 in the last bytes of a page leaves the next page's Accessed bit clear`, async () => {
      const cpu = await pagedCpu(mode);
      cpu.writePhysical(0x7ffe, Uint8Array.of(0x0f, 0x0b)); // ud2, ending at the page's last byte
      cpu.eip = 0x7ffe;
      expect(cpu.run(100)).toBe("exception");
      expect(cpu.lastException.vector).toBe(6);
      expect(pte(cpu, 7) & A).toBe(A);
      expect(pte(cpu, 8) & A).toBe(0);
    });

    it(`${mode}: an instruction that straddles the page end sets the next page's Accessed bit`, async () => {
      const cpu = await pagedCpu(mode);
      // mov eax, 0x44332211 from 0x7ffd (3 bytes in this page, 2 in the next), then hlt.
      cpu.writePhysical(0x7ffd, Uint8Array.of(0xb8, 0x11, 0x22, 0x33, 0x44, 0xf4));
      cpu.eip = 0x7ffd;
      expect(cpu.run(100)).toBe("halt");
      expect(cpu.reg(REG.EAX)).toBe(0x44332211);
      expect(pte(cpu, 8) & A).toBe(A);
      if (mode === "bt") expect(cpu.u32(L.S_BT_BLOCKS)).toBeGreaterThan(0);
    });
  }
});
