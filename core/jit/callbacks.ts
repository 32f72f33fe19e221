// Operations compiled code calls instead of inlining them: each is the interpreter's own
// computation (its flags included), so a compiled instruction leaves exactly the state the
// interpreted one would. They take and return values; operands and results stay in the block's
// locals.

import { setFlagsIncDec, testCondition } from "../cpu/flags";
import { alu } from "../cpu/ops/alu-core";
import { imul32 } from "../cpu/ops/muldiv";
import { shift } from "../cpu/ops/shift-core";

/** Jcc/SETcc/CMOVcc condition `cc` from the (lazy) flags: 1 when it holds. */
export function jitCondition(cc: u32): u32 {
  return testCondition(cc) ? 1 : 0;
}

/** INC (op 5) / DEC (op 6) flags as the interpreter records them: CF kept, the rest lazy. */
export function jitIncDecFlags(op: u32, a: u32, res: u32): void {
  setFlagsIncDec(op, a, res, 32);
}

/** Shift or rotate group op `op` (ModRM.reg) of a 32-bit `v` by `count`: the result, flags set. */
export function jitShift(op: u32, v: u32, count: u32): u32 {
  return shift(op, v, count, 32);
}

/** Two- and three-operand IMUL, 32 bits: the low half, CF = OF = overflow. */
export function jitImul(a: u32, b: u32): u32 {
  return imul32(a, b);
}

/** One of the eight ALU operations (opcode order) on `size` bits: the result, flags set. */
export function jitAlu(op: u32, a: u32, b: u32, size: u32): u32 {
  return alu(op, a, b, size);
}
