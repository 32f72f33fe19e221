// System instructions, one rule per test, with the SDM page each rule comes from. The snippets
// are hand-encoded; the machine is put in the mode under test from the host.
import { describe, expect, it } from "vitest";
import { REG, SEG } from "../../vmm/cpu.js";
import * as L from "../../vmm/generated/layout.js";
import { CODE, d32, descriptor, enterFlat32, loadGdt, loadReal, type Machine, machine } from "./harness.js";

const HLT = 0xf4;
const ZF = 0x40;
const GDT = 0x1000;

type Regs = Partial<Record<keyof typeof REG, number>>;

interface Opts {
  cpl?: number;
  regs?: Regs;
  setup?: (m: Machine) => void;
  budget?: number;
}

function setRegs(m: Machine, regs: Regs): void {
  for (const [k, v] of Object.entries(regs)) m.cpu.setReg(REG[k as keyof typeof REG], v);
}

/** Runs 32-bit protected-mode code at `cpl`; stops at the first exception. */
async function pm(code: number[], opts: Opts = {}) {
  const m = await machine();
  enterFlat32(m, [...code, HLT], opts.cpl ?? 0);
  setRegs(m, opts.regs ?? {});
  opts.setup?.(m);
  m.cpu.stopOnException = true;
  const reason = m.cpu.run(opts.budget ?? 100);
  return { m, cpu: m.cpu, reason, exc: m.cpu.lastException };
}

/** Runs real-mode (16-bit) code; stops at the first exception. */
async function real(code: number[], opts: Opts = {}) {
  const m = await machine();
  loadReal(m, [...code, HLT]);
  setRegs(m, opts.regs ?? {});
  opts.setup?.(m);
  m.cpu.stopOnException = true;
  const reason = m.cpu.run(opts.budget ?? 100);
  return { m, cpu: m.cpu, reason, exc: m.cpu.lastException };
}

/** Runs 16-bit code in virtual-8086 mode (IOPL from `iopl`); stops at the first exception. */
async function v86(code: number[], iopl: number, opts: Opts = {}) {
  const m = await machine();
  loadReal(m, [...code, HLT]);
  setRegs(m, opts.regs ?? {});
  m.cpu.setCr(0, m.cpu.cr(0) | 1);
  m.cpu.eflags = 0x20002 | (iopl << 12);
  opts.setup?.(m);
  m.cpu.stopOnException = true;
  const reason = m.cpu.run(opts.budget ?? 100);
  return { m, cpu: m.cpu, reason, exc: m.cpu.lastException };
}

const GP0 = (eip = CODE) => ({ vector: 13, error: 0, eip });
const UD = (eip = CODE) => ({ vector: 6, error: null, eip });

describe("MOV to/from control registers (SDM vol. 2B, MOV-Move to/from Control Registers)", () => {
  it("PG=1 with PE=0 is #GP(0)", async () => {
    const r = await real([0x0f, 0x22, 0xc0], { regs: { EAX: 0x80000000 } });
    expect(r.exc).toEqual(GP0());
    expect(r.cpu.cr(0) >>> 0).toBe(0x60000010);
  });

  it("NW=1 with CD=0 is #GP(0)", async () => {
    const r = await real([0x0f, 0x22, 0xc0], { regs: { EAX: 0x20000000 } });
    expect(r.exc).toEqual(GP0());
  });

  it("CR1 and CR5-CR7 are #UD, for reads and writes", async () => {
    for (const modrm of [0xc8, 0xe8, 0xf0, 0xf8]) {
      for (const op of [0x20, 0x22]) {
        const r = await real([0x0f, op, modrm]);
        expect(r.exc).toEqual(UD());
      }
    }
  });

  it("at CPL 3 MOV to or from CR0 is #GP(0)", async () => {
    for (const op of [0x20, 0x22]) {
      const r = await pm([0x0f, op, 0xc0], { cpl: 3 });
      expect(r.exc).toEqual(GP0());
    }
  });

  it("in virtual-8086 mode MOV CR is #GP(0)", async () => {
    const r = await v86([0x0f, 0x20, 0xc0], 3);
    expect(r.exc).toEqual(GP0());
  });

  it("CR0: ET reads 1 and bits the P6 lacks are ignored; the mod field is ignored", async () => {
    // mov cr0, eax (mod=00 encoding 0F 22 00 still means the register) ; mov ebx, cr0
    const r = await real([0x0f, 0x22, 0x00, 0x0f, 0x20, 0xc3], { regs: { EAX: 0x60000100 } });
    expect(r.reason).toBe("halt");
    expect(r.cpu.reg(REG.EBX) >>> 0).toBe(0x60000010);
  });

  it("CR2, CR3 and CR4 read back what was written; CR4 accepts VME PVI TSD DE PSE PGE", async () => {
    // mov cr2, eax ; mov cr3, ecx ; mov cr4, edx ; mov esi, cr2 ; mov edi, cr3 ; mov ebp, cr4
    const code = [0x0f, 0x22, 0xd0, 0x0f, 0x22, 0xd9, 0x0f, 0x22, 0xe2, 0x0f, 0x20, 0xd6, 0x0f, 0x20, 0xdf, 0x0f, 0x20];
    code.push(0xe5);
    const r = await pm(code, { regs: { EAX: 0xdeadbeef, ECX: 0x00123000, EDX: 0x9f } });
    expect(r.reason).toBe("halt");
    expect(r.cpu.reg(REG.ESI) >>> 0).toBe(0xdeadbeef);
    expect(r.cpu.reg(REG.EDI)).toBe(0x123000);
    expect(r.cpu.reg(REG.EBP)).toBe(0x9f);
  });
});

describe("LMSW and SMSW (SDM vol. 2A LMSW, vol. 2B SMSW)", () => {
  it("LMSW loads MP EM TS but cannot clear PE", async () => {
    const r = await pm([0x0f, 0x01, 0xf0], { regs: { EAX: 0xfffe } });
    expect(r.reason).toBe("halt");
    expect(r.cpu.cr(0) & 0xffff).toBe(0x1f);
  });

  it("LMSW can set PE in real mode: the processor enters protected mode", async () => {
    const r = await real([0x0f, 0x01, 0xf0], { regs: { EAX: 1 } });
    expect(r.reason).toBe("halt");
    expect(r.cpu.cr(0) & 1).toBe(1);
    expect(r.cpu.u32(L.S_MODE)).toBe(1);
  });

  it("LMSW at CPL 3 is #GP(0)", async () => {
    const r = await pm([0x0f, 0x01, 0xf0], { cpl: 3, regs: { EAX: 1 } });
    expect(r.exc).toEqual(GP0());
  });

  it("SMSW r32 stores all of CR0; SMSW r16 only the low word; SMSW m16 two bytes", async () => {
    // smsw eax ; o16 smsw bx ; smsw [0x100]
    const code = [0x0f, 0x01, 0xe0, 0x66, 0x0f, 0x01, 0xe3, 0x0f, 0x01, 0x25, ...d32(0x100)];
    const r = await pm(code, {
      regs: { EBX: 0xaaaa5555 },
      setup: (m) => m.cpu.writePhysical(0x100, new Uint8Array([0xee, 0xee, 0xee, 0xee])),
    });
    expect(r.reason).toBe("halt");
    expect(r.cpu.reg(REG.EAX) >>> 0).toBe(0x60000011);
    expect(r.cpu.reg(REG.EBX) >>> 0).toBe(0xaaaa0011);
    expect([...r.cpu.readPhysical(0x100, 4)]).toEqual([0x11, 0x00, 0xee, 0xee]);
  });

  it("SMSW is not privileged", async () => {
    const r = await pm([0x0f, 0x01, 0xe0], { cpl: 3 });
    expect(r.exc).toEqual(GP0(CODE + 3)); // the HLT after it
    expect(r.cpu.reg(REG.EAX) >>> 0).toBe(0x60000011);
  });

  it("CLTS clears CR0.TS; at CPL 3 it is #GP(0)", async () => {
    const r = await pm([0x0f, 0x06], { setup: (m) => m.cpu.setCr(0, m.cpu.cr(0) | 8) });
    expect(r.reason).toBe("halt");
    expect(r.cpu.cr(0) & 8).toBe(0);
    const u = await pm([0x0f, 0x06], { cpl: 3 });
    expect(u.exc).toEqual(GP0());
  });

  it("INVD and WBINVD are privileged", async () => {
    for (const op of [0x08, 0x09]) {
      expect((await pm([0x0f, op])).reason).toBe("halt");
      expect((await pm([0x0f, op], { cpl: 3 })).exc).toEqual(GP0());
    }
  });
});

describe("LGDT/LIDT/SGDT/SIDT (SDM vol. 2A LGDT/LIDT, vol. 2B SGDT, SIDT)", () => {
  const table = [0xff, 0x03, 0x78, 0x56, 0x34, 0x12];

  it("LGDT with a 32-bit operand loads a 32-bit base; LIDT likewise", async () => {
    const r = await pm([0x0f, 0x01, 0x15, ...d32(0x200), 0x0f, 0x01, 0x1d, ...d32(0x200)], {
      setup: (m) => m.cpu.writePhysical(0x200, new Uint8Array(table)),
    });
    expect(r.reason).toBe("halt");
    expect(r.cpu.u32(L.S_GDTR_BASE)).toBe(0x12345678);
    expect(r.cpu.u32(L.S_GDTR_LIMIT)).toBe(0x3ff);
    expect(r.cpu.u32(L.S_IDTR_BASE)).toBe(0x12345678);
    expect(r.cpu.u32(L.S_IDTR_LIMIT)).toBe(0x3ff);
  });

  it("LGDT with a 16-bit operand loads 24 bits of base (real mode: lgdt [0x200])", async () => {
    const r = await real([0x0f, 0x01, 0x16, 0x00, 0x02], {
      setup: (m) => m.cpu.writePhysical(0x200, new Uint8Array(table)),
    });
    expect(r.reason).toBe("halt");
    expect(r.cpu.u32(L.S_GDTR_BASE)).toBe(0x345678);
    expect(r.cpu.u32(L.S_GDTR_LIMIT)).toBe(0x3ff);
  });

  it("SGDT/SIDT store the limit and the full 32-bit base for both operand sizes", async () => {
    // real mode: sgdt [0x300] ; o32 sidt [0x310]
    const r = await real([0x0f, 0x01, 0x06, 0x00, 0x03, 0x66, 0x0f, 0x01, 0x0e, 0x10, 0x03], {
      setup: (m) => {
        m.cpu.setGdtr(0xab123456, 0x1234);
        m.cpu.setIdtr(0xcd654321, 0x7ff);
      },
    });
    expect(r.reason).toBe("halt");
    expect([...r.cpu.readPhysical(0x300, 6)]).toEqual([0x34, 0x12, 0x56, 0x34, 0x12, 0xab]);
    expect([...r.cpu.readPhysical(0x310, 6)]).toEqual([0xff, 0x07, 0x21, 0x43, 0x65, 0xcd]);
  });

  it("LGDT/LIDT at CPL 3 are #GP(0); SGDT/SIDT are allowed", async () => {
    expect((await pm([0x0f, 0x01, 0x15, ...d32(0x200)], { cpl: 3 })).exc).toEqual(GP0());
    expect((await pm([0x0f, 0x01, 0x1d, ...d32(0x200)], { cpl: 3 })).exc).toEqual(GP0());
    const s = await pm([0x0f, 0x01, 0x05, ...d32(0x200)], { cpl: 3 });
    expect(s.exc).toEqual(GP0(CODE + 7));
  });

  it("the register forms are #UD", async () => {
    for (const modrm of [0xc0, 0xc8, 0xd0, 0xd8, 0xf8]) {
      expect((await pm([0x0f, 0x01, modrm])).exc).toEqual(UD());
    }
  });
});

describe("0F 00 group, LAR, LSL, ARPL: #UD in real-address and virtual-8086 mode", () => {
  const forms: [string, number[]][] = [
    ["SLDT", [0x0f, 0x00, 0xc0]],
    ["STR", [0x0f, 0x00, 0xc8]],
    ["LLDT", [0x0f, 0x00, 0xd0]],
    ["LTR", [0x0f, 0x00, 0xd8]],
    ["VERR", [0x0f, 0x00, 0xe0]],
    ["VERW", [0x0f, 0x00, 0xe8]],
    ["LAR", [0x0f, 0x02, 0xc3]],
    ["LSL", [0x0f, 0x03, 0xc3]],
    ["ARPL", [0x63, 0xd8]],
  ];
  it.each(forms)("%s in real mode is #UD", async (_n, code) => {
    expect((await real(code)).exc).toEqual(UD());
  });
  it.each(forms)("%s in virtual-8086 mode is #UD", async (_n, code) => {
    expect((await v86(code, 3)).exc).toEqual(UD());
  });
});

/** A GDT with one descriptor of every interesting kind. */
const ENTRIES: number[][] = [
  [0, 0, 0, 0, 0, 0, 0, 0], // 0x00 null
  descriptor(0, 0xfffff, 0x9b, 0xc), // 0x08 code DPL0 readable, 4 GiB
  descriptor(0, 0xfffff, 0x93, 0xc), // 0x10 data DPL0 writable
  descriptor(0, 0xfffff, 0xfb, 0xc), // 0x18 code DPL3
  descriptor(0, 0xfffff, 0xf3, 0xc), // 0x20 data DPL3
  descriptor(0x10000, 0xfff, 0x99, 0x4), // 0x28 code DPL0 execute-only, limit 0xFFF
  descriptor(0x20000, 0x1, 0x9f, 0xc), // 0x30 conforming readable code DPL0, limit 0x1FFF
  descriptor(0x30000, 0x3ff, 0x91, 0x4), // 0x38 data DPL0 read-only
  descriptor(0x40000, 0x67, 0x89, 0x0), // 0x40 TSS32 available DPL0
  descriptor(0x50000, 0x1f, 0x82, 0x0), // 0x48 LDT
  [0x00, 0x10, 0x08, 0x00, 0x00, 0x8c, 0x00, 0x00], // 0x50 call gate 32 DPL0
  [0x00, 0x10, 0x08, 0x00, 0x00, 0x8e, 0x00, 0x00], // 0x58 interrupt gate 32 DPL0
  descriptor(0x60000, 0x67, 0x81, 0x0), // 0x60 TSS16 available
  descriptor(0x70000, 0xfff, 0x13, 0x4), // 0x68 data DPL0 NOT present
  [0, 0, 0, 0, 0, 0, 0, 0], // 0x70 reserved type 0 (system)
];
const gdt = (m: Machine) => loadGdt(m, GDT, ENTRIES);

describe("LAR/LSL/VERR/VERW (SDM vol. 2A LAR, LSL; vol. 2B VERR/VERW)", () => {
  async function lar(sel: number, cpl = 0, op = 0x02, o16 = false) {
    const code = [...(o16 ? [0x66] : []), 0x0f, op, 0xc3]; // lar/lsl eax, bx
    const r = await pm(code, { cpl, regs: { EBX: sel, EAX: 0xcccccccc }, setup: gdt });
    const at = CODE + code.length;
    if (cpl === 0) expect(r.reason).toBe("halt");
    else expect(r.exc).toEqual(GP0(at));
    return { zf: (r.cpu.eflags & ZF) !== 0, eax: r.cpu.reg(REG.EAX) >>> 0 };
  }

  it("LAR of a code segment: ZF=1, EAX = high dword & 00FxFF00H", async () => {
    expect(await lar(0x08)).toEqual({ zf: true, eax: 0x00cf9b00 });
  });
  it("LAR with a 16-bit operand stores bits 15:8 and keeps the high word", async () => {
    expect(await lar(0x08, 0, 0x02, true)).toEqual({ zf: true, eax: 0xcccc9b00 });
  });
  it("LAR: DPL 0 data is invisible at CPL 3 (ZF=0, destination unchanged)", async () => {
    expect(await lar(0x10, 3)).toEqual({ zf: false, eax: 0xcccccccc });
  });
  it("LAR: RPL 3 in the selector hides a DPL 0 segment even at CPL 0", async () => {
    expect(await lar(0x13)).toEqual({ zf: false, eax: 0xcccccccc });
  });
  it("LAR: a conforming code segment is visible at any CPL and RPL", async () => {
    expect((await lar(0x33, 3)).zf).toBe(true);
  });
  it("LAR accepts TSS, LDT and call gates; refuses interrupt gates and reserved types", async () => {
    expect((await lar(0x40)).zf).toBe(true);
    expect((await lar(0x48)).zf).toBe(true);
    expect((await lar(0x50)).zf).toBe(true);
    expect((await lar(0x60)).zf).toBe(true);
    expect((await lar(0x58)).zf).toBe(false);
    expect((await lar(0x70)).zf).toBe(false);
  });
  it("LAR/LSL: null and out-of-limit selectors give ZF=0 without a fault", async () => {
    expect((await lar(0x00)).zf).toBe(false);
    expect((await lar(0x400)).zf).toBe(false);
    expect((await lar(0x400, 0, 0x03)).zf).toBe(false);
  });
  it("LAR does not check the present bit", async () => {
    expect(await lar(0x68)).toEqual({ zf: true, eax: 0x00401300 });
  });
  it("LSL returns the byte limit with granularity applied", async () => {
    expect(await lar(0x08, 0, 0x03)).toEqual({ zf: true, eax: 0xffffffff });
    expect(await lar(0x30, 0, 0x03)).toEqual({ zf: true, eax: 0x1fff });
    expect(await lar(0x28, 0, 0x03)).toEqual({ zf: true, eax: 0xfff });
    expect(await lar(0x40, 0, 0x03)).toEqual({ zf: true, eax: 0x67 });
  });
  it("LSL refuses gates", async () => {
    expect((await lar(0x50, 0, 0x03)).zf).toBe(false);
    expect((await lar(0x58, 0, 0x03)).zf).toBe(false);
  });

  async function ver(sel: number, write: boolean, cpl = 0) {
    const code = [0x0f, 0x00, write ? 0xeb : 0xe3]; // verr/verw bx
    const r = await pm(code, { cpl, regs: { EBX: sel }, setup: gdt });
    if (cpl === 0) expect(r.reason).toBe("halt");
    return (r.cpu.eflags & ZF) !== 0;
  }
  it("VERR: readable code and data yes; execute-only code and system descriptors no", async () => {
    expect(await ver(0x08, false)).toBe(true);
    expect(await ver(0x38, false)).toBe(true);
    expect(await ver(0x28, false)).toBe(false);
    expect(await ver(0x40, false)).toBe(false);
    expect(await ver(0x00, false)).toBe(false);
  });
  it("VERW: writable data yes; read-only data and code no", async () => {
    expect(await ver(0x10, true)).toBe(true);
    expect(await ver(0x38, true)).toBe(false);
    expect(await ver(0x08, true)).toBe(false);
  });
  it("VERR/VERW apply DPL >= max(CPL, RPL), except VERR on conforming code", async () => {
    expect(await ver(0x10, true, 3)).toBe(false);
    expect(await ver(0x23, true, 3)).toBe(true);
    expect(await ver(0x13, false)).toBe(false);
    expect(await ver(0x33, false, 3)).toBe(true);
  });
});

describe("SLDT/STR/LLDT/LTR (SDM vol. 2A LLDT, LTR; vol. 2B SLDT, STR)", () => {
  it("LLDT loads LDTR from an LDT descriptor; SLDT stores it (zero-extended in r32)", async () => {
    // lldt ax ; sldt ebx
    const r = await pm([0x0f, 0x00, 0xd0, 0x0f, 0x00, 0xc3], {
      regs: { EAX: 0x48, EBX: 0xffffffff },
      setup: gdt,
    });
    expect(r.reason).toBe("halt");
    expect(r.cpu.segment(SEG.LDTR)).toMatchObject({ selector: 0x48, base: 0x50000, limit: 0x1f });
    expect(r.cpu.reg(REG.EBX)).toBe(0x48);
  });

  it("LTR loads TR and marks the TSS busy; STR stores it", async () => {
    const r = await pm([0x0f, 0x00, 0xd8, 0x0f, 0x00, 0xcb], { regs: { EAX: 0x40 }, setup: gdt });
    expect(r.reason).toBe("halt");
    expect(r.cpu.segment(SEG.TR)).toMatchObject({ selector: 0x40, base: 0x40000, limit: 0x67 });
    expect(r.cpu.reg(REG.EBX) & 0xffff).toBe(0x40);
    expect(r.cpu.readPhysical(GDT + 0x40 + 5, 1)[0]).toBe(0x8b);
  });

  it("LTR of a busy TSS, a null selector, or a non-TSS is #GP", async () => {
    const busy = await pm([0x0f, 0x00, 0xd8, 0x0f, 0x00, 0xd8], { regs: { EAX: 0x40 }, setup: gdt });
    expect(busy.exc).toEqual({ vector: 13, error: 0x40, eip: CODE + 3 });
    expect((await pm([0x0f, 0x00, 0xd8], { regs: { EAX: 0 }, setup: gdt })).exc).toEqual(GP0());
    expect((await pm([0x0f, 0x00, 0xd8], { regs: { EAX: 0x10 }, setup: gdt })).exc).toEqual({
      vector: 13,
      error: 0x10,
      eip: CODE,
    });
  });

  it("LLDT of a non-LDT descriptor is #GP(selector); LLDT/LTR at CPL 3 are #GP(0)", async () => {
    expect((await pm([0x0f, 0x00, 0xd0], { regs: { EAX: 0x40 }, setup: gdt })).exc).toEqual({
      vector: 13,
      error: 0x40,
      eip: CODE,
    });
    expect((await pm([0x0f, 0x00, 0xd0], { cpl: 3, regs: { EAX: 0x48 }, setup: gdt })).exc).toEqual(GP0());
    expect((await pm([0x0f, 0x00, 0xd8], { cpl: 3, regs: { EAX: 0x40 }, setup: gdt })).exc).toEqual(GP0());
  });

  it("SLDT and STR are allowed at CPL 3", async () => {
    const r = await pm([0x0f, 0x00, 0xc0], { cpl: 3 });
    expect(r.exc).toEqual(GP0(CODE + 3));
  });
});

describe("ARPL (SDM vol. 2A ARPL)", () => {
  it("raises the destination RPL to the source RPL and sets ZF", async () => {
    const r = await pm([0x63, 0xd8], { regs: { EAX: 0x1238, EBX: 0x0003 } });
    expect(r.reason).toBe("halt");
    expect(r.cpu.reg(REG.EAX)).toBe(0x123b);
    expect(r.cpu.eflags & ZF).toBe(ZF);
  });
  it("leaves a higher RPL alone and clears ZF", async () => {
    const r = await pm([0x63, 0xd8], { regs: { EAX: 0x123a, EBX: 0x0001 } });
    expect(r.cpu.reg(REG.EAX)).toBe(0x123a);
    expect(r.cpu.eflags & ZF).toBe(0);
  });
  it("works on memory", async () => {
    const r = await pm([0x63, 0x1d, ...d32(0x100)], {
      regs: { EBX: 2 },
      setup: (m) => m.cpu.writePhysical(0x100, new Uint8Array([0x10, 0x00])),
    });
    expect([...r.cpu.readPhysical(0x100, 2)]).toEqual([0x12, 0x00]);
  });
});

describe("MOV to/from debug registers (SDM vol. 2B, MOV-Move to/from Debug Registers)", () => {
  it("DR6 keeps its fixed bits: reserved bits read 1, bit 12 reads 0", async () => {
    // mov dr6, eax ; mov ebx, dr6
    const r = await pm([0x0f, 0x23, 0xf0, 0x0f, 0x21, 0xf3], { regs: { EAX: 0 } });
    expect(r.reason).toBe("halt");
    expect(r.cpu.reg(REG.EBX) >>> 0).toBe(0xffff0ff0);
  });
  it("DR7: bit 10 reads 1", async () => {
    const r = await pm([0x0f, 0x23, 0xf8, 0x0f, 0x21, 0xfb], { regs: { EAX: 0x3 } });
    expect(r.cpu.reg(REG.EBX)).toBe(0x403);
  });
  it("DR0-DR3 hold any value", async () => {
    const r = await pm([0x0f, 0x23, 0xd8, 0x0f, 0x21, 0xdb], { regs: { EAX: 0xfedcba98 } });
    expect(r.cpu.reg(REG.EBX) >>> 0).toBe(0xfedcba98);
  });
  it("DR4/DR5 alias DR6/DR7 with CR4.DE = 0", async () => {
    const r = await pm([0x0f, 0x23, 0xe8, 0x0f, 0x21, 0xfb], { regs: { EAX: 0x1 } });
    expect(r.cpu.reg(REG.EBX)).toBe(0x401);
  });
  it("DR4/DR5 are #UD with CR4.DE = 1", async () => {
    const r = await pm([0x0f, 0x21, 0xe0], { setup: (m) => m.cpu.setCr(4, 8) });
    expect(r.exc).toEqual(UD());
  });
  it("at CPL 3 is #GP(0)", async () => {
    expect((await pm([0x0f, 0x21, 0xc0], { cpl: 3 })).exc).toEqual(GP0());
  });
  it("DR7.GD: the next access is a #DB with DR6.BD set and GD cleared", async () => {
    const r = await pm([0x0f, 0x23, 0xf8, 0x0f, 0x21, 0xc3], { regs: { EAX: 0x2000 } });
    expect(r.exc.vector).toBe(1);
    expect(r.exc.eip).toBe(CODE + 3);
    expect(r.cpu.u32(L.S_DR + 24) & 0x2000).toBe(0x2000);
    expect(r.cpu.u32(L.S_DR + 28) & 0x2000).toBe(0);
  });
});

describe("CLI/STI under IOPL, PVI and VME (SDM vol. 2A CLI, vol. 2B STI)", () => {
  const IF = 0x200;
  const VIF = 0x80000;
  const VIP = 0x100000;
  it("CPL 3 with IOPL 0: CLI and STI are #GP(0)", async () => {
    for (const op of [0xfa, 0xfb]) {
      const r = await pm([op], { cpl: 3, setup: (m) => (m.cpu.eflags = 0x202) });
      expect(r.exc).toEqual(GP0());
    }
  });
  it("CPL 3 with IOPL 3: CLI clears IF", async () => {
    const r = await pm([0xfa], { cpl: 3, setup: (m) => (m.cpu.eflags = 0x3202) });
    expect(r.exc).toEqual(GP0(CODE + 1));
    expect(r.cpu.eflags & IF).toBe(0);
  });
  it("CPL 3, IOPL 0, CR4.PVI: CLI clears VIF and leaves IF; STI sets VIF", async () => {
    const r = await pm([0xfa], {
      cpl: 3,
      setup: (m) => {
        m.cpu.setCr(4, 2);
        m.cpu.eflags = 0x202 | VIF;
      },
    });
    expect(r.exc).toEqual(GP0(CODE + 1));
    expect(r.cpu.eflags & (IF | VIF)).toBe(IF);
    const s = await pm([0xfb], {
      cpl: 3,
      setup: (m) => {
        m.cpu.setCr(4, 2);
        m.cpu.eflags = 0x2;
      },
    });
    expect(s.cpu.eflags & (IF | VIF)).toBe(VIF);
  });
  it("PVI: STI with VIP set is #GP(0)", async () => {
    const r = await pm([0xfb], {
      cpl: 3,
      setup: (m) => {
        m.cpu.setCr(4, 2);
        m.cpu.eflags = 0x2 | VIP;
      },
    });
    expect(r.exc).toEqual(GP0());
  });
  it("PVI applies only at CPL 3: at CPL 1 with IOPL 0 CLI is #GP(0)", async () => {
    const r = await pm([0xfa], {
      cpl: 1,
      setup: (m) => {
        m.cpu.setCr(4, 2);
        m.cpu.eflags = 0x202;
      },
    });
    expect(r.exc).toEqual(GP0());
  });
  it("virtual-8086 mode: IOPL 3 changes IF; IOPL < 3 is #GP(0) without VME, VIF with VME", async () => {
    const a = await v86([0xfa], 3, { setup: (m) => (m.cpu.eflags = m.cpu.eflags | IF) });
    expect(a.cpu.eflags & IF).toBe(0);
    const b = await v86([0xfa], 0);
    expect(b.exc).toEqual(GP0());
    const c = await v86([0xfb], 0, { setup: (m) => m.cpu.setCr(4, 1) });
    expect(c.cpu.eflags & (IF | VIF)).toBe(VIF);
  });
  it("STI sets the interrupt shadow only when IF goes from 0 to 1", async () => {
    const m = await machine();
    enterFlat32(m, [0xfb, 0x90, HLT], 0);
    m.cpu.stopOnException = true;
    expect(m.cpu.run(1)).toBe("budget");
    expect(m.cpu.u32(L.S_INT_SHADOW)).toBe(1);
    const n = await machine();
    enterFlat32(n, [0xfb, 0x90, HLT], 0);
    n.cpu.eflags = 0x202;
    expect(n.cpu.run(1)).toBe("budget");
    expect(n.cpu.u32(L.S_INT_SHADOW)).toBe(0);
  });
  it("an interrupt pending at STI is taken after the next instruction, not before", async () => {
    // sti ; nop ; nop ; hlt -- real mode, IVT entry 0x20 -> 0000:0x7d00 (hlt)
    const m = await machine();
    loadReal(m, [0xfb, 0x90, 0x90, HLT]);
    m.cpu.writePhysical(0x80, new Uint8Array([0x00, 0x7d, 0x00, 0x00]));
    m.cpu.writePhysical(0x7d00, new Uint8Array([HLT]));
    m.cpu.setHost({ ackInterrupt: () => 0x20 });
    m.cpu.setIntr(true);
    m.cpu.stopOnException = true;
    expect(m.cpu.run(100)).toBe("halt");
    // The frame's return IP is after the NOP that followed STI.
    expect(m.cpu.eip).toBe(0x7d01);
    expect([...m.cpu.readPhysical(0x7000 - 6, 2)]).toEqual([0x02, 0x7c]);
  });
});

describe("PUSHF/POPF (SDM vol. 2B PUSHF, POPF)", () => {
  it("PUSHFD clears VM and RF in the image", async () => {
    const r = await pm([0x9c], { setup: (m) => (m.cpu.eflags = 0x10202) });
    expect(r.reason).toBe("halt");
    expect(r.cpu.u32(L.RAM_BASE + 0x7000 - 4)).toBe(0x202);
  });
  it("POPFD at CPL 0 changes IOPL and IF, never VM; RF is cleared", async () => {
    const r = await pm([0x9d], {
      setup: (m) => {
        m.cpu.writePhysical(0x7000, new Uint8Array(d32(0x00033ad7)));
      },
    });
    expect(r.reason).toBe("halt");
    expect(r.cpu.eflags >>> 0).toBe(0x3ad7);
  });
  it("POPFD at CPL 3 with IOPL 0 keeps IF and IOPL", async () => {
    const r = await pm([0x9d], {
      cpl: 3,
      setup: (m) => {
        m.cpu.eflags = 0x2;
        m.cpu.writePhysical(0x7000, new Uint8Array(d32(0x3ed7)));
      },
    });
    expect(r.exc).toEqual(GP0(CODE + 1));
    expect(r.cpu.eflags >>> 0).toBe(0xcd7);
  });
  it("POPFD at CPL 3 with IOPL 3 changes IF but not IOPL", async () => {
    const r = await pm([0x9d], {
      cpl: 3,
      setup: (m) => {
        m.cpu.eflags = 0x3002;
        m.cpu.writePhysical(0x7000, new Uint8Array(d32(0x0202)));
      },
    });
    expect(r.cpu.eflags >>> 0).toBe(0x3202);
  });
  it("POPF in real mode changes everything in the low word", async () => {
    const r = await real([0x9d], { setup: (m) => m.cpu.writePhysical(0x7000, new Uint8Array([0xd7, 0x7e])) });
    expect(r.reason).toBe("halt");
    expect(r.cpu.eflags >>> 0).toBe(0x7ed7);
  });
  it("virtual-8086 mode with IOPL < 3: PUSHF and POPF are #GP(0) without VME", async () => {
    expect((await v86([0x9c], 0)).exc).toEqual(GP0());
    expect((await v86([0x9d], 0)).exc).toEqual(GP0());
  });
  it("virtual-8086 mode with IOPL 3: POPF keeps IOPL", async () => {
    const r = await v86([0x9d], 3, { setup: (m) => m.cpu.writePhysical(0x7000, new Uint8Array([0x02, 0x02])) });
    expect(r.exc).toEqual(GP0(CODE + 1)); // HLT in virtual-8086 mode
    expect(r.cpu.eflags >>> 0).toBe(0x23202);
  });
  it("VME: 16-bit PUSHF pushes VIF as IF and IOPL 3; POPF moves IF to VIF", async () => {
    const r = await v86([0x9c], 0, {
      setup: (m) => {
        m.cpu.setCr(4, 1);
        m.cpu.eflags = 0x20002 | 0x80000;
      },
    });
    expect(r.exc).toEqual(GP0(CODE + 1));
    expect([...r.cpu.readPhysical(0x7000 - 2, 2)]).toEqual([0x02, 0x32]);
    const p = await v86([0x9d], 0, {
      setup: (m) => {
        m.cpu.setCr(4, 1);
        m.cpu.writePhysical(0x7000, new Uint8Array([0x03, 0x32]));
      },
    });
    expect(p.exc).toEqual(GP0(CODE + 1));
    expect(p.cpu.eflags >>> 0).toBe(0xa0003);
  });
  it("VME: POPF with TF set in the image, or IF set while VIP, is #GP(0); 32-bit forms are #GP(0)", async () => {
    const vme = (m: Machine) => m.cpu.setCr(4, 1);
    const tf = await v86([0x9d], 0, {
      setup: (m) => {
        vme(m);
        m.cpu.writePhysical(0x7000, new Uint8Array([0, 1]));
      },
    });
    expect(tf.exc).toEqual(GP0());
    const vip = await v86([0x9d], 0, {
      setup: (m) => {
        vme(m);
        m.cpu.eflags = 0x120002;
        m.cpu.writePhysical(0x7000, new Uint8Array([0, 2]));
      },
    });
    expect(vip.exc).toEqual(GP0());
    expect((await v86([0x66, 0x9c], 0, { setup: vme })).exc).toEqual(GP0());
  });
});

describe("SYSENTER/SYSEXIT (SDM vol. 2B SYSENTER, SYSEXIT)", () => {
  function msrs(m: Machine, cs: number) {
    m.cpu.setU32(L.S_MSR_SYSENTER_CS, cs);
    m.cpu.setU32(L.S_MSR_SYSENTER_ESP, 0x9000);
    m.cpu.setU32(L.S_MSR_SYSENTER_EIP, 0x7e00);
    m.cpu.writePhysical(0x7e00, new Uint8Array([HLT]));
  }
  it("SYSENTER from CPL 3 enters CPL 0 with flat CS = MSR & FFFCH, SS = CS + 8, IF cleared", async () => {
    const r = await pm([0x0f, 0x34], {
      cpl: 3,
      setup: (m) => {
        msrs(m, 0x0b);
        m.cpu.eflags = 0x202;
      },
    });
    expect(r.reason).toBe("halt");
    expect(r.cpu.cpl).toBe(0);
    expect(r.cpu.eip).toBe(0x7e01);
    expect(r.cpu.reg(REG.ESP)).toBe(0x9000);
    expect(r.cpu.segment(SEG.CS)).toEqual({ selector: 0x08, base: 0, limit: 0xffffffff, attr: 0xc09b });
    expect(r.cpu.segment(SEG.SS)).toEqual({ selector: 0x10, base: 0, limit: 0xffffffff, attr: 0xc093 });
    expect(r.cpu.eflags & 0x200).toBe(0);
  });
  it("SYSENTER with a null SYSENTER_CS is #GP(0); in real mode it is #GP(0)", async () => {
    expect((await pm([0x0f, 0x34], { cpl: 3, setup: (m) => msrs(m, 0x3) })).exc).toEqual(GP0());
    expect((await real([0x0f, 0x34], { setup: (m) => msrs(m, 0x8) })).exc).toEqual(GP0());
  });
  it("SYSEXIT returns to CPL 3 with CS = MSR + 16 | 3, SS = MSR + 24 | 3, ESP = ECX, EIP = EDX", async () => {
    const r = await pm([0x0f, 0x35], {
      regs: { ECX: 0x6000, EDX: 0x7e00 },
      setup: (m) => msrs(m, 0x08),
    });
    expect(r.exc).toEqual(GP0(0x7e00)); // HLT at CPL 3
    expect(r.cpu.cpl).toBe(3);
    expect(r.cpu.reg(REG.ESP)).toBe(0x6000);
    expect(r.cpu.segment(SEG.CS)).toEqual({ selector: 0x1b, base: 0, limit: 0xffffffff, attr: 0xc0fb });
    expect(r.cpu.segment(SEG.SS)).toEqual({ selector: 0x23, base: 0, limit: 0xffffffff, attr: 0xc0f3 });
  });
  it("SYSEXIT at CPL 3 is #GP(0)", async () => {
    expect((await pm([0x0f, 0x35], { cpl: 3, setup: (m) => msrs(m, 0x08) })).exc).toEqual(GP0());
  });
});

describe("triple fault (SDM vol. 3, 6.15, interrupt 8: a fault while delivering #DF shuts down)", () => {
  it("UD2 with an empty IDT: #UD, then #GP, then #DF cannot be delivered: run() returns shutdown", async () => {
    const m = await machine();
    enterFlat32(m, [0x0f, 0x0b, HLT], 0);
    m.cpu.setIdtr(0, 0);
    expect(m.cpu.run(10)).toBe("shutdown");
  });
  it("in real mode a vector beyond the IVT limit ends the same way", async () => {
    const m = await machine();
    loadReal(m, [0x0f, 0x0b, HLT]);
    m.cpu.setIdtr(0, 0);
    expect(m.cpu.run(10)).toBe("shutdown");
  });
});
