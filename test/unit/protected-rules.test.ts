// Protected-mode rules case by case: segment register loads, hardware versus software
// interrupts (gate DPL, the EXT bit), inner-stack faults, and virtual-8086 mode extensions.
// Guest code is pm.asm (see protected-harness.ts) plus hand-encoded snippets at ENTRY.snippet.

import { describe, expect, it } from "vitest";
import { REG, SEG } from "../../vmm/cpu.js";
import * as L from "../../vmm/generated/layout.js";
import { ENTRY, gateDesc, Machine, SEL, segDesc, TSS_A, TSS_B } from "./protected-harness.js";

const FLAG_IF = 0x200;
const FLAG_VM = 0x20000;
const FLAG_VIF = 0x80000;
const MOV_DS_AX = [0x8e, 0xd8];
const MOV_SS_AX = [0x8e, 0xd0];
const HLT = [0xf4];

/** Runs `bytes` at CPL `cpl` with AX = `ax`; returns the recorded fault (vector, error, EIP). */
async function fault(cpl: 0 | 3, ax: number, bytes: number[]) {
  const m = await Machine.create();
  m.code(ENTRY.snippet, bytes);
  m.start(ENTRY.snippet, cpl);
  m.cpu.setReg(REG.EAX, ax);
  const reason = m.cpu.run(50);
  return { m, reason, vector: m.r32(0x7f0), error: m.r32(0x740), eip: m.r32(0x744) };
}

describe("segment register loads (SDM vol. 2, MOV—Move: protected-mode segment checks)", () => {
  it("a data segment with DPL < CPL: #GP(selector)", async () => {
    const f = await fault(3, SEL.DATA0, MOV_DS_AX);
    expect([f.vector, f.error, f.eip]).toEqual([13, SEL.DATA0, ENTRY.snippet]);
  });

  it("SS with DPL != CPL: #GP(selector)", async () => {
    const f = await fault(0, 0x20, MOV_SS_AX);
    expect([f.vector, f.error]).toEqual([13, 0x20]);
  });

  it("SS with a null selector: #GP(0)", async () => {
    const f = await fault(0, 0, MOV_SS_AX);
    expect([f.vector, f.error]).toEqual([13, 0]);
  });

  it("SS with a code segment: #GP(selector); DS with a readable code segment is allowed", async () => {
    const f = await fault(0, SEL.CODE0, MOV_SS_AX);
    expect([f.vector, f.error]).toEqual([13, SEL.CODE0]);
    const ok = await fault(0, SEL.CODE0, [...MOV_DS_AX, ...HLT]);
    expect(ok.reason).toBe("halt");
    expect(ok.vector).toBe(0);
    expect(ok.m.cpu.segment(SEG.DS).selector).toBe(SEL.CODE0);
  });

  it("SS not present: #SS(selector), not #NP", async () => {
    const f = await fault(0, SEL.NOT_PRESENT, MOV_SS_AX);
    expect([f.vector, f.error]).toEqual([12, SEL.NOT_PRESENT]);
  });

  it("a selector beyond the GDT limit, or in an unusable LDT: #GP(selector)", async () => {
    const f = await fault(0, 0x1238, MOV_DS_AX);
    expect([f.vector, f.error]).toEqual([13, 0x1238]);
    const l = await fault(0, 0x0c, MOV_DS_AX);
    expect([l.vector, l.error]).toEqual([13, 0x0c]);
  });

  it("a null DS loads, and a later access through it is #GP(0) (SDM vol. 3, 3.4.2)", async () => {
    const f = await fault(3, 0, [...MOV_DS_AX, 0xa1, 0, 0, 0, 0]);
    expect([f.vector, f.error, f.eip]).toEqual([13, 0, ENTRY.snippet + 2]);
  });
});

/** Little-endian bytes of a 32-bit value. */
const d32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
/** JMP FAR ptr16:32 / CALL FAR ptr16:32 / PUSH imm32 / RETF in 32-bit code. */
const jmpFar = (sel: number, off: number) => [0xea, ...d32(off), sel & 0xff, sel >>> 8];
const callFar = (sel: number, off: number) => [0x9a, ...d32(off), sel & 0xff, sel >>> 8];
const push = (v: number) => [0x68, ...d32(v)];
const RETF = [0xcb];

describe("far JMP, CALL and RET privilege rules (SDM vol. 2, JMP, CALL, RET; vol. 3, 5.8.1-5.8.2)", () => {
  it("JMP to a conforming segment with DPL < CPL: allowed, CPL unchanged, CS.RPL = CPL", async () => {
    const m = await Machine.create();
    m.setGdt(12, segDesc(0, 0xfffff, 0x9e, 0xc)); // conforming code, DPL 0
    m.cpu.setGdtr(0x1000, 13 * 8 - 1);
    m.code(ENTRY.snippet, jmpFar(0x60, ENTRY.idle));
    m.start(ENTRY.snippet, 3);
    expect(m.cpu.run(20)).toBe("budget");
    expect(m.cpu.eip).toBe(ENTRY.idle + 5);
    expect(m.cpu.segment(SEG.CS).selector).toBe(0x63);
    expect(m.cpu.cpl).toBe(3);
  });

  it("JMP through a call gate to a more privileged non-conforming segment: #GP(code selector); a direct CALL to it: #GP(selector)", async () => {
    const j = await fault(3, 0, jmpFar(SEL.CALL_GATE, 0));
    expect([j.vector, j.error, j.eip]).toEqual([13, SEL.CODE0, ENTRY.snippet]);
    const c = await fault(3, 0, callFar(SEL.CODE0, ENTRY.idle));
    expect([c.vector, c.error]).toEqual([13, SEL.CODE0]);
  });

  it("RET to an outer level whose SS selector RPL differs from the return CS RPL: #GP(SS selector)", async () => {
    const f = await fault(0, 0, [...push(0x20), ...push(0x9000), ...push(SEL.CODE3), ...push(ENTRY.idle), ...RETF]);
    expect([f.vector, f.error, f.eip]).toEqual([13, 0x20, ENTRY.snippet + 20]);
    const ok = await fault(0, 0, [
      ...push(SEL.DATA3),
      ...push(0x9000),
      ...push(SEL.CODE3),
      ...push(ENTRY.idle),
      ...RETF,
    ]);
    expect(ok.reason).toBe("budget");
    expect(ok.m.cpu.cpl).toBe(3);
    expect(ok.m.cpu.reg(REG.ESP)).toBe(0x9000);
    expect(ok.m.cpu.segment(SEG.SS).selector).toBe(SEL.DATA3);
  });
});

describe("interrupt delivery rules", () => {
  it("a hardware interrupt ignores the gate DPL: vector 0x41 (DPL 0) from ring 3 is delivered (SDM vol. 3, 6.12.1.1: the DPL check applies to INT n, INT3, INTO only)", async () => {
    const m = await Machine.create({ ackInterrupt: () => 0x41 });
    m.start(ENTRY.idle, 3, 0x202);
    m.cpu.setHost({
      ackInterrupt: () => {
        m.cpu.setIntr(false);
        return 0x41;
      },
    });
    expect(m.cpu.run(5)).toBe("budget");
    m.cpu.setIntr(true);
    expect(m.cpu.run(40)).toBe("budget");
    expect(m.r32(0x700)).toBe(ENTRY.idle + 5);
    expect(m.r32(0x704)).toBe(SEL.CODE3);
    expect(m.r32(0x71c)).toBe(0xcafe);
    expect(m.cpu.eip).toBe(ENTRY.idle + 5);
    expect(m.cpu.cpl).toBe(3);
  });

  it("a not-present gate: #NP(vector*8+2), with EXT (bit 0) set for a hardware interrupt (SDM vol. 3, 6.13)", async () => {
    const m = await Machine.create();
    m.setIdt(0x45, gateDesc(SEL.CODE0, ENTRY.int40, 14, 3, 0, false));
    m.start(ENTRY.idle, 0, 0x202);
    m.cpu.setHost({
      ackInterrupt: () => {
        m.cpu.setIntr(false);
        return 0x45;
      },
    });
    m.cpu.setIntr(true);
    expect(m.cpu.run(40)).toBe("halt");
    expect([m.r32(0x7f0), m.r32(0x740)]).toEqual([11, 0x45 * 8 + 3]);

    const s = await Machine.create();
    s.setIdt(0x45, gateDesc(SEL.CODE0, ENTRY.int40, 14, 3, 0, false));
    s.code(ENTRY.snippet, [0xcd, 0x45]);
    s.start(ENTRY.snippet, 0);
    expect(s.cpu.run(40)).toBe("halt");
    expect([s.r32(0x7f0), s.r32(0x740), s.r32(0x744)]).toEqual([11, 0x45 * 8 + 2, ENTRY.snippet]);
  });

  it("an inner stack that is not present: #SS(SS selector) (SDM vol. 2, CALL: 'IF new stack segment not present THEN #SS(SS selector)')", async () => {
    const m = await Machine.create();
    m.setGdt(12, segDesc(0, 0xfffff, 0xba, 0xc)); // ring-1 code
    m.setGdt(13, segDesc(0, 0xfffff, 0x32, 0xc)); // ring-1 data, not present
    m.cpu.setGdtr(0x1000, 14 * 8 - 1);
    m.setGdt(7, gateDesc(0x60, ENTRY.gateEntry, 12, 3, 0));
    m.w32(TSS_A + 0x0c, 0x7000);
    m.w32(TSS_A + 0x10, 0x69);
    m.start(ENTRY.ts, 3);
    expect(m.cpu.run(100)).toBe("halt");
    expect([m.r32(0x7f0), m.r32(0x740), m.r32(0x744)]).toEqual([12, 0x68, ENTRY.ts]);
  });
});

describe("IRET privilege rules and 16-bit tasks", () => {
  it("IRETD from CPL 0 may set IOPL; at CPL 3 (IOPL 3) IRETD changes IF but leaves IOPL; data segments with DPL < CPL are nulled (SDM vol. 2, IRET: 'IF CPL <= IOPL THEN EFLAGS(IF) <- tempEFLAGS; IF CPL = 0 THEN EFLAGS(IOPL)')", async () => {
    const m = await Machine.create();
    m.start(ENTRY.iopl, 0);
    expect(m.cpu.run(100)).toBe("budget");
    expect(m.r32(0x66c) & 0xffff).toBe(0); // DS (DPL 0) nulled on the return to ring 3
    expect(m.r32(0x670) & (0x3000 | FLAG_IF)).toBe(0x3000);
    expect(m.r32(0x674) & (0x3000 | FLAG_IF)).toBe(0x3000 | FLAG_IF);
    expect(m.cpu.cpl).toBe(3);
  });

  it("CALL through a task gate to a 16-bit TSS (type 1) and IRET back (SDM vol. 3, 7.6, figure 7-11: the 16-bit TSS format)", async () => {
    const m = await Machine.create();
    const TSS_C = 0x6100;
    m.setGdt(12, segDesc(TSS_C, 0x2b, 0x81, 0));
    m.cpu.setGdtr(0x1000, 13 * 8 - 1);
    m.setGdt(8, gateDesc(0x60, 0, 5, 3));
    m.w16(TSS_C + 0x0e, ENTRY.task16 - 0x10000); // IP
    m.w16(TSS_C + 0x10, 0x2); // FLAGS
    m.w16(TSS_C + 0x1a, 0x6f00); // SP
    m.w16(TSS_C + 0x22, SEL.DATA0); // ES
    m.w16(TSS_C + 0x24, SEL.CODE16); // CS
    m.w16(TSS_C + 0x26, SEL.DATA0); // SS
    m.w16(TSS_C + 0x28, SEL.DATA0); // DS
    m.start(ENTRY.task, 0);
    expect(m.cpu.run(200)).toBe("halt");
    expect(m.r32(0x680)).toBe(0x1616);
    expect(m.r32(0x684) & 0x4000).toBe(0x4000);
    expect(m.r32(0x688) & 0xffff).toBe(0x6f00);
    expect(m.r32(TSS_C) & 0xffff).toBe(SEL.TSS_A);
    // Task C's state was saved in the 16-bit format: IP after its IRET.
    expect(m.r32(TSS_C + 0x0e) & 0xffff).toBe(ENTRY.task16 - 0x10000 + 0x18);
    expect((m.gdtHigh(12) >>> 8) & 0xf).toBe(1);
    expect(m.r32(0x630)).toBe(0xa1);
    expect(m.r32(0x634)).toBe(0xa2);
    expect(m.cpu.segment(SEG.TR).selector).toBe(SEL.TSS_A);
  });
});

describe("task gates in the IDT", () => {
  it("a double fault through a task gate switches tasks and pushes the error code on the new task's stack (SDM vol. 3, 6.11.3 and 'Interrupt 8': Linux's double-fault task)", async () => {
    const m = await Machine.create();
    m.setIdt(13, gateDesc(SEL.CODE0, ENTRY.gpHandler, 14, 0, 0, false));
    m.setIdt(8, gateDesc(SEL.TSS_B, 0, 5, 0));
    m.start(ENTRY.df, 0);
    expect(m.cpu.run(2)).toBe("budget");
    expect(m.cpu.eip).toBe(ENTRY.taskB);
    expect(m.cpu.segment(SEG.TR).selector).toBe(SEL.TSS_B);
    expect(m.cpu.reg(REG.ESP)).toBe(0x7000 - 4);
    expect(m.r32(0x7000 - 4)).toBe(0); // #DF error code
    expect(m.cpu.eflags & 0x4000).toBe(0x4000); // NT: nested
    expect(m.r32(TSS_B) & 0xffff).toBe(SEL.TSS_A);
    expect(m.r32(TSS_A + 0x20)).toBe(ENTRY.df + 4); // A resumes at the faulting MOV
    expect((m.gdtHigh(6) >>> 8) & 0xf).toBe(11);
    expect((m.gdtHigh(5) >>> 8) & 0xf).toBe(11);
  });

  it("a software INT through a task gate to a busy TSS: #GP(TSS selector) (SDM vol. 2, INT n: 'IF TSS descriptor specifies that the TSS is busy THEN #GP(TSS selector)')", async () => {
    const m = await Machine.create();
    m.setIdt(0x46, gateDesc(SEL.TSS_A, 0, 5, 3));
    m.code(ENTRY.snippet, [0xcd, 0x46]);
    m.start(ENTRY.snippet, 0);
    expect(m.cpu.run(50)).toBe("halt");
    expect([m.r32(0x7f0), m.r32(0x740), m.r32(0x744)]).toEqual([13, SEL.TSS_A, ENTRY.snippet]);
  });
});

describe("virtual-8086 mode extensions (CR4.VME, SDM vol. 3, 20.3-20.4)", () => {
  /** Enters v86 at 1200:ip with `eflags`; TSS A gets an interrupt redirection bitmap. */
  async function v86(eflags: number, ip: number, vme: boolean, redirectionByte8 = 0) {
    const m = await Machine.create();
    m.w16(TSS_A + 0x66, 0x88); // I/O map base: the 32-byte redirection bitmap sits below it
    m.code(TSS_A + 0x68 + 8, [redirectionByte8]); // vectors 0x40-0x47
    m.w16(0x42 * 4, 0x0100); // IVT[0x42] = 1200:0100
    m.w16(0x42 * 4 + 2, 0x1200);
    if (vme) m.cpu.setCr(4, 1);
    m.w32(0x7e0, eflags);
    m.w32(0x7e4, ip);
    m.start(ENTRY.v86Enter, 0);
    return m;
  }

  it("INT n with IOPL < 3 and a clear redirection bit goes to the 8086 handler through the IVT, pushing IF = VIF and IOPL 3; IRET restores VIF (table 20-2, method 6)", async () => {
    const m = await v86(FLAG_VM | FLAG_VIF | 0x2, 0, true);
    expect(m.cpu.run(300)).toBe("budget");
    expect(m.r32(0x40010) & 0xffff).toBe(0x5678);
    expect(Array.from(m.cpu.readPhysical(0x20000 + 0xfa, 4))).toEqual([0x05, 0x00, 0x00, 0x12]);
    const pushed = m.cpu.readPhysical(0x200fe, 2);
    const fl = pushed[0] | (pushed[1] << 8);
    expect(fl & (FLAG_IF | 0x3000)).toBe(FLAG_IF | 0x3000);
    expect(m.cpu.eflags & (FLAG_VIF | FLAG_IF | 0x3000)).toBe(FLAG_VIF);
    expect(m.cpu.u32(L.S_MODE)).toBe(2);
  });

  it("INT n with IOPL < 3 and the redirection bit set: #GP(0) (method 4)", async () => {
    const m = await v86(FLAG_VM | 0x2, 0, true, 0x04);
    expect(m.cpu.run(300)).toBe("halt");
    expect([m.r32(0x7f0), m.r32(0x740), m.r32(0x744)]).toEqual([13, 0, 3]);
  });

  it("INT3 in v86 mode with IOPL < 3 is not IOPL-sensitive: it goes through the IDT to a DPL-3 gate (SDM vol. 3, 20.3.1.1: only INT n is)", async () => {
    const m = await v86(FLAG_VM | 0x2, 0x200, false);
    m.setIdt(3, gateDesc(SEL.CODE0, ENTRY.int40, 14, 3));
    expect(m.cpu.run(300)).toBe("budget");
    expect([m.r32(0x700), m.r32(0x704)]).toEqual([0x201, 0x1200]);
    expect(m.cpu.eip).toBe(0x201);
    expect(m.cpu.u32(L.S_MODE)).toBe(2);
  });

  it("IRET in v86 mode with IOPL < 3 and no VME: #GP(0) (SDM vol. 2, IRET: 'IF IOPL < 3 THEN #GP(0)')", async () => {
    const m = await v86(FLAG_VM | 0x2, 0x100, false);
    expect(m.cpu.run(300)).toBe("halt");
    expect([m.r32(0x7f0), m.r32(0x740), m.r32(0x744), m.r32(0x748)]).toEqual([13, 0, 0x103, 0x1200]);
  });
});
