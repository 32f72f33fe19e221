// Operations compiled code calls instead of inlining them: each is the interpreter's own
// computation (its flags included), so a compiled instruction leaves exactly the state the
// interpreted one would. They take and return values; operands and results stay in the block's
// locals.

import { testCondition } from "../cpu/flags";
import { currentTsc, rdtscIntercepted } from "../cpu/ops/system-msr";
import { EAX, EDX, setReg32 } from "../cpu/state";
import { shift } from "../cpu/ops/shift-core";

/** Jcc/SETcc/CMOVcc condition `cc` from the (lazy) flags: 1 when it holds. */
export function jitCondition(cc: u32): u32 {
  return testCondition(cc) ? 1 : 0;
}

/**
 * Shift or rotate group op `op & 7` (ModRM.reg) of `v` by `count`: the result, flags set. The
 * operand size is `op >> 8` bits (16), or 32 when that is 0.
 */
export function jitShift(op: u32, v: u32, count: u32): u32 {
  const size = op >>> 8;
  return shift(op & 7, v, count, size == 0 ? 32 : size);
}

/**
 * RDTSC from compiled code (the instructions before it already counted): EDX:EAX = the TSC in
 * the state block, and 1; or 0, nothing done, when the interpreter must run it (#GP or a VM exit).
 */
export function jitRdtsc(): u32 {
  if (rdtscIntercepted()) return 0;
  const t = currentTsc();
  setReg32(EAX, <u32>t);
  setReg32(EDX, <u32>(t >>> 32));
  return 1;
}
