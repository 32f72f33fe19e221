// The interpreter: step() executes one instruction; beginStep/finishStep wrap any executor's
// instruction (the interpreter's or a translator's) in what the run loop (core/run.ts) does around
// it: the fault rollback, retirement, single-stepping and the host's stop request.

import { dispatch } from "../generated/dispatch";
import {
  DEBUG_ARMED_DR7,
  DEBUG_ARMED_HOST,
  RUN_BUDGET,
  RUN_DEBUG,
  RUN_EXCEPTION,
  RUN_HALT,
  RUN_SHUTDOWN,
  RUN_STOP,
  RUN_VMEXIT,
  S_BT_ACTIVE,
  S_DEBUG_ARMED,
  S_DR,
  S_EFLAGS,
  S_EXC_EIP,
  S_EXC_ERROR,
  S_EXC_VECTOR,
  S_HALTED,
  S_INSN_COUNT,
  S_INT_SHADOW,
  S_INTR,
  S_IRQ_COUNT,
  S_NMI,
  S_STOP_ON_EXCEPTION,
  S_STOP_REQUEST,
  S_TSC,
  S_TSC_PER_INSN,
} from "../generated/layout";
import { clearExitStop, exceptionExits, exitStop, handleVmExit, serviceVirtualInterrupts } from "../virt/exits";
import { setExitsSuppressed, VEC_VMEXIT } from "../virt/vmx";
import { trapBeforeRun, trapExternalInterrupt, trapIntercept, trapMode } from "../virt/trap";
import { hostAckInterrupt } from "../host";
import { ESP, FLAG_IF, FLAG_RF, FLAG_TF, reg32, setEip, setReg32, csIs32 } from "./state";
import {
  beginInstruction,
  fetch8,
  insnEip,
  nextEip,
  opsize32,
  setAddrsize32,
  setOpcode,
  setLockPrefix,
  setOpsize32,
  setRepPrefix,
  setSegOverride,
} from "./decode";
import { clearFault, faulted, faultError, faultIsSoftware, faultIsTrap, faultVector, NO_ERROR, raise, VEC_DB } from "./fault";
import { deliver, shutdown } from "./interrupts";
import { getEip } from "./state";
import { endRun, retiredSoFar, retireOne } from "./rep";
import { atHostBreakpoint, instructionBreakpoint } from "./debug";
import { dataHits, dropDataHits, takeGuestDataHits, takeHostWatchHit } from "../mmu/watch";

// 1 for the bytes step() must look at before dispatch: the prefixes and 0F.
const PREFIX_TABLE: usize = memory.data<u8>([
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0,
  0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
]);

/** Executes one instruction: prefixes, then the table-generated dispatch. */
@inline export function step(): void {
  beginInstruction(getEip(), csIs32());
  // DR0-DR3 execution breakpoints (a fault before the instruction), only while DR7 arms one.
  if ((load<u32>(S_DEBUG_ARMED) & DEBUG_ARMED_DR7) != 0 && instructionBreakpoint()) return;
  let b = fetch8();
  if (faulted) return;
  // Most instructions have no prefix: one table load instead of a chain of compares.
  if (load<u8>(PREFIX_TABLE + b) == 0) {
    setOpcode(b);
    dispatch(b | (opsize32 ? 0x200 : 0));
    return;
  }
  for (;;) {
    if (faulted) return;
    switch (b) {
      case 0x26:
      case 0x2e:
      case 0x36:
      case 0x3e:
        setSegOverride(<i32>((b >> 3) & 3));
        break;
      case 0x64:
      case 0x65:
        setSegOverride(<i32>(b - 0x60));
        break;
      case 0x66:
        setOpsize32(!csIs32());
        break;
      case 0x67:
        setAddrsize32(!csIs32());
        break;
      case 0xf0:
        setLockPrefix();
        break;
      case 0xf2:
      case 0xf3:
        setRepPrefix(b);
        break;
      case 0x0f:
        b = fetch8();
        if (faulted) return;
        setOpcode(b);
        dispatch(0x100 | b | (opsize32 ? 0x200 : 0));
        return;
      default:
        setOpcode(b);
        dispatch(b | (opsize32 ? 0x200 : 0));
        return;
    }
    b = fetch8();
  }
}

let savedEsp: u32 = 0;
/** The VMM's emulation of an exiting instruction raised a fault (the instruction did not complete). */
let emulatedFault: bool = false;
/** Instructions retired by the current run() so far (the TSC and counters catch up at its end). */
export function retiredThisRun(): u32 {
  return retiredSoFar();
}

/**
 * Before an instruction executes (by step() or a translator): remembers ESP for a fault's
 * rollback and returns EFLAGS as it was, which decides single-stepping after it.
 */
@inline export function beginStep(): u32 {
  savedEsp = reg32(ESP);
  return load<u32>(S_EFLAGS);
}

/**
 * After an instruction executed: retires it, delivers its fault or commits its EIP, then the
 * single-step trap and the host's stop request. Returns RUN_BUDGET to go on, or the reason the
 * run must stop. The run loop and compiled code's calls into the interpreter share it, so an
 * instruction ends the same way whoever ran it.
 */
export function finishStep(flags: u32): u32 {
  // A REP string instruction adds its iterations beyond the first itself (core/cpu/rep.ts).
  retireOne();
  // A triple fault inside the instruction itself (a task switch delivers faults of the new task
  // in place).
  if (shutdown) return RUN_SHUTDOWN;
  if (faulted) {
    const exiting = faultVector == VEC_VMEXIT;
    emulatedFault = false;
    if (!handleFault()) return stopReason();
    // An exiting instruction the VMM completed is single-stepped (and its data breakpoints
    // reported) like any other.
    if (exiting && !emulatedFault && ((flags & (FLAG_TF | FLAG_RF)) | dataHits) != 0) {
      const r = afterCompleted(flags);
      if (r != RUN_BUDGET) return r;
    }
  } else {
    setEip(nextEip);
    // TF, RF and data breakpoints (dataHits is 0 unless one is armed): one test.
    if (((flags & (FLAG_TF | FLAG_RF)) | dataHits) != 0) {
      const r = afterCompleted(flags);
      if (r != RUN_BUDGET) return r;
    }
  }
  if (load<u32>(S_STOP_REQUEST) != 0) {
    store<u32>(S_STOP_REQUEST, 0);
    return RUN_STOP;
  }
  // A host (debugger) breakpoint at the next instruction: stop before it executes.
  if ((load<u32>(S_DEBUG_ARMED) & DEBUG_ARMED_HOST) != 0 && atHostBreakpoint()) return RUN_DEBUG;
  return RUN_BUDGET;
}

/** Executes the instruction at EIP with the interpreter, as the run loop would. */
export function interpretOne(): u32 {
  const flags = beginStep();
  step();
  return finishStep(flags);
}

/** The run() is over: the instruction count and the TSC catch up with what it retired. */
export function settleRun(): void {
  const executed = endRun();
  store<u64>(S_INSN_COUNT, load<u64>(S_INSN_COUNT) + <u64>executed);
  store<u64>(S_TSC, load<u64>(S_TSC) + <u64>executed * <u64>load<u32>(S_TSC_PER_INSN));
}

function stopReason(): u32 {
  if (shutdown) return RUN_SHUTDOWN;
  return exitStop ? RUN_VMEXIT : RUN_EXCEPTION;
}

/**
 * The VMM's instruction emulator: executes the instruction at EIP once with VM exits suppressed
 * (an exit handler's "emulate and resume"). A fault it raises is delivered to the guest.
 * Returns false when run() must stop.
 */
export function emulateOnce(): bool {
  setExitsSuppressed(true);
  savedEsp = reg32(ESP);
  step();
  setExitsSuppressed(false);
  if (shutdown) return false;
  if (faulted) {
    emulatedFault = true;
    return handleFault();
  }
  setEip(nextEip);
  return true;
}

/**
 * Between instructions: the interrupt shadow, NMI, then INTR when IF=1, then HLT. Returns
 * RUN_BUDGET to go on executing, or the reason run() must stop.
 */
export function serviceEvents(): u32 {
  const eipBefore = getEip();
  if (load<u32>(S_INT_SHADOW) != 0) {
    store<u32>(S_INT_SHADOW, 0);
  } else if (load<u32>(S_NMI) != 0) {
    store<u32>(S_NMI, 0);
    store<u32>(S_HALTED, 0);
    deliverEvent(2, NO_ERROR, false, true, getEip());
    if (shutdown) return RUN_SHUTDOWN;
  } else if (serviceVirtualInterrupts(load<u32>(S_INTR) != 0)) {
    if (shutdown) return RUN_SHUTDOWN;
  } else if (load<u32>(S_INTR) != 0 && trapMode() && trapExternalInterrupt()) {
    if (shutdown) return RUN_SHUTDOWN;
  } else if (load<u32>(S_INTR) != 0 && (load<u32>(S_EFLAGS) & FLAG_IF) != 0) {
    store<u32>(S_HALTED, 0);
    const vector = hostAckInterrupt() & 0xff;
    store<u32>(S_IRQ_COUNT, load<u32>(S_IRQ_COUNT) + 1);
    deliverEvent(vector, NO_ERROR, false, true, getEip());
    if (shutdown) return RUN_SHUTDOWN;
  }
  // A delivery's own accesses (the frame) report no data breakpoint (core/cpu/debug.ts).
  dropDataHits();
  if (load<u32>(S_HALTED) != 0) return RUN_HALT;
  // An event took the CPU to a handler with a host breakpoint at its first instruction.
  if ((load<u32>(S_DEBUG_ARMED) & DEBUG_ARMED_HOST) != 0 && getEip() != eipBefore && atHostBreakpoint()) {
    return RUN_DEBUG;
  }
  return RUN_BUDGET;
}

/**
 * An instruction completed with TF or RF set before it, or matched a data breakpoint: the host's
 * watchpoint ends run() with RUN_DEBUG (after the guest's own #DB, if any, was delivered).
 * Returns RUN_BUDGET to go on.
 */
function afterCompleted(flags: u32): u32 {
  const host = takeHostWatchHit();
  if (!afterTracedInstruction(flags)) return stopReason();
  return host ? RUN_DEBUG : RUN_BUDGET;
}

/**
 * TF was set before the instruction (single-step trap, SDM vol. 3, 17.3.1.4) or it matched a
 * DR0-DR3 data breakpoint (17.3.1.2): one #DB trap with DR6.BS and DR6.Bn as they apply. RF
 * clears, as after every instruction that completes.
 */
function afterTracedInstruction(flags: u32): bool {
  const hits = takeGuestDataHits();
  if ((flags & FLAG_TF) != 0 || hits != 0) {
    let dr6 = load<u32>(S_DR + 24);
    if (hits != 0) dr6 = (dr6 & ~0xf) | hits;
    if ((flags & FLAG_TF) != 0) dr6 |= 0x4000; // DR6.BS
    store<u32>(S_DR + 24, dr6);
    if (hits != 0) store<u32>(S_EFLAGS, load<u32>(S_EFLAGS) & ~FLAG_RF);
    raise(VEC_DB, NO_ERROR);
    return handleFault();
  }
  store<u32>(S_EFLAGS, load<u32>(S_EFLAGS) & ~FLAG_RF);
  return true;
}

/** Delivers an event unless the host asked to see exceptions; false when run() must stop. */
function deliverEvent(vector: u32, error: i32, software: bool, external: bool, eip: u32): void {
  deliver(vector, error, software, external, eip);
}

/**
 * The instruction raised an exception. Faults restart the instruction (EIP and ESP as before
 * it); traps (INT n, INT3, INTO, single-step) return after it. Returns false when run() stops.
 */
function handleFault(): bool {
  if (faultVector == VEC_VMEXIT) {
    // A VM exit: the instruction did not happen (EIP and ESP as before it).
    clearFault();
    setReg32(ESP, savedEsp);
    setEip(insnEip);
    return handleVmExit();
  }
  const vector = faultVector;
  const error = faultError;
  const trap = faultIsTrap || vector == VEC_DB;
  const software = faultIsSoftware;
  clearFault();
  const eip = trap ? nextEip : insnEip;
  if (!trap) setReg32(ESP, savedEsp);
  setEip(eip);
  store<u32>(S_EXC_VECTOR, vector);
  store<u32>(S_EXC_ERROR, <u32>error);
  store<u32>(S_EXC_EIP, insnEip);
  if (load<u32>(S_STOP_ON_EXCEPTION) != 0) return false;
  if (!software || vector == 3 || vector == 4) exceptionExits(vector, error);
  // The delivery's own accesses (the frame) report no data breakpoint (core/cpu/debug.ts).
  if (trapMode() && trapIntercept(vector, error, software, eip)) {
    dropDataHits();
    return !shutdown;
  }
  deliver(vector, error, software, false, eip);
  dropDataHits();
  return !shutdown;
}

