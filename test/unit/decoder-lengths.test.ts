// Decoder test driven by the instruction table: for every form and both operand sizes, the
// interpreter must consume exactly the bytes the table implies (prefix, opcode, ModRM,
// displacement, immediates). Instructions whose next EIP is not "the following instruction"
// (returns, far transfers, interrupts) are covered by their own tests instead.

import { describe, expect, it } from "vitest";
import { entries, immediateBytes, type TableEntry } from "../../core/isa/table.mjs";
import { Cpu, SEG } from "../../vmm/cpu.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";

const NOT_SEQUENTIAL = new Set([
  "RETN",
  "RETF",
  "IRET",
  "INT",
  "INT3",
  "INTO",
  "INT1",
  "JMPF",
  "CALLF",
  "UD2",
  "SYSENTER",
  "SYSEXIT",
  "BOUND",
  "LES",
  "LDS",
  "LSS",
  "LFS",
  "LGS",
  // Protected-mode-only forms (#UD in real mode): exercised by the system tests.
  "ARPL",
  "LAR",
  "LSL",
  // RDPMC: counter 0x10 does not exist (#GP); no operands to decode anyway.
  "RDPMC",
]);
// Register-only ModRM operands (MOV CR/DR) and forms whose memory operand is the only one.
const ORIGIN = 0x1000;

/**
 * Encodes a form: `modrm` 0xC0 is a register operand, 0x40 a memory operand [bx+si+disp8]
 * (16-bit addressing) or, with `addr32`, [eax+eax*1+disp8] through a SIB byte.
 */
function encode(e: TableEntry, op32: boolean, addr32: boolean, modrm: number): { bytes: number[]; length: number } {
  const bytes: number[] = [];
  if (op32) bytes.push(0x66); // real mode: 0x66 selects 32-bit operands
  if (addr32) bytes.push(0x67);
  if (e.map === 1) bytes.push(0x0f);
  bytes.push(e.op);
  if (e.modrm || e.x87) {
    if ((modrm & 0xc0) === 0x40 && addr32) bytes.push(0x44 | (e.reg >= 0 ? e.reg << 3 : 0), 0x00, 0x10);
    else bytes.push(modrm | (e.reg >= 0 ? e.reg << 3 : 0));
    if ((modrm & 0xc0) === 0x40 && !addr32) bytes.push(0x10);
  }
  const imm = immediateBytes(e, op32 ? 4 : 2, addr32 ? 4 : 2);
  // Immediates are zero (relative jumps then land on the next instruction), except AAM/AAD
  // whose immediate is a divisor.
  for (let i = 0; i < imm; i++) bytes.push(e.mnem === "AAM" || e.mnem === "AAD" ? 10 : 0);
  return { bytes, length: bytes.length };
}

describe("decoder lengths follow the instruction table", async () => {
  const cpu = await Cpu.create(loadCoreModule(), 1 << 20);
  // Indirect near transfers (CALL/JMP Ev) go where the operand says: not sequential either.
  const cases = entries.filter(
    (e) =>
      !e.x87 &&
      // Exact-ModRM forms (VMCALL) are #UD on the bare CPU: test/unit/kvm-paravirt.test.ts.
      e.modrmExact < 0 &&
      !NOT_SEQUENTIAL.has(e.mnem) &&
      !(e.map === 1 && e.op === 0x00) &&
      !((e.mnem === "CALL" || e.mnem === "JMP") && e.operands === "Ev"),
  );
  for (const e of cases) {
    for (const op32 of [false, true]) {
      const moffs = /O[bv]/.test(e.operands);
      const forms: [number, boolean][] = e.memOnly
        ? [
            [0x40, false],
            [0x40, true],
          ]
        : e.modrm
          ? [
              [0xc0, false],
              [0x40, false],
              [0x40, true],
            ]
          : moffs
            ? [
                [0, false],
                [0, true],
              ]
            : [[0, false]];
      for (const [modrm, addr32] of forms) {
        // MOV to/from CRn/DRn always use register forms.
        if (e.map === 1 && e.op >= 0x20 && e.op <= 0x23 && modrm !== 0xc0) continue;
        const { bytes, length } = encode(e, op32, addr32, modrm);
        const kind = e.modrm ? (modrm === 0xc0 ? "reg" : addr32 ? "mem a32" : "mem a16") : addr32 ? "a32" : "";
        const name = `${e.mnem} ${e.operands} ${e.map ? "0F " : ""}${e.op.toString(16)}${e.reg >= 0 ? `/${e.reg}` : ""} o${op32 ? 32 : 16} ${kind}`;
        it(name, () => {
          cpu.reset();
          cpu.stopOnException = true;
          for (const s of [SEG.DS, SEG.ES, SEG.SS, SEG.FS, SEG.GS]) cpu.setRealSegment(s, 0x2000);
          cpu.setRealSegment(SEG.CS, 0);
          cpu.eip = ORIGIN;
          // Registers: small non-zero values (divisors, counts; EDX = 0 so no quotient
          // overflows; ECX = 0x10 is the TSC MSR), a stack in the middle of the segment, and
          // memory operands reading 0x01 bytes.
          for (let r = 0; r < 8; r++) cpu.setReg(r, 0x10);
          cpu.setReg(2, 0);
          cpu.setReg(4, 0x8000);
          cpu.writePhysical(0x20000, new Uint8Array(0x10000).fill(1));
          const code = new Uint8Array(32).fill(0x90);
          code.set(bytes);
          cpu.writePhysical(ORIGIN, code);
          cpu.run(1);
          if (cpu.eip === ORIGIN) {
            // It faulted: only acceptable where the form faults by design in this setting.
            const ex = cpu.lastException;
            expect.soft(ex.vector, `${name} faulted with #${ex.vector}`).toBe(-1);
            return;
          }
          expect(cpu.eip - ORIGIN).toBe(length);
        });
      }
    }
  }
});
