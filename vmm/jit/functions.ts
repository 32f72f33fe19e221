// The function indices of a compiled block's module: its imports (the core's callbacks, in the
// order compiler.ts declares them), then its own functions (the block, then its helpers).

export const FN_STEP = 0;
export const FN_COND = 1;
export const FN_SHIFT = 2;
/** core/jit/callbacks.ts jitRdtsc(): EDX:EAX = the TSC in the state block and 1, or 0 (interpret it). */
export const FN_RDTSC = 3;
/** core/bt/compiled.ts btJitCallout(code, eip, next): a bt-kernel region's sensitive instruction. */
export const FN_CALLOUT = 4;
/** core/bt/compiled.ts btJitIndirect(): a bt-kernel region's inline indirect branch completed. */
export const FN_INDIRECT = 5;
/** core/jit/enter.ts jitLink(cell, target): fills a stale chain link, returns the table index or 0. */
export const FN_LINK = 6;
// The module's own functions: the block (7, exported), then its helpers (saveHelper, chainHelper).
/** Stores the block's written registers (its parameters) to the state block. */
export const FN_SAVE = 8;
/** chainHelper(cell, target, otherPage): the table index to chain to, or 0. */
export const FN_CHAIN = 9;
/** carryHelper(): the state block's CF (lazy or not) as the core's getCF() computes it. */
export const FN_CARRY = 10;
/** indirectChainHelper(cell, target): FN_CHAIN for a target known only at run time, or 0. */
export const FN_ICHAIN = 11;
