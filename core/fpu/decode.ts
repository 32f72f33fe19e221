// The x87 escapes D8-DF (FPU_ESC0..FPU_ESC7) and FWAIT: device-not-available and pending-error
// checks, the FPU instruction/data pointers, then the form selected by ModRM (the table of forms
// is core/isa/x87.mjs; SDM vol. 2, appendix A.4 "Escape Opcode Instructions").

import { effectiveAddress, eaSeg, insnEip, modrm, opsize32 } from "../cpu/decode";
import { faulted, NO_ERROR, raise, ud, VEC_MF, VEC_NM } from "../cpu/fault";
import { CR0_EM, CR0_MP, CR0_NE, CR0_TS, CS, EAX, segSel, setReg16 } from "../cpu/state";
import { S_CR, S_FPU_CS, S_FPU_DP, S_FPU_DS, S_FPU_IP, S_FPU_OPCODE } from "../generated/layout";
import { hostFpuError } from "../host";
import { fldenv, fninit, fnsave, fnstenv, frstor } from "./env";
import {
  arith,
  compare,
  compareEflags,
  fbld,
  fcmov,
  fdecstp,
  ffree,
  fildM64,
  fincstp,
  fldConst,
  fldM80,
  fldMem,
  fldST,
  fnclex,
  fstST,
  ftst,
  fxam,
  fxch,
  loadControlWord,
  OP_COM,
  OP_COMP,
  readArithSource,
  signOp,
  sourceFromST,
  startOp,
  storeMem,
  fnstcwValue,
} from "./exec";
import { fprem, frndint, fscale, fsqrt, fxtract } from "./functions";
import { rd16, setOperand, wr16 } from "./mem";
import { isEmpty, pop, statusWord, SW_ES, swRaw } from "./regs";
import { f2xm1, fpatan, fyl2x, trig } from "./transcendental";

/** #NM when CR0.EM or CR0.TS is set (SDM vol. 3, 2.5 and 6.15 "Interrupt 7"). */
function deviceAvailable(): bool {
  if ((load<u32>(S_CR) & (CR0_EM | CR0_TS)) != 0) {
    raise(VEC_NM, NO_ERROR);
    return false;
  }
  return true;
}

/**
 * A waiting instruction with an unmasked exception pending (ES set): #MF with CR0.NE = 1; with
 * NE = 0 the FERR# output goes to the host (IRQ 13 on a PC) and the instruction continues
 * (SDM vol. 1, 8.7 "Handling x87 FPU Exceptions in Software", MS-DOS compatibility mode).
 */
function pendingError(): bool {
  if ((swRaw() & SW_ES) == 0) return false;
  if ((load<u32>(S_CR) & CR0_NE) != 0) {
    raise(VEC_MF, NO_ERROR);
    return true;
  }
  hostFpuError();
  return false;
}

/** Records FIP/FCS/FOP (and FDP/FDS for memory forms): non-control instructions (SDM vol. 1, 8.1.8-9). */
function notePointers(esc: u32, mem: bool, seg: u32, off: u32): void {
  store<u32>(S_FPU_IP, insnEip);
  store<u32>(S_FPU_CS, segSel(CS));
  store<u32>(S_FPU_OPCODE, ((esc & 7) << 8) | modrm);
  if (mem) {
    store<u32>(S_FPU_DP, off);
    store<u32>(S_FPU_DS, segSel(seg));
  }
}

/** Prologue of an arithmetic (non-control) form: pending error, pointers, rounding state. */
function begin(esc: u32, mem: bool, seg: u32, off: u32, pc: bool): bool {
  if (pendingError()) return false;
  notePointers(esc, mem, seg, off);
  startOp(pc);
  return true;
}

/** Memory forms of D8/DA/DC/DE: arithmetic and compares with a memory source. */
function memArith(esc: u32, kind: u32): void {
  const off = effectiveAddress();
  if (faulted) return;
  const seg = eaSeg;
  const op = (modrm >> 3) & 7;
  if (!begin(esc, true, seg, off, true)) return;
  setOperand(seg, off);
  readArithSource(kind);
  if (faulted) return;
  if (op == OP_COM || op == OP_COMP) compare(false, false, op == OP_COMP ? 1 : 0);
  else arith(op, 0, false, false);
}

/** Register forms: D8 (ST0 op= ST(i)), DC (ST(i) op= ST0), DE (same, then pop). */
function regArith(esc: u32, reverseDest: bool, popAfter: bool): void {
  const op = (modrm >> 3) & 7;
  const i = modrm & 7;
  if (!begin(esc, false, 0, 0, true)) return;
  sourceFromST(reverseDest ? 0 : i);
  if (op == OP_COM || op == OP_COMP) {
    // D8 D0-DF; DC D0-DF and DE D0-D7 are aliases of FCOM/FCOMP
    sourceFromST(i);
    compare(isEmpty(i), false, op == OP_COMP || popAfter ? 1 : 0);
    return;
  }
  if (!reverseDest) arith(op, 0, isEmpty(i), false);
  else arith(op >= 4 ? op ^ 1 : op, i, isEmpty(0), popAfter);
}

export function FPU_ESC0(): void {
  if (!deviceAvailable()) return;
  if (modrm < 0xc0) memArith(0xd8, 0);
  else regArith(0xd8, false, false);
}

export function FPU_ESC4(): void {
  if (!deviceAvailable()) return;
  if (modrm < 0xc0) memArith(0xdc, 2);
  else regArith(0xdc, true, false);
}

export function FPU_ESC2(): void {
  if (!deviceAvailable()) return;
  if (modrm < 0xc0) {
    memArith(0xda, 1);
    return;
  }
  const i = modrm & 7;
  if (modrm < 0xe0) {
    if (!begin(0xda, false, 0, 0, false)) return;
    fcmov((modrm >> 3) & 3, false, i);
  } else if (modrm == 0xe9) {
    if (!begin(0xda, false, 0, 0, false)) return;
    sourceFromST(1);
    compare(isEmpty(1), true, 2);
  } else ud();
}

export function FPU_ESC6(): void {
  if (!deviceAvailable()) return;
  if (modrm < 0xc0) {
    memArith(0xde, 3);
    return;
  }
  if (modrm >= 0xd8 && modrm < 0xe0) {
    if (modrm != 0xd9) {
      ud();
      return;
    }
    if (!begin(0xde, false, 0, 0, false)) return;
    sourceFromST(1);
    compare(isEmpty(1), false, 2); // FCOMPP
    return;
  }
  regArith(0xde, true, true);
}

export function FPU_ESC1(): void {
  if (!deviceAvailable()) return;
  if (modrm < 0xc0) {
    const off = effectiveAddress();
    if (faulted) return;
    const seg = eaSeg;
    const r = (modrm >> 3) & 7;
    setOperand(seg, off);
    switch (r) {
      case 0: // FLD m32fp
        if (!begin(0xd9, true, seg, off, false)) return;
        fldMem(0);
        return;
      case 2: // FST m32fp
      case 3: // FSTP m32fp
        if (!begin(0xd9, true, seg, off, false)) return;
        storeMem(0, r == 3);
        return;
      case 4: // FLDENV
        if (pendingError()) return;
        fldenv(opsize32);
        return;
      case 5: {
        // FLDCW
        if (pendingError()) return;
        const v = rd16(0);
        if (faulted) return;
        loadControlWord(v);
        return;
      }
      case 6: // FNSTENV
        fnstenv(opsize32);
        return;
      case 7: // FNSTCW
        wr16(0, fnstcwValue());
        return;
      default:
        ud();
        return;
    }
  }
  const i = modrm & 7;
  if (modrm < 0xc8) {
    if (!begin(0xd9, false, 0, 0, false)) return;
    fldST(i);
    return;
  }
  if (modrm < 0xd0) {
    if (!begin(0xd9, false, 0, 0, false)) return;
    fxch(i);
    return;
  }
  if (modrm >= 0xd8 && modrm < 0xe0) {
    if (!begin(0xd9, false, 0, 0, false)) return;
    fstST(i, true); // FSTP1 alias
    return;
  }
  switch (modrm) {
    case 0xd0: // FNOP
      begin(0xd9, false, 0, 0, false);
      return;
    case 0xe0:
    case 0xe1:
      if (!begin(0xd9, false, 0, 0, false)) return;
      signOp(modrm == 0xe1);
      return;
    case 0xe4:
      if (!begin(0xd9, false, 0, 0, false)) return;
      ftst();
      return;
    case 0xe5:
      if (!begin(0xd9, false, 0, 0, false)) return;
      fxam();
      return;
    case 0xe8:
    case 0xe9:
    case 0xea:
    case 0xeb:
    case 0xec:
    case 0xed:
    case 0xee:
      if (!begin(0xd9, false, 0, 0, false)) return;
      fldConst(modrm - 0xe8);
      return;
    case 0xf0:
      if (!begin(0xd9, false, 0, 0, false)) return;
      f2xm1();
      return;
    case 0xf1:
      if (!begin(0xd9, false, 0, 0, false)) return;
      fyl2x(false);
      return;
    case 0xf2:
      if (!begin(0xd9, false, 0, 0, false)) return;
      trig(3);
      return;
    case 0xf3:
      if (!begin(0xd9, false, 0, 0, false)) return;
      fpatan();
      return;
    case 0xf4:
      if (!begin(0xd9, false, 0, 0, false)) return;
      fxtract();
      return;
    case 0xf5:
    case 0xf8:
      if (!begin(0xd9, false, 0, 0, false)) return;
      fprem(modrm == 0xf5);
      return;
    case 0xf6:
      if (!begin(0xd9, false, 0, 0, false)) return;
      fdecstp();
      return;
    case 0xf7:
      if (!begin(0xd9, false, 0, 0, false)) return;
      fincstp();
      return;
    case 0xf9:
      if (!begin(0xd9, false, 0, 0, false)) return;
      fyl2x(true);
      return;
    case 0xfa:
      if (!begin(0xd9, false, 0, 0, true)) return;
      fsqrt();
      return;
    case 0xfb:
      if (!begin(0xd9, false, 0, 0, false)) return;
      trig(2);
      return;
    case 0xfc:
      if (!begin(0xd9, false, 0, 0, false)) return;
      frndint();
      return;
    case 0xfd:
      if (!begin(0xd9, false, 0, 0, false)) return;
      fscale();
      return;
    case 0xfe:
      if (!begin(0xd9, false, 0, 0, false)) return;
      trig(0);
      return;
    case 0xff:
      if (!begin(0xd9, false, 0, 0, false)) return;
      trig(1);
      return;
    default:
      ud();
      return;
  }
}

export function FPU_ESC3(): void {
  if (!deviceAvailable()) return;
  if (modrm < 0xc0) {
    const off = effectiveAddress();
    if (faulted) return;
    const seg = eaSeg;
    const r = (modrm >> 3) & 7;
    setOperand(seg, off);
    switch (r) {
      case 0: // FILD m32int
        if (!begin(0xdb, true, seg, off, false)) return;
        fldMem(1);
        return;
      case 2: // FIST m32int
      case 3: // FISTP m32int
        if (!begin(0xdb, true, seg, off, false)) return;
        storeMem(1, r == 3);
        return;
      case 5: // FLD m80fp
        if (!begin(0xdb, true, seg, off, false)) return;
        fldM80();
        return;
      case 7: // FSTP m80fp
        if (!begin(0xdb, true, seg, off, false)) return;
        storeMem(4, true);
        return;
      default:
        ud();
        return;
    }
  }
  const i = modrm & 7;
  if (modrm < 0xe0) {
    if (!begin(0xdb, false, 0, 0, false)) return;
    fcmov((modrm >> 3) & 3, true, i);
    return;
  }
  if (modrm >= 0xe8 && modrm < 0xf8) {
    if (!begin(0xdb, false, 0, 0, false)) return;
    compareEflags(i, modrm < 0xf0, false);
    return;
  }
  switch (modrm) {
    case 0xe0: // FNENI, FNDISI, FNSETPM: no-ops since the 80387
    case 0xe1:
    case 0xe4:
      return;
    case 0xe2:
      fnclex();
      return;
    case 0xe3:
      fninit();
      return;
    default:
      ud();
      return;
  }
}

export function FPU_ESC5(): void {
  if (!deviceAvailable()) return;
  if (modrm < 0xc0) {
    const off = effectiveAddress();
    if (faulted) return;
    const seg = eaSeg;
    const r = (modrm >> 3) & 7;
    setOperand(seg, off);
    switch (r) {
      case 0: // FLD m64fp
        if (!begin(0xdd, true, seg, off, false)) return;
        fldMem(2);
        return;
      case 2: // FST m64fp
      case 3: // FSTP m64fp
        if (!begin(0xdd, true, seg, off, false)) return;
        storeMem(2, r == 3);
        return;
      case 4: // FRSTOR
        if (pendingError()) return;
        frstor(opsize32);
        return;
      case 6: // FNSAVE
        fnsave(opsize32);
        return;
      case 7: // FNSTSW m2byte
        wr16(0, statusWord());
        return;
      default:
        ud();
        return;
    }
  }
  const i = modrm & 7;
  if (modrm >= 0xf0) {
    ud();
    return;
  }
  if (!begin(0xdd, false, 0, 0, false)) return;
  switch ((modrm >> 3) & 7) {
    case 0: // FFREE
      ffree(i, false);
      return;
    case 1: // FXCH4 alias
      fxch(i);
      return;
    case 2:
    case 3:
      fstST(i, modrm >= 0xd8);
      return;
    case 4: // FUCOM
    case 5: // FUCOMP
      sourceFromST(i);
      compare(isEmpty(i), true, modrm >= 0xe8 ? 1 : 0);
      return;
  }
}

export function FPU_ESC7(): void {
  if (!deviceAvailable()) return;
  if (modrm < 0xc0) {
    const off = effectiveAddress();
    if (faulted) return;
    const seg = eaSeg;
    const r = (modrm >> 3) & 7;
    setOperand(seg, off);
    if (r == 1) {
      ud();
      return;
    }
    if (!begin(0xdf, true, seg, off, false)) return;
    switch (r) {
      case 0: // FILD m16int
        fldMem(3);
        return;
      case 2:
      case 3: // FIST(P) m16int
        storeMem(3, r == 3);
        return;
      case 4:
        fbld();
        return;
      case 5:
        fildM64();
        return;
      case 6:
        storeMem(6, true); // FBSTP
        return;
      default:
        storeMem(5, true); // FISTP m64int
        return;
    }
  }
  const i = modrm & 7;
  if (modrm == 0xe0) {
    setReg16(EAX, statusWord()); // FNSTSW AX
    return;
  }
  if (modrm > 0xe0 && modrm < 0xe8) {
    ud();
    return;
  }
  if (modrm >= 0xf8) {
    ud();
    return;
  }
  if (!begin(0xdf, false, 0, 0, false)) return;
  if (modrm < 0xc8) ffree(i, true); // FFREEP
  else if (modrm < 0xd0) fxch(i); // FXCH7 alias
  else if (modrm < 0xe0) fstST(i, true); // FSTP8/FSTP9 aliases
  else compareEflags(i, modrm < 0xf0, true); // FUCOMIP / FCOMIP
}

/** FWAIT: #NM when CR0.MP and CR0.TS are both set; then any pending x87 error (SDM vol. 2, WAIT). */
export function FWAIT(): void {
  if ((load<u32>(S_CR) & (CR0_MP | CR0_TS)) == (CR0_MP | CR0_TS)) {
    raise(VEC_NM, NO_ERROR);
    return;
  }
  pendingError();
}


