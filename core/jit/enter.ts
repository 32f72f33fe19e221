// The run loop's side of the JIT: at an instruction boundary with nothing pending, find the
// compiled block for the code at EIP and run it, or count the miss and have the host compile the
// code once it is hot. Also the routines compiled code calls back into the core.
//
// A block runs only when its whole instruction count fits in what is left of run()'s budget, so
// an icount run retires exactly its budget with the JIT as without it; interrupts, NMI and the
// host's stop request are only ever raised by instructions that compiled code leaves to the
// interpreter (jitStep), which stops the block at that boundary.

import { finishStep, beginStep, step } from "../cpu/interp";
import { budgetRemaining, retiredInRun } from "../cpu/rep";
import { faulted } from "../cpu/fault";
import {
  RUN_BUDGET,
  S_EFLAGS,
  S_EIP,
  S_HALTED,
  S_INTR,
  S_JIT_COMPILE_FAILED,
  S_JIT_COMPILED,
  S_JIT_ENTRIES,
  S_JIT_INSNS,
  S_JIT_LOOKUP_MISSES,
  S_JIT_TABLE_BASE,
  S_JIT_THRESHOLD,
  S_SEG_BASE,
  S_SEG_FLAT,
  S_SEG_LIMIT,
  S_SS_DB,
  S_CS_DB,
  S_DEBUG_ARMED,
  S_TLB_READ_MASK,
  TLB_BASE,
  TLB_VALID,
} from "../generated/layout";
import { hostJitCompile } from "../host";
import { TRANSLATION_KIND_COMPILED } from "../generated/abi";
import { countEvent, KIND_TRANSLATION, WHERE_CORE } from "../virt/events";
import {
  allocateBlock,
  BLOCK_BT_KERNEL,
  BLOCK_CS32,
  BLOCK_FLAT,
  BLOCK_MODE,
  BLOCK_SS32,
  blockBytes,
  blockCount,
  blockFlags,
  blockHost,
  commitBlock,
  heatBackOff,
  heatUp,
  jitKills,
  linkOwner,
  lookupSlot,
  releaseBlock,
  slotBlock,
  slotLin,
} from "./blocks";

const FLAG_TF_RF: u32 = 0x10100;
const CS_BASE: u32 = S_SEG_BASE + 4;
const CS_LIMIT: u32 = S_SEG_LIMIT + 4;
/** SEG_FLAT's bits for ES, SS and DS. */
const FLAT_SEGMENTS: u32 = 0b1101;

/** A reason run() must stop that arose inside compiled code (RUN_BUDGET: none). */
export let jitStop: u32 = RUN_BUDGET;
/** jitKills when the executing block was entered. */
let killsAtEntry: u32 = 0;
/** Instructions compiled code handed to the interpreter that faulted or exited, ever. */
export let jitFaulted: u32 = 0;

/** The CS and SS sizes and whether ES, SS and DS are flat: BLOCK_MODE's bits as they are now. */
@inline function modeFlags(): u32 {
  return (
    (load<u32>(S_CS_DB) != 0 ? BLOCK_CS32 : 0) |
    (load<u32>(S_SS_DB) != 0 ? BLOCK_SS32 : 0) |
    ((load<u32>(S_SEG_FLAT) & FLAT_SEGMENTS) == FLAT_SEGMENTS ? BLOCK_FLAT : 0)
  );
}

/**
 * Runs the compiled block for the code at EIP if there is one that fits (the caller checked that
 * no event is pending). Returns false when the instruction must be interpreted instead.
 */
export function jitTryBlock(): bool {
  const b = jitFindBlock(0);
  if (b == 0) return false;
  jitEnter(b - 1);
  return true;
}

/**
 * The compiled block (+ 1) to run at EIP, compiling the code if it has just become hot, or 0.
 * `kind` is 0 or BLOCK_BT_KERNEL (the bt mode's kernel code: sensitive instructions are
 * callouts), part of what a block must match.
 */
export function jitFindBlock(kind: u32): u32 {
  if ((load<u32>(S_EFLAGS) & FLAG_TF_RF) != 0) return 0;
  const eip = load<u32>(S_EIP);
  const lin = load<u32>(CS_BASE) + eip;
  const slot = lookupSlot(lin);
  const te = load<u32>(TLB_BASE + ((lin >>> 12) << 2));
  // The code page must be readable at this CPL through the TLB (as the interpreter's fetch
  // would find it); otherwise the interpreter fills the entry or raises the fault.
  if ((te & load<u32>(S_TLB_READ_MASK)) != TLB_VALID) return 0;
  const host = te & ~0xfff;
  const flags = modeFlags() | kind;
  let b1 = slotBlock(slot);
  if (b1 == 0 || slotLin(slot) != lin || !fits(b1 - 1, host, flags)) {
    store<u64>(S_JIT_LOOKUP_MISSES, load<u64>(S_JIT_LOOKUP_MISSES) + 1);
    if (!heatUp(slot, lin, load<u32>(S_JIT_THRESHOLD))) return 0;
    // Hot: compile it and run it now (with a threshold of 1, code runs compiled from its first
    // execution on).
    b1 = compile(lin, eip, host, flags);
    if (b1 == 0) {
      heatBackOff(load<u32>(S_JIT_THRESHOLD));
      return 0;
    }
  }
  const b = b1 - 1;
  // The whole block inside the budget and inside the CS limit (a smaller CS than at compile
  // time: the interpreter raises the fetch fault where it belongs).
  if (<i32>blockCount(b) > budgetRemaining() || eip + blockBytes(b) - 1 > load<u32>(CS_LIMIT)) return 0;
  return b1;
}

/** Block `b` was compiled from the code now mapped at this page, for this CS and SS size. */
@inline function fits(b: u32, host: u32, flags: u32): bool {
  return blockHost(b) == host && (blockFlags(b) & (BLOCK_MODE | BLOCK_BT_KERNEL)) == flags;
}

/** Runs block `b` (jitFindBlock's answer - 1). */
export function jitEnter(b: u32): void {
  const before = retiredInRun();
  killsAtEntry = jitKills();
  store<u64>(S_JIT_ENTRIES, load<u64>(S_JIT_ENTRIES) + 1);
  // The trampoline: a block answers the table index of the block it chains to (a chain link,
  // vmm/jit/emit.ts chainTo), or 0 to go back to the run loop.
  let next = call_indirect<u32>(load<u32>(S_JIT_TABLE_BASE) + b);
  while (next != 0) next = call_indirect<u32>(next);
  store<u64>(S_JIT_INSNS, load<u64>(S_JIT_INSNS) + <u64>(retiredInRun() - before));
}

/** Has the host compile the code at `lin`: the new block + 1, or 0. */
function compile(lin: u32, eip: u32, host: u32, flags: u32): u32 {
  const off = lin & 0xfff;
  let avail: u32 = 0x1000 - off;
  const limit = load<u32>(CS_LIMIT);
  if (eip > limit) return 0;
  if (limit - eip + 1 < avail && limit - eip + 1 != 0) avail = limit - eip + 1;
  const b = allocateBlock();
  const r = hostJitCompile(b, eip, host + off, avail, flags);
  if (r == 0) {
    releaseBlock(b);
    store<u32>(S_JIT_COMPILE_FAILED, load<u32>(S_JIT_COMPILE_FAILED) + 1);
    return 0;
  }
  // r: the entry basic block's instructions | the region's << 8 | its byte span << 16.
  if (!commitBlock(b, lin, host, flags, r & 0xff, r >>> 16)) return 0;
  store<u32>(S_JIT_COMPILED, load<u32>(S_JIT_COMPILED) + 1);
  if ((flags & BLOCK_BT_KERNEL) != 0) {
    countEvent(KIND_TRANSLATION, TRANSLATION_KIND_COMPILED, WHERE_CORE, (r >>> 8) & 0xff);
  }
  return b + 1;
}

// ---- called by compiled code ------------------------------------------------------------------

/**
 * Compiled code hands the instruction at `eip` to the interpreter (a form it has no emitter for,
 * or a memory access off its fast path). Returns 0 when the block may go on at `next`, 1 when it
 * must return to the run loop: the instruction went elsewhere (a branch, a fault delivered, a VM
 * exit), something is pending, the run must stop, or a write made compiled code stale.
 */
export function jitStep(eip: u32, next: u32): u32 {
  store<u32>(S_EIP, eip);
  const modes = modeFlags();
  const flags = beginStep();
  step();
  if (faulted) jitFaulted++;
  const r = finishStep(flags);
  if (r != RUN_BUDGET) {
    jitStop = r;
    return 1;
  }
  if (jitKills() != killsAtEntry) return 1;
  if ((load<u64>(S_INTR) | load<u64>(S_HALTED)) != 0) return 1;
  if ((load<u32>(S_EFLAGS) & FLAG_TF_RF) != 0) return 1;
  if (budgetRemaining() <= 0) return 1;
  if (load<u32>(S_EIP) != next) return 1;
  // A segment load (MOV SS, POP DS, ...) changed what the block was compiled for.
  if (modeFlags() != modes) return 1;
  // The instruction may have flushed the code page's TLB entry (a shadow page-table update, for
  // one): the interpreter would take a TLB miss fetching the next instruction, so the block
  // stops and the run loop's lookup (which checks the entry) lets the interpreter take it.
  const lin = load<u32>(CS_BASE) + next;
  return (load<u32>(TLB_BASE + ((lin >>> 12) << 2)) & load<u32>(S_TLB_READ_MASK)) != TLB_VALID ? 1 : 0;
}

/**
 * Compiled code leaves for the constant EIP `target` and its chain-link cell `cell` was stale or
 * empty: links the cell to the block compiled for `target` when there is one that the code
 * leaving could enter itself (its CS and SS sizes and kind, the page mapped now, the CS limit),
 * and returns its function-table index if it also fits in the budget, else 0 (the code returns
 * to the run loop). A failed link is not looked up again until a block is compiled or dropped.
 * Cell: [table index (0: none), S_JIT_KILLS when made, host page | S_JIT_COMPILED on failure,
 * the block's entry count].
 */
export function jitLink(cell: u32, target: u32): u32 {
  const kills = jitKills();
  const compiled = load<u32>(S_JIT_COMPILED);
  if (load<u32>(cell) == 0 && load<u32>(cell + 4) == kills && load<u32>(cell + 8) == compiled) return 0;
  if (load<u32>(S_DEBUG_ARMED) != 0) return 0;
  const lin = load<u32>(CS_BASE) + target;
  const te = load<u32>(TLB_BASE + ((lin >>> 12) << 2));
  const slot = lookupSlot(lin);
  const b1 = slotBlock(slot);
  const flags = blockFlags(linkOwner(cell)) & (BLOCK_MODE | BLOCK_BT_KERNEL);
  if (
    (te & load<u32>(S_TLB_READ_MASK)) != TLB_VALID ||
    b1 == 0 ||
    slotLin(slot) != lin ||
    !fits(b1 - 1, te & ~0xfff, flags) ||
    target + blockBytes(b1 - 1) - 1 > load<u32>(CS_LIMIT)
  ) {
    store<u32>(cell, 0);
    store<u32>(cell + 4, kills);
    store<u32>(cell + 8, compiled);
    return 0;
  }
  const index = load<u32>(S_JIT_TABLE_BASE) + b1 - 1;
  const count = blockCount(b1 - 1);
  store<u32>(cell, index);
  store<u32>(cell + 4, kills);
  store<u32>(cell + 8, te & ~0xfff);
  store<u32>(cell + 12, count);
  return <i32>count <= budgetRemaining() ? index : 0;
}

/** Takes the pending stop reason (run() ends with it). */
export function takeJitStop(): u32 {
  const r = jitStop;
  jitStop = RUN_BUDGET;
  return r;
}
