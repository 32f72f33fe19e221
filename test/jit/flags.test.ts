// Flags that compiled code keeps in locals (vmm/jit/flags.ts) against the interpreter's. A
// generated guest runs, per case, a flag-writing instruction on random operands (ADD, SUB, CMP,
// NEG, the logic operations, ADC/SBB, byte operations, RDTSC and NOPs, INC/DEC after a carry made three ways, SHL/SHR/SAR/SAL by constant
// counts, IMUL in its three forms, 16-bit shifts and moves, MOVZX/MOVSX, some on memory
// operands, rotates and shifts by CL whose flags are or are not read later, 16-bit ALU forms, and
// moffs moves, BSWAP and PUSH r/m, which leave them alone, byte shifts and rotates, 16- and 8-bit INC/DEC), then reads the flags every way
// there is: SETcc for all sixteen conditions, CMOVcc, a Jcc that leaves the block, PUSHFD. The
// machine that compiles every block on sight must leave the same memory and registers as the
// interpreter.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Cpu, REG } from "../../vmm/cpu.js";
import { jitInfo } from "../../vmm/jit/info.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { enterFlatProtectedMode } from "./flat-mode.js";

const CODE = 0x10000;
const DATA = 0x100000;
const CASE_BYTES = 64;
/** A fixed address for the moffs forms (below the records). */
const SCRATCH = DATA - 0x100;
/** The flag writers caseBytes knows. */
const FORMS = 128;

/** One case's instructions; `out` is its 64-byte record at EDI. */
function caseBytes(op: number, a: number, b: number, n: number, carry: number, cc: number): number[] {
  const d32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
  const code: number[] = [0xb8, ...d32(a), 0xbb, ...d32(b), 0xb9, ...d32(0x11111111), 0xba, ...d32(0x22222222)];
  // The carry INC/DEC keep: STC/CLC (flags in the state block), or an ADD/SUB just before (pending).
  if (carry === 0) code.push(0xf9);
  else if (carry === 1) code.push(0xf8);
  else if (carry === 2)
    code.push(0x01, 0xd9); // add ecx, ebx
  else code.push(0x29, 0xd9); // sub ecx, ebx
  const forms: number[][] = [
    [0x01, 0xd8], // add eax, ebx
    [0x29, 0xd8], // sub eax, ebx
    [0x39, 0xd8], // cmp eax, ebx
    [0x21, 0xd8], // and eax, ebx
    [0x09, 0xd8], // or eax, ebx
    [0x31, 0xd8], // xor eax, ebx
    [0x85, 0xd8], // test eax, ebx
    [0xf7, 0xd8], // neg eax
    [0x40], // inc eax
    [0x48], // dec eax
    [0xff, 0xc0], // inc eax (FF /0)
    [0xc1, 0xe0, n], // shl eax, n
    [0xc1, 0xe8, n], // shr eax, n
    [0xc1, 0xf8, n], // sar eax, n
    [0xc1, 0xf0, n], // sal eax, n (/6)
    [0xd1, 0xe0], // shl eax, 1
    [0xd1, 0xe8], // shr eax, 1
    [0xd1, 0xf8], // sar eax, 1
    [0x0f, 0xaf, 0xc3], // imul eax, ebx
    [0x69, 0xc3, ...d32(b ^ 0x5a5a5a5a)], // imul eax, ebx, imm32
    [0x6b, 0xc3, n | 0x80], // imul eax, ebx, imm8 (negative)
    [0x89, 0x47, 0x30, 0x01, 0x5f, 0x30], // mov [edi+48], eax; add [edi+48], ebx
    [0x89, 0x47, 0x30, 0x29, 0x5f, 0x30], // mov [edi+48], eax; sub [edi+48], ebx
    [0x89, 0x47, 0x30, 0x21, 0x5f, 0x30], // mov [edi+48], eax; and [edi+48], ebx
    [0x89, 0x47, 0x30, 0xff, 0x4f, 0x30], // mov [edi+48], eax; dec dword [edi+48]
    [0x89, 0x47, 0x30, 0xc1, 0x67, 0x30, n], // mov [edi+48], eax; shl dword [edi+48], n
    [0x89, 0x47, 0x30, 0x0f, 0xaf, 0x47, 0x30], // mov [edi+48], eax; imul eax, [edi+48]
    // 16-bit forms (the shifts by the core's shift() at 16 bits) and the zero/sign extensions.
    [0x66, 0xc1, 0xe8, n], // shr ax, n
    [0x66, 0xc1, 0xe0, n], // shl ax, n
    [0x66, 0xc1, 0xf8, n], // sar ax, n
    [0x66, 0xc1, 0xc0, n], // rol ax, n
    [0x66, 0xd1, 0xf8, 0x66, 0xd1, 0xe0, 0x66, 0xc1, 0xe8, n & 15], // sar ax, 1; shl ax, 1; shr ax, n & 15
    [0x66, 0xd3, 0xe8], // shr ax, cl (17)
    [0x66, 0xd1, 0xd8], // rcr ax, 1
    [0x66, 0x89, 0x47, 0x30, 0x66, 0xc1, 0x6f, 0x30, n], // mov [edi+48], ax; shr word [edi+48], n
    [0x01, 0xd8, 0x66, 0x89, 0xd8], // add eax, ebx; mov ax, bx (flags stay pending)
    [0x89, 0x5f, 0x30, 0x66, 0x8b, 0x47, 0x31], // mov [edi+48], ebx; mov ax, [edi+49]
    [0x66, 0xc7, 0x47, 0x30, b & 0xff, (b >>> 8) & 0xff, 0x8b, 0x47, 0x30], // mov word [edi+48], imm16; mov eax, [edi+48]
    [0x0f, 0xb6, 0xc3, 0x0f, 0xb6, 0xd7], // movzx eax, bl; movzx edx, bh
    [0x0f, 0xb7, 0xc3], // movzx eax, bx
    [0x0f, 0xbe, 0xc7, 0x0f, 0xbf, 0xd3], // movsx eax, bh; movsx edx, bx
    [0x89, 0x5f, 0x30, 0x0f, 0xb7, 0x47, 0x31, 0x0f, 0xbe, 0x57, 0x33], // movzx eax, word [edi+49]; movsx edx, byte [edi+51]
    // ADC/SBB (the carry in from the state block or from pending flags) and the byte operations.
    [0x11, 0xd8], // adc eax, ebx
    [0x19, 0xd8], // sbb eax, ebx
    [0x89, 0x47, 0x30, 0x11, 0x5f, 0x30], // mov [edi+48], eax; adc [edi+48], ebx
    [0x83, 0xd8, n | 0x80], // sbb eax, imm8 (negative)
    [0x11, 0xd8, 0x11, 0xd8], // adc eax, ebx; adc eax, ebx (the carry in from ADC's own)
    [0x00, 0xd8], // add al, bl
    [0x28, 0xd8], // sub al, bl
    [0x38, 0xf8], // cmp al, bh
    [0x3a, 0xfc], // cmp bh, ah
    [0x20, 0xd8], // and al, bl
    [0x08, 0xfc], // or ah, bh
    [0x30, 0xd8], // xor al, bl
    [0x84, 0xd8], // test al, bl
    [0x10, 0xd8], // adc al, bl
    [0x18, 0xfc], // sbb ah, bh
    [0x80, 0xf8, n | 0x40], // cmp al, imm8
    [0x80, 0xd0, n], // adc al, imm8
    [0x89, 0x47, 0x30, 0x00, 0x5f, 0x31], // mov [edi+48], eax; add [edi+49], bl
    [0x89, 0x47, 0x30, 0x38, 0x5f, 0x32], // mov [edi+48], eax; cmp [edi+50], bl
    [0x89, 0x47, 0x30, 0x18, 0x67, 0x33], // mov [edi+48], eax; sbb [edi+51], ah
    // Forms that leave the flags alone: RDTSC (EDX:EAX from the instruction count) and NOPs.
    [0x0f, 0x31, 0x89, 0x57, 0x30], // rdtsc; mov [edi+48], edx
    [0x66, 0x90, 0x0f, 0x1f, 0x44, 0x00, 0x00, 0x66, 0x0f, 0x1f, 0x04, 0x00], // xchg ax, ax; nop [eax+eax]; nop word [eax+eax]
    // Rotates and shifts by CL: inline without flags where a later instruction replaces them all
    // before anything reads them (vmm/jit/liveness.ts), by the core's shift() where they are seen.
    [0xc1, 0xc0, n, 0x31, 0xd8], // rol eax, n; xor eax, ebx (dead)
    [0xc1, 0xc8, n, 0x89, 0xc2, 0xc1, 0xc2, 0x03, 0x01, 0xd0], // ror eax, n; mov edx, eax; rol edx, 3; add eax, edx (dead)
    [0xd1, 0xc0, 0x0f, 0xaf, 0xc3], // rol eax, 1; imul eax, ebx (dead)
    [0xb1, n, 0xd3, 0xe0, 0x29, 0xd8], // mov cl, n; shl eax, cl; sub eax, ebx (dead)
    [0xb1, n, 0xd3, 0xf8, 0x8d, 0x1c, 0x18, 0x39, 0xc3], // mov cl, n; sar eax, cl; lea ebx, [eax+ebx]; cmp ebx, eax (dead)
    [0xc1, 0xc0, n], // rol eax, n (read by the SETccs)
    [0xc1, 0xc8, n, 0x40], // ror eax, n; inc eax (CF read by the SETccs)
    [0xc1, 0xc0, n, 0x8d, 0x5b, 0x01, 0x11, 0xd8], // rol eax, n; lea ebx, [ebx+1]; adc eax, ebx (CF read by ADC)
    [0xc1, 0xc0, n, 0x89, 0x47, 0x30, 0x31, 0xd8], // rol eax, n; mov [edi+48], eax; xor eax, ebx (a store between)
    [0xb1, n & 1 ? 0 : n, 0xd3, 0xc8, 0x01, 0xd8], // mov cl, 0 or n; ror eax, cl; add eax, ebx (dead)
    [0xb1, n & 1 ? 0 : n, 0xd3, 0xe8], // mov cl, 0 or n; shr eax, cl (a zero count keeps the flags)
    [0xc1, 0xc0, n, 0xc1, 0xe0, 0x00], // rol eax, n; shl eax, 0 (keeps them: read by the SETccs)
    // 16-bit ALU operations (their flags pending at 16 bits).
    [0x66, 0x01, 0xd8], // add ax, bx
    [0x66, 0x29, 0xd8], // sub ax, bx
    [0x66, 0x3d, b & 0xff, (b >>> 8) & 0xff], // cmp ax, imm16
    [0x66, 0x83, 0xc0, n | 0x80], // add ax, imm8 (negative)
    [0x66, 0x85, 0xd8], // test ax, bx
    [0x66, 0x31, 0xd8], // xor ax, bx
    [0x66, 0x11, 0xd8], // adc ax, bx
    [0x66, 0x19, 0xd8, 0x66, 0x81, 0xd9, 0x00, 0x80], // sbb ax, bx; sbb cx, 0x8000
    [0x89, 0x47, 0x30, 0x66, 0x01, 0x5f, 0x31], // mov [edi+48], eax; add [edi+49], bx
    [0x89, 0x47, 0x30, 0x66, 0x3b, 0x5f, 0x32], // mov [edi+48], eax; cmp bx, [edi+50]
    // The carry INC/DEC keep and a JB, read from a lazy record in the state block (PUSHFD goes
    // through the interpreter, which takes the pending flags there first).
    [0x01, 0xd9, 0x9c, 0x5a, 0x40], // add ecx, ebx; pushfd; pop edx; inc eax
    [0x29, 0xd9, 0x9c, 0x5a, 0x48], // sub ecx, ebx; pushfd; pop edx; dec eax
    [0x28, 0xf9, 0x9c, 0x5a, 0x40], // sub cl, bh; pushfd; pop edx; inc eax
    [0x66, 0x01, 0xd9, 0x9c, 0x5a, 0x48], // add cx, bx; pushfd; pop edx; dec eax
    [0x11, 0xd9, 0x9c, 0x5a, 0x40], // adc ecx, ebx; pushfd; pop edx; inc eax
    [0x19, 0xd9, 0x9c, 0x5a, 0x48], // sbb ecx, ebx; pushfd; pop edx; dec eax
    [0x39, 0xd9, 0x9c, 0x5a, 0x19, 0xc0], // cmp ecx, ebx; pushfd; pop edx; sbb eax, eax
    [0x83, 0xcb, 0xff, 0xf9, 0x11, 0xd9, 0x9c, 0x5a, 0x40], // or ebx, -1; stc; adc ecx, ebx (r = a: CF 1); pushfd; pop edx; inc eax
    [0x83, 0xcb, 0xff, 0xf9, 0x19, 0xd9, 0x9c, 0x5a, 0x48], // or ebx, -1; stc; sbb ecx, ebx (r = a: CF 1); pushfd; pop edx; dec eax
    // BT and its forms: CF the bit, the other flags kept.
    [0x01, 0xd8, 0x0f, 0xba, 0xe3, n], // add eax, ebx; bt ebx, n
    [0x29, 0xd8, 0x0f, 0xba, 0xe8, n, 0x0f, 0xba, 0xf3, n ^ 7], // sub eax, ebx; bts eax, n; btr ebx, n ^ 7
    [0x21, 0xd8, 0x0f, 0xbb, 0xd8, 0x0f, 0xa3, 0xd8], // and eax, ebx; btc eax, ebx; bt eax, ebx
    [0x89, 0x47, 0x30, 0x0f, 0xba, 0x67, 0x30, n, 0x0f, 0xba, 0x7f, 0x30, n ^ 1, 0x8b, 0x47, 0x30], // bt [edi+48], n; btc [edi+48], n ^ 1; mov eax, [edi+48]
    [0x0f, 0xba, 0xe3, n, 0x11, 0xd8, 0x0f, 0xba, 0xe0, 0x1f, 0x40], // bt ebx, n; adc eax, ebx; bt eax, 31; inc eax
    [0xc1, 0xc0, n, 0x0f, 0xba, 0xe3, n], // rol eax, n; bt ebx, n (deferred flags under the carry)
    // Forms that leave the flags alone: moffs moves, BSWAP, PUSH r/m.
    [0xa3, ...d32(SCRATCH), 0x88, 0xd8, 0xa2, ...d32(SCRATCH + 1), 0xa1, ...d32(SCRATCH), 0xa0, ...d32(SCRATCH + 3)], // mov [m], eax; mov al, bl; mov [m+1], al; mov eax, [m]; mov al, [m+3]
    [0x0f, 0xc8, 0x0f, 0xcb], // bswap eax; bswap ebx
    [0x89, 0x47, 0x30, 0xff, 0x77, 0x30, 0x8f, 0x47, 0x34, 0xff, 0x34, 0x24, 0x5b], // mov [edi+48], eax; push dword [edi+48]; pop dword [edi+52]; push dword [esp]; pop ebx
    // Byte shifts and rotates, 16- and 8-bit INC/DEC (flags pending at their width).
    [0xc0, 0xe0, n & 7], // shl al, n & 7
    [0xc0, 0xec, n & 7], // shr ah, n & 7
    [0xc0, 0xf8, n & 15], // sar al, n & 15 (8 and up: the core's shift())
    [0xd0, 0xe8, 0xd0, 0xe4], // shr al, 1; shl ah, 1
    [0xd0, 0xf8], // sar al, 1
    [0xc0, 0xc0, n], // rol al, n
    [0xd0, 0xcc, 0x01, 0xd8], // ror ah, 1; add eax, ebx
    [0x89, 0x47, 0x30, 0xd0, 0x6f, 0x31, 0xc0, 0x67, 0x32, n & 7, 0x8b, 0x47, 0x30], // shr byte [edi+49], 1; shl byte [edi+50], n & 7; mov eax, [edi+48]
    [0x66, 0x40], // inc ax
    [0x66, 0x48, 0x66, 0x4b], // dec ax; dec bx
    [0xfe, 0xc0], // inc al
    [0xfe, 0xcc], // dec ah
    [0x89, 0x47, 0x30, 0x66, 0xff, 0x47, 0x31], // mov [edi+48], eax; inc word [edi+49]
    [0x89, 0x47, 0x30, 0xfe, 0x4f, 0x32, 0x8b, 0x47, 0x30], // dec byte [edi+50]; mov eax, [edi+48]
    [0x01, 0xd8, 0x66, 0x40, 0x66, 0x48], // add eax, ebx; inc ax; dec ax (the carry from the ADD)
    [0x66, 0xb8, 0x00, 0x80 - (n & 1), 0x66, 0x48 - 8 * (n & 1)], // mov ax, 0x8000 or 0x7f00; dec or inc ax (overflow, or none)
    [0xb0, 0x7f + (n & 1), 0xfe, 0xc0 + 8 * (n & 1)], // mov al, 0x7f or 0x80; inc or dec al (overflow)
    // LODS, STOS and SCAS without REP, up and down (DF).
    [0x89, 0x5f, 0x30, 0x8d, 0x77, 0x30, 0xac, 0xad, 0x89, 0x77, 0x34], // mov [edi+48], ebx; lea esi, [edi+48]; lodsb; lodsd; mov [edi+52], esi
    [0x89, 0x5f, 0x30, 0x8d, 0x77, 0x33, 0xfd, 0xac, 0xac, 0xfc, 0x89, 0x77, 0x34], // lea esi, [edi+51]; std; lodsb; lodsb; cld; mov [edi+52], esi
    [0x89, 0x5f, 0x30, 0x57, 0x8d, 0x7f, 0x30 + (n & 3), 0xae, 0x5f], // mov [edi+48], ebx; push edi; lea edi, [edi+48+n&3]; scasb; pop edi
    [0x89, 0x5f, 0x30, 0x57, 0x8d, 0x7f, 0x30, 0xaf, 0x5f], // push edi; lea edi, [edi+48]; scasd; pop edi
    [0x57, 0x8d, 0x7f, 0x38, 0xaa, 0xab, 0xfd, 0xaa, 0xfc, 0x89, 0xf9, 0x5f, 0x89, 0x4f, 0x34], // push edi; lea edi, [edi+56]; stosb; stosd; std; stosb; cld; mov ecx, edi; pop edi; mov [edi+52], ecx
    // DIV (the flags left as they were; no #DE: the quotient fits).
    [0x31, 0xd2, 0x83, 0xcb, 0x01, 0xf7, 0xf3], // xor edx, edx; or ebx, 1; div ebx
    [0x81, 0xcb, 0, 0, 0, 0x80, 0x89, 0x5f, 0x30, 0xba, ...d32(b >>> 1), 0xf7, 0x77, 0x30], // or ebx, 1 << 31; mov [edi+48], ebx; mov edx, b >> 1; div dword [edi+48]
  ];
  if (FORMS !== forms.length) throw new Error(`FORMS is ${FORMS}, the forms are ${forms.length}`);
  code.push(...forms[op]);
  for (let c = 0; c < 16; c++) code.push(0x0f, 0x90 + c, 0x47, c); // setcc [edi+c]
  code.push(0x0f, 0x40 + cc, 0xca); // cmovcc ecx, edx
  code.push(0x89, 0x4f, 0x10); // mov [edi+16], ecx
  code.push(0x9c, 0x8f, 0x47, 0x14); // pushfd; pop dword [edi+20]
  code.push(0x89, 0x47, 0x18); // mov [edi+24], eax
  // jcc over a byte store: the taken side leaves the block with its flags flushed.
  code.push(0x70 + cc, 0x04, 0xc6, 0x47, 0x1c, 0x01); // jcc +4; mov byte [edi+28], 1
  code.push(0x9c, 0x8f, 0x47, 0x20); // pushfd; pop dword [edi+32]
  code.push(0x8d, 0x7f, CASE_BYTES); // lea edi, [edi+64]
  return code;
}

async function machine(jit: boolean, program: Uint8Array): Promise<Cpu> {
  const cpu = await Cpu.create(loadCoreModule(), 4 << 20, {}, { jit, jitThreshold: 1 });
  // A clock that moves with the instruction count, so RDTSC shows where it was counted.
  cpu.tscPerInstruction = 3;
  enterFlatProtectedMode(cpu);
  cpu.writePhysical(CODE, program);
  cpu.eip = CODE;
  cpu.setReg(REG.ESP, 0x90000);
  cpu.setReg(REG.EDI, DATA);
  cpu.stopOnException = true;
  return cpu;
}

const caseArb = fc.tuple(
  fc.integer({ min: 0, max: FORMS - 1 }),
  fc.oneof(
    fc.constantFrom(0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0x80000001),
    fc.integer({ min: 0, max: 0xffffffff }),
  ),
  fc.oneof(fc.constantFrom(0, 1, 0x7fffffff, 0x80000000, 0xffffffff), fc.integer({ min: 0, max: 0xffffffff })),
  fc.integer({ min: 1, max: 31 }),
  fc.integer({ min: 0, max: 3 }),
  fc.integer({ min: 0, max: 15 }),
);

describe("flags held in compiled code's locals", () => {
  it("match the interpreter's for every writer and every way of reading them", async () => {
    const cases = fc.sample(caseArb, { numRuns: 900, seed: 20261207 });
    const code = cases.flatMap(([op, a, b, n, carry, cc]) => caseBytes(op, a >>> 0, b >>> 0, n, carry, cc));
    code.push(0xf4); // hlt
    const program = new Uint8Array(code);
    const [jit, interp] = [await machine(true, program), await machine(false, program)];
    const ends = [jit.run(50_000_000), interp.run(50_000_000)];
    expect(ends[0]).toBe(ends[1]);
    expect(jit.halted).toBe(true);
    for (let r = 0; r < 8; r++) expect(jit.reg(r) >>> 0, `register ${r}`).toBe(interp.reg(r) >>> 0);
    expect(jit.eflags >>> 0).toBe(interp.eflags >>> 0);
    expect([...jit.ram.subarray(SCRATCH, SCRATCH + 16)]).toEqual([...interp.ram.subarray(SCRATCH, SCRATCH + 16)]);
    // Case by case, so that a difference names the instruction that made it.
    const bytes = cases.length * CASE_BYTES;
    const [mj, mi] = [jit.ram.subarray(DATA, DATA + bytes), interp.ram.subarray(DATA, DATA + bytes)];
    for (let i = 0; i < cases.length; i++) {
      const at = i * CASE_BYTES;
      expect([...mj.subarray(at, at + CASE_BYTES)], `case ${i}: ${JSON.stringify(cases[i])}`).toEqual([
        ...mi.subarray(at, at + CASE_BYTES),
      ]);
    }
    // The compiled machine ran (nearly) everything compiled, with inline code for the writers.
    const info = jitInfo(jit);
    expect(info.compiledShare).toBeGreaterThan(0.9);
    expect(info.inlineShare).toBeGreaterThan(0.8);
  });

  it("are exact at a fault between a rotate or a shift by CL and the instruction that replaces its flags", async () => {
    // Compiled code computes such flags only when something can see them (flags.ts "deferred"):
    // here a #GP (FS's limit) right after the rotate stops both machines, whose EFLAGS must agree.
    const setters = [[0x01, 0xd8], [0x39, 0xd8], [0xf9], [0xf8], [0x21, 0xd8]]; // add, cmp, stc, clc, and
    const rotates = (n: number) => [
      [0xc1, 0xc0, n], // rol eax, n
      [0xc1, 0xc8, n], // ror eax, n
      [0xd3, 0xe0], // shl eax, cl
      [0xd3, 0xc8], // ror eax, cl
      [0xd3, 0xf8], // sar eax, cl
      [0xc1, 0xc0, n, 0xd1, 0xc8], // rol eax, n; ror eax, 1
      [0xd3, 0xc0, 0xc1, 0xc8, n], // rol eax, cl; ror eax, n
      [0xc1, 0xc0, n, 0xd3, 0xc0], // rol eax, n; rol eax, cl
      [0xc1, 0xc8, n, 0x8d, 0x40, 0x01, 0x89, 0xc2], // ror eax, n; lea eax, [eax+1]; mov edx, eax
      [0x66, 0xc1, 0xc0, n], // rol ax, n
      [0x66, 0xc1, 0xc8, 16, 0x66, 0xc1, 0xc0, 8], // ror ax, 16; rol ax, 8
    ];
    const FAULT = [0x64, 0x8b, 0x15, 0x00, 0x20, 0x00, 0x00]; // mov edx, fs:[0x2000] (limit 0xfff: #GP)
    const d32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
    const cases = fc.sample(
      fc.tuple(
        fc.integer({ min: 0, max: setters.length - 1 }),
        fc.integer({ min: 0, max: 10 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 1, max: 31 }),
        fc.constantFrom(0, 1, 7, 31, 32, 33, 64),
      ),
      { numRuns: 120, seed: 20261208 },
    );
    const code: number[] = [];
    const faults: number[] = [];
    for (const [set, rot, a, b, n, cl] of cases) {
      code.push(0xb8, ...d32(a), 0xbb, ...d32(b), 0xb1, cl, ...setters[set], ...rotates(n)[rot]);
      faults.push(CODE + code.length);
      code.push(...FAULT, 0x9c, 0x8f, 0x47, 0x00, 0x8d, 0x7f, 0x04); // pushfd; pop [edi]; lea edi, [edi+4]
    }
    code.push(0xf4);
    const program = new Uint8Array(code);
    const [jit, interp] = [await machine(true, program), await machine(false, program)];
    for (const cpu of [jit, interp]) cpu.setSegment(4, { selector: 0x18, base: 0, limit: 0xfff, attr: 0x4093 });
    for (let i = 0; i < cases.length; i++) {
      for (const cpu of [jit, interp]) {
        expect(cpu.run(1_000_000), `case ${i}`).toBe("exception");
        expect(cpu.lastException.vector).toBe(13);
        expect(cpu.eip >>> 0).toBe(faults[i]);
      }
      expect(jit.eflags >>> 0, `case ${i}: ${JSON.stringify(cases[i])}`).toBe(interp.eflags >>> 0);
      expect(jit.reg(REG.EAX) >>> 0, `case ${i}`).toBe(interp.reg(REG.EAX) >>> 0);
      for (const cpu of [jit, interp]) cpu.eip = faults[i] + FAULT.length; // step over the access
    }
    expect(jit.run(1_000_000)).toBe("halt");
    expect(interp.run(1_000_000)).toBe("halt");
    expect([...jit.ram.subarray(DATA, DATA + 4 * cases.length)]).toEqual([
      ...interp.ram.subarray(DATA, DATA + 4 * cases.length),
    ]);
    expect(jitInfo(jit).instructionsCompiled).toBeGreaterThan(cases.length * 5);
  });

  it("leave #DE to the interpreter (a zero divisor, a quotient over 32 bits) with the registers and flags as before", async () => {
    const d32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
    // EDX, divisor: a zero divisor, EDX equal to it and above it fault; EDX just below it does not.
    const cases: [number, number][] = [
      [0, 0],
      [5, 5],
      [0xffffffff, 7],
      [6, 7],
      [0x12345678, 0],
      [0x80000000, 0x80000001],
    ];
    const code: number[] = [];
    const at: number[] = [];
    for (const [i, [edx, divisor]] of cases.entries()) {
      // add eax, ebx (pending flags); mov edx, ...; mov [edi+48], divisor; div dword [edi+48] or div ecx
      code.push(0xb8, ...d32(0x9abcdef0), 0xbb, ...d32(0x76543210), 0x01, 0xd8, 0xba, ...d32(edx));
      code.push(0xb9, ...d32(divisor), 0x89, 0x4f, 0x30);
      at.push(CODE + code.length);
      code.push(...(i & 1 ? [0xf7, 0xf1] : [0xf7, 0x77, 0x30]));
      code.push(0x9c, 0x8f, 0x47, 0x00, 0x89, 0x47, 0x04, 0x89, 0x57, 0x08, 0x8d, 0x7f, 0x0c); // pushfd; pop [edi]; mov [edi+4], eax; mov [edi+8], edx
    }
    code.push(0xf4);
    const program = new Uint8Array(code);
    const [jit, interp] = [await machine(true, program), await machine(false, program)];
    for (const [i, [edx, divisor]] of cases.entries()) {
      const faults = divisor === 0 || edx >>> 0 >= divisor >>> 0;
      for (const cpu of [jit, interp]) {
        if (!faults) continue;
        expect(cpu.run(1_000_000), `case ${i}`).toBe("exception");
        expect(cpu.lastException.vector).toBe(0);
        expect(cpu.eip >>> 0).toBe(at[i]);
        cpu.eip = at[i] + (i & 1 ? 2 : 3); // step over the DIV
      }
      if (faults) {
        expect(jit.eflags >>> 0, `case ${i}`).toBe(interp.eflags >>> 0);
        expect(jit.reg(REG.EDX) >>> 0, `case ${i}`).toBe(edx >>> 0);
      }
    }
    expect(jit.run(1_000_000)).toBe("halt");
    expect(interp.run(1_000_000)).toBe("halt");
    expect([...jit.ram.subarray(DATA, DATA + 12 * cases.length)]).toEqual([
      ...interp.ram.subarray(DATA, DATA + 12 * cases.length),
    ]);
  });
});
