// REP string instructions are interruptible, as on hardware (SDM vol. 1, 7.3.9.2 and vol. 2,
// REP: "a repeating string operation can be suspended by an exception or interrupt", with the
// registers left so that it resumes). Each iteration counts against run()'s budget the way
// QEMU's icount counts each one as an instruction: a step runs at most the rest of the budget
// in iterations (one when single-stepping: the trap comes after each iteration), and when the
// count is not exhausted the instruction stays at its EIP (the run loop can then return, or take
// an interrupt, with ESI/EDI/ECX advanced). The interpreter and the translators share this rule,
// so an icount run is the same run whoever executes it.
//
// The run's count of retired instructions lives here, below both the string routines and the run
// loop, so that a REP instruction adds its iterations directly and the loop pays nothing per
// step for the rule. Below it are only the layout and the state views. The count and the budget
// are words of the state block (RUN_RETIRED, RUN_LIMIT) because compiled code (core/jit/) adds
// the instructions it retires to the same count and checks the same budget.

import { DEBUG_ARMED_DATA, S_DEBUG_ARMED, S_EFLAGS, S_RUN_LIMIT, S_RUN_RETIRED } from "../generated/layout";
import { FLAG_TF } from "./state";

@inline function getExecuted(): i32 {
  return load<i32>(S_RUN_RETIRED);
}
@inline function setExecuted(n: i32): void {
  store<i32>(S_RUN_RETIRED, n);
}
/**
 * Iterations the REP instruction executing now has completed in this step: a device it reaches
 * (a port, MMIO) sees virtual time as if each earlier iteration had retired, so the time does
 * not depend on where run() slices fell.
 */
let progress: u32 = 0;

/** A run() begins with `n` instructions to retire. */
@inline export function beginRun(n: i32): void {
  setExecuted(0);
  store<i32>(S_RUN_LIMIT, n);
}

@inline export function retiredInRun(): i32 {
  return getExecuted();
}

@inline export function budgetLeft(): bool {
  return getExecuted() < load<i32>(S_RUN_LIMIT);
}

/** Instructions the run may still retire. */
@inline export function budgetRemaining(): i32 {
  return load<i32>(S_RUN_LIMIT) - getExecuted();
}

/** One step retired (the run loop's count; a REP adds its further iterations itself). */
@inline export function retireOne(): void {
  setExecuted(getExecuted() + 1);
}

/** `n` instructions retired at once (compiled code settling its count). */
@inline export function retireMany(n: i32): void {
  setExecuted(getExecuted() + n);
}

/** The run is over: its count, zeroed for the next. */
@inline export function endRun(): i32 {
  const n = getExecuted();
  setExecuted(0);
  return n;
}

/**
 * Iterations a REP instruction may run in this step: what is left of the budget; 1 under TF,
 * and while data breakpoints are armed (their trap comes after the iteration that matched).
 */
@inline export function repAllowance(): u32 {
  if (((load<u32>(S_EFLAGS) & FLAG_TF) | (load<u32>(S_DEBUG_ARMED) & DEBUG_ARMED_DATA)) != 0) return 1;
  const left = budgetRemaining();
  return left > 0 ? <u32>left : 1;
}

/** Iterations of REP instructions beyond their first, ever (steps = retired - these). */
export let repExtraIterations: u32 = 0;

/** A REP string instruction ran `iterations` in this step (the run loop counts the first). */
@inline export function countRepIterations(iterations: u32): void {
  if (iterations > 1) {
    setExecuted(getExecuted() + <i32>(iterations - 1));
    repExtraIterations += iterations - 1;
  }
  progress = 0;
}

@inline export function setRepProgress(iterations: u32): void {
  progress = iterations;
}

/** Instructions retired in this run, the executing REP's completed iterations included. */
@inline export function retiredSoFar(): u32 {
  return <u32>getExecuted() + progress;
}
