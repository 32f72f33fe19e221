// The bt mode's translations as WebAssembly: hot guest-kernel code is compiled by the JIT
// (vmm/jit, with the block flag BLOCK_BT_KERNEL) instead of being run from a copy in the cache.
// Innocuous instructions become wasm as for any code; a sensitive one becomes a call to
// btJitCallout, which counts its callout by kind exactly as the cache does (callouts.ts) and then
// emulates it through the interpreter, as the cache's callouts do. An indirect branch (RET,
// JMP/CALL r/m) notes that the next kernel block pays the lookup callout.

import { jitFaulted, jitStep } from "../jit/enter";
import { countCallout } from "./callouts";
import { btNoteIndirect } from "./execute";

/** `code` bits 0-7: the callout + 1 (0: none); bit 8: the instruction is an indirect branch. */
export const JIT_CALLOUT_INDIRECT: u32 = 0x100;

/**
 * Compiled kernel code reached a sensitive instruction or an indirect branch it leaves to the
 * interpreter, at `eip` (`next`: the following instruction). Returns as jitStep does.
 */
export function btJitCallout(code: u32, eip: u32, next: u32): u32 {
  const callout = code & 0xff;
  if (callout != 0) countCallout(callout - 1);
  const faults = jitFaulted;
  const r = jitStep(eip, next);
  if ((code & JIT_CALLOUT_INDIRECT) != 0 && jitFaulted == faults) btNoteIndirect();
  return r;
}

/** Compiled kernel code ran an indirect branch inline (its fast path: nothing faulted). */
export function btJitIndirect(): void {
  btNoteIndirect();
}
