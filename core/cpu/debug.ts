// Breakpoints: the guest's own in DR0-DR3 and the host's (a debugger's). Instruction breakpoints
// (DR7 R/W = 00, HOST_BP) are checked per instruction by the interpreter; data breakpoints
// (DR7 R/W = 01 or 11, HOST_WP) by the memory access slow path, which every access takes while
// one is armed (the TLB masks are zero then, core/mmu/tlb.ts). Everything is gated by
// DEBUG_ARMED, so the interpreter pays one load per instruction when nobody debugs and the fast
// access path nothing.
//
// SDM vol. 3, 17.2 (debug registers) and 17.3.1.1 (instruction-breakpoint exception condition):
// the breakpoint is a fault taken before the instruction executes when its linear address
// (CS base + EIP) matches an enabled DRn whose R/W field is 00; DR6.Bn reports which matched;
// EFLAGS.RF set suppresses it (the handler returns with RF = 1 to execute the instruction, and
// RF clears after it completes); the EFLAGS image pushed for it keeps RF as it was.
//
// Data breakpoints: core/mmu/watch.ts.

import {
  DEBUG_ARMED_DATA,
  DEBUG_ARMED_DR7,
  DEBUG_ARMED_HOST,
  S_DEBUG_ARMED,
  S_DR,
  S_EFLAGS,
  S_HOST_BP,
  S_HOST_BP_COUNT,
  S_HOST_WP_COUNT,
} from "../generated/layout";
import { alignmentCheck } from "../mmu/access";
import { updateTlbMasks } from "../mmu/tlb";
import { insnEip, setNextEip } from "./decode";
import { NO_ERROR, raise, VEC_DB } from "./fault";
import { CS, FLAG_RF, getEip, segBase } from "./state";

const DR6_B_MASK: u32 = 0xf;

/** DR7 enables an execution breakpoint: some Ln/Gn set with R/W = 00. */
function dr7ArmsExecution(dr7: u32): bool {
  for (let n: u32 = 0; n < 4; n++) {
    if (((dr7 >> (n << 1)) & 3) != 0 && ((dr7 >> (16 + (n << 2))) & 3) == 0) return true;
  }
  return false;
}

/** DR7 enables a data breakpoint: some Ln/Gn set with R/W = 01 or 11. */
function dr7ArmsData(dr7: u32): bool {
  for (let n: u32 = 0; n < 4; n++) {
    if (((dr7 >> (n << 1)) & 3) != 0 && (((dr7 >> (16 + (n << 2))) & 3) | 2) == 3) return true;
  }
  return false;
}

/**
 * After DR7 or the host's breakpoint and watchpoint lists changed: recomputes DEBUG_ARMED, and
 * the TLB masks, which send every access to the slow path while a data breakpoint is armed.
 */
export function updateDebugArmed(): void {
  const dr7 = load<u32>(S_DR + 28);
  let armed: u32 = dr7ArmsExecution(dr7) ? DEBUG_ARMED_DR7 : 0;
  if (load<u32>(S_HOST_BP_COUNT) != 0) armed |= DEBUG_ARMED_HOST;
  if (dr7ArmsData(dr7) || load<u32>(S_HOST_WP_COUNT) != 0) armed |= DEBUG_ARMED_DATA;
  store<u32>(S_DEBUG_ARMED, armed);
  updateTlbMasks(alignmentCheck);
}

/**
 * At the start of an instruction (insnEip set, nothing fetched): raises #DB as a fault when an
 * enabled DR0-DR3 execution breakpoint matches and RF is clear. Returns true when it did.
 */
export function instructionBreakpoint(): bool {
  if ((load<u32>(S_EFLAGS) & FLAG_RF) != 0) return false;
  const dr7 = load<u32>(S_DR + 28);
  const linear = segBase(CS) + insnEip;
  let hits: u32 = 0;
  for (let n: u32 = 0; n < 4; n++) {
    if (((dr7 >> (n << 1)) & 3) == 0) continue;
    if (((dr7 >> (16 + (n << 2))) & 3) != 0) continue;
    if (load<u32>(S_DR + (n << 2)) == linear) hits |= <u32>1 << n;
  }
  if (hits == 0) return false;
  store<u32>(S_DR + 24, (load<u32>(S_DR + 24) & ~DR6_B_MASK) | hits);
  // A fault: the frame holds this instruction's EIP (the interpreter delivers #DB at nextEip).
  setNextEip(insnEip);
  raise(VEC_DB, NO_ERROR);
  return true;
}

/** EIP is at a host breakpoint (checked between instructions while the host has some). */
export function atHostBreakpoint(): bool {
  const n = load<u32>(S_HOST_BP_COUNT);
  const linear = segBase(CS) + getEip();
  for (let i: u32 = 0; i < n && i < 8; i++) {
    if (load<u32>(S_HOST_BP + (i << 2)) == linear) return true;
  }
  return false;
}
