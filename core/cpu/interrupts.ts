// Delivery of exceptions and interrupts: the real-mode vector table here, protected mode and
// virtual-8086 mode in protected/interrupt.ts; the double-fault and triple-fault rules.

import { S_EXC_ERROR, S_EXC_VECTOR, S_IDTR_BASE, S_IDTR_LIMIT, S_MODE } from "../generated/layout";
import { readLin16 } from "../mmu/access";
import { writeEflags } from "./control";
import { insnEip, invalidateFetch } from "./decode";
import { clearFault, faulted, faultError, faultVector, raise, VEC_DF, VEC_GP } from "./fault";
import { getEflags } from "./flags";
import { interruptProtected } from "./protected/interrupt";
import { push16 } from "./stack";
import { CS, FLAG_AC, FLAG_IF, FLAG_RF, FLAG_TF, getEip, loadSegmentReal, segSel, setEip } from "./state";

/** Set when the CPU has shut down after a triple fault. */
export let shutdown: bool = false;
export function clearShutdown(): void {
  shutdown = false;
}

@inline function isContributory(v: u32): bool {
  return v == 0 || (v >= 10 && v <= 13);
}

/**
 * Delivers an event through the IVT or IDT. `eip` is the return address the frame holds.
 * `software` is INT n/INT3/INTO (gate DPL checked, no error code); `external` marks hardware
 * interrupts (error codes of faults during delivery get EXT set). Handles a fault during
 * delivery by the double-fault rules (SDM vol. 3, 6.15, table 6-5).
 */
export function deliver(vector: u32, error: i32, software: bool, external: bool, eip: u32): void {
  setEip(eip);
  deliverOnce(vector, error, software, external);
  if (!faulted) return;
  // A second exception while delivering the first.
  const second = faultVector;
  const secondError = faultError;
  clearFault();
  if (software) {
    // INT n/INT3/INTO are not exceptions: a fault while delivering one (gate DPL, IOPL in
    // virtual-8086 mode, not-present gate, stack) is a fault of the instruction, reported at
    // its address and delivered as a first event (SDM vol. 2 "INT n"; vol. 3 6.15 table 6-5).
    deliver(second, secondError, false, false, insnEip);
    return;
  }
  if (vector == VEC_DF) {
    shutdown = true;
    return;
  }
  const first = vector;
  const df = (isContributory(first) && isContributory(second)) || (first == 14 && (second == 14 || isContributory(second)));
  if (df) {
    deliverOnce(VEC_DF, 0, false, false);
    if (faulted) {
      clearFault();
      shutdown = true;
    }
    return;
  }
  // Benign combination: the second is handled serially.
  deliverOnce(second, secondError, false, false);
  if (faulted) {
    const third = faultVector;
    clearFault();
    if (isContributory(third) || third == 14) {
      deliverOnce(VEC_DF, 0, false, false);
      if (faulted) {
        clearFault();
        shutdown = true;
      }
    } else {
      shutdown = true;
    }
  }
}

function deliverOnce(vector: u32, error: i32, software: bool, external: bool): void {
  // The exception being delivered is "the last exception" the host reports (a triple fault
  // names the double fault whose delivery failed, not the event that started the chain).
  if (!software && !external) {
    store<u32>(S_EXC_VECTOR, vector);
    store<u32>(S_EXC_ERROR, <u32>error);
  }
  if (load<u32>(S_MODE) == 0) deliverReal(vector);
  else interruptProtected(vector, error, software, external);
  invalidateFetch();
}

/** Real-address mode: push FLAGS, CS, IP; clear IF, TF, AC; jump through the IVT. */
function deliverReal(vector: u32): void {
  const base = load<u32>(S_IDTR_BASE);
  if ((vector << 2) + 3 > load<u32>(S_IDTR_LIMIT)) {
    raise(VEC_GP, <i32>((vector << 3) | 2));
    return;
  }
  const ip = readLin16(base + (vector << 2));
  const cs = readLin16(base + (vector << 2) + 2);
  if (faulted) return;
  const flags = getEflags();
  push16(flags);
  if (faulted) return;
  push16(segSel(CS));
  if (faulted) return;
  push16(getEip());
  if (faulted) return;
  writeEflags(0, FLAG_IF | FLAG_TF | FLAG_AC | FLAG_RF);
  loadSegmentReal(CS, cs);
  setEip(ip);
}

