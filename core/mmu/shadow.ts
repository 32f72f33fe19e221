// Shadow page tables (MMU_SHADOW). Placeholder until the shadow MMU lands: every entry point is
// a no-op and shadowFill is never reached while MMU_MODE is not MMU_SHADOW.

export function shadowInvlpg(lin: u32): void {}
export function shadowNewCr3(v: u32): void {}
export function shadowControlChange(): void {}
/** A write reached a guest frame the shadow MMU tracks. */
export function shadowTrackedWrite(gpa: u32): void {}
/** TLB fill through the shadow tables; 0 after raising the guest's #PF. */
export function shadowFill(lin: u32, write: bool, user: bool): u32 {
  unreachable();
  return 0;
}

/** Drops every shadow table (the VM was (re)configured). */
export function shadowReset(): void {}
