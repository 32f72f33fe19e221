// DR0-DR3 data breakpoints fire (SDM vol. 3, 17.2.4 "Debug Control Register (DR7)", 17.2.5
// "Breakpoint Field Recognition" and 17.3.1.2 "Data Memory and I/O Breakpoint Exception
// Conditions"): R/W = 01 breaks on data writes, 11 on data reads and writes but not instruction
// fetches; LEN 00/01/11 cover 1, 2 and 4 bytes at the address aligned down to the length (10:
// 8 bytes, as on the processors that define it); any byte of an access in the range matches. The
// exception is a trap: the instruction has completed (a write has written) and the frame's IP is
// the next instruction; DR6.Bn says which breakpoint matched. A REP string instruction traps
// after the iteration that made the access, with its registers advanced and IP at the REP.

import { describe, expect, it } from "vitest";
import { Cpu } from "../../vmm/cpu.js";
import * as L from "../../vmm/generated/layout.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { CODE, loadReal, machine } from "./harness.js";

const LOG = 0x9000;
const HANDLER = 0x7d00;

/** DR7 with breakpoint `n` enabled locally (Ln) with its R/W and LEN fields. */
const enable = (n: number, rw: number, len: number) =>
  ((1 << (n * 2)) | (rw << (16 + n * 4)) | (len << (18 + n * 4))) >>> 0;
const RW_WRITE = 1;
const RW_READ_WRITE = 3;
const LEN: Record<number, number> = { 1: 0, 2: 1, 4: 3, 8: 2 };

const imm16 = (v: number) => [v & 0xff, (v >>> 8) & 0xff];
const imm32 = (v: number) => [...imm16(v), (v >>> 16) & 0xff, (v >>> 24) & 0xff];

/** 16-bit real-mode instructions, one array each (DS = ES = SS = 0). */
const I = {
  movAlMem: (a: number) => [0xa0, ...imm16(a)],
  movByteMem: (a: number, v: number) => [0xc6, 0x06, ...imm16(a), v],
  movWordMem: (a: number, v: number) => [0xc7, 0x06, ...imm16(a), ...imm16(v)],
  movDwordMem: (a: number, v: number) => [0x66, 0xc7, 0x06, ...imm16(a), ...imm32(v)],
  cmpByteMem: (a: number) => [0x80, 0x3e, ...imm16(a), 0],
  incByteMem: (a: number) => [0xfe, 0x06, ...imm16(a)],
  movCx: (v: number) => [0xb9, ...imm16(v)],
  movDi: (v: number) => [0xbf, ...imm16(v)],
  movSp: (v: number) => [0xbc, ...imm16(v)],
  movAx: (v: number) => [0xb8, ...imm16(v)],
  movDsAx: () => [0x8e, 0xd8],
  repStosb: () => [0xf3, 0xaa],
  pushAx: () => [0x50],
  nop: () => [0x90],
};

/**
 * The #DB handler at 0000:7D00 appends a record to the log at BP: the frame's IP, DR6's low
 * word, CX and (with `snapshot`) the dword at 0x8000 as it is when the trap is taken; then it
 * clears DR6 and returns. The snapshot is a read, so it is left out under R/W = 11.
 */
function handler(snapshot: boolean): number[] {
  return [
    ...[0x0f, 0x21, 0xf0], // mov eax, dr6
    ...[0x89, 0x46, 0x02], // mov [bp+2], ax
    ...[0x89, 0xe6], // mov si, sp
    ...[0x36, 0x8b, 0x04], // mov ax, ss:[si] (the frame's IP; DS may be anything)
    ...[0x89, 0x46, 0x00], // mov [bp+0], ax
    ...[0x89, 0x4e, 0x04], // mov [bp+4], cx
    ...(snapshot ? [0x66, 0x36, 0xa1, 0x00, 0x80, 0x66, 0x89, 0x46, 0x06] : []), // mov eax,ss:[0x8000]; mov [bp+6],eax
    ...[0x83, 0xc5, 0x0a], // add bp, 10
    ...[0x66, 0x31, 0xc0], // xor eax, eax
    ...[0x0f, 0x23, 0xf0], // mov dr6, eax
    0xcf, // iret
  ];
}

interface Hit {
  /** Index of the instruction in the body after which the trap was taken (the frame's IP). */
  after: number;
  dr6: number;
  cx: number;
  value: number;
}

/** The setup loading DR0.. and DR7, then BP = LOG. */
function setup(dr: number[], dr7: number): number[] {
  const code: number[] = [0xbd, ...imm16(LOG)]; // mov bp, LOG
  const regs = [0xc0, 0xc8, 0xd0, 0xd8];
  for (const [n, v] of dr.entries()) code.push(0x66, 0xb8, ...imm32(v), 0x0f, 0x23, regs[n]!); // mov eax,v; mov drN,eax
  code.push(0x66, 0xb8, ...imm32(dr7), 0x0f, 0x23, 0xf8); // mov eax, dr7 value; mov dr7, eax
  return code;
}

/** End addresses of the body's instructions (where a trap after each returns to). */
function endsOf(dr: number[], body: number[][]): number[] {
  const ends: number[] = [];
  let at = CODE + setup(dr, 0).length;
  for (const insn of body) {
    at += insn.length;
    ends.push(at);
  }
  return ends;
}

/**
 * Runs `body` in real mode with DR0.. and DR7 loaded, and returns the #DB records, each with the
 * index of the body instruction the frame's IP follows (-1: none).
 */
async function run(dr: number[], dr7: number, body: number[][], opts: { snapshot?: boolean; cpu?: Cpu } = {}) {
  const m = opts.cpu ? { cpu: opts.cpu } : await machine();
  const ends = endsOf(dr, body);
  loadReal(m as never, [...setup(dr, dr7), ...body.flat(), 0xf4]);
  m.cpu.writePhysical(HANDLER, Uint8Array.from(handler(opts.snapshot ?? true)));
  m.cpu.writePhysical(4, Uint8Array.from([0x00, 0x7d, 0x00, 0x00])); // IVT[1] = 0000:7D00
  const reason = m.cpu.run(100_000);
  const log = m.cpu.readPhysical(LOG, (m.cpu.reg(5) & 0xffff) - LOG);
  const dv = new DataView(log.buffer, log.byteOffset, log.byteLength);
  const hits: Hit[] = [];
  for (let o = 0; o < log.length; o += 10) {
    const ip = dv.getUint16(o, true);
    hits.push({
      after: ends.indexOf(ip),
      dr6: dv.getUint16(o + 2, true),
      cx: dv.getUint16(o + 4, true),
      value: dv.getUint32(o + 6, true),
    });
  }
  return { reason, hits, cpu: m.cpu };
}

describe("DR0-DR3 data breakpoints (SDM vol. 3, 17.2.4-17.2.5, 17.3.1.2)", () => {
  it("R/W = 01, LEN = 4: writes touching the range trap after the instruction, reads do not", async () => {
    const body = [
      I.movAlMem(0x8002), // 0: a read: no
      I.movByteMem(0x8003, 0x5a), // 1: last byte of the range: yes
      I.movWordMem(0x7ffe, 0), // 2: 7FFE-7FFF, just below: no
      I.movDwordMem(0x7ffe, 0x11223344), // 3: 7FFE-8001 overlaps: yes
      I.movByteMem(0x8004, 1), // 4: just above: no
      I.incByteMem(0x8000), // 5: read-modify-write: yes
      I.movAx(0x100), // 6
      I.movDsAx(), // 7: DS base 0x1000
      I.movByteMem(0x7001, 7), // 8: linear 0x8001: yes (breakpoints match linear addresses)
      I.movAx(0), // 9
      I.movDsAx(), // 10
    ];
    const r = await run([0x8000], enable(0, RW_WRITE, LEN[4]!), body);
    expect(r.reason).toBe("halt");
    expect(r.hits.map((h) => h.after)).toEqual([1, 3, 5, 8]);
    for (const h of r.hits) expect(h.dr6).toBe(0x0ff1); // B0 (DR6 = FFFF0FF0h | B0)
    // A trap: the write had happened when #DB was taken.
    expect(r.hits[0]!.value >>> 24).toBe(0x5a);
    expect(r.hits[1]!.value & 0xffff).toBe(0x1122);
    expect(r.hits[2]!.value & 0xff).toBe(0x23);
    expect(r.hits[3]!.value & 0xff00).toBe(0x0700);
    expect(r.cpu.u32(L.S_DEBUG_ARMED) & L.DEBUG_ARMED_DATA).toBe(L.DEBUG_ARMED_DATA);
  });

  it("R/W = 11 traps on reads and writes but not on instruction fetches", async () => {
    const body = [
      I.movAlMem(0x8002), // 0: read: yes
      I.movAlMem(0x8004), // 1: no
      I.movByteMem(0x8001, 5), // 2: write: yes
      I.cmpByteMem(0x8003), // 3: read by CMP: yes
      I.nop(), // 4: executed at the address in DR1 (R/W1 = 11): a fetch, no
      I.nop(), // 5
    ];
    const dr7 = (enable(0, RW_READ_WRITE, LEN[4]!) | enable(1, RW_READ_WRITE, LEN[1]!)) >>> 0;
    const nopAt = endsOf([0x8000, 0], body)[3]!;
    const r = await run([0x8000, nopAt], dr7, body, { snapshot: false });
    expect(r.reason).toBe("halt");
    expect(r.hits.map((h) => h.after)).toEqual([0, 2, 3]);
    for (const h of r.hits) expect(h.dr6).toBe(0x0ff1);
  });

  it("LEN 1, 2 and 8 cover their bytes at the address aligned down to the length", async () => {
    const bytes = (addrs: number[]) => addrs.map((a) => I.movByteMem(a, 1));
    const probe = [0x7fff, 0x8000, 0x8001, 0x8002, 0x8003, 0x8004, 0x8005, 0x8007, 0x8008];
    const hitsFor = async (dr0: number, len: number) => {
      const r = await run([dr0], enable(0, RW_WRITE, LEN[len]!), bytes(probe));
      return r.hits.map((h) => probe[h.after]);
    };
    expect(await hitsFor(0x8001, 1)).toEqual([0x8001]);
    expect(await hitsFor(0x8003, 2)).toEqual([0x8002, 0x8003]); // aligned down to 0x8002
    expect(await hitsFor(0x8006, 4)).toEqual([0x8004, 0x8005, 0x8007]); // 0x8004-0x8007
    expect(await hitsFor(0x8005, 8)).toEqual([0x8000, 0x8001, 0x8002, 0x8003, 0x8004, 0x8005, 0x8007]);
    // A word write touching only the first byte of a 1-byte breakpoint matches.
    const r = await run([0x8001], enable(0, RW_WRITE, LEN[1]!), [I.movWordMem(0x8000, 0), I.movWordMem(0x8002, 0)]);
    expect(r.hits.map((h) => h.after)).toEqual([0]);
  });

  it("DR6 reports every breakpoint an access matched; a disabled one never fires", async () => {
    const dr7 = (enable(0, RW_WRITE, LEN[4]!) | enable(1, RW_WRITE, LEN[1]!)) >>> 0;
    const r = await run([0x8000, 0x8002], dr7, [
      I.movByteMem(0x8000, 1),
      I.movWordMem(0x8002, 1),
      I.movByteMem(0x8002, 1),
    ]);
    expect(r.hits.map((h) => [h.after, h.dr6])).toEqual([
      [0, 0x0ff1],
      [1, 0x0ff3],
      [2, 0x0ff3],
    ]);
    // R/W = 01 and LEN set, but neither L0 nor G0: nothing fires and nothing is armed.
    const off = await run([0x8000], (RW_WRITE << 16) | (3 << 18), [I.movByteMem(0x8000, 1)]);
    expect(off.hits).toEqual([]);
    expect(off.cpu.u32(L.S_DEBUG_ARMED)).toBe(0);
    expect(off.cpu.u32(L.S_TLB_READ_MASK)).not.toBe(0); // the fast path is back
  });

  it("REP STOSB traps after the iteration that wrote, with IP at the REP while iterations remain", async () => {
    const body = [I.movDi(0x7fff), I.movCx(4), I.repStosb(), I.nop()];
    const r = await run([0x8000], enable(0, RW_WRITE, LEN[2]!), body);
    expect(r.reason).toBe("halt");
    // Writes 7FFF (no), 8000 (yes, CX = 2 left), 8001 (yes, CX = 1), 8002 (no).
    expect(r.hits.map((h) => [h.after, h.cx])).toEqual([
      [1, 2],
      [1, 1],
    ]);
    expect(r.cpu.reg(1) & 0xffff).toBe(0);
  });

  it("a push to a watched stack slot traps", async () => {
    const r = await run([0x8006], enable(0, RW_WRITE, LEN[2]!), [I.movSp(0x8008), I.pushAx(), I.movSp(0x7000)]);
    expect(r.hits.map((h) => h.after)).toEqual([1]);
  });

  it("compiled code gives way: a MOV DR7 inside a hot JIT block arms the next access", async () => {
    const cpu = await Cpu.create(loadCoreModule(), 4 << 20, {}, { jit: true, jitThreshold: 1 });
    // A hot loop writing 0x8010 runs compiled; then DR7 arms DR0 and the loop runs again.
    const loop = [
      I.movCx(0),
      [0x89, 0x0e, ...imm16(0x8010)], // 1: mov [0x8010], cx
      [0x41], // inc cx
      [0x83, 0xf9, 0x32], // cmp cx, 50
      [0x75, 0xf6], // jne 1
    ];
    const armAndWrite = [
      [0x66, 0xb8, ...imm32(enable(0, RW_WRITE, LEN[4]!))], // 5: mov eax, dr7 value
      [0x0f, 0x23, 0xf8], // 6: mov dr7, eax
      I.movWordMem(0x8000, 1), // 7: yes
      I.movWordMem(0x8010, 1), // 8: no
      I.movWordMem(0x8002, 1), // 9: yes
    ];
    const r = await run([0x8000], 0, [...loop, ...armAndWrite], { cpu });
    expect(r.reason).toBe("halt");
    expect(cpu.u32(L.S_JIT_COMPILED)).toBeGreaterThan(0);
    expect(r.hits.map((h) => h.after)).toEqual([7, 9]);
  });
});
