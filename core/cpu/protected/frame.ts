// Stack frames written by far calls, interrupts and exceptions, possibly on a stack that is not
// yet loaded into SS (the inner stack of a privilege change): the frame is written at explicit
// offsets with the new stack's limit and rights and the new privilege's paging rights, and the
// registers change only after the whole frame is in memory (SDM vol. 3, 6.12.1 and 5.8.5).

import { S_SEG_BASE, S_SEG_WHI, S_SEG_WLO, S_REGS } from "../../generated/layout";
import { writeSlow } from "../../mmu/access";
import { faulted, ssFault } from "../fault";
import { ATTR_CODE, ATTR_DB, ATTR_DC, cpl, SS, ssIs32 } from "../state";

let fBase: u32 = 0;
let fLo: u32 = 0;
let fHi: u32 = 0;
let fIs32: bool = false;
let fSp: u32 = 0;
let fUser: bool = false;
let fErr: u32 = 0;

/** Opens a frame on a stack described by a descriptor (base, limit, attributes). */
export function frameOpen(base: u32, limit: u32, attr: u32, sp: u32, user: bool, err: u32): void {
  fBase = base;
  fIs32 = (attr & ATTR_DB) != 0;
  if ((attr & (ATTR_CODE | ATTR_DC)) == ATTR_DC) {
    fLo = limit + 1;
    fHi = fIs32 ? 0xffffffff : 0xffff;
  } else {
    fLo = 0;
    fHi = limit;
  }
  fSp = fIs32 ? sp : sp & 0xffff;
  fUser = user;
  fErr = err;
}

/** Opens a frame on the current stack (SS:ESP) at the current privilege level. */
export function frameOpenCurrent(err: u32): void {
  fBase = load<u32>(S_SEG_BASE + (SS << 2));
  fLo = load<u32>(S_SEG_WLO + (SS << 2));
  fHi = load<u32>(S_SEG_WHI + (SS << 2));
  fIs32 = ssIs32();
  const esp = load<u32>(S_REGS + 16);
  fSp = fIs32 ? esp : esp & 0xffff;
  fUser = cpl() == 3;
  fErr = err;
}

/** Pushes `size` (2 or 4) bytes; #SS(err) when the stack has no room. Pushes may be chained. */
export function framePush(v: u32, size: u32): void {
  if (faulted) return; // an earlier push of the frame failed
  const sp = fIs32 ? fSp - size : (fSp - size) & 0xffff;
  if (sp < fLo || sp > fHi - (size - 1) || fHi < fLo + (size - 1)) {
    ssFault(fErr);
    return;
  }
  writeSlow(fBase + sp, size, v, fUser);
  if (faulted) return;
  fSp = sp;
}

/** Stack pointer after the pushes so far (to be written to ESP once the frame is complete). */
@inline export function frameSp(): u32 {
  return fSp;
}
