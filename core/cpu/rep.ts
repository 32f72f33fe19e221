// REP string instructions are interruptible, as on hardware (SDM vol. 1, 7.3.9.2 and vol. 2,
// REP: "a repeating string operation can be suspended by an exception or interrupt", with the
// registers left so that it resumes). Each iteration counts against run()'s budget the way
// QEMU's icount counts each one as an instruction: a step runs at most `repAllowance()`
// iterations, and when the count is not exhausted the instruction stays at its EIP (the run
// loop can then return, or take an interrupt, with ESI/EDI/ECX advanced). The interpreter and
// the translators share this rule, so an icount run is the same run whoever executes it.
//
// This module sits below the string routines and the run loop and imports nothing above it.

/** Iterations the current step may still run: the run's remaining budget (1 when single-stepping). */
let allowance: u32 = 0xffffffff;
/** Iterations run by REP string instructions beyond the one the run loop counts per step. */
let extra: u32 = 0;
/**
 * Iterations the REP instruction executing now has completed in this step: a device it reaches
 * (a port, MMIO) sees virtual time as if each earlier iteration had retired, so the time does
 * not depend on where run() slices fell.
 */
let progress: u32 = 0;

@inline export function repAllowance(): u32 {
  return allowance;
}

@inline export function setRepAllowance(n: u32): void {
  allowance = n;
}

/** A REP string instruction ran `iterations` in this step (the run loop counts the first). */
@inline export function countRepIterations(iterations: u32): void {
  if (iterations > 1) extra += iterations - 1;
  progress = 0;
}

@inline export function setRepProgress(iterations: u32): void {
  progress = iterations;
}

/** Iterations of the executing REP instruction completed so far (0 between instructions). */
@inline export function repProgress(): u32 {
  return progress;
}

/** The iterations beyond one per step since the last call (the run loop adds them to its count). */
@inline export function takeRepExtra(): u32 {
  const e = extra;
  extra = 0;
  return e;
}
