// A small protected-mode machine for the tests in test/unit/protected*.test.ts: a GDT, an IDT,
// two 32-bit TSSs (A with an I/O permission bitmap, B for task switches) and the guest program
// test/unit/programs/protected/pm.bin (source pm.asm beside it) loaded at 0x10000.

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Cpu, type CpuHost, REG, SEG } from "../../vmm/cpu.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";

export const GDT = 0x1000;
export const IDT = 0x2000;
export const TSS_A = 0x3000;
export const TSS_B = 0x6000;
export const IOMAP = 0x68;
export const TSS_A_LIMIT = IOMAP + 0x2000; // the bitmap and its closing 0xFF byte
export const STACK0 = 0x8000;
export const STACK3 = 0x9000;
export const PROGRAM = 0x10000;

export const SEL = {
  CODE0: 0x08,
  DATA0: 0x10,
  CODE3: 0x1b,
  DATA3: 0x23,
  TSS_A: 0x28,
  TSS_B: 0x30,
  CALL_GATE: 0x3b,
  TASK_GATE: 0x43,
  NOT_PRESENT: 0x48,
  CALL_GATE16: 0x53,
  CODE16: 0x58,
} as const;

/** Entry points and handlers in pm.asm. */
export const ENTRY = {
  callGate: 0x10000,
  int: 0x10100,
  gpDpl: 0x10200,
  np: 0x10300,
  ts: 0x10400,
  task: 0x10500,
  v86Enter: 0x10600,
  io: 0x10700,
  df: 0x10800,
  callGate16: 0x10900,
  jmpTask: 0x10a00,
  idle: 0x10b00,
  iopl: 0x10c00,
  gateEntry: 0x11000,
  int40: 0x11100,
  gpHandler: 0x11200,
  npHandler: 0x11210,
  tsHandler: 0x11220,
  dfHandler: 0x11230,
  ssHandler: 0x11240,
  taskB: 0x11400,
  v86Handler: 0x11500,
  gate16: 0x11600,
  task16: 0x11700,
  v86Code: 0x12000,
  v86IvtHandler: 0x12100,
  v86Int3: 0x12200,
  /** Free space for hand-encoded snippets. */
  snippet: 0x13000,
} as const;

/** A code/data descriptor: `access` is bits 40-47 (P DPL S type), `flags` bits 52-55 (G DB L AVL). */
export function segDesc(base: number, limit: number, access: number, flags: number): [number, number] {
  const lo = ((limit & 0xffff) | ((base & 0xffff) << 16)) >>> 0;
  const hi = (((base >>> 16) & 0xff) | (access << 8) | (limit & 0xf0000) | (flags << 20) | (base & 0xff000000)) >>> 0;
  return [lo, hi];
}

/** A gate: type 4/12 call, 5 task, 6/14 interrupt, 7/15 trap. */
export function gateDesc(
  sel: number,
  off: number,
  type: number,
  dpl: number,
  params = 0,
  present = true,
): [number, number] {
  const lo = ((off & 0xffff) | (sel << 16)) >>> 0;
  const hi = ((off & 0xffff0000) | (present ? 0x8000 : 0) | (dpl << 13) | (type << 8) | params) >>> 0;
  return [lo, hi];
}

export class Machine {
  readonly cpu: Cpu;
  readonly ioWrites: Array<[number, number, number]> = [];
  private constructor(cpu: Cpu) {
    this.cpu = cpu;
  }

  static async create(host: Partial<CpuHost> = {}): Promise<Machine> {
    const writes: Array<[number, number, number]> = [];
    const cpu = await Cpu.create(loadCoreModule(), 1 << 20, {
      ioWrite: (port, size, value) => writes.push([port, size, value]),
      ...host,
    });
    const m = new Machine(cpu);
    m.ioWrites.push(...writes);
    cpu.setHost({ ioWrite: (port, size, value) => m.ioWrites.push([port, size, value]) });
    m.build();
    return m;
  }

  r32(a: number): number {
    return this.cpu.readPhysical(a, 4).reduce((v, b, i) => v + b * 2 ** (8 * i), 0);
  }
  w32(a: number, v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    this.cpu.writePhysical(a, b);
  }
  code(a: number, bytes: number[]): void {
    this.cpu.writePhysical(a, new Uint8Array(bytes));
  }
  w16(a: number, v: number): void {
    this.cpu.writePhysical(a, new Uint8Array([v & 0xff, (v >>> 8) & 0xff]));
  }
  setGdt(index: number, d: [number, number]): void {
    this.w32(GDT + index * 8, d[0]);
    this.w32(GDT + index * 8 + 4, d[1]);
  }
  setIdt(vector: number, d: [number, number]): void {
    this.w32(IDT + vector * 8, d[0]);
    this.w32(IDT + vector * 8 + 4, d[1]);
  }
  gdtHigh(index: number): number {
    return this.r32(GDT + index * 8 + 4);
  }

  private build(): void {
    const cpu = this.cpu;
    cpu.writePhysical(PROGRAM, readFileSync(fileURLToPath(new URL("./programs/protected/pm.bin", import.meta.url))));
    this.setGdt(1, segDesc(0, 0xfffff, 0x9a, 0xc));
    this.setGdt(2, segDesc(0, 0xfffff, 0x92, 0xc));
    this.setGdt(3, segDesc(0, 0xfffff, 0xfa, 0xc));
    this.setGdt(4, segDesc(0, 0xfffff, 0xf2, 0xc));
    this.setGdt(5, segDesc(TSS_A, TSS_A_LIMIT, 0x8b, 0)); // busy: it is the current task
    this.setGdt(6, segDesc(TSS_B, 0x67, 0x89, 0));
    this.setGdt(7, gateDesc(SEL.CODE0, ENTRY.gateEntry, 12, 3, 2));
    this.setGdt(8, gateDesc(SEL.TSS_B, 0, 5, 3));
    this.setGdt(9, segDesc(0, 0xfffff, 0x12, 0xc)); // data, DPL 0, not present
    this.setGdt(10, gateDesc(SEL.CODE16, ENTRY.gate16 - PROGRAM, 4, 3, 1));
    this.setGdt(11, segDesc(PROGRAM, 0xffff, 0x9a, 0));
    cpu.setGdtr(GDT, 12 * 8 - 1);
    for (const [v, off, dpl] of [
      [0x40, ENTRY.int40, 3],
      [0x41, ENTRY.int40, 0],
      [0x42, ENTRY.v86Handler, 3],
      [13, ENTRY.gpHandler, 0],
      [11, ENTRY.npHandler, 0],
      [10, ENTRY.tsHandler, 0],
      [8, ENTRY.dfHandler, 0],
      [12, ENTRY.ssHandler, 0],
    ]) {
      this.setIdt(v, gateDesc(SEL.CODE0, off, 14, dpl));
    }
    cpu.setIdtr(IDT, 256 * 8 - 1);
    // TSS A: ring-0 stack, I/O bitmap at 0x68 denying port 0x80 only.
    this.w32(TSS_A + 4, STACK0);
    this.w32(TSS_A + 8, SEL.DATA0);
    this.w16(TSS_A + 0x66, IOMAP);
    cpu.writePhysical(TSS_A + IOMAP + 0x10, new Uint8Array([0x01])); // port 0x80
    cpu.writePhysical(TSS_A + IOMAP + 0x2000, new Uint8Array([0xff]));
    // TSS B: task B starts at task_b on its own ring-0 stack.
    this.w32(TSS_B + 0x20, ENTRY.taskB);
    this.w32(TSS_B + 0x24, 0x2);
    this.w32(TSS_B + 0x38, 0x7000);
    this.w16(TSS_B + 0x48, SEL.DATA0); // ES
    this.w16(TSS_B + 0x4c, SEL.CODE0); // CS
    this.w16(TSS_B + 0x50, SEL.DATA0); // SS
    this.w16(TSS_B + 0x54, SEL.DATA0); // DS
    cpu.setCr(0, 0x11);
    cpu.setSegment(SEG.TR, { selector: SEL.TSS_A, base: TSS_A, limit: TSS_A_LIMIT, attr: 0x8b });
    cpu.setSegment(SEG.LDTR, { selector: 0, base: 0, limit: 0, attr: 0x82 });
  }

  /** Starts at `eip` at privilege `cpl` with flat segments of that level. */
  start(eip: number, cpl: 0 | 3, eflags = 0x2): void {
    const cpu = this.cpu;
    const code = cpl === 0 ? SEL.CODE0 : SEL.CODE3;
    const data = cpl === 0 ? SEL.DATA0 : SEL.DATA3;
    const dplBits = cpl << 5;
    cpu.setSegment(SEG.CS, { selector: code, base: 0, limit: 0xffffffff, attr: 0xc09b | dplBits });
    for (const s of [SEG.SS, SEG.DS, SEG.ES, SEG.FS, SEG.GS]) {
      cpu.setSegment(s, { selector: data, base: 0, limit: 0xffffffff, attr: 0xc093 | dplBits });
    }
    cpu.cpl = cpl;
    cpu.eflags = eflags;
    cpu.setReg(REG.ESP, cpl === 0 ? STACK0 : STACK3);
    cpu.eip = eip;
  }
}
