// Far control transfers: JMP/CALL far, RET far, IRET, in every mode.
// PLACEHOLDER for protected mode: replaced by the full implementation.

import { S_MODE } from "../../generated/layout";
import { writeEflags } from "../control";
import { setNextEip } from "../decode";
import { faulted, gp } from "../fault";
import { getEflags } from "../flags";
import { pop16, pop32, push16, push32, setStackPointer, stackOffset, stackPointer } from "../stack";
import { CS, loadSegmentReal, segSel } from "../state";
import { invalidateFetch } from "../decode";

/** JMP ptr16:16/32 or JMP m16:16/32 to sel:off. */
export function farJump(sel: u32, off: u32, opsize32: bool): void {
  if (load<u32>(S_MODE) == 1) {
    gp(sel & 0xfffc);
    return;
  }
  loadSegmentReal(CS, sel);
  setNextEip(opsize32 ? off : off & 0xffff);
  invalidateFetch();
}

/** CALL far: pushes CS and the return offset, then transfers. `retEip` is the return address. */
export function farCall(sel: u32, off: u32, opsize32: bool, retEip: u32): void {
  if (load<u32>(S_MODE) == 1) {
    gp(sel & 0xfffc);
    return;
  }
  const sp = stackPointer();
  if (opsize32) {
    push32(segSel(CS));
    if (faulted) return;
    push32(retEip);
  } else {
    push16(segSel(CS));
    if (faulted) return;
    push16(retEip);
  }
  if (faulted) {
    setStackPointer(sp);
    return;
  }
  loadSegmentReal(CS, sel);
  setNextEip(opsize32 ? off : off & 0xffff);
  invalidateFetch();
}

/** RET far (and RET far imm16: `popBytes` released after the return address). */
export function farReturn(opsize32: bool, popBytes: u32): void {
  if (load<u32>(S_MODE) == 1) {
    gp(0);
    return;
  }
  const sp = stackPointer();
  const off = opsize32 ? pop32() : pop16();
  if (faulted) return;
  const sel = opsize32 ? pop32() & 0xffff : pop16();
  if (faulted) {
    setStackPointer(sp);
    return;
  }
  if (off > 0xffff && !opsize32) {
    setStackPointer(sp);
    gp(0);
    return;
  }
  setStackPointer(stackOffset(stackPointer(), popBytes));
  loadSegmentReal(CS, sel);
  setNextEip(off);
  invalidateFetch();
}

/** IRET / IRETD. */
export function interruptReturn(opsize32: bool): void {
  if (load<u32>(S_MODE) != 0) {
    gp(0);
    return;
  }
  const sp = stackPointer();
  const ip = opsize32 ? pop32() : pop16();
  if (faulted) return;
  const cs = opsize32 ? pop32() & 0xffff : pop16();
  if (faulted) {
    setStackPointer(sp);
    return;
  }
  const fl = opsize32 ? pop32() : pop16();
  if (faulted) {
    setStackPointer(sp);
    return;
  }
  if (ip > 0xffff) {
    setStackPointer(sp);
    gp(0);
    return;
  }
  // Real mode: every flag but VM (and VIP/VIF) may change; a 16-bit IRET keeps the high word.
  const mask: u32 = opsize32 ? 0x257fd5 : 0x7fd5;
  writeEflags(fl, mask);
  loadSegmentReal(CS, cs);
  setNextEip(ip);
  invalidateFetch();
  getEflags();
}
