// The run loop: run(budget) executes instructions until the budget is spent or something the
// host must see happens, and returns the reason (RUN_* in the layout). It sits above the
// interpreter and the translators: each instruction boundary goes to the JIT's compiled code
// (core/jit/), the binary translator's cache (core/bt/, the bt mode) or the interpreter's step.

import { beginStep, finishStep, serviceEvents, settleRun, step } from "./cpu/interp";
import { beginRun, budgetLeft, repExtraIterations, retiredInRun } from "./cpu/rep";
import {
  btAtBlockBoundary,
  btCountCompiled,
  btCountDirect,
  btDirectCode,
  btEndRun,
  btEnterCompiled,
  btKernelCode,
  btLeaveCache,
  btStep,
} from "./bt/execute";
import { BLOCK_BT_KERNEL } from "./jit/blocks";
import { jitEnter, jitFaulted, jitFindBlock, jitTryBlock, takeJitStop } from "./jit/enter";
import { RUN_BUDGET, S_BT_ACTIVE, S_DEBUG_ARMED, S_EIP, S_HALTED, S_INTR, S_JIT_ON } from "./generated/layout";
import { nextEip, transferred } from "./cpu/decode";
import { clearExitStop } from "./virt/exits";
import { trapBeforeRun, trapMode } from "./virt/trap";

export function run(budget: i32): u32 {
  beginRun(budget);
  clearExitStop();
  let reason: u32 = RUN_BUDGET;
  if (trapMode()) trapBeforeRun();
  // The bt mode runs guest-kernel code from its translations (the cache's copies, core/bt/execute.ts,
  // or, once hot, wasm with callouts, core/bt/compiled.ts) and user code directly, which the JIT
  // may compile; the trap mode keeps the interpreter.
  const bt = load<u32>(S_BT_ACTIVE) != 0;
  const jit = load<u32>(S_JIT_ON) != 0 && !trapMode();
  // Whether to look for compiled code at this boundary: not after an instruction the interpreter
  // ran that fell through to the next. Compiled code is entered where control arrives by a
  // branch, a return, an event or the end of other compiled code; a lookup (and its heat count)
  // at every instruction of cold straight-line code cost more than the code it found.
  let probe = true;
  while (budgetLeft()) {
    // INTR, NMI, HALTED and INT_SHADOW are adjacent words: one test covers the common case. An
    // interrupt the VMM holds for injection (hvm, pv) keeps INTR asserted until it injects it.
    if ((load<u64>(S_INTR) | load<u64>(S_HALTED)) != 0) {
      reason = serviceEvents();
      if (reason != RUN_BUDGET) break;
      probe = true;
    } else if (jit && probe && load<u32>(S_DEBUG_ARMED) == 0 && runCompiled(bt)) {
      // (Breakpoints, DR0-DR3's or the host's, are checked per instruction by the interpreter
      // only; DEBUG_ARMED is read every time because a MOV to DR7 may arm it mid-run.)
      // Compiled code ran one or more instructions (nothing was pending, so none of them could
      // have been preceded by an interrupt).
      reason = takeJitStop();
      if (reason != RUN_BUDGET) break;
      continue;
    }
    const flags = beginStep();
    if (bt) btStep();
    else step();
    reason = finishStep(flags);
    if (reason != RUN_BUDGET) break;
    // (The bt mode enters compiled kernel code only between its cached blocks: it looks every time.)
    probe = bt || transferred || load<u32>(S_EIP) != nextEip;
  }
  if (bt) btEndRun();
  settleRun();
  return reason;
}

/**
 * Runs a compiled block at EIP if there is one. In the bt mode, user code is executed directly
 * (the translator's block is settled first) and kernel code is the translator's own, compiled
 * with callouts, entered only between cached blocks; either is counted as btStep counts it
 * (steps that completed: REP iterations and faults aside).
 */
@inline function runCompiled(bt: bool): bool {
  if (!bt) return jitTryBlock();
  if (btDirectCode()) {
    btLeaveCache();
    const before = completedSteps();
    if (!jitTryBlock()) return false;
    btCountDirect(completedSteps() - before);
    return true;
  }
  if (!btKernelCode() || !btAtBlockBoundary()) return false;
  const b = jitFindBlock(BLOCK_BT_KERNEL);
  if (b == 0) return false;
  btEnterCompiled();
  const before = completedSteps();
  jitEnter(b - 1);
  btCountCompiled(completedSteps() - before);
  return true;
}

@inline function completedSteps(): u32 {
  return <u32>retiredInRun() - repExtraIterations - jitFaulted;
}
