// Segment register loads in every mode (MOV Sreg, POP Sreg, LDS/LES/LFS/LGS/LSS, far transfers).
// Real and virtual-8086 mode: base = selector * 16. Protected mode: descriptor checks.
// PLACEHOLDER for protected mode: replaced by the full implementation.

import { gp } from "../fault";
import { loadSegmentReal } from "../state";
import { S_MODE } from "../../generated/layout";

/** Loads data/stack segment register `seg` (not CS) with `sel`, raising #GP/#SS/#NP on failure. */
export function loadSegment(seg: u32, sel: u32): void {
  if (load<u32>(S_MODE) != 1) {
    loadSegmentReal(seg, sel);
    return;
  }
  gp(sel & 0xfffc);
}
