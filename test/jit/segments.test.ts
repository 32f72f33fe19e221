// Compiled code assumes what it was compiled under: the CS and SS sizes, and whether ES, SS and
// DS are flat (base 0, every offset allowed: core/jit/blocks.ts BLOCK_FLAT, whose accesses skip
// the segment checks). The guest below changes DS and SS in the middle of a hot loop, through
// instructions the interpreter runs from compiled code (MOV Sreg): DS to a segment based at
// 0x1000 and back, SS to a 16-bit stack and back. The block must stop at each change (jitStep)
// and code for the new modes run after it, so the machine that compiles everything ends exactly
// where the interpreter ends.

import { describe, expect, it } from "vitest";
import { Cpu, REG } from "../../vmm/cpu.js";
import { jitInfo } from "../../vmm/jit/info.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { enterFlatProtectedMode } from "./flat-mode.js";

const CODE = 0x10000;
const GDT = 0x30000;
const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];

/** A segment descriptor: base, 20-bit limit, access byte, flags nibble (G, D/B). */
function descriptor(base: number, limit: number, access: number, flags: number): number[] {
  return [
    limit & 0xff,
    (limit >>> 8) & 0xff,
    base & 0xff,
    (base >>> 8) & 0xff,
    (base >>> 16) & 0xff,
    access,
    ((limit >>> 16) & 0xf) | (flags << 4),
    (base >>> 24) & 0xff,
  ];
}

const GDT_BYTES = [
  ...descriptor(0, 0, 0, 0),
  ...descriptor(0, 0xfffff, 0x9b, 0xc), // 0x08: flat 32-bit code
  ...descriptor(0, 0xfffff, 0x93, 0xc), // 0x10: flat 32-bit data
  ...descriptor(0x1000, 0xfffff, 0x93, 0xc), // 0x18: data based at 0x1000
  ...descriptor(0, 0xffff, 0x93, 0x0), // 0x20: 16-bit data (a 16-bit stack), 64 KiB
];

/** A subroutine both loops call, with DS based and with DS flat: add [0x400], ecx; ret. */
const SUB = CODE + 0x800;
const SUB_BYTES = [0x01, 0x0d, ...le32(0x400), 0xc3];

/**
 * ECX times: DS based at 0x1000 for two accesses and a call of SUB, flat again for one access and
 * another call of SUB (the same compiled code under both); a push and pop on a 16-bit SS, then
 * on the flat one.
 */
function program(): number[] {
  const code: number[] = [];
  const call = () => code.push(0xe8, ...le32(SUB - (CODE + code.length + 5)));
  // biome-ignore format: one instruction a line
  code.push(
    0x66, 0xb8, 0x18, 0x00, // mov ax, 0x18
    0x8e, 0xd8, // mov ds, ax
    0x89, 0x0d, ...le32(0x100), // mov [0x100], ecx (linear 0x1100)
    0x01, 0x0d, ...le32(0x104), // add [0x104], ecx (linear 0x1104)
  );
  call(); // linear 0x1400
  // biome-ignore format: one instruction a line
  code.push(
    0x66, 0xbb, 0x10, 0x00, // mov bx, 0x10
    0x8e, 0xdb, // mov ds, bx
    0x01, 0x0d, ...le32(0x200), // add [0x200], ecx (linear 0x200)
  );
  call(); // linear 0x400
  // biome-ignore format: one instruction a line
  code.push(
    0x66, 0xba, 0x20, 0x00, // mov dx, 0x20
    0x8e, 0xd2, // mov ss, dx (16-bit stack)
    0x51, // push ecx (SP - 4)
    0x5f, // pop edi
    0x66, 0xba, 0x10, 0x00, // mov dx, 0x10
    0x8e, 0xd2, // mov ss, dx (32-bit stack)
    0x51, // push ecx (ESP - 4)
    0x5e, // pop esi
    0x01, 0xfe, // add esi, edi
    0x01, 0x35, ...le32(0x300), // add [0x300], esi
    0x49, // dec ecx
  );
  code.push(0x0f, 0x85, ...le32(-(code.length + 6)), 0xf4); // jnz to the top; hlt
  return code;
}

async function machine(jit: boolean): Promise<Cpu> {
  const cpu = await Cpu.create(loadCoreModule(), 4 << 20, {}, { jit, jitThreshold: 1 });
  cpu.writePhysical(GDT, new Uint8Array(GDT_BYTES));
  cpu.setGdtr(GDT, GDT_BYTES.length - 1);
  enterFlatProtectedMode(cpu);
  cpu.writePhysical(CODE, new Uint8Array(program()));
  cpu.writePhysical(SUB, new Uint8Array(SUB_BYTES));
  cpu.eip = CODE;
  // With the 16-bit stack, pushes go to SP (0x8000 - 4); with the 32-bit one to 0x28000 - 4.
  cpu.setReg(REG.ESP, 0x28000);
  cpu.setReg(REG.ECX, 3000);
  cpu.stopOnException = true;
  return cpu;
}

describe("compiled code and segment changes", () => {
  it("stops where DS or SS change and runs on as the interpreter does", async () => {
    const [jit, interp] = [await machine(true), await machine(false)];
    const ends = [jit, interp].map((cpu) => {
      let r = "";
      for (let i = 0; i < 2000 && !cpu.halted; i++) r = cpu.run(997);
      return `${r} at ${(cpu.eip >>> 0).toString(16)}`;
    });
    expect(ends[0]).toBe(ends[1]);
    expect(jit.halted).toBe(true);
    expect(interp.halted).toBe(true);
    for (let r = 0; r < 8; r++) expect(jit.reg(r) >>> 0, `register ${r}`).toBe(interp.reg(r) >>> 0);
    expect(jit.instructions).toBe(interp.instructions);
    for (const at of [0x100, 0x104, 0x200, 0x300, 0x400, 0x1100, 0x1104, 0x1400, 0x7ffc, 0x27ffc])
      expect(jit.readPhysical(at, 4), `memory at ${at.toString(16)}`).toEqual(interp.readPhysical(at, 4));
    // What the guest computed: sum of n for the based store, both stacks were used.
    const sum = (3000 * 3001) / 2;
    const u32 = (cpu: Cpu, at: number) => new DataView(cpu.readPhysical(at, 4).buffer).getUint32(0, true);
    expect(u32(interp, 0x1104)).toBe(sum);
    expect(u32(interp, 0x200)).toBe(sum);
    expect(u32(interp, 0x300)).toBe(2 * sum);
    expect(u32(interp, 0x400)).toBe(sum);
    expect(u32(interp, 0x1400)).toBe(sum);
    expect(u32(interp, 0x104)).toBe(0);
    expect(u32(interp, 0x7ffc)).toBe(1);
    expect(u32(interp, 0x27ffc)).toBe(1);
    // Much of it ran compiled (each MOV Sreg is interpreted and ends its block).
    expect(jitInfo(jit).compiledShare).toBeGreaterThan(0.4);
  });
});
