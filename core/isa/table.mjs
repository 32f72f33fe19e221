// The instruction table: the single description of the ISA this core implements.
//
// scripts/gen-dispatch.mjs turns it into the interpreter's dispatch (core/generated/dispatch.ts);
// the decoder tests compute instruction lengths from it; the native differential generator
// draws instruction forms from it; the flag masks of the conformance tests come from it.
//
// An entry describes one opcode (or one ModRM.reg slot of a group opcode):
//   map     0 = one-byte opcodes, 1 = 0F-prefixed
//   op      opcode byte; reg: group slot (0-7) or -1
//   mnem    mnemonic; operands: SDM appendix A notation (Eb, Gv, Iz, Jb, Ap, Ob, Sw, M, ...)
//   modrm   the opcode is followed by a ModRM byte
//   memOnly ModRM must encode memory (mod != 3), else #UD
//   flags   { mod: letters of OSZAPC written, undef: letters left undefined }
//   lock    LOCK prefix is allowed (with a memory destination)
//   user    usable in the native CPL-3 environment (pm32-flat-user) without faulting by design
//   x87     an x87 escape (D8-DF), dispatched by core/fpu
//   modrmExact  a register form of a group slot with one exact ModRM byte (VMCALL is 0F 01 C1
//           inside the slot of SGDT): dispatched before the slot's own entry
//   handler the interpreter routine; a "v"/"z" operand makes a 16- and a 32-bit routine
//           (Ev -> Ew / Ed), named like Bochs' forms.
//   bt      how the binary translator (core/bt/, the `bt` mode) treats it in guest-kernel code:
//           { flow, callout }. flow: "none"; "jump" (JMP rel), "jcc" (conditional: taken and
//           fall-through), "call" (CALL rel): direct successors the translator chains to;
//           "indirect" (RET, JMP/CALL r/m, IRET): the target needs a lookup; "far": control
//           leaves through the VMM (far transfers, INT, SYSENTER). callout: null when the bytes
//           are copied as they are (IDENT), else the VMM routine it becomes (a name from
//           vmm/stats/events.ts CALLOUT_NAMES; an array of 8 picks by ModRM.reg).

const ARITH = { mod: "OSZAPC", undef: "" };
const LOGIC = { mod: "OSZAPC", undef: "A" };
const INCDEC = { mod: "OSZAP", undef: "" };
const NONE = { mod: "", undef: "" };

const IDENT = { flow: "none", callout: null };
/** A sensitive instruction: a callout to the VMM routine `name`; `flow` when it also transfers control. */
const co = (callout, flow = "none") => ({ flow, callout });
const flow = (f) => ({ flow: f, callout: null });
const SEGLOAD = co("segment load");
const FAR = co("far call/jmp/ret", "far");

export const entries = [];

function add(map, op, reg, mnem, operands, opts = {}) {
  entries.push({
    map,
    op,
    reg,
    mnem,
    operands,
    modrm: opts.modrm ?? (reg >= 0 || /\b[EGMSCDR][a-z]*\b|^M|,M/.test(operands)),
    memOnly: opts.memOnly ?? false,
    flags: opts.flags ?? NONE,
    lock: opts.lock ?? false,
    user: opts.user ?? true,
    x87: opts.x87 ?? false,
    modrmExact: opts.modrmExact ?? -1,
    handler: opts.handler ?? handlerName(mnem, operands),
    bt: opts.bt ?? IDENT,
  });
}
const one = (op, mnem, operands, opts) => add(0, op, -1, mnem, operands, opts);
const two = (op, mnem, operands, opts) => add(1, op, -1, mnem, operands, opts);
const grp = (map, op, reg, mnem, operands, opts) => add(map, op, reg, mnem, operands, { modrm: true, ...opts });

export function handlerName(mnem, operands) {
  const ops = operands ? operands.split(",").map((o) => o.replace(/^e([A-Z]{2})$/, "$1")) : [];
  return [mnem.toUpperCase().replace(/[^A-Z0-9]/g, ""), ...ops].join("_").replace(/_/, "_").replace(/^([A-Z0-9]+)_(.*)$/, (_, m, rest) => `${m}_${rest.replace(/_/g, "")}`);
}

// ---- one-byte map ------------------------------------------------------------------------
const ALU = ["ADD", "OR", "ADC", "SBB", "AND", "SUB", "XOR", "CMP"];
ALU.forEach((m, i) => {
  const f = m === "OR" || m === "AND" || m === "XOR" ? LOGIC : ARITH;
  const lock = m !== "CMP";
  one(i * 8 + 0, m, "Eb,Gb", { flags: f, lock });
  one(i * 8 + 1, m, "Ev,Gv", { flags: f, lock });
  one(i * 8 + 2, m, "Gb,Eb", { flags: f });
  one(i * 8 + 3, m, "Gv,Ev", { flags: f });
  one(i * 8 + 4, m, "AL,Ib", { flags: f });
  one(i * 8 + 5, m, "eAX,Iz", { flags: f });
});
one(0x06, "PUSH", "ES", { user: true });
one(0x07, "POP", "ES", { user: false, bt: SEGLOAD });
one(0x0e, "PUSH", "CS");
one(0x16, "PUSH", "SS");
one(0x17, "POP", "SS", { user: false, bt: SEGLOAD });
one(0x1e, "PUSH", "DS");
one(0x1f, "POP", "DS", { user: false, bt: SEGLOAD });
one(0x27, "DAA", "", { flags: { mod: "OSZAPC", undef: "O" } });
one(0x2f, "DAS", "", { flags: { mod: "OSZAPC", undef: "O" } });
one(0x37, "AAA", "", { flags: { mod: "OSZAPC", undef: "OSZP" } });
one(0x3f, "AAS", "", { flags: { mod: "OSZAPC", undef: "OSZP" } });
for (let r = 0; r < 8; r++) {
  one(0x40 + r, "INC", "Zv", { flags: INCDEC });
  one(0x48 + r, "DEC", "Zv", { flags: INCDEC });
  one(0x50 + r, "PUSH", "Zv");
  one(0x58 + r, "POP", "Zv");
}
one(0x60, "PUSHA", "");
one(0x61, "POPA", "");
one(0x62, "BOUND", "Gv,Ma", { memOnly: true });
one(0x63, "ARPL", "Ew,Gw", { flags: { mod: "Z", undef: "" }, user: false });
one(0x68, "PUSH", "Iz");
one(0x69, "IMUL", "Gv,Ev,Iz", { flags: { mod: "OSZAPC", undef: "SZAP" } });
one(0x6a, "PUSH", "Ibs");
one(0x6b, "IMUL", "Gv,Ev,Ibs", { flags: { mod: "OSZAPC", undef: "SZAP" } });
one(0x6c, "INSB", "", { user: false, bt: co("in") });
one(0x6d, "INS", "Zv", { user: false, handler: undefined, bt: co("in") });
one(0x6e, "OUTSB", "", { user: false, bt: co("out") });
one(0x6f, "OUTS", "Zv", { user: false, bt: co("out") });
const CC = ["O", "NO", "B", "NB", "Z", "NZ", "BE", "NBE", "S", "NS", "P", "NP", "L", "NL", "LE", "NLE"];
CC.forEach((c, i) => one(0x70 + i, `J${c}`, "Jb", { handler: "JCC_Jb", bt: flow("jcc") }));
ALU.forEach((m, i) => {
  const f = m === "OR" || m === "AND" || m === "XOR" ? LOGIC : ARITH;
  const lock = m !== "CMP";
  grp(0, 0x80, i, m, "Eb,Ib", { flags: f, lock });
  grp(0, 0x81, i, m, "Ev,Iz", { flags: f, lock });
  grp(0, 0x82, i, m, "Eb,Ib", { flags: f, lock, handler: handlerName(m, "Eb,Ib") });
  grp(0, 0x83, i, m, "Ev,Ibs", { flags: f, lock });
});
one(0x84, "TEST", "Eb,Gb", { flags: LOGIC });
one(0x85, "TEST", "Ev,Gv", { flags: LOGIC });
one(0x86, "XCHG", "Eb,Gb", { lock: true });
one(0x87, "XCHG", "Ev,Gv", { lock: true });
one(0x88, "MOV", "Eb,Gb");
one(0x89, "MOV", "Ev,Gv");
one(0x8a, "MOV", "Gb,Eb");
one(0x8b, "MOV", "Gv,Ev");
one(0x8c, "MOV", "Ev,Sw");
one(0x8d, "LEA", "Gv,M", { memOnly: true });
one(0x8e, "MOV", "Sw,Ew", { user: false, bt: SEGLOAD });
grp(0, 0x8f, 0, "POP", "Ev");
one(0x90, "NOP", "");
for (let r = 1; r < 8; r++) one(0x90 + r, "XCHG", "Zv,eAX", { handler: "XCHG_Zv_eAX" });
one(0x98, "CBW", "", { handler: "CBW" });
one(0x99, "CWD", "", { handler: "CWD" });
one(0x9a, "CALLF", "Ap", { user: false, bt: FAR });
one(0x9b, "FWAIT", "");
one(0x9c, "PUSHF", "", { bt: co("pushf") });
one(0x9d, "POPF", "", { flags: { mod: "OSZAPC", undef: "" }, bt: co("popf") });
one(0x9e, "SAHF", "", { flags: { mod: "SZAPC", undef: "" } });
one(0x9f, "LAHF", "");
one(0xa0, "MOV", "AL,Ob");
one(0xa1, "MOV", "eAX,Ov");
one(0xa2, "MOV", "Ob,AL");
one(0xa3, "MOV", "Ov,eAX");
one(0xa4, "MOVSB", "");
one(0xa5, "MOVS", "Zv");
one(0xa6, "CMPSB", "", { flags: ARITH });
one(0xa7, "CMPS", "Zv", { flags: ARITH });
one(0xa8, "TEST", "AL,Ib", { flags: LOGIC });
one(0xa9, "TEST", "eAX,Iz", { flags: LOGIC });
one(0xaa, "STOSB", "");
one(0xab, "STOS", "Zv");
one(0xac, "LODSB", "");
one(0xad, "LODS", "Zv");
one(0xae, "SCASB", "", { flags: ARITH });
one(0xaf, "SCAS", "Zv", { flags: ARITH });
for (let r = 0; r < 8; r++) {
  one(0xb0 + r, "MOV", "Zb,Ib", { handler: "MOV_Zb_Ib" });
  one(0xb8 + r, "MOV", "Zv,Iv", { handler: "MOV_Zv_Iv" });
}
const SHIFT = ["ROL", "ROR", "RCL", "RCR", "SHL", "SHR", "SAL", "SAR"];
const SHF = { mod: "OSZAPC", undef: "OA" };
const ROTF = { mod: "OC", undef: "O" };
SHIFT.forEach((m, i) => {
  const f = i < 4 ? ROTF : SHF;
  const h = m === "SAL" ? "SHL" : m;
  grp(0, 0xc0, i, m, "Eb,Ib", { flags: f, handler: handlerName(h, "Eb,Ib") });
  grp(0, 0xc1, i, m, "Ev,Ib", { flags: f, handler: handlerName(h, "Ev,Ib") });
  grp(0, 0xd0, i, m, "Eb,1", { flags: f, handler: handlerName(h, "Eb,1") });
  grp(0, 0xd1, i, m, "Ev,1", { flags: f, handler: handlerName(h, "Ev,1") });
  grp(0, 0xd2, i, m, "Eb,CL", { flags: f, handler: handlerName(h, "Eb,CL") });
  grp(0, 0xd3, i, m, "Ev,CL", { flags: f, handler: handlerName(h, "Ev,CL") });
});
one(0xc2, "RETN", "Iw", { bt: flow("indirect") });
one(0xc3, "RETN", "", { bt: flow("indirect") });
one(0xc4, "LES", "Gv,Mp", { memOnly: true, user: false, bt: SEGLOAD });
one(0xc5, "LDS", "Gv,Mp", { memOnly: true, user: false, bt: SEGLOAD });
grp(0, 0xc6, 0, "MOV", "Eb,Ib");
grp(0, 0xc7, 0, "MOV", "Ev,Iz");
one(0xc8, "ENTER", "Iw,Ib");
one(0xc9, "LEAVE", "");
one(0xca, "RETF", "Iw", { user: false, bt: FAR });
one(0xcb, "RETF", "", { user: false, bt: FAR });
one(0xcc, "INT3", "", { user: false, bt: co("int", "far") });
one(0xcd, "INT", "Ib", { user: false, bt: co("int", "far") });
one(0xce, "INTO", "", { user: false, bt: co("int", "far") });
one(0xcf, "IRET", "", { user: false, flags: { mod: "OSZAPC", undef: "" }, bt: co("iret", "indirect") });
one(0xd4, "AAM", "Ib", { flags: { mod: "OSZAPC", undef: "OAC" } });
one(0xd5, "AAD", "Ib", { flags: { mod: "OSZAPC", undef: "OAC" } });
one(0xd6, "SALC", "");
one(0xd7, "XLAT", "");
for (let e = 0; e < 8; e++) one(0xd8 + e, `ESC${e}`, "x87", { modrm: true, x87: true, handler: `FPU_ESC${e}` });
one(0xe0, "LOOPNZ", "Jb", { bt: flow("jcc") });
one(0xe1, "LOOPZ", "Jb", { bt: flow("jcc") });
one(0xe2, "LOOP", "Jb", { bt: flow("jcc") });
one(0xe3, "JCXZ", "Jb", { bt: flow("jcc") });
one(0xe4, "IN", "AL,Ib", { user: false, bt: co("in") });
one(0xe5, "IN", "eAX,Ib", { user: false, bt: co("in") });
one(0xe6, "OUT", "Ib,AL", { user: false, bt: co("out") });
one(0xe7, "OUT", "Ib,eAX", { user: false, bt: co("out") });
one(0xe8, "CALL", "Jz", { bt: flow("call") });
one(0xe9, "JMP", "Jz", { bt: flow("jump") });
one(0xea, "JMPF", "Ap", { user: false, bt: FAR });
one(0xeb, "JMP", "Jb", { bt: flow("jump") });
one(0xec, "IN", "AL,DX", { user: false, bt: co("in") });
one(0xed, "IN", "eAX,DX", { user: false, bt: co("in") });
one(0xee, "OUT", "DX,AL", { user: false, bt: co("out") });
one(0xef, "OUT", "DX,eAX", { user: false, bt: co("out") });
one(0xf1, "INT1", "", { user: false, bt: co("int", "far") });
one(0xf4, "HLT", "", { user: false, bt: co("hlt") });
one(0xf5, "CMC", "", { flags: { mod: "C", undef: "" } });
const G3 = [
  ["TEST", "Eb,Ib", LOGIC],
  ["TEST", "Eb,Ib", LOGIC],
  ["NOT", "Eb", NONE],
  ["NEG", "Eb", ARITH],
  ["MUL", "Eb", { mod: "OSZAPC", undef: "SZAP" }],
  ["IMUL", "Eb", { mod: "OSZAPC", undef: "SZAP" }],
  ["DIV", "Eb", { mod: "OSZAPC", undef: "OSZAPC" }],
  ["IDIV", "Eb", { mod: "OSZAPC", undef: "OSZAPC" }],
];
G3.forEach(([m, o, f], i) => {
  const lock = m === "NOT" || m === "NEG";
  grp(0, 0xf6, i, m, o, { flags: f, lock });
  grp(0, 0xf7, i, m, o.replace(/b/g, (c) => (o.startsWith("Eb,Ib") ? c : c)).replace("Eb,Ib", "Ev,Iz").replace(/^Eb$/, "Ev"), { flags: f, lock });
});
one(0xf8, "CLC", "", { flags: { mod: "C", undef: "" } });
one(0xf9, "STC", "", { flags: { mod: "C", undef: "" } });
one(0xfa, "CLI", "", { user: false, bt: co("cli") });
one(0xfb, "STI", "", { user: false, bt: co("sti") });
one(0xfc, "CLD", "");
one(0xfd, "STD", "");
grp(0, 0xfe, 0, "INC", "Eb", { flags: INCDEC, lock: true });
grp(0, 0xfe, 1, "DEC", "Eb", { flags: INCDEC, lock: true });
grp(0, 0xff, 0, "INC", "Ev", { flags: INCDEC, lock: true });
grp(0, 0xff, 1, "DEC", "Ev", { flags: INCDEC, lock: true });
grp(0, 0xff, 2, "CALL", "Ev", { bt: flow("indirect") });
grp(0, 0xff, 3, "CALLF", "Mp", { memOnly: true, user: false, bt: FAR });
grp(0, 0xff, 4, "JMP", "Ev", { bt: flow("indirect") });
grp(0, 0xff, 5, "JMPF", "Mp", { memOnly: true, user: false, bt: FAR });
grp(0, 0xff, 6, "PUSH", "Ev");

// ---- two-byte map (0F xx) ----------------------------------------------------------------
grp(1, 0x00, 0, "SLDT", "Ew", { user: false, bt: co("sldt") });
grp(1, 0x00, 1, "STR", "Ew", { user: false, bt: co("str") });
grp(1, 0x00, 2, "LLDT", "Ew", { user: false, bt: co("lldt") });
grp(1, 0x00, 3, "LTR", "Ew", { user: false, bt: co("ltr") });
grp(1, 0x00, 4, "VERR", "Ew", { flags: { mod: "Z", undef: "" }, user: false });
grp(1, 0x00, 5, "VERW", "Ew", { flags: { mod: "Z", undef: "" }, user: false });
grp(1, 0x01, 0, "SGDT", "Ms", { memOnly: true, user: false, bt: co("sgdt") });
grp(1, 0x01, 1, "SIDT", "Ms", { memOnly: true, user: false, bt: co("sidt") });
grp(1, 0x01, 2, "LGDT", "Ms", { memOnly: true, user: false, bt: co("lgdt") });
grp(1, 0x01, 3, "LIDT", "Ms", { memOnly: true, user: false, bt: co("lidt") });
grp(1, 0x01, 4, "SMSW", "Ew", { user: false, bt: co("smsw/lmsw") });
grp(1, 0x01, 6, "LMSW", "Ew", { user: false, bt: co("smsw/lmsw") });
grp(1, 0x01, 7, "INVLPG", "M", { memOnly: true, user: false, bt: co("invlpg") });
// VMCALL: #UD on a bare P6; a hypercall when the CPU presents a hypervisor interface.
grp(1, 0x01, 0, "VMCALL", "", { modrmExact: 0xc1, user: false, handler: "VMCALL", bt: co("other") });
two(0x02, "LAR", "Gv,Ew", { flags: { mod: "Z", undef: "" }, user: false });
two(0x03, "LSL", "Gv,Ew", { flags: { mod: "Z", undef: "" }, user: false });
two(0x06, "CLTS", "", { user: false, bt: co("other") });
two(0x08, "INVD", "", { user: false, bt: co("other") });
two(0x09, "WBINVD", "", { user: false, bt: co("other") });
two(0x0b, "UD2", "", { user: false });
for (let op = 0x18; op <= 0x1f; op++) two(op, "NOP", "Ev", { handler: "NOP_Ev" });
// MOV to CRn: the callout depends on n (ModRM.reg); CR2 and the debug registers share "other".
const MOV_TO_CR = ["mov to CR0", "other", "other", "mov to CR3", "mov to CR4", "other", "other", "other"];
two(0x20, "MOV", "Rd,Cd", { modrm: true, user: false, bt: co("mov from CR") });
two(0x21, "MOV", "Rd,Dd", { modrm: true, user: false, bt: co("other") });
two(0x22, "MOV", "Cd,Rd", { modrm: true, user: false, bt: co(MOV_TO_CR) });
two(0x23, "MOV", "Dd,Rd", { modrm: true, user: false, bt: co("other") });
two(0x30, "WRMSR", "", { user: false, bt: co("wrmsr") });
two(0x31, "RDTSC", "", { user: false, bt: co("rdtsc") });
two(0x32, "RDMSR", "", { user: false, bt: co("rdmsr") });
two(0x33, "RDPMC", "", { user: false });
two(0x34, "SYSENTER", "", { user: false, bt: co("other", "far") });
two(0x35, "SYSEXIT", "", { user: false, bt: co("other", "far") });
CC.forEach((c, i) => {
  two(0x40 + i, `CMOV${c}`, "Gv,Ev", { handler: "CMOVCC_GvEv" });
  two(0x80 + i, `J${c}`, "Jz", { handler: "JCC_Jz", bt: flow("jcc") });
  two(0x90 + i, `SET${c}`, "Eb", { handler: "SETCC_Eb" });
});
two(0xa0, "PUSH", "FS");
two(0xa1, "POP", "FS", { user: false, bt: SEGLOAD });
two(0xa2, "CPUID", "", { user: false, bt: co("cpuid") });
two(0xa3, "BT", "Ev,Gv", { flags: { mod: "OSZAPC", undef: "OSAP" } });
two(0xa4, "SHLD", "Ev,Gv,Ib", { flags: SHF });
two(0xa5, "SHLD", "Ev,Gv,CL", { flags: SHF });
two(0xa8, "PUSH", "GS");
two(0xa9, "POP", "GS", { user: false, bt: SEGLOAD });
two(0xab, "BTS", "Ev,Gv", { flags: { mod: "OSZAPC", undef: "OSAP" }, lock: true });
two(0xac, "SHRD", "Ev,Gv,Ib", { flags: SHF });
two(0xad, "SHRD", "Ev,Gv,CL", { flags: SHF });
two(0xaf, "IMUL", "Gv,Ev", { flags: { mod: "OSZAPC", undef: "SZAP" } });
two(0xb0, "CMPXCHG", "Eb,Gb", { flags: ARITH, lock: true });
two(0xb1, "CMPXCHG", "Ev,Gv", { flags: ARITH, lock: true });
two(0xb2, "LSS", "Gv,Mp", { memOnly: true, user: false, bt: SEGLOAD });
two(0xb3, "BTR", "Ev,Gv", { flags: { mod: "OSZAPC", undef: "OSAP" }, lock: true });
two(0xb4, "LFS", "Gv,Mp", { memOnly: true, user: false, bt: SEGLOAD });
two(0xb5, "LGS", "Gv,Mp", { memOnly: true, user: false, bt: SEGLOAD });
two(0xb6, "MOVZX", "Gv,Eb");
two(0xb7, "MOVZX", "Gv,Ew");
grp(1, 0xba, 4, "BT", "Ev,Ib", { flags: { mod: "OSZAPC", undef: "OSAP" } });
grp(1, 0xba, 5, "BTS", "Ev,Ib", { flags: { mod: "OSZAPC", undef: "OSAP" }, lock: true });
grp(1, 0xba, 6, "BTR", "Ev,Ib", { flags: { mod: "OSZAPC", undef: "OSAP" }, lock: true });
grp(1, 0xba, 7, "BTC", "Ev,Ib", { flags: { mod: "OSZAPC", undef: "OSAP" }, lock: true });
two(0xbb, "BTC", "Ev,Gv", { flags: { mod: "OSZAPC", undef: "OSAP" }, lock: true });
two(0xbc, "BSF", "Gv,Ev", { flags: { mod: "OSZAPC", undef: "OSAPC" } });
two(0xbd, "BSR", "Gv,Ev", { flags: { mod: "OSZAPC", undef: "OSAPC" } });
two(0xbe, "MOVSX", "Gv,Eb");
two(0xbf, "MOVSX", "Gv,Ew");
two(0xc0, "XADD", "Eb,Gb", { flags: ARITH, lock: true });
two(0xc1, "XADD", "Ev,Gv", { flags: ARITH, lock: true });
grp(1, 0xc7, 1, "CMPXCHG8B", "Mq", { memOnly: true, flags: { mod: "Z", undef: "" }, lock: true });
for (let r = 0; r < 8; r++) two(0xc8 + r, "BSWAP", "Zd", { handler: "BSWAP_Zd" });

/** Operand tokens that depend on the operand size (16 or 32 bits). */
export const SIZED = /^(E|G|I|J|O|Z|M|e)[vz]$|^eAX$|^Zv$|^Ap$|^Mp$|^Ma$/;

/** The routine name for one operand size: v/z operands become w (16) or d (32). */
export function sizedHandler(entry, bits) {
  if (!isSized(entry)) return entry.handler;
  return `${entry.handler}_${bits}`;
}

/** Whether the entry has separate 16- and 32-bit routines. */
export function isSized(entry) {
  if (entry.x87) return false;
  const ops = entry.operands ? entry.operands.split(",") : [];
  if (ops.some((o) => /v$|z$/.test(o) || o === "eAX" || o === "Ap" || o === "Mp" || o === "Ma")) return true;
  return /^(PUSHA|POPA|PUSHF|POPF|IRET|RETN|RETF|CBW|CWD|ENTER|LEAVE|MOVS|CMPS|STOS|LODS|SCAS|INS|OUTS|JCXZ|LOOP|LOOPZ|LOOPNZ|PUSH|POP|CALL|CALLF|JMPF|SGDT|SIDT|LGDT|LIDT)$/.test(
    entry.mnem,
  );
}

/** EFLAGS bits by letter. */
export const FLAG_BITS = { C: 0x1, P: 0x4, A: 0x10, Z: 0x40, S: 0x80, O: 0x800 };

/** Mask of the flags an entry leaves undefined. */
export function undefinedFlagsMask(entry) {
  let m = 0;
  for (const c of entry.flags.undef) m |= FLAG_BITS[c];
  return m;
}

/** Immediate bytes of an entry for an operand size and address size (in bytes each). */
export function immediateBytes(entry, opBytes, addrBytes) {
  let n = 0;
  for (const o of entry.operands ? entry.operands.split(",") : []) {
    if (o === "Ib" || o === "Ibs" || o === "Jb") n += 1;
    else if (o === "Iw") n += 2;
    else if (o === "Iz" || o === "Iv" || o === "Jz") n += opBytes;
    else if (o === "Ap") n += opBytes + 2;
    else if (o === "Ob" || o === "Ov") n += addrBytes;
  }
  return n;
}
