// Translation of guest-kernel code into the cache: starting at a linear address, copy innocuous
// instructions as they are (IDENT) and stop at a control transfer, a sensitive instruction (the
// block's callout), the end of the page, the CS limit or the block size limit. The guest's bytes
// are read through the MMU as a supervisor instruction fetch would, without raising anything: an
// instruction whose bytes cannot be fetched ends the block before it, so that its fault is raised
// by the interpreter if and when the guest really gets there.

import { clearFault, faulted } from "../cpu/fault";
import { CS } from "../cpu/state";
import { FLOW_CALL, FLOW_JCC, FLOW_JUMP, FLOW_NONE, FORM_IMM_OPSIZE } from "../generated/bt-forms";
import {
  EVENT_REASONS,
  HV_EVENTS_BASE,
  PHYS_RAM,
  PHYS_ROM,
  PHYS_TRACKED,
  RAM_BASE,
  ROM_BASE,
  ROM_BYTES,
  S_BT_BLOCKS,
  S_CR,
  S_EXC_COUNT,
  S_SEG_LIMIT,
  TLB_BASE,
  TLB_SLOW,
  TLB_VALID,
} from "../generated/layout";
import { physEntry } from "../mmu/physical";
import { tlbFill } from "../mmu/tlb";
import { countEvent, KIND_SHADOW_FAULT, KIND_TRANSLATION, WHERE_CORE } from "../virt/events";
import {
  B_BYTES,
  B_CODE,
  B_COUNT,
  B_FLAGS,
  B_FRAME_NEXT,
  B_FRAME_NEXT2,
  B_GFN,
  B_GFN2,
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
  cacheCommit,
  cacheReserve,
  cacheTrackFrames,
  NO_FRAME,
} from "./cache";
import { FORM_CALLOUT_MASK, flowOf, scanForm, scanInstruction, scanOpsize32, scanShort } from "./scan";

/** Instructions per block at most: VMware's translation unit (reference/virtualization.md 2.6). */
const MAX_INSTRUCTIONS: u32 = 12;
const MAX_BLOCK_BYTES: u32 = B_CODE + MAX_INSTRUCTIONS * 15;
const TRANSLATED_IDENT: u32 = 0;
const TRANSLATED_REWRITTEN: u32 = 1;
const BAD_FRAME: u32 = 0xfffffffe;
const PF_COUNT: u32 = S_EXC_COUNT + (14 << 2);
/** KIND_SHADOW_FAULT reason 1 (vmm/stats/events.ts ShadowFault.true): a fault the shadow MMU reflects. */
const SHADOW_TRUE_FAULTS: u32 = HV_EVENTS_BASE + (((KIND_SHADOW_FAULT * EVENT_REASONS + 1) << 1) << 2);

// Up to 15 bytes of the instruction being measured, gathered across a page boundary.
const scratch: u32 = <u32>memory.data(16);

/**
 * The host page holding the code at `lin` for a supervisor instruction fetch, filling the TLB if
 * needed, or 0 if the fetch would fault or the page is not memory the cache can copy (MMIO, open
 * bus). A fault the fill raises is withdrawn: CR2 and the fault counters are as before.
 */
export function probeFetch(lin: u32): u32 {
  let e = load<u32>(TLB_BASE + ((lin >>> 12) << 2));
  if ((e & (TLB_VALID | TLB_SLOW)) == TLB_VALID) return e & ~0xfff;
  if ((e & TLB_VALID) == 0) {
    const cr2 = load<u32>(S_CR + 8);
    const pfCount = load<u32>(PF_COUNT);
    const trueFaults = load<u32>(SHADOW_TRUE_FAULTS);
    e = tlbFill(lin, false, false);
    if (faulted) {
      clearFault();
      store<u32>(S_CR + 8, cr2);
      store<u32>(PF_COUNT, pfCount);
      store<u32>(SHADOW_TRUE_FAULTS, trueFaults);
      return 0;
    }
    if ((e & TLB_SLOW) == 0) return e & ~0xfff;
  }
  // A slow entry holds the guest-physical page: write-tracked RAM (code already translated)
  // is slow for writes only; device memory and open bus cannot be copied.
  const pe = physEntry(e & ~0xfff);
  const kind = pe & 0xf;
  return kind == PHYS_RAM || kind == PHYS_TRACKED || kind == PHYS_ROM ? pe & ~0xfff : 0;
}

/** The guest frame of a host page: a RAM frame, NO_FRAME for ROM, BAD_FRAME otherwise. */
function frameOf(host: u32): u32 {
  if (host >= RAM_BASE) return (host - RAM_BASE) >>> 12;
  if (host >= ROM_BASE && host - ROM_BASE < ROM_BYTES) return NO_FRAME;
  return BAD_FRAME;
}

/**
 * Translates the code at linear `lin` (EIP `eip`, first page at host address `host`) into a new
 * block, or returns 0 when not even its first instruction can be translated.
 */
export function translateBlock(lin: u32, eip: u32, host: u32, cs32: bool): u32 {
  const gfn = frameOf(host);
  if (gfn == BAD_FRAME) return 0;
  const b = cacheReserve(MAX_BLOCK_BYTES);
  const code = b + B_CODE;
  const pageOff = lin & 0xfff;
  const limit = load<u32>(S_SEG_LIMIT + (CS << 2));
  let host2: u32 = 0;
  let n: u32 = 0;
  let off: u32 = 0;
  let form: u32 = 0;
  let twoPages = false;
  let op32 = false;
  while (n < MAX_INSTRUCTIONS) {
    const at = pageOff + off;
    const inPage: u32 = 0x1000 - at;
    let avail = inPage < 15 ? inPage : 15;
    memory.copy(scratch, host + at, avail);
    let len = scanInstruction(scratch, avail, cs32);
    if (len == 0 && scanShort && n == 0) {
      // The first instruction straddles the page end: its bytes go on in the next page. Only
      // then is that page fetched (its walk sets the PTE's Accessed bit, as the CPU's would).
      host2 = probeFetch((lin & ~0xfff) + 0x1000);
      if (host2 != 0) {
        memory.copy(scratch + avail, host2, 15 - avail);
        avail = 15;
        len = scanInstruction(scratch, avail, cs32);
      }
    }
    if (len == 0) break;
    if (len > inPage && n > 0) break; // a straddling instruction starts a block of its own
    const last = eip + off + len - 1;
    if (last < eip + off || last > limit) break; // the interpreter raises the #GP
    memory.copy(code + off, scratch, len);
    if (len > inPage) twoPages = true;
    off += len;
    n++;
    form = scanForm;
    op32 = scanOpsize32;
    const ends = (form & FORM_CALLOUT_MASK) != 0 || flowOf(form) != FLOW_NONE;
    countEvent(KIND_TRANSLATION, ends ? TRANSLATED_REWRITTEN : TRANSLATED_IDENT, WHERE_CORE);
    if (ends || pageOff + off >= 0x1000) break;
  }
  if (n == 0) return 0;
  const gfn2 = twoPages ? frameOf(host2) : NO_FRAME;
  // An instruction straddling two linear pages that map the same frame: invalidation compares
  // write offsets with one range per frame, which cannot describe it, so it is interpreted.
  if (gfn2 == gfn) return 0;
  if (gfn2 == BAD_FRAME || !cacheTrackFrames(gfn, gfn2)) return 0;

  const flow = flowOf(form);
  let flags: u32 = BF_LIVE | (cs32 ? BF_CS32 : 0) | (twoPages ? BF_TWO_PAGES : 0) | (flow << 4);
  flags |= (form & FORM_CALLOUT_MASK) >>> 8; // callout + 1 into bits 8-15
  const csBase = lin - eip;
  if (flow == FLOW_NONE || flow == FLOW_JCC) {
    flags |= BF_SUCC0;
    store<u32>(b + B_SUCC0, csBase + eip + off);
  }
  if (flow == FLOW_JUMP || flow == FLOW_JCC || flow == FLOW_CALL) {
    // The branch displacement is the instruction's last immediate.
    const relBytes: u32 = (form & FORM_IMM_OPSIZE) != 0 ? (op32 ? 4 : 2) : 1;
    const at = code + off - relBytes;
    const rel: u32 = relBytes == 4 ? load<u32>(at) : relBytes == 2 ? <u32>load<i16>(at) : <u32>load<i8>(at);
    let target = eip + off + rel;
    if (!op32) target &= 0xffff;
    flags |= BF_SUCC1;
    store<u32>(b + B_SUCC1, csBase + target);
  }
  store<u32>(b + B_LIN, lin);
  store<u32>(b + B_HOST, host);
  store<u32>(b + B_FLAGS, flags);
  store<u32>(b + B_COUNT, n);
  store<u32>(b + B_BYTES, off);
  store<u32>(b + B_FRAME_NEXT, 0);
  store<u32>(b + B_FRAME_NEXT2, 0);
  store<u32>(b + B_HOST2, twoPages ? host2 : 0);
  store<u32>(b + B_LINK0, 0);
  store<u32>(b + B_LINK1, 0);
  store<u32>(b + B_GFN, gfn);
  store<u32>(b + B_GFN2, gfn2);
  cacheCommit(b, B_CODE + off);
  store<u32>(S_BT_BLOCKS, load<u32>(S_BT_BLOCKS) + 1);
  return b;
}
