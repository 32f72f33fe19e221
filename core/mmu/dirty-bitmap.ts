// The two bitmaps of the dirty-page log (dirty-log.ts) in HV_DIRTY_LOG: one bit per 4 KiB frame
// of the 4 GiB guest-physical space. PENDING fills as frames are written; LOG holds what the
// last collection moved out of PENDING, for the host to read.

import { HV_DIRTY_LOG_BASE } from "../generated/layout";

export const DIRTY_BITMAP_BYTES: u32 = 0x20000;
export const DIRTY_PENDING: u32 = HV_DIRTY_LOG_BASE;
export const DIRTY_LOG: u32 = HV_DIRTY_LOG_BASE + DIRTY_BITMAP_BYTES;

/** Marks guest frame `gfn` written. */
@inline export function markDirty(gfn: u32): void {
  const p = DIRTY_PENDING + (gfn >>> 3);
  store<u8>(p, load<u8>(p) | (<u8>1 << <u8>(gfn & 7)));
}
