// Chain links (vmm/jit/emit.ts chainTo, core/jit/enter.ts jitLink): compiled code that leaves for
// a constant target, or (through an inline cache) for an indirect branch's last target, enters
// the target's block itself instead of returning to the run loop. A link must never outlive what it links to: the guest below bounces between two
// pages, and its code is rewritten by the host and remapped by its page tables while links exist;
// the machine that compiles everything must end exactly where the interpreter ends.

import { describe, expect, it } from "vitest";
import { Cpu, REG } from "../../vmm/cpu.js";
import { jitInfo } from "../../vmm/jit/info.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { enterFlatProtectedMode } from "./flat-mode.js";

const A = 0x10000;
const B = 0x11000; // the second page (linear), normally frame 0x11000, remapped to 0x12000
const ALT = 0x12000;
const PD = 0x20000;
const PT = 0x21000;

const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];

/** Page A: add eax, 1; jmp B. */
const PAGE_A = [0x83, 0xc0, 0x01, 0xe9, ...le32(B - (A + 8))];
/** Page B: `body`; dec ecx; jnz A; hlt. */
function pageB(body: number[]): number[] {
  const b = [...body, 0x49, 0x0f, 0x85];
  b.push(...le32(A - (B + b.length + 4)), 0xf4);
  return b;
}

async function machine(jit: boolean): Promise<Cpu> {
  const cpu = await Cpu.create(loadCoreModule(), 4 << 20, {}, { jit, jitThreshold: 1 });
  // Paging on, identity-mapped below 4 MiB, so that the second page can be remapped.
  const pd = new Uint8Array(4096);
  pd.set(le32(PT | 3), 0);
  const pt = new Uint8Array(4096);
  for (let i = 0; i < 1024; i++) pt.set(le32((i << 12) | 3), i * 4);
  cpu.writePhysical(PD, pd);
  cpu.writePhysical(PT, pt);
  cpu.setCr(3, PD);
  enterFlatProtectedMode(cpu);
  cpu.setCr(0, cpu.cr(0) | 0x80000000);
  cpu.setReg(REG.ESP, 0x90000);
  return cpu;
}

/** Page B's code into `frame`, ECX = n, and the loop started (page A stays as it was). */
function start(cpu: Cpu, n: number, body: number[], frame = B): void {
  cpu.writePhysical(frame, new Uint8Array(pageB(body)));
  cpu.setReg(REG.ECX, n);
  cpu.eip = A;
  cpu.halted = false;
}

/** Runs to the HLT in slices; returns EAX, ECX and the instruction count. */
function finish(cpu: Cpu): number[] {
  for (let i = 0; i < 1000 && !cpu.halted; i++) cpu.run(777);
  return [cpu.reg(REG.EAX) >>> 0, cpu.reg(REG.ECX) >>> 0, Number(cpu.instructions)];
}

describe("chain links between compiled blocks", () => {
  it("stay exact across budgets, rewritten code and a remapped page", async () => {
    const [jit, interp] = [await machine(true), await machine(false)];
    const both = (f: (cpu: Cpu) => void) =>
      [jit, interp].map((cpu) => {
        f(cpu);
        return finish(cpu);
      });

    // 1. The loop, budgets that end in the middle of chains.
    let [j, i] = both((cpu) => {
      cpu.writePhysical(A, new Uint8Array(PAGE_A));
      start(cpu, 5000, [0x90]);
    });
    expect(j).toEqual(i);
    expect(j[0]).toBe(5000);
    const chained = jitInfo(jit).chained;
    expect(chained).toBeGreaterThan(5000); // both directions, nearly every iteration
    expect(jitInfo(jit).entries).toBeLessThan(200);

    // 2. The host rewrites page B's code (add eax, 2 instead of nop): its block dies, and the
    // link from page A's block (alive) must not reach the old code.
    [j, i] = both((cpu) => start(cpu, 3000, [0x83, 0xc0, 0x02]));
    expect(j).toEqual(i);
    expect(j[0]).toBe(5000 + 3 * 3000);

    // 3. Linear page B remapped to another frame holding other code (add eax, 3): same linear
    // target, another host page; the link checks the mapping and must not follow.
    [j, i] = both((cpu) => {
      cpu.writePhysical(PT + (B >>> 12) * 4, new Uint8Array(le32(ALT | 3)));
      cpu.setCr(3, PD); // flushes the TLB
      start(cpu, 2000, [0x83, 0xc0, 0x03], ALT);
    });
    expect(j).toEqual(i);
    expect(j[0]).toBe(14000 + 4 * 2000);
    expect(jitInfo(jit).chained).toBeGreaterThan(chained + 4000);
  });

  it("follow indirect branches through their inline caches, and drop them with the code", async () => {
    // Page A: a loop that calls one of two subroutines in page B through a table, by ECX's low
    // bit; each RET goes back to one place (its cache hits), the CALL alternates (it misses).
    const TABLE = 0x30000;
    const loop = [0x89, 0xca, 0x83, 0xe2, 0x01, 0xff, 0x14, 0x95, ...le32(TABLE), 0x49, 0x75, 0xf1, 0xf4];
    const sub = (n: number) => [0x83, 0xc0, n, 0xc3]; // add eax, n; ret
    const [jit, interp] = [await machine(true), await machine(false)];
    const run = (n: number, second: number) =>
      [jit, interp].map((cpu) => {
        cpu.writePhysical(A, new Uint8Array(loop));
        cpu.writePhysical(B, new Uint8Array(sub(1)));
        cpu.writePhysical(B + 0x10, new Uint8Array(sub(second)));
        cpu.writePhysical(TABLE, new Uint8Array([...le32(B), ...le32(B + 0x10)]));
        cpu.setReg(REG.ECX, n);
        cpu.eip = A;
        cpu.halted = false;
        return finish(cpu);
      });
    let [j, i] = run(4000, 2);
    expect(j).toEqual(i);
    expect(j[0]).toBe(2000 * 1 + 2000 * 2);
    const before = jitInfo(jit);
    expect(before.chained).toBeGreaterThan(6000); // the RETs and the loop, nearly every time
    // The second subroutine rewritten by the host: its block dies, the caches must not reach it.
    [j, i] = run(4000, 5);
    expect(j).toEqual(i);
    expect(j[0]).toBe(6000 + 2000 * 1 + 2000 * 5);
  });
});
