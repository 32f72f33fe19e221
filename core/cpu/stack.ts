// Stack pushes and pops through SS, honouring the stack-size attribute (SP or ESP). A push that
// faults leaves ESP unchanged.

import { read16, read32, write16, write32 } from "../mmu/access";
import { faulted } from "./fault";
import { ESP, reg32, setReg32, SS, ssIs32 } from "./state";

@inline export function stackPointer(): u32 {
  return ssIs32() ? reg32(ESP) : reg32(ESP) & 0xffff;
}

/** Sets ESP, or only SP for a 16-bit stack. */
@inline export function setStackPointer(v: u32): void {
  if (ssIs32()) setReg32(ESP, v);
  else setReg32(ESP, (reg32(ESP) & 0xffff0000) | (v & 0xffff));
}

/** Offset `delta` bytes from the stack pointer, wrapped to the stack size. */
@inline export function stackOffset(sp: u32, delta: u32): u32 {
  const v = sp + delta;
  return ssIs32() ? v : v & 0xffff;
}

export function push16(v: u32): void {
  const sp = stackOffset(stackPointer(), <u32>-2);
  write16(SS, sp, v);
  if (faulted) return;
  setStackPointer(sp);
}

export function push32(v: u32): void {
  const sp = stackOffset(stackPointer(), <u32>-4);
  write32(SS, sp, v);
  if (faulted) return;
  setStackPointer(sp);
}

@inline export function push(v: u32, is32: bool): void {
  if (is32) push32(v);
  else push16(v);
}

export function pop16(): u32 {
  const sp = stackPointer();
  const v = read16(SS, sp);
  if (faulted) return 0;
  setStackPointer(stackOffset(sp, 2));
  return v;
}

export function pop32(): u32 {
  const sp = stackPointer();
  const v = read32(SS, sp);
  if (faulted) return 0;
  setStackPointer(stackOffset(sp, 4));
  return v;
}

/** Reads the stack at SP + delta without moving it (for instructions that pop several values). */
export function peek16(delta: u32): u32 {
  return read16(SS, stackOffset(stackPointer(), delta));
}
export function peek32(delta: u32): u32 {
  return read32(SS, stackOffset(stackPointer(), delta));
}
