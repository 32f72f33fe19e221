// Protected-mode segmentation, far transfers, IDT delivery, task switches and virtual-8086
// mode, checked with guest code (test/unit/programs/protected/pm.asm) on the machine that
// test/unit/protected-harness.ts builds. Each case cites the SDM rule it checks.

import { describe, expect, it } from "vitest";
import { REG, SEG } from "../../vmm/cpu.js";
import * as L from "../../vmm/generated/layout.js";
import { ENTRY, gateDesc, Machine, SEL, STACK0, STACK3, segDesc, TSS_A, TSS_B } from "./protected-harness.js";

const FLAG_IF = 0x200;
const FLAG_NT = 0x4000;
const FLAG_VM = 0x20000;

/** Low 16 bits (selectors stored with MOV r32, Sreg). */
const w = (v: number) => v & 0xffff;

describe("protected mode: far transfers", () => {
  it("CALL through a 32-bit call gate from ring 3 switches to the TSS ring-0 stack, copies parameters, and RET imm returns to ring 3 (SDM vol. 3, 5.8.5-5.8.6, figure 5-13; vol. 2 RET: outer return nulls data segments with DPL < CPL)", async () => {
    const m = await Machine.create();
    m.start(ENTRY.callGate, 3);
    expect(m.cpu.run(200)).toBe("budget");
    expect(m.cpu.eip).toBe(0x10044);
    expect(m.r32(0x600) >>> 0).toBe(0x22222222); // param 0 at [esp+8] on the inner stack
    expect(m.r32(0x604) >>> 0).toBe(0x11111111);
    expect(w(m.r32(0x608))).toBe(SEL.DATA0); // SS0 from the TSS
    expect(m.r32(0x60c)).toBe(STACK0 - 24); // SS, ESP, 2 params, CS, EIP
    expect(w(m.r32(0x610))).toBe(SEL.CODE0);
    // The inner frame, oldest first.
    expect(m.r32(STACK0 - 4)).toBe(SEL.DATA3);
    expect(m.r32(STACK0 - 8)).toBe(STACK3 - 8);
    expect(m.r32(STACK0 - 24)).toBe(0x10011);
    expect(m.r32(STACK0 - 20)).toBe(SEL.CODE3);
    // Back at CPL 3: FS (a DPL-0 segment loaded by the ring-0 code) was nulled; RET 8 popped params.
    expect(w(m.r32(0x614))).toBe(0);
    expect(m.r32(0x618)).toBe(STACK3);
    expect(w(m.r32(0x61c))).toBe(SEL.CODE3);
    expect(m.cpu.cpl).toBe(3);
  });

  it("CALL through a 16-bit call gate builds a 16-bit frame and a 16-bit RET imm returns to ring 3 (SDM vol. 3, 5.8.3: the gate size sets the frame size)", async () => {
    const m = await Machine.create();
    // A 16-bit gate pushes a 16-bit IP: the ring-3 caller runs in a 32-bit segment based at
    // 0x10000 so that its return offset fits in 16 bits.
    m.setGdt(13, segDesc(0x10000, 0xffff, 0xfa, 0x4));
    m.cpu.setGdtr(0x1000, 14 * 8 - 1);
    m.start(ENTRY.callGate16, 3);
    m.cpu.setSegment(SEG.CS, { selector: 0x6b, base: 0x10000, limit: 0xffff, attr: 0x40fb });
    m.cpu.eip = ENTRY.callGate16 - 0x10000;
    expect(m.cpu.run(200)).toBe("budget");
    expect(w(m.r32(0x650))).toBe(0x3333);
    expect(m.r32(0x654)).toBe(STACK3);
    expect(w(m.r32(0x658))).toBe(0x6b);
    // The 16-bit inner frame: IP, CS, param, SP, SS (10 bytes below SP0).
    expect(Array.from(m.cpu.readPhysical(STACK0 - 10, 10))).toEqual([
      0x0b, 0x09, 0x6b, 0x00, 0x33, 0x33, 0xfe, 0x8f, 0x23, 0x00,
    ]);
  });

  it("#NP(selector) for a not-present data segment load, reported at the MOV (SDM vol. 2, MOV: 'IF segment not marked present THEN #NP(selector)')", async () => {
    const m = await Machine.create();
    m.start(ENTRY.np, 0);
    expect(m.cpu.run(100)).toBe("halt");
    expect(m.r32(0x7f0)).toBe(11);
    expect(m.r32(0x740)).toBe(SEL.NOT_PRESENT);
    expect(m.r32(0x744)).toBe(ENTRY.np + 4);
    expect(m.r32(0x748)).toBe(SEL.CODE0);
  });

  it("#TS(SS selector) when the TSS names an unusable inner stack for a call gate (SDM vol. 3, 5.8.5 and table 6-2: 'the stack segment selector ... not a writable data segment')", async () => {
    const m = await Machine.create();
    // A ring-1 code segment reached through the call gate, and SS1 = a code selector.
    m.setGdt(12, segDesc(0, 0xfffff, 0xba, 0xc));
    m.cpu.setGdtr(0x1000, 13 * 8 - 1);
    m.setGdt(7, gateDesc(0x60, ENTRY.gateEntry, 12, 3, 0));
    m.w32(TSS_A + 0x0c, 0x7000);
    m.w32(TSS_A + 0x10, 0x19); // SS1 = ring-1-RPL selector of a code segment
    m.start(ENTRY.ts, 3);
    expect(m.cpu.run(100)).toBe("halt");
    expect(m.r32(0x7f0)).toBe(10);
    expect(m.r32(0x740)).toBe(0x18);
    expect(m.r32(0x744)).toBe(ENTRY.ts); // a fault: EIP of the CALL
    expect(m.r32(0x748)).toBe(SEL.CODE3);
  });
});

describe("protected mode: interrupts and exceptions through the IDT", () => {
  it("INT n from ring 3 through a DPL-3 interrupt gate switches to the ring-0 stack, clears IF, and IRET returns to ring 3 (SDM vol. 3, 6.12.1, figure 6-4)", async () => {
    const m = await Machine.create();
    m.start(ENTRY.int, 3, 0x202);
    expect(m.cpu.run(200)).toBe("budget");
    expect(m.r32(0x700)).toBe(ENTRY.int + 7); // return EIP: after INT 0x40
    expect(m.r32(0x704)).toBe(SEL.CODE3);
    expect(m.r32(0x708) & FLAG_IF).toBe(FLAG_IF);
    expect(m.r32(0x70c)).toBe(STACK3);
    expect(m.r32(0x710)).toBe(SEL.DATA3);
    expect(m.r32(0x714)).toBe(STACK0 - 20);
    expect(m.r32(0x718) & FLAG_IF).toBe(0); // interrupt gate clears IF
    expect(m.r32(0x71c)).toBe(0xaaaa);
    expect(m.r32(0x620)).toBe(STACK3);
    expect(w(m.r32(0x624))).toBe(SEL.CODE3);
    expect(w(m.r32(0x628))).toBe(SEL.DATA3);
    expect(m.r32(0x62c) & FLAG_IF).toBe(FLAG_IF);
    expect(m.cpu.cpl).toBe(3);
  });

  it("INT n to a gate with DPL < CPL raises #GP(vector*8+2) at the INT instruction (SDM vol. 3, 6.12.1.1; vol. 2 INT n: 'IF gate DPL < CPL THEN #GP(error_code(vector_number,1,0))')", async () => {
    const m = await Machine.create();
    m.start(ENTRY.gpDpl, 3);
    expect(m.cpu.run(100)).toBe("halt");
    expect(m.r32(0x7f0)).toBe(13);
    expect(m.r32(0x740)).toBe(0x41 * 8 + 2);
    expect(m.r32(0x744)).toBe(ENTRY.gpDpl + 1);
    expect(m.r32(0x748)).toBe(SEL.CODE3);
  });

  it("a #GP whose IDT gate is not present becomes a double fault with error code 0 (SDM vol. 3, 6.15 'Interrupt 8', table 6-5: contributory then contributory)", async () => {
    const m = await Machine.create();
    m.setIdt(13, gateDesc(SEL.CODE0, ENTRY.gpHandler, 14, 0, 0, false));
    m.start(ENTRY.df, 0);
    expect(m.cpu.run(100)).toBe("halt");
    expect(m.r32(0x7f0)).toBe(8);
    expect(m.r32(0x740)).toBe(0);
    expect(m.r32(0x744)).toBe(ENTRY.df + 4);
  });

  it("a fault while delivering a double fault shuts the processor down: run() returns 'shutdown' (SDM vol. 3, 6.15 'Interrupt 8': triple fault)", async () => {
    const m = await Machine.create();
    m.cpu.setIdtr(0x2000, 0); // every vector is beyond the IDT limit
    m.start(ENTRY.df, 0);
    expect(m.cpu.run(100)).toBe("shutdown");
  });
});

describe("protected mode: hardware task switches", () => {
  it("CALL through a task gate saves task A, nests task B (back link, NT, busy), and IRET with NT returns to A (SDM vol. 3, 7.3 table 7-2, 7.4)", async () => {
    const m = await Machine.create();
    m.start(ENTRY.task, 0);
    expect(m.cpu.run(200)).toBe("halt");
    // In task B.
    expect(m.r32(0x660)).toBe(0xb0b0);
    expect(m.r32(0x664) & FLAG_NT).toBe(FLAG_NT);
    expect(w(m.r32(0x668))).toBe(SEL.TSS_B);
    expect(m.r32(TSS_B) & 0xffff).toBe(SEL.TSS_A); // back link
    // Back in task A: its registers came from its TSS.
    expect(m.r32(0x630)).toBe(0xa1);
    expect(m.r32(0x634)).toBe(0xa2);
    expect(m.r32(0x638) & FLAG_NT).toBe(0);
    expect(m.r32(0x63c) & 0x8).toBe(0x8); // CR0.TS set by the switch
    expect(w(m.r32(0x640))).toBe(SEL.TSS_A);
    expect(m.r32(TSS_A + 0x20)).toBe(ENTRY.task + 17); // saved EIP: after the CALL
    expect((m.gdtHigh(6) >>> 8) & 0xf).toBe(9); // B available again after IRET
    expect((m.gdtHigh(5) >>> 8) & 0xf).toBe(11); // A busy
    expect(m.cpu.segment(SEG.TR).selector).toBe(SEL.TSS_A);
  });

  it("JMP to a TSS descriptor frees the old task and neither links nor sets NT (SDM vol. 3, 7.3 table 7-2)", async () => {
    const m = await Machine.create();
    m.start(ENTRY.jmpTask, 0);
    m.cpu.setReg(REG.EAX, 0x1234);
    expect(m.cpu.run(1)).toBe("budget");
    expect(m.cpu.eip).toBe(ENTRY.taskB);
    expect(m.cpu.segment(SEG.TR).selector).toBe(SEL.TSS_B);
    expect(m.cpu.segment(SEG.CS).selector).toBe(SEL.CODE0);
    expect(m.cpu.reg(REG.ESP)).toBe(0x7000);
    expect(m.cpu.eflags & FLAG_NT).toBe(0);
    expect(m.r32(TSS_B) & 0xffff).toBe(0);
    expect((m.gdtHigh(5) >>> 8) & 0xf).toBe(9);
    expect((m.gdtHigh(6) >>> 8) & 0xf).toBe(11);
    expect(m.r32(TSS_A + 0x28)).toBe(0x1234); // EAX saved in A
    expect(m.r32(TSS_A + 0x20)).toBe(ENTRY.jmpTask + 7);
  });
});

describe("virtual-8086 mode", () => {
  it("IRETD at CPL 0 with VM set enters v86 mode; INT n (IOPL 3) goes to the ring-0 handler with ES DS FS GS on the frame and null data segments; IRETD returns to v86 (SDM vol. 3, 20.2.5, 20.3.1.1, figure 20-4)", async () => {
    const m = await Machine.create();
    m.w32(0x7e0, FLAG_VM | 0x3000 | 0x2);
    m.w32(0x7e4, 0);
    m.start(ENTRY.v86Enter, 0);
    expect(m.cpu.run(300)).toBe("budget");
    expect(m.r32(0x780)).toBe(5); // IP after INT 0x42
    expect(m.r32(0x784)).toBe(0x1200);
    expect(m.r32(0x788) & (FLAG_VM | 0x3000)).toBe(FLAG_VM | 0x3000);
    expect(m.r32(0x78c)).toBe(0x100);
    expect(m.r32(0x790)).toBe(0x2000);
    expect(m.r32(0x794)).toBe(0x4000);
    expect(m.r32(0x798)).toBe(0x3000);
    expect(w(m.r32(0x79c))).toBe(0); // DS nulled on entry from v86
    expect(w(m.r32(0x7a0))).toBe(0x1234);
    expect(m.r32(0x7a4)).toBe(STACK0 - 36);
    // Back in v86 after the handler's IRETD.
    expect(w(m.r32(0x40010))).toBe(0x1234);
    expect(w(m.r32(0x40012))).toBe(0x2000);
    expect(w(m.r32(0x40014))).toBe(0x100);
    expect(m.cpu.u32(L.S_MODE)).toBe(2);
    expect(m.cpu.cpl).toBe(3);
    expect(m.cpu.segment(SEG.CS).base).toBe(0x12000);
  });

  it("INT n in v86 mode with IOPL < 3 raises #GP(0) at the INT, delivered to ring 0 (SDM vol. 3, 20.2.7 and 20.3.3 table 20-2, method 2)", async () => {
    const m = await Machine.create();
    m.w32(0x7e0, FLAG_VM | 0x2);
    m.w32(0x7e4, 0);
    m.start(ENTRY.v86Enter, 0);
    expect(m.cpu.run(300)).toBe("halt");
    expect(m.r32(0x7f0)).toBe(13);
    expect(m.r32(0x740)).toBe(0);
    expect(m.r32(0x744)).toBe(3); // the INT instruction
    expect(m.r32(0x748)).toBe(0x1200);
    expect(m.r32(0x74c) & FLAG_VM).toBe(FLAG_VM);
    expect(w(m.r32(0x754))).toBe(0);
    expect(m.r32(0x758)).toBe(0x100);
    expect(m.r32(0x75c)).toBe(0x2000);
    expect(m.r32(0x760)).toBe(0x4000);
    expect(m.r32(0x764)).toBe(0x3000);
  });
});

describe("I/O permission", () => {
  it("at CPL 3 with IOPL 0 the TSS I/O bitmap decides: a clear bit allows OUT, a set bit raises #GP(0) (SDM vol. 1, 19.5.2)", async () => {
    const m = await Machine.create();
    m.start(ENTRY.io, 3);
    expect(m.cpu.run(100)).toBe("halt");
    expect(m.ioWrites).toEqual([[0x81, 1, 0x5a]]);
    expect(m.r32(0x7f0)).toBe(13);
    expect(m.r32(0x740)).toBe(0);
    expect(m.r32(0x744)).toBe(ENTRY.io + 4);
  });

  it("CPL <= IOPL allows every port without the bitmap (SDM vol. 1, 19.5.1)", async () => {
    const m = await Machine.create();
    m.start(ENTRY.io, 3, 0x3002);
    expect(m.cpu.run(100)).toBe("budget");
    expect(m.cpu.eip).toBe(ENTRY.io + 6);
  });
});
