// The monitor's disassembler (vmm/monitor/disasm.ts, disasm-syntax.ts) against known encodings,
// each expected line being what GNU objdump 2.40 (binutils, whose disassembler gdb and QEMU's
// older monitor share) prints for the bytes; and against the instruction table itself: every
// form of core/isa/table.mjs and core/isa/x87.mjs decodes, with the length the table implies.

import { describe, expect, it } from "vitest";
import { entries, immediateBytes } from "../../core/isa/table.mjs";
import { x87Forms } from "../../core/isa/x87.mjs";
import { decode } from "../../vmm/monitor/disasm.js";
import { disassemble, formatDisasm, formatInstruction } from "../../vmm/monitor/disasm-syntax.js";

const bytesOf = (hex: string) => Uint8Array.from(Buffer.from(hex.replace(/ /g, ""), "hex"));
function text(hex: string, syntax: "att" | "intel", cs32 = true): string {
  const d = decode(bytesOf(hex), cs32, (len) => len);
  return d ? formatInstruction(d, syntax).replace(/\s+/g, " ") : "(bad)";
}

// [bytes, AT&T, Intel] in 32-bit code.
const CODE32: [string, string, string][] = [
  ["53", "push %ebx", "push ebx"],
  ["83 ec 04", "sub $0x4,%esp", "sub esp,0x4"],
  ["89 1c 24", "mov %ebx,(%esp)", "mov DWORD PTR [esp],ebx"],
  ["e8 db ff ff ff", "call 0xffffffe0", "call 0xffffffe0"],
  ["75 f2", "jne 0xfffffff4", "jne 0xfffffff4"],
  ["e6 f4", "out %al,$0xf4", "out 0xf4,al"],
  ["a1 50 00 10 00", "mov 0x100050,%eax", "mov eax,ds:0x100050"],
  ["03 44 24 04", "add 0x4(%esp),%eax", "add eax,DWORD PTR [esp+0x4]"],
  ["c7 05 00 00 20 00 01 00 00 00", "movl $0x1,0x200000", "mov DWORD PTR ds:0x200000,0x1"],
  ["ff 05 08 00 20 00", "incl 0x200008", "inc DWORD PTR ds:0x200008"],
  ["8b 4c 8d 10", "mov 0x10(%ebp,%ecx,4),%ecx", "mov ecx,DWORD PTR [ebp+ecx*4+0x10]"],
  ["8b 45 fc", "mov -0x4(%ebp),%eax", "mov eax,DWORD PTR [ebp-0x4]"],
  ["8d 4c 24 04", "lea 0x4(%esp),%ecx", "lea ecx,[esp+0x4]"],
  ["0f b6 45 ff", "movzbl -0x1(%ebp),%eax", "movzx eax,BYTE PTR [ebp-0x1]"],
  ["0f bf 03", "movswl (%ebx),%eax", "movsx eax,WORD PTR [ebx]"],
  ["f3 a5", "rep movsl %ds:(%esi),%es:(%edi)", "rep movs DWORD PTR es:[edi],DWORD PTR ds:[esi]"],
  ["f3 ab", "rep stos %eax,%es:(%edi)", "rep stos DWORD PTR es:[edi],eax"],
  ["f2 ae", "repnz scas %es:(%edi),%al", "repnz scas al,BYTE PTR es:[edi]"],
  ["0f 22 d8", "mov %eax,%cr3", "mov cr3,eax"],
  ["0f 23 f8", "mov %eax,%db7", "mov dr7,eax"],
  ["ea 00 00 10 00 08 00", "ljmp $0x8,$0x100000", "jmp 0x8:0x100000"],
  ["ff 2d 00 00 10 00", "ljmp *0x100000", "jmp FWORD PTR ds:0x100000"],
  ["ff d0", "call *%eax", "call eax"],
  ["c2 04 00", "ret $0x4", "ret 0x4"],
  ["cb", "lret", "retf"],
  ["98", "cwtl", "cwde"],
  ["66 99", "cwtd", "cwd"],
  ["66 cf", "iretw", "iretw"],
  ["ec", "in (%dx),%al", "in al,dx"],
  ["d1 e0", "shl %eax", "shl eax,1"],
  ["c1 e0 02", "shl $0x2,%eax", "shl eax,0x2"],
  ["6a ff", "push $0xffffffff", "push 0xffffffff"],
  ["6b 0c 24 10", "imul $0x10,(%esp),%ecx", "imul ecx,DWORD PTR [esp],0x10"],
  ["0f 01 10", "lgdtl (%eax)", "lgdtd [eax]"],
  ["0f 01 38", "invlpg (%eax)", "invlpg BYTE PTR [eax]"],
  ["0f 94 c0", "sete %al", "sete al"],
  ["0f c7 4f 04", "cmpxchg8b 0x4(%edi)", "cmpxchg8b QWORD PTR [edi+0x4]"],
  ["f0 0f b1 0a", "lock cmpxchg %ecx,(%edx)", "lock cmpxchg DWORD PTR [edx],ecx"],
  ["8e d8", "mov %eax,%ds", "mov ds,eax"],
  ["c8 10 00 00", "enter $0x10,$0x0", "enter 0x10,0x0"],
  ["26 a1 00 00 00 00", "mov %es:0x0,%eax", "mov eax,es:0x0"],
  ["f3 90", "pause", "pause"],
  ["d7", "xlat %ds:(%ebx)", "xlat BYTE PTR ds:[ebx]"],
  // x87
  ["d9 e8", "fld1", "fld1"],
  ["d9 c1", "fld %st(1)", "fld st(1)"],
  ["d8 c1", "fadd %st(1),%st", "fadd st,st(1)"],
  ["dc c1", "fadd %st,%st(1)", "fadd st(1),st"],
  ["dd 1c 24", "fstpl (%esp)", "fstp QWORD PTR [esp]"],
  ["db 2c 24", "fldt (%esp)", "fld TBYTE PTR [esp]"],
  ["df 2c 24", "fildll (%esp)", "fild QWORD PTR [esp]"],
  ["de 04 24", "fiadds (%esp)", "fiadd WORD PTR [esp]"],
  ["df e0", "fnstsw %ax", "fnstsw ax"],
  ["d9 7c 24 fe", "fnstcw -0x2(%esp)", "fnstcw WORD PTR [esp-0x2]"],
  // not in this CPU's table: AMD's VMRUN, a P6 #UD
  ["0f 01 d8", "(bad)", "(bad)"],
];

// 16-bit code (real mode).
const CODE16: [string, string, string][] = [
  ["8e d8", "mov %ax,%ds", "mov ds,ax"],
  ["a0 02 80", "mov 0x8002,%al", "mov al,ds:0x8002"],
  ["c7 06 fe 7f 00 00", "movw $0x0,0x7ffe", "mov WORD PTR ds:0x7ffe,0x0"],
  ["66 c7 06 fe 7f 00 00 00 00", "movl $0x0,0x7ffe", "mov DWORD PTR ds:0x7ffe,0x0"],
  ["36 8b 04", "mov %ss:(%si),%ax", "mov ax,WORD PTR ss:[si]"],
  ["8b 46 02", "mov 0x2(%bp),%ax", "mov ax,WORD PTR [bp+0x2]"],
  ["8b 8f 00 10", "mov 0x1000(%bx),%cx", "mov cx,WORD PTR [bx+0x1000]"],
  ["8b 00", "mov (%bx,%si),%ax", "mov ax,WORD PTR [bx+si]"],
  ["f3 aa", "rep stos %al,%es:(%di)", "rep stos BYTE PTR es:[di],al"],
  ["ea 5b e0 00 f0", "ljmp $0xf000,$0xe05b", "jmp 0xf000:0xe05b"],
  ["66 60", "pushal", "pushad"],
  ["cd 10", "int $0x10", "int 0x10"],
];

describe("x/i: known encodings as binutils prints them", () => {
  for (const [cases, cs32] of [
    [CODE32, true],
    [CODE16, false],
  ] as const) {
    for (const [hex, att, intel] of cases) {
      it(`${cs32 ? 32 : 16}-bit ${hex}`, () => {
        expect(text(hex, "att", cs32)).toBe(att);
        expect(text(hex, "intel", cs32)).toBe(intel);
      });
    }
  }

  it("lines as the monitor prints them: targets in the segment, unmapped memory, a bad byte", () => {
    const mem = bytesOf("eb fe e8 fb ff 0f 0b d6 ff ff");
    const read = (a: number, n: number) =>
      a - 0x7c00 + n <= mem.length ? mem.slice(a - 0x7c00, a - 0x7c00 + n) : null;
    // Real mode, CS base 0: a 16-bit call wraps inside the segment.
    const lines = disassemble(0x7c00, 6, false, 0, "att", read);
    expect(typeof lines === "string" ? lines : formatDisasm(lines)).toBe(
      [
        "0x00007c00:  eb fe                    jmp    0x7c00",
        "0x00007c02:  e8 fb ff                 call   0x7c00",
        "0x00007c05:  0f 0b                    ud2",
        "0x00007c07:  d6                       salc",
        "0x00007c08:  ff                       (bad)",
        "0x00007c09:  ff                       (bad)",
      ].join("\n"),
    );
    expect(disassemble(0x9000, 1, true, 0, "att", () => null)).toBe("Cannot access memory at 0x9000");
  });
});

describe("x/i covers the instruction table", () => {
  it("every form of core/isa/table.mjs decodes, as long as the table says", () => {
    let forms = 0;
    for (const e of entries.filter((x) => !x.x87)) {
      for (const cs32 of [false, true]) {
        const modrm = e.modrmExact >= 0 ? e.modrmExact : ((Math.max(e.reg, 0) << 3) | (e.memOnly ? 0x00 : 0xc0)) & 0xff;
        const code = [...(e.map ? [0x0f] : []), e.op, ...(e.modrm ? [modrm] : [])];
        // With mod = 0 and rm = 0 the memory forms have no displacement in either address size.
        const len = code.length + immediateBytes(e, cs32 ? 4 : 2, cs32 ? 4 : 2);
        const bytes = new Uint8Array(16);
        bytes.set(code);
        const d = decode(bytes, cs32, (n) => n);
        expect(d, `${e.mnem} ${e.operands}`).not.toBeNull();
        expect(d!.len, `${e.mnem} ${e.operands}`).toBe(len);
        expect(formatInstruction(d!, "att")).not.toMatch(/undefined|NaN/);
        expect(formatInstruction(d!, "intel")).not.toMatch(/undefined|NaN/);
        forms++;
      }
    }
    expect(forms).toBe(2 * entries.filter((x) => !x.x87).length);
  });

  it("every x87 form of core/isa/x87.mjs decodes to its mnemonic; the invalid ones do not", () => {
    for (const f of x87Forms) {
      const modrm = f.modrm ?? (f.reg << 3) | 0x00;
      const d = decode(Uint8Array.of(f.esc, modrm, 0, 0, 0, 0), true, (n) => n);
      if (f.invalid) expect(d, `${f.mnem} ${modrm.toString(16)}`).toBeNull();
      else expect(d?.mnem, `${f.mnem} ${modrm.toString(16)}`).toBe(f.mnem.toLowerCase());
    }
  });
});
