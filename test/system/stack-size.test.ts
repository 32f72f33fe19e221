// Stack-size corner cases found by public test suites run against the core:
// - POP SS that changes the stack size steps the stack pointer by the OLD stack's size (the pop
//   happens before the load; SDM vol. 2, "POP");
// - ENTER ends with a write check at its final stack pointer (SDM vol. 2, "ENTER": #SS(0) when
//   the new stack pointer is outside the segment, #PF when a write through it would fault).

import { describe, expect, it } from "vitest";
import { REG, SEG } from "../../vmm/cpu.js";
import { CODE, enterFlat32, type Machine, machine } from "./harness.js";

const GDT = 0x1000;
const DATA32 = 0x10;
const DATA16 = 0x18;

function put32(m: Machine, addr: number, v: number): void {
  m.cpu.writePhysical(addr, Uint8Array.of(v, v >>> 8, v >>> 16, v >>> 24));
}

/** Flat 32-bit ring 0 with a GDT: 0x08 code32, 0x10 data32 (flat), 0x18 data16 (base 0x20000, 64 KiB). */
async function flatWithGdt(code: number[]): Promise<Machine> {
  const m = await machine();
  enterFlat32(m, code);
  put32(m, GDT + 0x08, 0x0000ffff);
  put32(m, GDT + 0x0c, 0x00cf9b00);
  put32(m, GDT + 0x10, 0x0000ffff);
  put32(m, GDT + 0x14, 0x00cf9300);
  put32(m, GDT + 0x18, 0x0000ffff); // base 0x20000, limit 0xFFFF, byte granular, B = 0
  put32(m, GDT + 0x1c, 0x00009302);
  m.cpu.setGdtr(GDT, 0x1f);
  m.cpu.stopOnException = true;
  return m;
}

describe("POP SS changing the stack size", () => {
  it("o32 POP SS from a 16-bit stack to a 32-bit segment: SP wraps as the 16-bit stack says", async () => {
    const m = await flatWithGdt([0x17, 0xf4]); // pop ss (32-bit operand); hlt
    const cpu = m.cpu;
    cpu.setSegment(SEG.SS, { selector: DATA16, base: 0x20000, limit: 0xffff, attr: 0x93 });
    cpu.setReg(REG.ESP, 0x2fffc);
    put32(m, 0x20000 + 0xfffc, DATA32);
    expect(cpu.run(10)).toBe("halt");
    expect(cpu.segment(SEG.SS).selector).toBe(DATA32);
    expect(cpu.reg(REG.ESP) >>> 0).toBe(0x20000); // SP 0xFFFC + 4 wraps to 0; the high half stays
  });

  it("o16 POP SS from a 32-bit stack to a 16-bit segment: ESP steps by 2 in full", async () => {
    const m = await flatWithGdt([0x66, 0x17, 0xf4]); // pop ss (16-bit operand); hlt
    const cpu = m.cpu;
    cpu.setSegment(SEG.SS, { selector: DATA32, base: 0, limit: 0xffffffff, attr: 0xc093 });
    cpu.setReg(REG.ESP, 0x2fffe);
    m.cpu.writePhysical(0x2fffe, Uint8Array.of(DATA16, 0));
    expect(cpu.run(10)).toBe("halt");
    expect(cpu.segment(SEG.SS).selector).toBe(DATA16);
    expect(cpu.reg(REG.ESP) >>> 0).toBe(0x30000);
  });
});

describe("ENTER checks its final stack pointer", () => {
  /** Ring 3, paged: page 5 not present, page 6 supervisor-only, the rest user. */
  async function ring3Paged(code: number[]): Promise<Machine> {
    const m = await machine();
    enterFlat32(m, code, 3);
    const PD = 0x10000;
    const PT = 0x11000;
    for (let i = 0; i < 1024; i++) put32(m, PT + i * 4, (i << 12) | (i === 5 ? 0 : i === 6 ? 0x3 : 0x7));
    put32(m, PD, PT | 0x7);
    m.cpu.setCr(3, PD);
    m.cpu.setCr(0, m.cpu.cr(0) | 0x80000000);
    m.cpu.stopOnException = true;
    return m;
  }

  // enter SIZE, 0 from ESP = 0x8008 (page 8, user): EBP is pushed at 0x8004 (user, fine); the
  // final ESP = 0x8004 - SIZE lands in page 6 (supervisor) or page 5 (not present).
  for (const [what, size, error] of [
    ["a supervisor page", 0x1014, 0x7], // final ESP 0x6FF0: P | W | U
    ["a not-present page", 0x2014, 0x6], // final ESP 0x5FF0: W | U
  ] as const) {
    it(`#PF when the final ESP at ring 3 is in ${what}; EBP and ESP unchanged`, async () => {
      const m = await ring3Paged([0xc8, size & 0xff, size >> 8, 0x00, 0xf4]); // enter size, 0; hlt
      const cpu = m.cpu;
      cpu.setReg(REG.ESP, 0x8008);
      cpu.setReg(REG.EBP, 0x1234);
      expect(cpu.run(10)).toBe("exception");
      expect(cpu.lastException.vector).toBe(14);
      expect(cpu.lastException.error).toBe(error);
      expect(cpu.cr(2) >>> 0).toBe(0x8004 - size);
      expect(cpu.reg(REG.ESP) >>> 0).toBe(0x8008);
      expect(cpu.reg(REG.EBP)).toBe(0x1234);
    });
  }

  it("no fault when the final ESP is in a writable user page", async () => {
    const m = await ring3Paged([0xc8, 0x20, 0x00, 0x00, 0xf4]);
    const cpu = m.cpu;
    cpu.setReg(REG.ESP, 0x8010);
    // ENTER completes; the HLT after it is privileged at ring 3 (#GP stops the run).
    expect(cpu.run(10)).toBe("exception");
    expect(cpu.lastException.vector).toBe(13);
    expect(cpu.lastException.eip).toBe(CODE + 4);
    expect(cpu.reg(REG.ESP) >>> 0).toBe(0x8010 - 4 - 0x20);
    expect(cpu.reg(REG.EBP) >>> 0).toBe(0x8010 - 4);
  });
});

describe("ENTER with a 32-bit operand on a 16-bit stack (as measured on the host CPU)", () => {
  // Host CPU, a 16-bit LDT stack segment, ESP = 0x12340100, EBP = 0x5678ABCD:
  //   o32 enter 8,0 -> pushes 0x5678ABCD, EBP = 0x123400FC, ESP = 0x123400F4
  //   o16 enter 8,0 -> pushes 0xABCD,     EBP = 0x567800FE, ESP = 0x123400F6
  for (const [name, code, pushed, ebp, esp] of [
    ["o32", [0xc8, 0x08, 0x00, 0x00, 0xf4], 0x5678abcd, 0x123400fc, 0x123400f4],
    ["o16", [0x66, 0xc8, 0x08, 0x00, 0x00, 0xf4], 0xabcd, 0x567800fe, 0x123400f6],
  ] as const) {
    it(`${name} enter 8,0`, async () => {
      const m = await flatWithGdt([...code]);
      const cpu = m.cpu;
      cpu.setSegment(SEG.SS, { selector: DATA16, base: 0x20000, limit: 0xffff, attr: 0x93 });
      cpu.setReg(REG.ESP, 0x12340100);
      cpu.setReg(REG.EBP, 0x5678abcd);
      expect(cpu.run(10)).toBe("halt");
      expect(cpu.reg(REG.EBP) >>> 0).toBe(ebp);
      expect(cpu.reg(REG.ESP) >>> 0).toBe(esp);
      const at = name === "o32" ? 0x200fc : 0x200fe;
      const dv = new DataView(cpu.readPhysical(at, 4).buffer);
      expect(name === "o32" ? dv.getUint32(0, true) : dv.getUint16(0, true)).toBe(pushed);
    });
  }
});
