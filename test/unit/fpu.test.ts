// x87 tests: small real-mode programs run in the emulator, results checked in memory; plus the
// differential cases captured on the host CPU (fpu-vectors.txt) and the decoder against
// core/isa/x87.mjs. SDM references are to the Intel SDM vol. 1 chapter 8 and vol. 2.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { x87Forms } from "../../core/isa/x87.mjs";
import { REG, SEG } from "../../vmm/cpu.js";
import * as L from "../../vmm/generated/layout.js";
import {
  bytesF32,
  bytesF64,
  bytesU16,
  bytesU32,
  bytesX80,
  DATA,
  FNINIT,
  f64,
  m,
  newCpu,
  r,
  run16,
  runCase,
  sameResult,
  u16,
  u32,
  u64,
  x80,
} from "./fpu-helpers.js";

const FLD1 = [0xd9, 0xe8];
const FLDZ = [0xd9, 0xee];
const FLDPI = [0xd9, 0xeb];
const FWAIT = [0x9b];
const fldcw = (addr: number) => m(0xd9, 5, addr);
const fnstsw = (addr: number) => m(0xdd, 7, addr);
const fstpT = (addr: number) => m(0xdb, 7, addr);
const CW = DATA + 0x200; // scratch for control words

interface Form {
  esc: number;
  reg?: number;
  modrm?: number;
  modrmEnd?: number;
  mnem: string;
  operands: string;
  invalid: boolean;
}

describe("x87 arithmetic (exact to 80 bits)", () => {
  it("1/3 rounds to the nearest 80-bit value", async () => {
    // FLD1; FILD word [DATA+0x10] (3); FDIVP; FSTP tword [DATA]
    const cpu = await run16([...FNINIT, ...FLD1, ...m(0xdf, 0, DATA + 0x10), ...r(0xde, 0xf9), ...fstpT(DATA)], {
      data: [{ addr: DATA + 0x10, bytes: bytesU16(3) }],
    });
    expect(x80(cpu, DATA)).toBe("3ffd aaaaaaaaaaaaaaab");
  });

  it("rounding control changes the last bit of 1/3 (SDM vol. 1, 4.8.4)", async () => {
    const results: string[] = [];
    for (const rc of [0, 1, 2, 3]) {
      const cw = 0x037f | (rc << 10);
      const cpu = await run16(
        [...FNINIT, ...fldcw(CW), ...FLD1, ...m(0xdf, 0, DATA + 0x10), ...r(0xde, 0xf9), ...fstpT(DATA)],
        {
          data: [
            { addr: DATA + 0x10, bytes: bytesU16(3) },
            { addr: CW, bytes: bytesU16(cw) },
          ],
        },
      );
      results.push(x80(cpu, DATA));
    }
    expect(results).toEqual([
      "3ffd aaaaaaaaaaaaaaab",
      "3ffd aaaaaaaaaaaaaaaa",
      "3ffd aaaaaaaaaaaaaaab",
      "3ffd aaaaaaaaaaaaaaaa",
    ]);
  });

  it("precision control rounds FDIV to 24 and 53 bits (SDM vol. 1, 8.1.5.2)", async () => {
    const run = async (pc: number) =>
      x80(
        await run16([...FNINIT, ...fldcw(CW), ...FLD1, ...m(0xdf, 0, DATA + 0x10), ...r(0xde, 0xf9), ...fstpT(DATA)], {
          data: [
            { addr: DATA + 0x10, bytes: bytesU16(3) },
            { addr: CW, bytes: bytesU16(0x007f | (pc << 8)) },
          ],
        }),
        DATA,
      );
    expect(await run(0)).toBe("3ffd aaaaab0000000000");
    expect(await run(2)).toBe("3ffd aaaaaaaaaaaaa800");
  });

  it("FSQRT of 2 and FLDPI", async () => {
    const cpu = await run16([
      ...FNINIT,
      ...FLD1,
      ...FLD1,
      ...r(0xde, 0xc1), // FADDP
      ...r(0xd9, 0xfa), // FSQRT
      ...fstpT(DATA),
      ...FLDPI,
      ...fstpT(DATA + 0x10),
    ]);
    expect(x80(cpu, DATA)).toBe("3fff b504f333f9de6484");
    expect(x80(cpu, DATA + 0x10)).toBe("4000 c90fdaa22168c235");
  });

  it("double rounding: FST m64 of an 80-bit value rounds once", async () => {
    // 1 + 2^-53 + 2^-64: nearest double is 1 + 2^-52 (above the halfway point)
    const cpu = await run16([...FNINIT, ...m(0xdb, 5, DATA + 0x10), ...m(0xdd, 3, DATA)], {
      data: [{ addr: DATA + 0x10, bytes: bytesX80(0x3fff, 0x8000000000000401n) }],
    });
    expect(f64(cpu, DATA)).toBe(1 + 2 ** -52);
  });
});

describe("x87 conversions", () => {
  it("FISTP rounds per RC; out of range stores the integer indefinite", async () => {
    const out: number[] = [];
    for (const rc of [0, 1, 2, 3]) {
      const cpu = await run16([...FNINIT, ...fldcw(CW), ...m(0xdd, 0, DATA + 0x10), ...m(0xdb, 3, DATA)], {
        data: [
          { addr: DATA + 0x10, bytes: bytesF64(-2.5) },
          { addr: CW, bytes: bytesU16(0x037f | (rc << 10)) },
        ],
      });
      out.push(u32(cpu, DATA) | 0);
    }
    expect(out).toEqual([-2, -3, -2, -2]);
    const cpu = await run16([...FNINIT, ...m(0xdd, 0, DATA + 0x10), ...m(0xdf, 3, DATA), ...fnstsw(DATA + 4)], {
      data: [{ addr: DATA + 0x10, bytes: bytesF64(40000) }],
    });
    expect(u16(cpu, DATA)).toBe(0x8000);
    expect(u16(cpu, DATA + 4) & 0x3f).toBe(0x01); // IE (masked)
  });

  it("FBSTP and FBLD round-trip packed BCD (SDM vol. 2, FBSTP)", async () => {
    const v = -7890123456789014n;
    const i64 = new Uint8Array(8);
    new DataView(i64.buffer).setBigInt64(0, v, true);
    const cpu = await run16(
      [...FNINIT, ...m(0xdf, 5, DATA + 0x10), ...m(0xdf, 6, DATA), ...m(0xdf, 4, DATA), ...m(0xdf, 7, DATA + 0x20)],
      { data: [{ addr: DATA + 0x10, bytes: [...i64] }] },
    );
    // 18 digits, two per byte, least significant byte first; sign in bit 7 of byte 9
    expect([...cpu.readPhysical(DATA, 10)]).toEqual([0x14, 0x90, 0x78, 0x56, 0x34, 0x12, 0x90, 0x78, 0x00, 0x80]);
    expect(u64(cpu, DATA + 0x20)).toBe(BigInt.asUintN(64, v));
  });

  it("FBSTP of a value over 18 digits stores the BCD indefinite", async () => {
    const cpu = await run16([...FNINIT, ...m(0xdd, 0, DATA + 0x10), ...m(0xdf, 6, DATA)], {
      data: [{ addr: DATA + 0x10, bytes: bytesF64(1e19) }],
    });
    expect([...cpu.readPhysical(DATA, 10)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0xc0, 0xff, 0xff]);
  });

  it("FLD m32 of a signaling NaN quiets it and raises IE", async () => {
    const cpu = await run16([...FNINIT, ...m(0xd9, 0, DATA + 0x10), ...fnstsw(DATA + 0x20), ...fstpT(DATA)], {
      data: [{ addr: DATA + 0x10, bytes: bytesU32(0x7f800001) }],
    });
    expect(x80(cpu, DATA)).toBe("7fff c000010000000000");
    expect(u16(cpu, DATA + 0x20) & 0x3f).toBe(1);
  });
});

describe("x87 compares, FXAM, FCMOV", () => {
  it("FCOMI sets ZF PF CF and clears OF SF AF (SDM vol. 2, FCOMI)", async () => {
    // 1 vs pi: ST0 = 1 < ST1 = pi -> CF; then unordered with a NaN -> ZF PF CF
    const cpu = await run16([
      ...FNINIT,
      ...FLDPI,
      ...FLD1,
      ...r(0xdb, 0xf1), // FCOMI ST0, ST1
      0x9c, // PUSHF
      ...FLDZ,
      ...FLDZ,
      ...r(0xde, 0xf9), // 0/0 -> indefinite (masked IE)
      ...r(0xdb, 0xe9), // FUCOMI ST0, ST1
      0x9c,
      0x58, // POP AX
      0xa3,
      ...bytesU16(DATA), // MOV [DATA], AX
      0x58,
      0xa3,
      ...bytesU16(DATA + 2),
    ]);
    expect(u16(cpu, DATA + 2) & 0x8d5).toBe(0x001); // CF
    expect(u16(cpu, DATA) & 0x8d5).toBe(0x045); // ZF PF CF
  });

  it("FCOM sets C3 C2 C0 and FNSTSW AX reads them", async () => {
    const cpu = await run16([
      ...FNINIT,
      ...FLD1,
      ...FLDPI,
      ...r(0xd8, 0xd1), // FCOM ST1: pi > 1
      ...r(0xdf, 0xe0), // FNSTSW AX
      0xa3,
      ...bytesU16(DATA),
      ...r(0xd9, 0xc9), // FXCH
      ...r(0xd8, 0xd1), // 1 < pi
      ...r(0xdf, 0xe0),
      0xa3,
      ...bytesU16(DATA + 2),
    ]);
    expect(u16(cpu, DATA) & 0x4500).toBe(0);
    expect(u16(cpu, DATA + 2) & 0x4500).toBe(0x0100);
    expect((u16(cpu, DATA) >> 11) & 7).toBe(6); // TOP
  });

  it("FXAM classifies empty, zero, normal, infinity, NaN, denormal", async () => {
    const xam = (load: number[], data: { addr: number; bytes: number[] }[] = []) =>
      run16([...FNINIT, ...load, ...r(0xd9, 0xe5), ...fnstsw(DATA)], { data }).then((c) => u16(c, DATA) & 0x4700);
    expect(await xam([])).toBe(0x4100); // empty: C3 C0
    expect(await xam(FLDZ)).toBe(0x4000);
    expect(await xam(FLD1)).toBe(0x0400);
    expect(await xam([...FLD1, 0xd9, 0xe0])).toBe(0x0600); // -1: C1 = sign
    const inf = [{ addr: DATA + 0x10, bytes: bytesX80(0x7fff, 1n << 63n) }];
    expect(await xam(m(0xdb, 5, DATA + 0x10), inf)).toBe(0x0500);
    const nan = [{ addr: DATA + 0x10, bytes: bytesX80(0x7fff, 3n << 62n) }];
    expect(await xam(m(0xdb, 5, DATA + 0x10), nan)).toBe(0x0100);
    const den = [{ addr: DATA + 0x10, bytes: bytesX80(0, 1n) }];
    expect(await xam(m(0xdb, 5, DATA + 0x10), den)).toBe(0x4400);
  });

  it("FCMOVcc copies on the EFLAGS condition", async () => {
    // STC; FLDPI; FLD1; FCMOVB ST0, ST1 -> pi; CLC; FLD1; FCMOVB ST0, ST2 -> stays 1
    const cpu = await run16([
      ...FNINIT,
      0xf9,
      ...FLDPI,
      ...FLD1,
      ...r(0xda, 0xc1),
      ...fstpT(DATA),
      0xf8,
      ...FLD1,
      ...r(0xda, 0xc1),
      ...fstpT(DATA + 0x10),
    ]);
    expect(x80(cpu, DATA)).toBe("4000 c90fdaa22168c235");
    expect(x80(cpu, DATA + 0x10)).toBe("3fff 8000000000000000");
  });
});

describe("x87 stack faults and exceptions", () => {
  it("a denormal m64fp or m32fp divided by zero raises ZE alone: ZE has priority over DE (SDM vol. 1, 4.9.2)", async () => {
    // SDM vol. 1, 4.9.2 "Floating-Point Exception Priority": a divide-by-zero (priority 3) is
    // handled and the denormal-operand exception (priority 4) of the same instruction is not
    // reported. The m64fp/m32fp operand's denormal is found by its conversion, before the
    // division sees the zero divisor; the host CPU (test/native x87-chains) agrees.
    const denormal64 = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00]; // 0x000FFFFFFFFFFFFF
    const denormal32 = bytesU32(0x007fffff);
    const divide = async (op: number[], st0: number[], operand: number[]) => {
      const cpu = await run16([...FNINIT, ...st0, ...op, ...fnstsw(DATA + 0x20), ...fstpT(DATA)], {
        data: [{ addr: DATA + 0x10, bytes: operand }],
      });
      return { flags: u16(cpu, DATA + 0x20) & 0x3f, result: x80(cpu, DATA) };
    };
    // FDIVR m64 / m32: ST0 = operand / ST0, with ST0 = +0.
    for (const [op, operand] of [
      [m(0xdc, 7, DATA + 0x10), denormal64],
      [m(0xd8, 7, DATA + 0x10), denormal32],
    ]) {
      const r0 = await divide(op!, FLDZ, operand!);
      expect(r0.flags).toBe(0x04); // ZE, not DE
      expect(r0.result).toBe("7fff 8000000000000000"); // +infinity
    }
    // The same operand as a divisor of 1 (FDIV m64): no zero, so DE is reported (with PE).
    const r1 = await divide(m(0xdc, 6, DATA + 0x10), FLD1, denormal64);
    expect(r1.flags & 0x06).toBe(0x02);
  });

  it("stack overflow: IE + SF + C1, the masked response pushes the indefinite (SDM vol. 1, 8.5.1.1)", async () => {
    const cpu = await run16([...FNINIT, ...Array(9).fill(FLD1).flat(), ...fnstsw(DATA), ...fstpT(DATA + 0x10)]);
    expect(u16(cpu, DATA) & 0x02ff).toBe(0x0241);
    expect(x80(cpu, DATA + 0x10)).toBe("ffff c000000000000000");
  });

  it("stack underflow: IE + SF, C1 = 0; FST from an empty register stores the indefinite", async () => {
    const cpu = await run16([...FNINIT, ...m(0xdd, 2, DATA + 0x10), ...fnstsw(DATA)]);
    expect(u16(cpu, DATA) & 0x02ff).toBe(0x0041);
    expect(u64(cpu, DATA + 0x10)).toBe(0xfff8000000000000n);
  });

  it("unmasked zero divide: #MF at the next waiting instruction with CR0.NE = 1 (SDM vol. 1, 8.6)", async () => {
    const cpu0 = await newCpu();
    const cr0 = cpu0.cr(0) | 0x20; // NE
    const cpu = await run16(
      [...FNINIT, ...fldcw(CW), ...FLD1, ...FLDZ, ...r(0xde, 0xf9), ...fnstsw(DATA), ...FWAIT, 0x90],
      { cr0, stopOnException: true, data: [{ addr: CW, bytes: bytesU16(0x037b) }] },
    );
    expect(cpu.lastException.vector).toBe(16);
    expect(cpu.eip).toBe(0x7c00 + 2 + 4 + 2 + 2 + 2 + 4); // at the FWAIT
    expect(u16(cpu, DATA) & 0x80ff).toBe(0x8084); // B, ES, ZE
    // the destination was left unchanged: ST0 is still 0 (tag), ST1 = 1
    expect(cpu.u32(L.S_FPU_TOP)).toBe(6);
  });

  it("with CR0.NE = 0 the pending error asserts FERR# (IRQ 13 via the host) and execution continues", async () => {
    let ferr = 0;
    const cpu0 = await newCpu();
    const cr0 = cpu0.cr(0) & ~0x20;
    const cpu = await run16(
      [...FNINIT, ...fldcw(CW), ...FLD1, ...FLDZ, ...r(0xde, 0xf9), ...FWAIT, ...m(0xdd, 7, DATA)],
      { cr0, host: { fpuError: () => ferr++ }, data: [{ addr: CW, bytes: bytesU16(0x037b) }] },
    );
    expect(ferr).toBe(1);
    expect(cpu.halted).toBe(true);
    expect(u16(cpu, DATA) & 0x80ff).toBe(0x8084);
  });

  it("#NM with CR0.EM or CR0.TS; WAIT only with MP and TS (SDM vol. 3, 6.15 interrupt 7)", async () => {
    const base = (await newCpu()).cr(0);
    for (const [bits, code, want] of [
      [0x4, FLD1, 7],
      [0x8, FLD1, 7],
      [0x8, FWAIT, -1],
      [0xa, FWAIT, 7],
      [0x4, FWAIT, -1],
    ] as [number, number[], number][]) {
      const cpu = await run16(code, { cr0: base | bits, stopOnException: true });
      if (want < 0) expect(cpu.halted).toBe(true);
      else expect(cpu.lastException.vector).toBe(want);
    }
  });

  it("FLDCW unmasking a set flag makes the next waiting instruction fault", async () => {
    const cpu0 = await newCpu();
    const cpu = await run16([...FNINIT, ...FLD1, ...FLDZ, ...r(0xde, 0xf9), ...fldcw(CW), ...FLD1], {
      cr0: cpu0.cr(0) | 0x20,
      stopOnException: true,
      data: [{ addr: CW, bytes: bytesU16(0x037b) }],
    });
    expect(cpu.lastException.vector).toBe(16);
  });
});

describe("x87 environment and state images", () => {
  it("FNSAVE / FRSTOR round trip (16-bit real-mode image, SDM vol. 1, figure 8-12)", async () => {
    const cpu = await run16([
      ...FNINIT,
      ...FLDPI,
      ...FLD1,
      ...m(0xdd, 6, DATA), // FNSAVE [DATA] (94 bytes), then FNINIT
      ...fnstsw(DATA + 0x100),
      ...m(0xdd, 4, DATA), // FRSTOR
      ...fstpT(DATA + 0x110),
      ...fstpT(DATA + 0x120),
      ...fnstsw(DATA + 0x130),
    ]);
    expect(u16(cpu, DATA)).toBe(0x037f); // CW
    expect((u16(cpu, DATA + 2) >> 11) & 7).toBe(6); // TOP in SW
    expect(u16(cpu, DATA + 4)).toBe(0x0fff); // tags: R6 R7 valid, the rest empty
    expect(u16(cpu, DATA + 8) & 0x7ff).toBe(0x1e8); // FOP of FLD1 (D9 E8)
    expect(x80(cpu, DATA + 14)).toBe("3fff 8000000000000000"); // ST0
    expect(x80(cpu, DATA + 24)).toBe("4000 c90fdaa22168c235"); // ST1
    expect(u16(cpu, DATA + 0x100)).toBe(0); // FNSAVE reinitialized
    expect(x80(cpu, DATA + 0x110)).toBe("3fff 8000000000000000");
    expect(x80(cpu, DATA + 0x120)).toBe("4000 c90fdaa22168c235");
    expect((u16(cpu, DATA + 0x130) >> 11) & 7).toBe(0);
  });

  it("FNSTENV 32-bit real-mode image: pointers as linear addresses; then all exceptions masked", async () => {
    // FLD m32 at 0000:DATA+0x40, then FLDCW (unmask ZE), o32 FNSTENV, FNSTCW
    const cpu = await run16(
      [...FNINIT, ...fldcw(CW), ...m(0xd9, 0, DATA + 0x40), 0x66, ...m(0xd9, 6, DATA), ...m(0xd9, 7, DATA + 0x80)],
      { data: [{ addr: CW, bytes: bytesU16(0x037b) }] },
    );
    expect(u32(cpu, DATA) >>> 0).toBe(0xffff037b);
    expect(u32(cpu, DATA + 12) & 0xffff).toBe(0x7c00 + 2 + 4); // FIP (linear, low 16)
    expect(u32(cpu, DATA + 16) & 0x7ff).toBe(0x106); // FOP D9 06
    expect(u32(cpu, DATA + 20) & 0xffff).toBe(DATA + 0x40); // FDP
    expect(u16(cpu, DATA + 0x80)).toBe(0x037f); // FNSTENV masked everything
  });
});

describe("x87 environment in 32-bit protected mode", () => {
  it("FNSTENV/FNSAVE use the protected-mode layouts (selectors and offsets; SDM vol. 1, figures 8-9, 8-10)", async () => {
    const cpu = await newCpu();
    cpu.setCr(0, cpu.cr(0) | 1);
    cpu.setSegment(SEG.CS, { selector: 0x08, base: 0, limit: 0xffffffff, attr: 0xc09b });
    for (const sg of [SEG.DS, SEG.ES, SEG.SS])
      cpu.setSegment(sg, { selector: 0x10, base: 0, limit: 0xffffffff, attr: 0xc093 });
    cpu.setReg(REG.ESP, 0x7000);
    const m32 = (esc: number, reg: number, addr: number) => [esc, (reg << 3) | 5, ...bytesU32(addr)];
    const code = [
      ...FNINIT,
      ...m32(0xd9, 0, DATA + 0x40), // FLD dword [DATA+0x40]
      ...m32(0xd9, 6, DATA), // FNSTENV (28 bytes)
      0x66,
      ...m32(0xd9, 6, DATA + 0x80), // o16 FNSTENV (14 bytes)
      ...m32(0xdd, 6, DATA + 0x100), // FNSAVE (108 bytes)
      0xf4,
    ];
    cpu.writePhysical(DATA + 0x40, Uint8Array.from(bytesF32(1.5)));
    cpu.writePhysical(0x7c00, Uint8Array.from(code));
    cpu.eip = 0x7c00;
    cpu.run(100);
    expect(cpu.halted).toBe(true);
    const fldAt = 0x7c00 + 2;
    expect(u32(cpu, DATA + 12)).toBe(fldAt); // FIP
    expect(u32(cpu, DATA + 16) >>> 0).toBe(0x08 | (0x105 << 16)); // FCS, FOP (D9 05)
    expect(u32(cpu, DATA + 20)).toBe(DATA + 0x40); // FDP
    expect(u32(cpu, DATA + 24) >>> 0).toBe(0xffff0010); // FDS
    expect(u16(cpu, DATA + 8)).toBe(0x3fff); // tag word: R7 valid
    expect([u16(cpu, DATA + 0x86), u16(cpu, DATA + 0x88), u16(cpu, DATA + 0x8a), u16(cpu, DATA + 0x8c)]).toEqual([
      fldAt,
      0x08,
      DATA + 0x40,
      0x10,
    ]);
    expect(x80(cpu, DATA + 0x100 + 28)).toBe("3fff c000000000000000"); // ST0 after the 28-byte environment
  });
});

describe("x87 against the host CPU", () => {
  const cases = readFileSync(new URL("./fpu-vectors.txt", import.meta.url), "utf8")
    .split("\n")
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => {
      const [input, want] = l.split(" | ");
      const [op, cw, a, b, mem] = input.split(" ");
      return { op: Number(op), cw: parseInt(cw, 16), a, b, mem, want };
    });
  const bytes = (h: string) => h.match(/../g)!.map((x) => parseInt(x, 16));
  it(`${cases.length} captured cases match (loads, stores, arithmetic, compares, constants, stack faults, transcendentals)`, async () => {
    const cpu = await newCpu();
    const bad: string[] = [];
    for (const c of cases) {
      const got = runCase(cpu, { op: c.op, cw: c.cw, a: bytes(c.a), b: bytes(c.b), mem: bytes(c.mem) });
      if (!sameResult(c.op, c.want, got))
        bad.push(`op ${c.op} cw ${c.cw.toString(16)} a ${c.a} b ${c.b}: ${got} != ${c.want}`);
    }
    expect(bad.slice(0, 5)).toEqual([]);
  });
});

describe("x87 decoder against core/isa/x87.mjs", () => {
  it("every form decodes; invalid ones raise #UD and valid ones do not", async () => {
    const cpu = await newCpu();
    const forms = x87Forms as Form[];
    const wrong: string[] = [];
    for (const f of forms) {
      const modrms =
        f.reg !== undefined ? [(f.reg << 3) | 6] : [f.modrm!, f.modrmEnd!].filter((v, i, a) => a.indexOf(v) === i);
      for (const mr of modrms) {
        const code = [...FNINIT, ...FLD1, ...FLD1, f.esc, mr, ...(mr < 0xc0 ? bytesU16(DATA) : []), 0xf4];
        cpu.reset();
        cpu.stopOnException = true;
        for (const s of [0, 1, 2, 3]) cpu.setRealSegment(s, 0);
        cpu.writePhysical(DATA, new Uint8Array(128));
        cpu.writePhysical(0x7c00, Uint8Array.from(code));
        cpu.eip = 0x7c00;
        const reason = cpu.run(10);
        const ud = reason === "exception" && cpu.lastException.vector === 6;
        if (ud !== f.invalid) wrong.push(`${f.esc.toString(16)} ${mr.toString(16)} ${f.mnem}: ${reason}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(forms.length).toBeGreaterThan(150);
  });
});
