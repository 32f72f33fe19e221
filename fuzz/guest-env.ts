// The machine a fuzz program runs in: descriptor tables, exception handlers, a TSS, page tables
// and the CPU state the program starts in (real mode, 16- or 32-bit protected mode, paged,
// ring 3, virtual-8086). Everything is written by the host into a fresh VM's RAM and is a pure
// function of the case, so a saved case replays exactly.
//
// Every exception and interrupt vector has a handler that moves the interrupted EIP on and
// returns, so a program keeps running through its faults:
//   - "slots": instructions sit in 16-byte slots (padded with NOPs) and the handler resumes at
//     the next slot, so execution never starts inside an instruction (the cross-mode cases,
//     whose instruction mix must stay inside the comparable forms);
//   - "bytes": the handler resumes one byte further on, decoding whatever is there (the
//     crash-and-hang cases).

import { type Cpu, REG, SEG } from "../vmm/cpu.js";

export const CPU_STATES = ["real", "pm16", "pm32", "paged", "ring3", "v86"] as const;
export type CpuState = (typeof CPU_STATES)[number];
export type Resume = "slots" | "bytes";

/** Guest-physical layout (all inside the first 4 MiB). */
export const LAYOUT = {
  prologue: 0x0500,
  gdt: 0x0600,
  tss: 0x0700,
  realStubs: 0x1000,
  idt: 0x2000,
  pmStubs: 0x3000,
  ring0Stack: 0x9000,
  // Above the stack, so that a program whose stack runs away does not write its page tables.
  pageDirectory: 0xa000,
  pageTable: 0xb000,
  code: 0x10000,
  data: 0x20000,
  dataBytes: 0x20000,
  ring3Stack: 0x3f000,
} as const;

export const SLOT = 16;

/** Selectors of the GDT below. */
const SEL = { code32: 0x08, data32: 0x10, code16: 0x18, data16: 0x20, code3: 0x2b, data3: 0x33, tss: 0x38 };
/** Vectors whose exceptions push an error code (SDM vol. 3, table 6-1). */
const ERROR_CODE_VECTORS = new Set([8, 10, 11, 12, 13, 14, 17]);

/** The random choices of the environment (saved with the case). */
export interface EnvSpec {
  state: CpuState;
  resume: Resume;
  /** Initial EAX..EDI (ESP is set by the state). */
  regs: number[];
  /** Arithmetic flags and DF of the initial EFLAGS; IOPL for ring 3 and v86. */
  flags: number;
  iopl: number;
  /** Paging on (always for "paged"; a choice for ring 3 and v86). */
  paging: boolean;
  /** CR0.WP, CR4.PSE, CR4.PGE, CR4.VME (v86). */
  wp: boolean;
  pse: boolean;
  pge: boolean;
  vme: boolean;
  /** [page index, PTE] pairs replacing identity entries of the first page table. */
  pteEdits: [number, number][];
  /** Eight extra GDT descriptors at 0x40-0x78, as [low, high] dwords. */
  extraDescriptors: [number, number][];
  /** IDT gate type/DPL byte per vector (0x8E/0xEE interrupt gates, 0x8F/0xEF trap gates). */
  gateTypes: number[];
}

function descriptor(base: number, limit: number, access: number, flags: number): [number, number] {
  const low = ((base & 0xffff) << 16) | (limit & 0xffff);
  const high = (base & 0xff000000) | ((flags & 0xf) << 20) | (limit & 0xf0000) | (access << 8) | ((base >>> 16) & 0xff);
  return [low >>> 0, high >>> 0];
}

function put32(buf: Uint8Array, at: number, v: number): void {
  new DataView(buf.buffer, buf.byteOffset).setUint32(at, v >>> 0, true);
}

/** The handler stub for `vector`: pops an error code, moves the return EIP on, returns. */
function pmStub(vector: number, resume: Resume): number[] {
  const pop = ERROR_CODE_VECTORS.has(vector) ? [0x83, 0xc4, 0x04] : []; // add esp, 4
  const move =
    resume === "slots"
      ? [0x83, 0x04, 0x24, SLOT, 0x83, 0x24, 0x24, 0x100 - SLOT] // add dword [esp],16; and dword [esp],-16
      : [0xff, 0x04, 0x24]; // inc dword [esp]
  return [...pop, ...move, 0xcf]; // iret
}

function realStub(resume: Resume): number[] {
  const move =
    resume === "slots"
      ? [0x83, 0x46, 0x02, SLOT, 0x83, 0x66, 0x02, 0x100 - SLOT] // add word [bp+2],16; and word [bp+2],-16
      : [0xff, 0x46, 0x02]; // inc word [bp+2]
  return [0x55, 0x89, 0xe5, ...move, 0x5d, 0xcf]; // push bp; mov bp,sp; ...; pop bp; iret
}

/** Writes the tables, handlers and page tables into guest RAM. */
function writeTables(cpu: Cpu, env: EnvSpec): void {
  const low = new Uint8Array(0xb000);
  for (let v = 0; v < 256; v++) {
    put32(low, v * 4, (0 << 16) | (LAYOUT.realStubs + v * SLOT)); // IVT: 0000:stub
    low.set(realStub(env.resume), LAYOUT.realStubs + v * SLOT);
    low.set(pmStub(v, env.resume), LAYOUT.pmStubs + v * SLOT);
    const off = LAYOUT.pmStubs + v * SLOT;
    const type = env.gateTypes[v] ?? 0xee;
    put32(low, LAYOUT.idt + v * 8, (SEL.code32 << 16) | (off & 0xffff));
    put32(low, LAYOUT.idt + v * 8 + 4, (off & 0xffff0000) | (type << 8));
  }
  const gdt: [number, number][] = [
    [0, 0],
    descriptor(0, 0xfffff, 0x9b, 0xc),
    descriptor(0, 0xfffff, 0x93, 0xc),
    descriptor(LAYOUT.code, 0xffff, 0x9b, 0),
    descriptor(LAYOUT.data, 0xffff, 0x93, 0),
    descriptor(0, 0xfffff, 0xfb, 0xc),
    descriptor(0, 0xfffff, 0xf3, 0xc),
    descriptor(LAYOUT.tss, 0x67, 0x8b, 0), // busy: TR is loaded from the host
    ...env.extraDescriptors,
  ];
  gdt.forEach(([l, h], i) => {
    put32(low, LAYOUT.gdt + i * 8, l);
    put32(low, LAYOUT.gdt + i * 8 + 4, h);
  });
  put32(low, LAYOUT.tss + 4, LAYOUT.ring0Stack); // ESP0
  put32(low, LAYOUT.tss + 8, SEL.data32); // SS0
  put32(low, LAYOUT.tss + 0x64, 0x68 << 16); // I/O map base past the limit: no bitmap
  put32(low, LAYOUT.pageDirectory, LAYOUT.pageTable | 0x7);
  cpu.writePhysical(0, low);
  // The first page table: identity for the first 4 MiB; under ring 3 the system pages (below
  // the code) are supervisor-only.
  const table = new Uint8Array(4096);
  for (let i = 0; i < 1024; i++) {
    const system = i < LAYOUT.code >> 12;
    put32(table, i * 4, (i << 12) | 0x3 | (env.state === "ring3" && system ? 0 : 0x4));
  }
  for (const [i, pte] of env.pteEdits) put32(table, (i & 0x3ff) * 4, pte);
  cpu.writePhysical(LAYOUT.pageTable, table);
}

function flat(cpu: Cpu, s: number, selector: number, code: boolean, dpl: number): void {
  cpu.setSegment(s, { selector, base: 0, limit: 0xffffffff, attr: (code ? 0x9b : 0x93) | (dpl << 5) | 0xc000 });
}

function push32(v: number): number[] {
  return [0x68, v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}

/**
 * Sets the VM's CPU up for `env.state` with `code` at LAYOUT.code and `data` at LAYOUT.data.
 * Ring 3 and v86 start in a ring-0 prologue that IRETs there, as an OS would.
 */
export function setUpGuest(cpu: Cpu, env: EnvSpec, code: Uint8Array, data: Uint8Array): void {
  writeTables(cpu, env);
  cpu.writePhysical(LAYOUT.code, code);
  cpu.writePhysical(LAYOUT.data, data);
  for (let r = 0; r < 8; r++) if (r !== REG.ESP) cpu.setReg(r, env.regs[r] ?? 0);
  const arith = env.flags & 0xcd5; // CF PF AF ZF SF DF OF
  if (env.state === "real") {
    cpu.setRealSegment(SEG.CS, LAYOUT.code >> 4);
    for (const s of [SEG.DS, SEG.ES, SEG.FS, SEG.GS]) cpu.setRealSegment(s, LAYOUT.data >> 4);
    cpu.setRealSegment(SEG.SS, 0);
    cpu.setReg(REG.ESP, LAYOUT.ring0Stack - 0x1000);
    cpu.eip = 0;
    cpu.eflags = 0x2 | arith;
    return;
  }
  cpu.setGdtr(LAYOUT.gdt, 0x7f);
  cpu.setIdtr(LAYOUT.idt, 0x7ff);
  cpu.setCr(0, cpu.cr(0) | 1);
  cpu.setSegment(SEG.TR, { selector: SEL.tss, base: LAYOUT.tss, limit: 0x67, attr: 0x8b });
  if (env.state === "pm16") {
    cpu.setSegment(SEG.CS, { selector: SEL.code16, base: LAYOUT.code, limit: 0xffff, attr: 0x9b });
    for (const s of [SEG.DS, SEG.ES, SEG.FS, SEG.GS, SEG.SS]) {
      cpu.setSegment(s, { selector: SEL.data16, base: LAYOUT.data, limit: 0xffff, attr: 0x93 });
    }
    cpu.setReg(REG.ESP, 0xf000);
    cpu.eip = 0;
    cpu.eflags = 0x2 | arith;
    return;
  }
  flat(cpu, SEG.CS, SEL.code32, true, 0);
  flat(cpu, SEG.SS, SEL.data32, false, 0);
  for (const s of [SEG.DS, SEG.ES, SEG.FS, SEG.GS]) flat(cpu, s, SEL.data32, false, 0);
  cpu.setReg(REG.ESP, LAYOUT.ring0Stack);
  cpu.eflags = 0x2 | arith;
  const paged = env.state === "paged" || (env.paging && (env.state === "ring3" || env.state === "v86"));
  if (paged) {
    cpu.setCr(4, (env.pse ? 0x10 : 0) | (env.pge ? 0x80 : 0) | (env.vme ? 0x1 : 0));
    cpu.setCr(3, LAYOUT.pageDirectory);
    cpu.setCr(0, cpu.cr(0) | 0x80000000 | (env.wp ? 0x10000 : 0));
  } else if (env.vme) cpu.setCr(4, 0x1);
  if (env.state === "pm32" || env.state === "paged") {
    cpu.eip = LAYOUT.code;
    return;
  }
  // Ring 3 or v86: a ring-0 prologue IRETs into the program.
  const iopl = (env.iopl & 3) << 12;
  let prologue: number[];
  if (env.state === "ring3") {
    for (const s of [SEG.DS, SEG.ES, SEG.FS, SEG.GS]) flat(cpu, s, SEL.data3, false, 3);
    prologue = [
      ...push32(SEL.data3),
      ...push32(LAYOUT.ring3Stack),
      ...push32(0x202 | iopl | arith),
      ...push32(SEL.code3),
      ...push32(LAYOUT.code),
    ];
  } else {
    const seg = LAYOUT.data >> 4;
    prologue = [
      ...push32(seg), // GS
      ...push32(seg), // FS
      ...push32(seg), // DS
      ...push32(seg), // ES
      ...push32(LAYOUT.ring3Stack >> 4), // SS
      ...push32(0xff0), // SP
      ...push32(0x20202 | iopl | arith), // EFLAGS with VM
      ...push32(LAYOUT.code >> 4), // CS
      ...push32(0), // IP
    ];
  }
  cpu.writePhysical(LAYOUT.prologue, Uint8Array.from([...prologue, 0xcf]));
  cpu.eip = LAYOUT.prologue;
}

/** Whether the state runs 32-bit code. */
export function code32(state: CpuState): boolean {
  return state === "pm32" || state === "paged" || state === "ring3";
}
