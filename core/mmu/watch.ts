// Data breakpoints as the memory access path sees them: the guest's DR0-DR3 with R/W = 01 or 11
// and the host's watchpoints (HOST_WP, a debugger's). While one is armed (DEBUG_ARMED_DATA) the
// TLB masks are zero, so every data access takes the slow path in access.ts, which calls
// watchAccess; otherwise the fast path pays nothing and the slow path one flag test. The
// interpreter reports what matched after the instruction completes (core/cpu/interp.ts).
//
// SDM vol. 3, 17.2.4-17.2.5 and 17.3.1.2 (data memory breakpoints): R/W = 01 breaks on writes,
// 11 on reads and writes (not instruction fetches); LEN 00/01/11 cover 1, 2 and 4 bytes at an
// address aligned down to the length, and 10 covers 8 bytes (defined from the Pentium 4 and Core
// on, undefined on the P6 this CPU reports; it is taken as 8 here). A breakpoint matches when any
// byte of an access falls in its range. It is a trap: the instruction completes (a write has
// already written) and #DB follows with EIP at the next instruction and DR6.Bn set; a REP string
// instruction traps after the iteration that made the access (core/cpu/rep.ts runs one
// iteration per step while data breakpoints are armed). Accesses made while delivering an
// exception or interrupt (the frame pushed on the stack) are not checked here.

import { S_DR, S_HOST_WP, S_HOST_WP_COUNT, S_HOST_WP_HIT } from "../generated/layout";

/** Access kinds for watchAccess (the host watchpoints' HOST_WP_* use the same bits). */
export const ACCESS_WRITE: u32 = 1;
export const ACCESS_READ: u32 = 2;

/**
 * Data breakpoints the current instruction's accesses matched: DR0-DR3 in bits 0-3 (DR6.B0-B3's
 * bits) and HIT_HOST for a host watchpoint. Non-zero only while DEBUG_ARMED_DATA is set, so
 * finishStep (core/cpu/interp.ts) tests it together with TF and RF.
 */
export let dataHits: u32 = 0;
const HIT_HOST: u32 = 0x10;
/** The host watchpoint matched (index) and the address accessed, for HOST_WP_HIT. */
let hostHitIndex: u32 = 0;
let hostHitLin: u32 = 0;

/** [lin, lin + size) and [base, base + len) share a byte. */
@inline function overlaps(lin: u32, size: u32, base: u32, len: u32): bool {
  return base - lin < size || lin - base < len;
}

/**
 * A data access of `size` bytes at `lin` (ACCESS_* bits; both for a read-modify-write), made
 * by an instruction while DEBUG_ARMED_DATA is set: records the breakpoints it matches.
 */
export function watchAccess(lin: u32, size: u32, kind: u32): void {
  const dr7 = load<u32>(S_DR + 28);
  for (let n: u32 = 0; n < 4; n++) {
    if (((dr7 >> (n << 1)) & 3) == 0) continue;
    const rw = (dr7 >> (16 + (n << 2))) & 3;
    // 01: writes only; 11: reads and writes; 00 (execution) and 10 (I/O) are not data.
    if (rw != 3 && !(rw == 1 && (kind & ACCESS_WRITE) != 0)) continue;
    const lenField = (dr7 >> (18 + (n << 2))) & 3;
    const len: u32 = lenField == 2 ? 8 : lenField + 1;
    if (overlaps(lin, size, load<u32>(S_DR + (n << 2)) & ~(len - 1), len)) dataHits |= <u32>1 << n;
  }
  const count = load<u32>(S_HOST_WP_COUNT);
  for (let i: u32 = 0; i < count && i < 8 && (dataHits & HIT_HOST) == 0; i++) {
    const w = S_HOST_WP + i * 12;
    if ((load<u32>(w + 8) & kind) != 0 && overlaps(lin, size, load<u32>(w), load<u32>(w + 4))) {
      dataHits |= HIT_HOST;
      hostHitIndex = i;
      hostHitLin = lin;
    }
  }
}

/** The instruction faulted, or an event was delivered: its accesses report nothing. */
export function dropDataHits(): void {
  dataHits = 0;
}

/** Takes the DR0-DR3 data breakpoints the instruction that just completed matched (bits 0-3). */
export function takeGuestDataHits(): u32 {
  const hits = dataHits & 0xf;
  dataHits &= ~0xf;
  return hits;
}

/**
 * Takes the host watchpoint hit of the instruction that just completed: true when run() must
 * stop, with HOST_WP_HIT saying which watchpoint and what address.
 */
export function takeHostWatchHit(): bool {
  if ((dataHits & HIT_HOST) == 0) return false;
  dataHits &= ~HIT_HOST;
  store<u32>(S_HOST_WP_HIT, hostHitIndex + 1);
  store<u32>(S_HOST_WP_HIT + 4, hostHitLin);
  return true;
}
