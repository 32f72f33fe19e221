// CPUID, RDMSR/WRMSR, RDTSC and RDPMC: the identity of the processor and its MSR set.
import { describe, expect, it } from "vitest";
import { REG } from "../../vmm/cpu.js";
import * as L from "../../vmm/generated/layout.js";
import { CODE, enterFlat32, loadReal, machine } from "./harness.js";

const CPUID = [0x0f, 0xa2];
const RDMSR = [0x0f, 0x32];
const WRMSR = [0x0f, 0x30];
const RDTSC = [0x0f, 0x31];
const RDPMC = [0x0f, 0x33];
const HLT = [0xf4];

async function realRun(code: number[], regs: Partial<Record<keyof typeof REG, number>> = {}) {
  const m = await machine();
  loadReal(m, [...code, ...HLT]);
  for (const [k, v] of Object.entries(regs)) m.cpu.setReg(REG[k as keyof typeof REG], v);
  m.cpu.stopOnException = true;
  const reason = m.cpu.run(1000);
  return { m, cpu: m.cpu, reason };
}

function ascii(...regs: number[]): string {
  return regs.map((r) => String.fromCharCode(r & 0xff, (r >>> 8) & 0xff, (r >>> 16) & 0xff, r >>> 24)).join("");
}

describe("CPUID (SDM vol. 2A, CPUID)", () => {
  it("leaf 0: maximum basic leaf 2 and GenuineIntel in EBX EDX ECX", async () => {
    const { cpu, reason } = await realRun(CPUID, { EAX: 0 });
    expect(reason).toBe("halt");
    expect(cpu.reg(REG.EAX)).toBe(2);
    expect(ascii(cpu.reg(REG.EBX), cpu.reg(REG.EDX), cpu.reg(REG.ECX))).toBe("GenuineIntel");
  });

  it("leaf 1: signature 0x633 (family 6 model 3 stepping 3) and exactly the implemented features", async () => {
    const { cpu } = await realRun(CPUID, { EAX: 1, EBX: 0x1234, ECX: 0x5678 });
    expect(cpu.reg(REG.EAX)).toBe(0x633);
    expect(cpu.reg(REG.EBX)).toBe(0);
    expect(cpu.reg(REG.ECX)).toBe(0);
    const edx = cpu.reg(REG.EDX);
    const names = ["FPU", "VME", "DE", "PSE", "TSC", "MSR", "PAE", "MCE", "CX8", "APIC", "", "SEP", "MTRR", "PGE"];
    names.push("MCA", "CMOV", "PAT", "PSE36", "PSN", "CLFSH", "", "DS", "ACPI", "MMX", "FXSR", "SSE", "SSE2");
    const set = names.filter((n, i) => n && edx & (1 << i));
    expect(set).toEqual(["FPU", "VME", "DE", "PSE", "TSC", "MSR", "CX8", "SEP", "PGE", "CMOV"]);
    expect(edx >>> 0).toBe(0xa93f);
  });

  it("leaf 1 signature matches the reset value of EDX", async () => {
    const m = await machine();
    expect(m.cpu.reg(REG.EDX)).toBe(0x633);
  });

  it("leaf 2: Pentium II cache and TLB descriptors, AL = 1", async () => {
    const { cpu } = await realRun(CPUID, { EAX: 2 });
    expect(cpu.reg(REG.EAX) >>> 0).toBe(0x03020101);
    expect(cpu.reg(REG.EBX)).toBe(0);
    expect(cpu.reg(REG.ECX)).toBe(0);
    expect(cpu.reg(REG.EDX) >>> 0).toBe(0x0c040843);
  });

  it.each([3, 4, 0x7fffffff, 0x80000000, 0x80000001, 0xffffffff])(
    "leaf %d above the maximum returns the highest basic leaf (2)",
    async (leaf) => {
      const { cpu } = await realRun(CPUID, { EAX: leaf });
      expect(cpu.reg(REG.EAX) >>> 0).toBe(0x03020101);
      expect(cpu.reg(REG.EDX) >>> 0).toBe(0x0c040843);
    },
  );

  it("is not privileged: CPL 3 in protected mode executes it", async () => {
    const m = await machine();
    enterFlat32(m, [...CPUID, ...HLT], 3);
    m.cpu.setReg(REG.EAX, 1);
    m.cpu.stopOnException = true;
    expect(m.cpu.run(10)).toBe("exception"); // HLT at CPL 3 is #GP(0)
    expect(m.cpu.lastException).toEqual({ vector: 13, error: 0, eip: CODE + 2 });
    expect(m.cpu.reg(REG.EAX)).toBe(0x633);
  });

  it("EFLAGS.ID (bit 21) can be toggled, which is how software detects CPUID", async () => {
    // pushfd; pop eax; xor eax, 0x200000; push eax; popfd; pushfd; pop ebx; hlt (32-bit code)
    const m = await machine();
    const code = [0x9c, 0x58, 0x35, 0x00, 0x00, 0x20, 0x00, 0x50, 0x9d, 0x9c, 0x5b, 0xf4];
    enterFlat32(m, code, 0);
    m.cpu.stopOnException = true;
    expect(m.cpu.run(20)).toBe("halt");
    expect((m.cpu.reg(REG.EAX) ^ m.cpu.reg(REG.EBX)) & 0x200000).toBe(0);
    expect(m.cpu.reg(REG.EBX) & 0x200000).toBe(0x200000);
  });
});

describe("RDMSR/WRMSR (SDM vol. 4, table 2-3: P6 family MSRs)", () => {
  it("SYSENTER_CS/ESP/EIP read back what was written", async () => {
    for (const [msr, v] of [
      [0x174, 0x0010],
      [0x175, 0xdeadbeef],
      [0x176, 0xc0001000],
    ]) {
      const { cpu, reason } = await realRun([...WRMSR, 0x66, 0x31, 0xc0, 0x66, 0x31, 0xd2, ...RDMSR], {
        ECX: msr,
        EAX: v,
        EDX: 0,
      });
      expect(reason).toBe("halt");
      expect(cpu.reg(REG.EAX) >>> 0).toBe(v);
      expect(cpu.reg(REG.EDX)).toBe(0);
    }
  });

  it("SYSENTER MSRs land in the state block", async () => {
    const { cpu } = await realRun([...WRMSR], { ECX: 0x176, EAX: 0x12345678, EDX: 0xffffffff });
    expect(cpu.u32(L.S_MSR_SYSENTER_EIP)).toBe(0x12345678);
    const { cpu: c2 } = await realRun([...WRMSR], { ECX: 0x174, EAX: 0x0008, EDX: 0 });
    expect(c2.u32(L.S_MSR_SYSENTER_CS)).toBe(8);
  });

  it("TSC (10H): a write sets the low 32 bits and clears the high half on P6 (SDM vol. 3, 17.17)", async () => {
    const m = await machine();
    loadReal(m, [...WRMSR, ...RDMSR, ...HLT]);
    m.cpu.setReg(REG.ECX, 0x10);
    m.cpu.setReg(REG.EAX, 0x89abcdef);
    m.cpu.setReg(REG.EDX, 0x1234);
    m.cpu.stopOnException = true;
    expect(m.cpu.run(10)).toBe("halt");
    expect(m.cpu.reg(REG.EDX)).toBe(0);
    // The clock advances by whole instructions; the value read is the one written plus at most a few.
    const lo = m.cpu.reg(REG.EAX) >>> 0;
    expect(lo).toBeGreaterThanOrEqual(0x89abcdef);
    expect(lo).toBeLessThan(0x89abcdef + 1000);
  });

  it.each([
    [0x8b, "BIOS_SIGN_ID (microcode revision 0)"],
    [0x17, "PLATFORM_ID"],
    [0x2a, "EBL_CR_POWERON"],
    [0x00, "P5_MC_ADDR"],
    [0x01, "P5_MC_TYPE"],
    [0x1db, "LASTBRANCHFROMIP"],
  ])("MSR %d (%s) reads 0", async (msr) => {
    const { cpu, reason } = await realRun(RDMSR, { ECX: msr, EAX: 0x5555, EDX: 0x6666 });
    expect(reason).toBe("halt");
    expect(cpu.reg(REG.EAX)).toBe(0);
    expect(cpu.reg(REG.EDX)).toBe(0);
  });

  it("performance counters: 40 bits stored, RDPMC at CPL 0 reads them", async () => {
    const { cpu, reason } = await realRun([...WRMSR, 0x66, 0xb9, 1, 0, 0, 0, ...RDPMC], {
      ECX: 0xc2,
      EAX: 0xabcd,
      EDX: 0xffffff12,
    });
    expect(reason).toBe("halt");
    expect(cpu.reg(REG.EAX)).toBe(0xabcd);
    expect(cpu.reg(REG.EDX)).toBe(0x12);
  });

  it.each([
    [0x1b, "APIC_BASE: CPUID reports no APIC"],
    [0xfe, "MTRRcap: CPUID reports no MTRR"],
    [0x200, "MTRRphysBase0"],
    [0x2ff, "MTRRdefType"],
    [0x277, "PAT: not on this model"],
    [0x179, "MCG_CAP: CPUID reports no MCA"],
    [0x1a0, "MISC_ENABLE: not a P6 MSR"],
    [0xc0000080, "EFER: no long mode"],
    [0x12345, "unknown"],
  ])("MSR %d (%s) is #GP(0) on read and on write", async (msr) => {
    for (const op of [RDMSR, WRMSR]) {
      const { cpu, reason } = await realRun(op, { ECX: msr, EAX: 0, EDX: 0 });
      expect(reason).toBe("exception");
      expect(cpu.lastException).toEqual({ vector: 13, error: 0, eip: CODE });
    }
  });

  it("PLATFORM_ID is read-only: WRMSR is #GP(0)", async () => {
    const { cpu, reason } = await realRun(WRMSR, { ECX: 0x17 });
    expect(reason).toBe("exception");
    expect(cpu.lastException.vector).toBe(13);
  });

  it("RDMSR and WRMSR at CPL 3 are #GP(0) (SDM vol. 2B, RDMSR: 'If the current privilege level is not 0')", async () => {
    for (const op of [RDMSR, WRMSR]) {
      const m = await machine();
      enterFlat32(m, [...op, ...HLT], 3);
      m.cpu.setReg(REG.ECX, 0x174);
      m.cpu.stopOnException = true;
      expect(m.cpu.run(10)).toBe("exception");
      expect(m.cpu.lastException).toEqual({ vector: 13, error: 0, eip: CODE });
    }
  });
});

describe("RDTSC and RDPMC privilege (SDM vol. 2B)", () => {
  it("RDTSC at CPL 3 works with CR4.TSD = 0", async () => {
    const m = await machine();
    enterFlat32(m, [...RDTSC, ...HLT], 3);
    m.cpu.stopOnException = true;
    expect(m.cpu.run(10)).toBe("exception");
    expect(m.cpu.lastException.eip).toBe(CODE + 2);
  });

  it("RDTSC at CPL 3 with CR4.TSD = 1 is #GP(0)", async () => {
    const m = await machine();
    enterFlat32(m, [...RDTSC, ...HLT], 3);
    m.cpu.setCr(4, 4);
    m.cpu.stopOnException = true;
    expect(m.cpu.run(10)).toBe("exception");
    expect(m.cpu.lastException).toEqual({ vector: 13, error: 0, eip: CODE });
  });

  it("RDTSC at CPL 0 with CR4.TSD = 1 works and the counter moves with retired instructions", async () => {
    const m = await machine();
    enterFlat32(m, [...RDTSC, ...HLT], 0);
    m.cpu.setCr(4, 4);
    m.cpu.setU32(L.S_TSC, 1000);
    m.cpu.setU32(L.S_TSC_PER_INSN, 1);
    m.cpu.stopOnException = true;
    expect(m.cpu.run(10)).toBe("halt");
    expect(m.cpu.reg(REG.EAX)).toBeGreaterThanOrEqual(1000);
    expect(m.cpu.reg(REG.EDX)).toBe(0);
    expect(m.cpu.u32(L.S_TSC)).toBeGreaterThan(1000);
  });

  it("RDPMC: counter numbers above 1 are #GP(0); CPL 3 is #GP(0) (no CR4.PCE)", async () => {
    const { cpu, reason } = await realRun(RDPMC, { ECX: 2 });
    expect(reason).toBe("exception");
    expect(cpu.lastException).toEqual({ vector: 13, error: 0, eip: CODE });
    const m = await machine();
    enterFlat32(m, [...RDPMC, ...HLT], 3);
    m.cpu.setReg(REG.ECX, 0);
    m.cpu.stopOnException = true;
    expect(m.cpu.run(10)).toBe("exception");
    expect(m.cpu.lastException).toEqual({ vector: 13, error: 0, eip: CODE });
  });

  it("CR4.PCE (and PAE, MCE, OSFXSR) cannot be set: MOV CR4 is #GP(0)", async () => {
    for (const bit of [0x20, 0x40, 0x100, 0x200, 0x400]) {
      const m = await machine();
      // mov cr4, eax ; hlt
      enterFlat32(m, [0x0f, 0x22, 0xe0, ...HLT], 0);
      m.cpu.setReg(REG.EAX, bit);
      m.cpu.stopOnException = true;
      expect(m.cpu.run(10)).toBe("exception");
      expect(m.cpu.lastException).toEqual({ vector: 13, error: 0, eip: CODE });
      expect(m.cpu.cr(4)).toBe(0);
    }
  });
});
