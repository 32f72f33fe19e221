// The run loop's side of the binary translator: in the bt mode every instruction goes through
// btStep. Guest-kernel code (CPL 0, protected mode) executes from the translation cache: the
// decoder's fetch is pointed at the block's copy of the bytes while EIP stays the guest's, so the
// interpreter's semantics, faults and interrupts are those of native execution. A block's
// callout runs through callouts.ts. Guest user code runs directly and real-mode code is
// interpreted, both without the cache.
//
// Between blocks, a block that completed records its direct successors; the next block is taken
// from its chain link when the guest went there (no lookup), else looked up in the hash table
// (and linked, when the successor was a direct one). After an indirect branch the lookup is
// Adams & Agesen's indirect-branch cost: it is counted as that callout.

import { fetchFromCopy, invalidateFetch, nextEip } from "../cpu/decode";
import { faulted } from "../cpu/fault";
import { step } from "../cpu/interp";
import { CS, csIs32, getEip } from "../cpu/state";
import { CALLOUT_INDIRECT_BRANCH_LOOKUP, CALLOUT_PAGE_TABLE_WRITE, FLOW_INDIRECT } from "../generated/bt-forms";
import {
  EVENT_REASONS,
  HV_EVENTS_BASE,
  MODE_PROTECTED,
  MODE_REAL,
  S_BT_CHAINED,
  S_BT_LOOKUPS,
  S_CPL,
  S_IRQ_COUNT,
  S_MODE,
  S_SEG_BASE,
  S_SEG_LIMIT,
  S_TLB_READ_MASK,
  TLB_BASE,
  TLB_SLOW,
  TLB_VALID,
} from "../generated/layout";
import { tlbGeneration } from "../mmu/tlb";
import { countEvent, KIND_CALLOUT, KIND_GUEST_INSTR, KIND_SHADOW_FAULT, WHERE_CORE } from "../virt/events";
import {
  B_BYTES,
  B_CODE,
  B_COUNT,
  B_FLAGS,
  B_HOST,
  B_HOST2,
  B_LIN,
  B_LINK0,
  B_LINK1,
  B_SUCC0,
  B_SUCC1,
  BF_CS32,
  BF_LIVE,
  BF_SUCC0,
  BF_SUCC1,
  BF_TWO_PAGES,
  cacheEpoch,
  cacheKill,
  cacheLookup,
} from "./cache";
import { btCallout } from "./callouts";
import { probeFetch, translateBlock } from "./translate";

const EXEC_DIRECT: u32 = 0;
const EXEC_CACHE: u32 = 1;
const EXEC_INTERPRETED: u32 = 2;
/** KIND_SHADOW_FAULT reason 2: a write reached a guest page-table page the shadow MMU tracks. */
const SHADOW_PT_WRITE: u32 = 2;
const PT_WRITES: u32 = HV_EVENTS_BASE + (((KIND_SHADOW_FAULT * EVENT_REASONS + SHADOW_PT_WRITE) << 1) << 2);

// CPL and MODE are adjacent words: CPL 0 in protected mode reads as one u64.
const KERNEL: u64 = <u64>MODE_PROTECTED << 32;

/** The block executing, its instructions not yet executed (0: none) and its next one's address. */
let cur: u32 = 0;
let left: u32 = 0;
let expectLin: u32 = 0;
/** The block that just completed, whose successor comes next (0 after anything else). */
let prev: u32 = 0;
/** External interrupts delivered when it completed (one arriving before its successor is no branch). */
let prevIrqs: u32 = 0;
/**
 * The last kernel instruction to complete, from the cache or from compiled code, was an indirect
 * branch: the next kernel block entered (by either) pays the lookup callout, unless an interrupt
 * came first. One flag for both keeps the count the same with the JIT on or off.
 */
let indirectPending: bool = false;
/** The fetch window over the current block's copy, in EIP space, and the TLB generation it is for. */
let winStart: u32 = 0;
let winEnd: u32 = 0;
let winBias: u32 = 0;
let winGen: u32 = 0;
/** Executing guest-kernel translations (fetch may point into the cache; page-table writes are callouts). */
let inCache: bool = false;
/** Shadow page-table writes counted when the current block was entered. */
let ptWritesSeen: u32 = 0;

/**
 * Executes one guest instruction in the bt mode (the run loop does the rest, as for step()).
 * Each instruction is counted as executed from the cache when it completes (a faulting one is
 * not), as compiled kernel code counts its instructions, so the counts agree at any point.
 */
@inline export function btStep(): void {
  if (load<u64>(S_CPL) != KERNEL) {
    outsideKernel();
    return;
  }
  const eip = getEip();
  const lin = load<u32>(S_SEG_BASE + (CS << 2)) + eip;
  if (left == 0 || lin != expectLin) {
    if (!enterBlock(lin, eip)) {
      interpretOne();
      return;
    }
  } else if (winGen != tlbGeneration) {
    // A TLB flush inside the block dropped the window.
    fetchFromCopy(winStart, winEnd, winBias);
    winGen = tlbGeneration;
  }
  if (left == 1) {
    lastInstruction();
    return;
  }
  step();
  if (!faulted) countCached();
  if (faulted || left == 0) {
    leaveBlock();
    return;
  }
  left--;
  if (nextEip == eip) {
    // A REP string instruction that stopped between iterations (core/cpu/rep.ts): it goes on
    // from a block that starts at it, so this one is left here.
    leaveBlock();
    return;
  }
  expectLin = lin + (nextEip - eip);
  // A flush took the code page's TLB entry (a shadow page-table update, for one): the block
  // ends here, and the next one's entry refills it, where compiled kernel code stops too
  // (core/jit/enter.ts jitStep), so that page walks are the same with the JIT on or off.
  if (winGen != tlbGeneration && (load<u32>(TLB_BASE + ((expectLin >>> 12) << 2)) & load<u32>(S_TLB_READ_MASK)) != TLB_VALID) {
    leaveBlock();
  }
}

/** The block's last instruction: its callout, its branch, or the one before the page end. */
function lastInstruction(): void {
  const callout = (load<u32>(cur + B_FLAGS) >> 8) & 0xff;
  if (callout != 0) btCallout(callout - 1);
  else step();
  if (!faulted) countCached();
  if (faulted || left == 0) {
    leaveBlock();
    return;
  }
  left = 0;
  prev = cur;
  prevIrqs = load<u32>(S_IRQ_COUNT);
  indirectPending = ((load<u32>(cur + B_FLAGS) >> 4) & 7) == FLOW_INDIRECT;
}

/** The block ends early: the run loop delivers a fault, or the block's code was overwritten. */
function leaveBlock(): void {
  left = 0;
  prev = 0;
  indirectPending = false;
}

/** One instruction completed from the cache. */
@inline function countCached(): void {
  countEvent(KIND_GUEST_INSTR, EXEC_CACHE, WHERE_CORE);
}

/** Leaving the cache: settles the counts of the block that was executing. */
function settle(): void {
  left = 0;
  prev = 0;
  indirectPending = false;
  notePageTableWrites();
  invalidateFetch();
  inCache = false;
}

/**
 * Writes to shadow-tracked page tables since the block was entered, as "page-table write"
 * callouts (VMware's adaptive BT turns such stores into callouts). The shadow MMU's counter
 * also sees the page walker's accessed/dirty updates made while the block ran.
 */
@inline function notePageTableWrites(): void {
  const n = load<u32>(PT_WRITES);
  if (n != ptWritesSeen) {
    countEvent(KIND_CALLOUT, CALLOUT_PAGE_TABLE_WRITE, WHERE_CORE, n - ptWritesSeen);
    ptWritesSeen = n;
  }
}

/**
 * Whether the code at EIP runs outside the cache "directly" (user code, virtual-8086 code): the
 * run loop may run it compiled by the JIT, after btLeaveCache, counting it as direct execution.
 */
@inline export function btDirectCode(): bool {
  return load<u64>(S_CPL) != KERNEL && load<u32>(S_MODE) != MODE_REAL;
}

/** Leaving the cache for directly executed code: settles the block that was executing. */
export function btLeaveCache(): void {
  if (inCache) settle();
}

/** Instructions executed directly (outside the cache) by someone else: the JIT's user code. */
export function btCountDirect(n: u32): void {
  if (n != 0) countEvent(KIND_GUEST_INSTR, EXEC_DIRECT, WHERE_CORE, n);
}

/** User code (directly) and real-mode code (interpreted): the normal interpreter, no cache. */
function outsideKernel(): void {
  if (inCache) settle();
  step();
  if (!faulted) countEvent(KIND_GUEST_INSTR, load<u32>(S_MODE) == MODE_REAL ? EXEC_INTERPRETED : EXEC_DIRECT, WHERE_CORE);
}

/** Kernel code the cache cannot hold (its bytes cannot be fetched, or are not a valid form). */
function interpretOne(): void {
  if (inCache) settle();
  invalidateFetch();
  step();
  if (!faulted) countEvent(KIND_GUEST_INSTR, EXEC_INTERPRETED, WHERE_CORE);
}

/**
 * Makes the block for `lin` current: the chained successor of the block that just completed,
 * or a hash lookup, or a new translation. False when the instruction must be interpreted.
 */
function enterBlock(lin: u32, eip: u32): bool {
  if (inCache) {
    left = 0; // an interrupt or a fault left the previous block
    notePageTableWrites();
  } else ptWritesSeen = load<u32>(PT_WRITES);
  let host = load<u32>(TLB_BASE + ((lin >>> 12) << 2));
  if ((host & (TLB_VALID | TLB_SLOW)) == TLB_VALID) host &= ~0xfff;
  else host = probeFetch(lin);
  if (host == 0) return false;
  const cs32 = csIs32();
  let from = prev;
  prev = 0;
  let b: u32 = 0;
  // (An indirect branch's block has no direct successor: its next block is always looked up.)
  if (from != 0) {
    const f = load<u32>(from + B_FLAGS);
    if ((f & BF_SUCC0) != 0 && lin == load<u32>(from + B_SUCC0)) b = follow(from + B_LINK0, host, cs32);
    else if ((f & BF_SUCC1) != 0 && lin == load<u32>(from + B_SUCC1)) b = follow(from + B_LINK1, host, cs32);
    if (b != 0) store<u32>(S_BT_CHAINED, load<u32>(S_BT_CHAINED) + 1);
  }
  indirectPending = indirectPending && b == 0;
  if (b == 0) {
    store<u32>(S_BT_LOOKUPS, load<u32>(S_BT_LOOKUPS) + 1);
    payIndirectLookup();
    b = cacheLookup(lin, host, cs32);
    if (b != 0 && (load<u32>(b + B_FLAGS) & BF_TWO_PAGES) != 0 && !secondPageMatches(b, lin)) {
      cacheKill(b); // the guest remapped the page the instruction ends in
      b = 0;
    }
    if (b == 0) {
      const epoch = cacheEpoch;
      b = translateBlock(lin, eip, host, cs32);
      if (b == 0) return false;
      if (cacheEpoch != epoch) from = 0; // the cache was emptied to make room
    }
    if (from != 0) link(from, lin, b);
  }
  const bytes = load<u32>(b + B_BYTES);
  let end = eip + bytes;
  const limit = load<u32>(S_SEG_LIMIT + (CS << 2));
  if (end - 1 > limit) end = limit + 1; // a smaller CS than at translation: the fetch faults
  if (end <= eip) return false;
  cur = b;
  left = load<u32>(b + B_COUNT);
  expectLin = lin;
  winStart = eip;
  winEnd = end;
  winBias = b + B_CODE - eip;
  fetchFromCopy(winStart, winEnd, winBias);
  winGen = tlbGeneration;
  inCache = true;
  return true;
}

/** The block a chain link points to, if it is alive and fits the current mapping and CS. */
function follow(slot: u32, host: u32, cs32: bool): u32 {
  const t = load<u32>(slot);
  if (t == 0) return 0;
  const f = load<u32>(t + B_FLAGS);
  if ((f & BF_LIVE) == 0) {
    store<u32>(slot, 0); // invalidated since it was linked: cut the chain
    return 0;
  }
  if (load<u32>(t + B_HOST) != host || ((f & BF_CS32) != 0) != cs32) return 0;
  if ((f & BF_TWO_PAGES) != 0 && !secondPageMatches(t, load<u32>(t + B_LIN))) return 0;
  return t;
}

/** Links `from` to `b` when `lin` is one of its direct successors. */
function link(from: u32, lin: u32, b: u32): void {
  const f = load<u32>(from + B_FLAGS);
  if ((f & BF_SUCC0) != 0 && lin == load<u32>(from + B_SUCC0)) store<u32>(from + B_LINK0, b);
  else if ((f & BF_SUCC1) != 0 && lin == load<u32>(from + B_SUCC1)) store<u32>(from + B_LINK1, b);
}

function secondPageMatches(b: u32, lin: u32): bool {
  const host2 = probeFetch((lin & ~0xfff) + 0x1000);
  return host2 != 0 && host2 == load<u32>(b + B_HOST2);
}

/**
 * Forgets a block that was invalidated (it may be the one executing, whose current instruction
 * completes from its copy, or the one just completed).
 */
export function btForgetBlock(b: u32): void {
  if (b == cur) left = 0;
  if (b == prev) {
    prev = 0;
    indirectPending = false;
  }
}

/** Forgets every block (the cache was emptied): fetch must not point into it any more. */
export function btForgetAll(): void {
  if (inCache) settle();
  cur = 0;
}

/** After an indirect branch, the next kernel block's lookup is Adams & Agesen's indirect-branch cost. */
function payIndirectLookup(): void {
  if (indirectPending && load<u32>(S_IRQ_COUNT) == prevIrqs) {
    countEvent(KIND_CALLOUT, CALLOUT_INDIRECT_BRANCH_LOOKUP, WHERE_CORE);
  }
  indirectPending = false;
}

// ---- guest-kernel code compiled to WebAssembly (the JIT's translations; compiled.ts) ----------

/** The code at EIP is guest-kernel code, which the bt mode translates (CPL 0, protected mode). */
@inline export function btKernelCode(): bool {
  return load<u64>(S_CPL) == KERNEL;
}

/** No cached block is part-way through: compiled code may take over at EIP. */
export function btAtBlockBoundary(): bool {
  return left == 0 || load<u32>(S_SEG_BASE + (CS << 2)) + getEip() != expectLin;
}

/**
 * Kernel code compiled to wasm is about to run: it is a translation too, so the cache's
 * accounting goes on (page-table writes, the indirect-branch lookup its entry pays), but the
 * fetch window over a cached copy is closed: the callouts it makes fetch from guest memory.
 */
export function btEnterCompiled(): void {
  if (inCache) {
    left = 0;
    notePageTableWrites();
  } else ptWritesSeen = load<u32>(PT_WRITES);
  prev = 0;
  payIndirectLookup();
  invalidateFetch();
  inCache = true;
}

/** Compiled kernel code completed an indirect branch (RET, JMP/CALL r/m, IRET). */
export function btNoteIndirect(): void {
  prevIrqs = load<u32>(S_IRQ_COUNT);
  indirectPending = true;
}

/**
 * run() ends: page-table writes made since the last block entry are counted now, so that the
 * counters agree at every run boundary however the translations were entered (chained compiled
 * blocks enter each other without the run loop).
 */
export function btEndRun(): void {
  if (inCache) notePageTableWrites();
}

/** Kernel instructions that completed in compiled code: executed from the translations. */
export function btCountCompiled(n: u32): void {
  if (n != 0) countEvent(KIND_GUEST_INSTR, EXEC_CACHE, WHERE_CORE, n);
}
