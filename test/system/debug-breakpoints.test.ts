// DR0-DR3 instruction breakpoints fire (SDM vol. 3, 17.2 "Debug Registers" and 17.3.1.1
// "Instruction-Breakpoint Exception Condition"): with DR7.L0 set and R/W0 = 00, reaching the
// linear address in DR0 raises #DB as a fault before the instruction executes, DR6.B0 says
// which breakpoint matched, and EFLAGS.RF set by the handler (IRETD) lets the instruction run
// once, after which RF clears. A data breakpoint (R/W0 = 01) or a disabled one does not fire
// on execution.

import { describe, expect, it } from "vitest";
import * as L from "../../vmm/generated/layout.js";
import { loadReal, machine } from "./harness.js";

/**
 * Real mode at 0x7C00: DR0 = 0x7C20, DR7 = `dr7`, then the target at 0x7C20 (mov bl,0x42; hlt).
 * The #DB handler (IVT vector 1, 0x7D00) counts in CX, copies DR6 to ESI, BL to DL and the
 * frame's IP to DI, and returns with IRETD and EFLAGS.RF set.
 */
function program(dr7: number): { code: number[]; handler: number[] } {
  const d = [dr7 & 0xff, (dr7 >>> 8) & 0xff, (dr7 >>> 16) & 0xff, (dr7 >>> 24) & 0xff];
  const code = [
    ...[0x66, 0xb8, 0x20, 0x7c, 0x00, 0x00], // mov eax, 0x7c20
    ...[0x0f, 0x23, 0xc0], // mov dr0, eax
    ...[0x66, 0xb8, ...d], // mov eax, dr7 value
    ...[0x0f, 0x23, 0xf8], // mov dr7, eax
    ...[0x31, 0xc9], // xor cx, cx
    ...[0xb3, 0x00], // mov bl, 0
  ];
  while (code.length < 0x20) code.push(0x90);
  code.push(0xb3, 0x42, 0xf4); // 0x7c20: mov bl, 0x42; hlt
  const handler = [
    0x41, // inc cx
    ...[0x0f, 0x21, 0xf0], // mov eax, dr6
    ...[0x66, 0x89, 0xc6], // mov esi, eax
    ...[0x88, 0xda], // mov dl, bl
    0x5f, // pop di (IP)
    0x58, // pop ax (CS)
    0x58, // pop ax (FLAGS)
    ...[0x66, 0x68, 0x02, 0x00, 0x01, 0x00], // push dword 0x00010002 (EFLAGS with RF)
    ...[0x66, 0x6a, 0x00], // push dword 0 (CS)
    ...[0x66, 0x0f, 0xb7, 0xff], // movzx edi, di
    ...[0x66, 0x57], // push edi (EIP)
    ...[0x66, 0xcf], // iretd
  ];
  return { code, handler };
}

async function run(dr7: number) {
  const m = await machine();
  const { code, handler } = program(dr7);
  loadReal(m, code);
  m.cpu.writePhysical(0x7d00, Uint8Array.from(handler));
  m.cpu.writePhysical(4, Uint8Array.from([0x00, 0x7d, 0x00, 0x00])); // IVT[1] = 0000:7D00
  const reason = m.cpu.run(10_000);
  const r = (n: number) => m.cpu.reg(n);
  return { reason, cx: r(1) & 0xffff, dl: r(2) & 0xff, bl: r(3) & 0xff, si: r(6), di: r(7) & 0xffff, m };
}

describe("DR0-DR3 instruction breakpoints (SDM vol. 3, 17.2-17.3)", () => {
  it("fire as a fault before the instruction, set DR6.B0, and RF lets it run once", async () => {
    const r = await run(0x1); // L0, R/W0 = 00 (execution), LEN0 = 00
    expect(r.reason).toBe("halt");
    expect(r.cx).toBe(1); // one #DB: RF suppressed the second match
    expect(r.di).toBe(0x7c20); // the frame points at the instruction (a fault)
    expect(r.dl).toBe(0); // which had not executed yet
    expect(r.bl).toBe(0x42); // and executed after IRETD
    expect(r.si >>> 0).toBe(0xffff0ff1); // DR6: B0 set, reserved bits as read
    expect(r.m.cpu.eflags & 0x10000).toBe(0); // RF cleared after the instruction completed
    expect(r.m.cpu.u32(L.S_DEBUG_ARMED) & L.DEBUG_ARMED_DR7).toBe(L.DEBUG_ARMED_DR7);
  });

  it("G0 enables it too; a data breakpoint (R/W0 = 01) and a disabled one do not fire on execution", async () => {
    expect((await run(0x2)).cx).toBe(1); // G0
    for (const dr7 of [0x10001, 0x0]) {
      const r = await run(dr7);
      expect(r.reason).toBe("halt");
      expect(r.cx).toBe(0);
      expect(r.bl).toBe(0x42);
      expect(r.m.cpu.u32(L.S_DEBUG_ARMED) & L.DEBUG_ARMED_DR7).toBe(0);
    }
  });
});
