// Coherence of the translation cache with guest memory. Every frame holding translated code is
// write-tracked (TRACK_BT), so every guest write to it arrives here after it was stored: the
// blocks whose bytes it overlaps are invalidated, and the frame is untracked once no block is
// left on it. A block that writes its own code stops being used after that instruction (the
// executor forgets it), so self-modifying code sees its new bytes.

import { B_BYTES, B_GFN, B_LIN, blockLive, cacheFlush, cacheKill, frameListHead, frameListNext, frameListSet, frameListSetNext } from "./cache";
import { btForgetAll, btForgetBlock } from "./execute";
import { S_BT_CODE_WRITES, S_BT_INVALIDATED } from "../generated/layout";
import { onBtCodeWrite, TRACK_BT, untrackFrame } from "../mmu/write-tracking";

/** A write of `size` bytes at `gpa` reached a frame holding translated code. */
export function btTrackedWrite(gpa: u32, size: u32): void {
  store<u32>(S_BT_CODE_WRITES, load<u32>(S_BT_CODE_WRITES) + 1);
  const gfn = gpa >>> 12;
  const lo = gpa & 0xfff;
  const hi = lo + size; // physical.ts splits writes at page boundaries
  let b = frameListHead(gfn);
  let kept: u32 = 0;
  let killed: u32 = 0;
  while (b != 0) {
    const next = frameListNext(b, gfn);
    if (blockLive(b)) {
      if (overlaps(b, gfn, lo, hi)) {
        cacheKill(b);
        btForgetBlock(b);
        killed++;
      } else {
        frameListSetNext(b, gfn, kept);
        kept = b;
      }
    }
    b = next;
  }
  frameListSet(gfn, kept);
  if (kept == 0) untrackFrame(gfn, TRACK_BT);
  if (killed != 0) store<u32>(S_BT_INVALIDATED, load<u32>(S_BT_INVALIDATED) + killed);
}

/** Whether block `b`'s bytes in frame `gfn` intersect the page offsets [lo, hi). */
function overlaps(b: u32, gfn: u32, lo: u32, hi: u32): bool {
  const start = load<u32>(b + B_LIN) & 0xfff;
  const end = start + load<u32>(b + B_BYTES); // may run into the next page
  if (load<u32>(b + B_GFN) == gfn) return lo < end && hi > start;
  // The block's second page: its bytes there are [0, end - 4096).
  return lo < end - 0x1000;
}

/** Drops every translation (the VM was (re)configured). */
export function btReset(): void {
  cacheFlush();
  btForgetAll();
}

onBtCodeWrite(btTrackedWrite);
