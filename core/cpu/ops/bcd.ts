// Decimal adjust instructions (SDM vol. 2 "AAA", "AAD", "AAM", "AAS", "DAA", "DAS").

import { divideError, faulted } from "../fault";
import { fetch8 } from "../decode";
import { getAF, getCF, setFlagsSZP } from "../flags";
import { EAX, reg16, reg8, setReg16, setReg8 } from "../state";

export function DAA(): void {
  const old = reg8(EAX);
  const oldCf = getCF();
  let al = old;
  let cf = false;
  let af = false;
  if ((al & 0xf) > 9 || getAF()) {
    al = (al + 6) & 0xff;
    cf = oldCf || old + 6 > 0xff;
    af = true;
  }
  if (old > 0x99 || oldCf) {
    al = (al + 0x60) & 0xff;
    cf = true;
  }
  setReg8(EAX, al);
  // OF is undefined; P6 reports the signed overflow of the adjustment.
  setFlagsSZP(al, 8, cf, (~old & al & 0x80) != 0, af);
}

export function DAS(): void {
  const old = reg8(EAX);
  const oldCf = getCF();
  let al = old;
  let cf = false;
  let af = false;
  if ((al & 0xf) > 9 || getAF()) {
    al = (al - 6) & 0xff;
    cf = oldCf || old < 6;
    af = true;
  }
  if (old > 0x99 || oldCf) {
    al = (al - 0x60) & 0xff;
    cf = true;
  }
  setReg8(EAX, al);
  setFlagsSZP(al, 8, cf, (old & ~al & 0x80) != 0, af);
}

export function AAA(): void {
  const ax = reg16(EAX);
  if ((ax & 0xf) > 9 || getAF()) {
    const r = (ax + 0x106) & 0xffff;
    setReg16(EAX, r & 0xff0f);
    setFlagsSZP(r & 0xff, 8, true, false, true);
  } else {
    setReg16(EAX, ax & 0xff0f);
    setFlagsSZP(ax & 0xff, 8, false, false, false);
  }
}

export function AAS(): void {
  const ax = reg16(EAX);
  if ((ax & 0xf) > 9 || getAF()) {
    // AX <- AX - 6 (the borrow reaches AH), then AH <- AH - 1 (SDM "AAS").
    const t = (ax - 6) & 0xffff;
    const al = t & 0xff;
    const ah = ((t >> 8) - 1) & 0xff;
    setReg16(EAX, ((ah << 8) | al) & 0xff0f);
    setFlagsSZP(al, 8, true, false, true);
  } else {
    setReg16(EAX, ax & 0xff0f);
    setFlagsSZP(ax & 0xff, 8, false, false, false);
  }
}

export function AAM_Ib(): void {
  const base = fetch8();
  if (faulted) return;
  if (base == 0) {
    divideError();
    return;
  }
  const al = reg8(EAX);
  const r = al % base;
  setReg16(EAX, ((al / base) << 8) | r);
  setFlagsSZP(r, 8, false, false, false);
}

export function AAD_Ib(): void {
  const base = fetch8();
  if (faulted) return;
  const al = reg8(EAX);
  const ah = reg8(4);
  const r = (al + ah * base) & 0xff;
  setReg16(EAX, r);
  setFlagsSZP(r, 8, false, false, false);
}
