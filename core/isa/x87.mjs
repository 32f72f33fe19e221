// The x87 part of the instruction table: every form of the escapes D8-DF that a Pentium Pro
// decodes, with its operands and the condition-code bits (C0-C3) it leaves undefined.
//
// core/isa/table.mjs routes each escape byte to FPU_ESC0..7 (core/fpu/decode.ts); this file
// describes what happens inside. The native differential generator draws x87 tests from it and
// the unit tests check the decoder against it.
//
// A form is either a memory form (ModRM mod != 3):
//   { esc, reg, mnem, operands, memBytes, user, undef, ... }
// or a register form (ModRM mod == 3), covering ModRM values modrm..modrmEnd inclusive
// (ST(i) = modrm - first value):
//   { esc, modrm, modrmEnd, mnem, operands, user, undef, ... }
//
// Fields:
//   esc      0xD8..0xDF
//   reg      ModRM.reg for memory forms
//   modrm    first ModRM value (0xC0-0xFF) for register forms; modrmEnd: last (inclusive)
//   mnem     Intel mnemonic (FNSTSW etc. for the no-wait forms; the FSTSW spelling is 9B + it)
//   operands "m32fp" "m64fp" "m80fp" "m16int" "m32int" "m64int" "m80bcd" "m2byte"
//            "m14/28byte" "m94/108byte" "ST(i)" "ST0,ST(i)" "ST(i),ST0" "AX" or ""
//   memBytes bytes the memory operand covers (for 14/28 and 94/108: the 16-bit size; the
//            32-bit operand-size form uses the larger)
//   user     usable in the native CPL-3 test environment (pm32-flat-user) without faulting by design
//   undef    C-bits left undefined after the instruction ("C0C2C3" etc.; SDM vol. 2, the "FPU
//            Flags Affected" paragraph of each instruction)
//   eflags   for FCOMI/FUCOMI(P) and FCMOVcc: { mod, undef } EFLAGS letters like table.mjs, and
//            `reads` for the condition flags FCMOVcc tests
//   alias    an undocumented encoding that the P6 executes as the named instruction
//            (FSTP1, FCOM2, FCOMP3, FXCH4, FCOMP5, FXCH7, FSTP8, FSTP9 in the usual names)
//   nowait   a control instruction that does not check pending x87 exceptions first
//            (SDM vol. 1, 8.6 "x87 FPU Exception Synchronization"; the FN* forms)
//   stack    net change of the register stack depth (+1 push, -1 pop, -2 pop twice, 0)
//   invalid  #UD on a Pentium Pro (listed so that the decoder tests can check it)

/** Status-word bits of the condition codes. */
export const SW_C0 = 0x0100;
export const SW_C1 = 0x0200;
export const SW_C2 = 0x0400;
export const SW_C3 = 0x4000;
const C_BITS = { C0: SW_C0, C1: SW_C1, C2: SW_C2, C3: SW_C3 };

export const x87Forms = [];

const C023 = "C0C2C3";
const ALL = "C0C1C2C3";

function mem(esc, reg, mnem, operands, opts = {}) {
  x87Forms.push({
    esc,
    reg,
    mnem,
    operands,
    memBytes: memBytesOf(operands),
    user: opts.user ?? true,
    undef: opts.undef ?? "",
    stack: opts.stack ?? 0,
    nowait: opts.nowait ?? false,
    invalid: opts.invalid ?? false,
    alias: false,
    ...(opts.eflags ? { eflags: opts.eflags } : {}),
  });
}

function regs(esc, modrm, count, mnem, operands, opts = {}) {
  x87Forms.push({
    esc,
    modrm,
    modrmEnd: modrm + count - 1,
    mnem,
    operands,
    user: opts.user ?? true,
    undef: opts.undef ?? "",
    stack: opts.stack ?? 0,
    nowait: opts.nowait ?? false,
    invalid: opts.invalid ?? false,
    alias: opts.alias ?? false,
    ...(opts.eflags ? { eflags: opts.eflags } : {}),
  });
}

function memBytesOf(operands) {
  switch (operands) {
    case "m16int":
    case "m2byte":
      return 2;
    case "m32fp":
    case "m32int":
      return 4;
    case "m64fp":
    case "m64int":
      return 8;
    case "m80fp":
    case "m80bcd":
      return 10;
    case "m14/28byte":
      return 14;
    case "m94/108byte":
      return 94;
    default:
      return 0;
  }
}

// ---- arithmetic groups: D8 (m32fp), DC (m64fp), DA (m32int), DE (m16int) ------------------------
const ARITH = ["FADD", "FMUL", "FCOM", "FCOMP", "FSUB", "FSUBR", "FDIV", "FDIVR"];
const IARITH = ["FIADD", "FIMUL", "FICOM", "FICOMP", "FISUB", "FISUBR", "FIDIV", "FIDIVR"];
for (let r = 0; r < 8; r++) {
  const cmp = r === 2 || r === 3;
  const o = { undef: cmp ? "" : C023, stack: r === 3 ? -1 : 0 };
  mem(0xd8, r, ARITH[r], "m32fp", o);
  mem(0xdc, r, ARITH[r], "m64fp", o);
  mem(0xda, r, IARITH[r], "m32int", o);
  mem(0xde, r, IARITH[r], "m16int", o);
}
// D8 register forms: ST0 = ST0 op ST(i)
for (let r = 0; r < 8; r++) {
  const cmp = r === 2 || r === 3;
  regs(0xd8, 0xc0 + r * 8, 8, ARITH[r], cmp ? "ST(i)" : "ST0,ST(i)", { undef: cmp ? "" : C023, stack: r === 3 ? -1 : 0 });
}
// DC register forms: ST(i) = ST(i) op ST0. Note the SDM's swap: DC E0+i is FSUBR, DC E8+i FSUB,
// DC F0+i FDIVR, DC F8+i FDIV (vol. 2, FSUB/FSUBR/FDIV/FDIVR opcode tables).
regs(0xdc, 0xc0, 8, "FADD", "ST(i),ST0", { undef: C023 });
regs(0xdc, 0xc8, 8, "FMUL", "ST(i),ST0", { undef: C023 });
regs(0xdc, 0xd0, 8, "FCOM", "ST(i)", { alias: true });
regs(0xdc, 0xd8, 8, "FCOMP", "ST(i)", { alias: true, stack: -1 });
regs(0xdc, 0xe0, 8, "FSUBR", "ST(i),ST0", { undef: C023 });
regs(0xdc, 0xe8, 8, "FSUB", "ST(i),ST0", { undef: C023 });
regs(0xdc, 0xf0, 8, "FDIVR", "ST(i),ST0", { undef: C023 });
regs(0xdc, 0xf8, 8, "FDIV", "ST(i),ST0", { undef: C023 });
// DE register forms: ST(i) = ST(i) op ST0, then pop
regs(0xde, 0xc0, 8, "FADDP", "ST(i),ST0", { undef: C023, stack: -1 });
regs(0xde, 0xc8, 8, "FMULP", "ST(i),ST0", { undef: C023, stack: -1 });
regs(0xde, 0xd0, 8, "FCOMP", "ST(i)", { alias: true, stack: -1 });
regs(0xde, 0xd8, 1, "(invalid)", "", { invalid: true });
regs(0xde, 0xd9, 1, "FCOMPP", "", { stack: -2 });
regs(0xde, 0xda, 6, "(invalid)", "", { invalid: true });
regs(0xde, 0xe0, 8, "FSUBRP", "ST(i),ST0", { undef: C023, stack: -1 });
regs(0xde, 0xe8, 8, "FSUBP", "ST(i),ST0", { undef: C023, stack: -1 });
regs(0xde, 0xf0, 8, "FDIVRP", "ST(i),ST0", { undef: C023, stack: -1 });
regs(0xde, 0xf8, 8, "FDIVP", "ST(i),ST0", { undef: C023, stack: -1 });

// ---- D9: loads/stores of m32fp, environment, control word; constants and functions -----------
mem(0xd9, 0, "FLD", "m32fp", { undef: C023, stack: 1 });
mem(0xd9, 1, "(invalid)", "", { invalid: true });
mem(0xd9, 2, "FST", "m32fp", { undef: C023 });
mem(0xd9, 3, "FSTP", "m32fp", { undef: C023, stack: -1 });
mem(0xd9, 4, "FLDENV", "m14/28byte", {});
mem(0xd9, 5, "FLDCW", "m2byte", { undef: ALL });
mem(0xd9, 6, "FNSTENV", "m14/28byte", { undef: ALL, nowait: true });
mem(0xd9, 7, "FNSTCW", "m2byte", { undef: ALL, nowait: true });
regs(0xd9, 0xc0, 8, "FLD", "ST(i)", { undef: C023, stack: 1 });
regs(0xd9, 0xc8, 8, "FXCH", "ST(i)", { undef: C023 });
regs(0xd9, 0xd0, 1, "FNOP", "", { undef: ALL });
regs(0xd9, 0xd1, 7, "(invalid)", "", { invalid: true });
regs(0xd9, 0xd8, 8, "FSTP", "ST(i)", { alias: true, undef: C023, stack: -1 });
regs(0xd9, 0xe0, 1, "FCHS", "", { undef: C023 });
regs(0xd9, 0xe1, 1, "FABS", "", { undef: C023 });
regs(0xd9, 0xe2, 2, "(invalid)", "", { invalid: true });
regs(0xd9, 0xe4, 1, "FTST", "");
regs(0xd9, 0xe5, 1, "FXAM", "");
regs(0xd9, 0xe6, 2, "(invalid)", "", { invalid: true });
const CONSTS = ["FLD1", "FLDL2T", "FLDL2E", "FLDPI", "FLDLG2", "FLDLN2", "FLDZ"];
CONSTS.forEach((m, i) => {
  regs(0xd9, 0xe8 + i, 1, m, "", { undef: C023, stack: 1 });
});
regs(0xd9, 0xef, 1, "(invalid)", "", { invalid: true });
regs(0xd9, 0xf0, 1, "F2XM1", "", { undef: C023 });
regs(0xd9, 0xf1, 1, "FYL2X", "", { undef: C023, stack: -1 });
regs(0xd9, 0xf2, 1, "FPTAN", "", { undef: "C0C3", stack: 1 });
regs(0xd9, 0xf3, 1, "FPATAN", "", { undef: C023, stack: -1 });
regs(0xd9, 0xf4, 1, "FXTRACT", "", { undef: C023, stack: 1 });
regs(0xd9, 0xf5, 1, "FPREM1", "");
regs(0xd9, 0xf6, 1, "FDECSTP", "", { undef: C023 });
regs(0xd9, 0xf7, 1, "FINCSTP", "", { undef: C023 });
regs(0xd9, 0xf8, 1, "FPREM", "");
regs(0xd9, 0xf9, 1, "FYL2XP1", "", { undef: C023, stack: -1 });
regs(0xd9, 0xfa, 1, "FSQRT", "", { undef: C023 });
regs(0xd9, 0xfb, 1, "FSINCOS", "", { undef: "C0C3", stack: 1 });
regs(0xd9, 0xfc, 1, "FRNDINT", "", { undef: C023 });
regs(0xd9, 0xfd, 1, "FSCALE", "", { undef: C023 });
regs(0xd9, 0xfe, 1, "FSIN", "", { undef: "C0C3" });
regs(0xd9, 0xff, 1, "FCOS", "", { undef: "C0C3" });

// ---- DA: FCMOV (CF/ZF/PF), FUCOMPP ---------------------------------------------------------------
const FCMOV = { mod: "", undef: "" };
regs(0xda, 0xc0, 8, "FCMOVB", "ST0,ST(i)", { undef: C023, eflags: { ...FCMOV, reads: "C" } });
regs(0xda, 0xc8, 8, "FCMOVE", "ST0,ST(i)", { undef: C023, eflags: { ...FCMOV, reads: "Z" } });
regs(0xda, 0xd0, 8, "FCMOVBE", "ST0,ST(i)", { undef: C023, eflags: { ...FCMOV, reads: "CZ" } });
regs(0xda, 0xd8, 8, "FCMOVU", "ST0,ST(i)", { undef: C023, eflags: { ...FCMOV, reads: "P" } });
regs(0xda, 0xe0, 9, "(invalid)", "", { invalid: true });
regs(0xda, 0xe9, 1, "FUCOMPP", "", { stack: -2 });
regs(0xda, 0xea, 22, "(invalid)", "", { invalid: true });

// ---- DB: m32int and m80fp loads/stores, FCMOVcc, FNCLEX/FNINIT, FCOMI/FUCOMI ------------------
mem(0xdb, 0, "FILD", "m32int", { undef: C023, stack: 1 });
mem(0xdb, 1, "(invalid)", "", { invalid: true }); // FISTTP is SSE3
mem(0xdb, 2, "FIST", "m32int", { undef: C023 });
mem(0xdb, 3, "FISTP", "m32int", { undef: C023, stack: -1 });
mem(0xdb, 4, "(invalid)", "", { invalid: true });
mem(0xdb, 5, "FLD", "m80fp", { undef: C023, stack: 1 });
mem(0xdb, 6, "(invalid)", "", { invalid: true });
mem(0xdb, 7, "FSTP", "m80fp", { undef: C023, stack: -1 });
regs(0xdb, 0xc0, 8, "FCMOVNB", "ST0,ST(i)", { undef: C023, eflags: { ...FCMOV, reads: "C" } });
regs(0xdb, 0xc8, 8, "FCMOVNE", "ST0,ST(i)", { undef: C023, eflags: { ...FCMOV, reads: "Z" } });
regs(0xdb, 0xd0, 8, "FCMOVNBE", "ST0,ST(i)", { undef: C023, eflags: { ...FCMOV, reads: "CZ" } });
regs(0xdb, 0xd8, 8, "FCMOVNU", "ST0,ST(i)", { undef: C023, eflags: { ...FCMOV, reads: "P" } });
// 8087/287 leftovers the 387 and later execute as no-ops (SDM vol. 1, 8.3.1 and appendix).
regs(0xdb, 0xe0, 1, "FNENI", "", { nowait: true, undef: ALL });
regs(0xdb, 0xe1, 1, "FNDISI", "", { nowait: true, undef: ALL });
regs(0xdb, 0xe2, 1, "FNCLEX", "", { nowait: true, undef: ALL });
regs(0xdb, 0xe3, 1, "FNINIT", "", { nowait: true });
regs(0xdb, 0xe4, 1, "FNSETPM", "", { nowait: true, undef: ALL });
regs(0xdb, 0xe5, 3, "(invalid)", "", { invalid: true });
const COMI = { mod: "OSZAPC", undef: "" };
regs(0xdb, 0xe8, 8, "FUCOMI", "ST0,ST(i)", { undef: "", eflags: COMI });
regs(0xdb, 0xf0, 8, "FCOMI", "ST0,ST(i)", { undef: "", eflags: COMI });
regs(0xdb, 0xf8, 8, "(invalid)", "", { invalid: true });

// ---- DD: m64fp loads/stores, FRSTOR/FNSAVE/FNSTSW m16; FFREE, FST(P) ST(i), FUCOM(P) ------------
mem(0xdd, 0, "FLD", "m64fp", { undef: C023, stack: 1 });
mem(0xdd, 1, "(invalid)", "", { invalid: true }); // FISTTP is SSE3
mem(0xdd, 2, "FST", "m64fp", { undef: C023 });
mem(0xdd, 3, "FSTP", "m64fp", { undef: C023, stack: -1 });
mem(0xdd, 4, "FRSTOR", "m94/108byte", {});
mem(0xdd, 5, "(invalid)", "", { invalid: true });
mem(0xdd, 6, "FNSAVE", "m94/108byte", { nowait: true });
mem(0xdd, 7, "FNSTSW", "m2byte", { undef: ALL, nowait: true });
regs(0xdd, 0xc0, 8, "FFREE", "ST(i)", { undef: ALL });
regs(0xdd, 0xc8, 8, "FXCH", "ST(i)", { alias: true, undef: C023 });
regs(0xdd, 0xd0, 8, "FST", "ST(i)", { undef: C023 });
regs(0xdd, 0xd8, 8, "FSTP", "ST(i)", { undef: C023, stack: -1 });
regs(0xdd, 0xe0, 8, "FUCOM", "ST(i)", {});
regs(0xdd, 0xe8, 8, "FUCOMP", "ST(i)", { stack: -1 });
regs(0xdd, 0xf0, 16, "(invalid)", "", { invalid: true });

// ---- DF: m16int/m64int/BCD loads/stores; FFREEP, FNSTSW AX, FCOMIP/FUCOMIP ----------------------
mem(0xdf, 0, "FILD", "m16int", { undef: C023, stack: 1 });
mem(0xdf, 1, "(invalid)", "", { invalid: true }); // FISTTP is SSE3
mem(0xdf, 2, "FIST", "m16int", { undef: C023 });
mem(0xdf, 3, "FISTP", "m16int", { undef: C023, stack: -1 });
mem(0xdf, 4, "FBLD", "m80bcd", { undef: C023, stack: 1 });
mem(0xdf, 5, "FILD", "m64int", { undef: C023, stack: 1 });
mem(0xdf, 6, "FBSTP", "m80bcd", { undef: C023, stack: -1 });
mem(0xdf, 7, "FISTP", "m64int", { undef: C023, stack: -1 });
regs(0xdf, 0xc0, 8, "FFREEP", "ST(i)", { undef: ALL, stack: -1 });
regs(0xdf, 0xc8, 8, "FXCH", "ST(i)", { alias: true, undef: C023 });
regs(0xdf, 0xd0, 8, "FSTP", "ST(i)", { alias: true, undef: C023, stack: -1 });
regs(0xdf, 0xd8, 8, "FSTP", "ST(i)", { alias: true, undef: C023, stack: -1 });
regs(0xdf, 0xe0, 1, "FNSTSW", "AX", { undef: ALL, nowait: true });
regs(0xdf, 0xe1, 7, "(invalid)", "", { invalid: true });
regs(0xdf, 0xe8, 8, "FUCOMIP", "ST0,ST(i)", { undef: "", eflags: COMI, stack: -1 });
regs(0xdf, 0xf0, 8, "FCOMIP", "ST0,ST(i)", { undef: "", eflags: COMI, stack: -1 });
regs(0xdf, 0xf8, 8, "(invalid)", "", { invalid: true });

/** The form an escape byte and ModRM select (memory forms ignore mod/rm), or undefined. */
export function x87FormFor(esc, modrm) {
  if (modrm < 0xc0) {
    const reg = (modrm >> 3) & 7;
    return x87Forms.find((f) => f.esc === esc && f.reg === reg);
  }
  return x87Forms.find((f) => f.esc === esc && f.modrm !== undefined && modrm >= f.modrm && modrm <= f.modrmEnd);
}

/** Mask of status-word bits (C0 0x100, C1 0x200, C2 0x400, C3 0x4000) a form leaves undefined. */
export function undefinedStatusMask(form) {
  let m = 0;
  for (const c of form.undef.match(/C[0-3]/g) ?? []) m |= C_BITS[c];
  return m;
}

/** Memory operand size in bytes for an operand size (16 or 32 bits): 14/28 and 94/108 forms grow. */
export function x87MemBytes(form, opBits) {
  if (form.operands === "m14/28byte") return opBits === 32 ? 28 : 14;
  if (form.operands === "m94/108byte") return opBits === 32 ? 108 : 94;
  return form.memBytes ?? 0;
}
