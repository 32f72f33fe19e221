// The EPT pool: the EPT region as 4 KiB tables handed out in order. The VMM never frees one
// table: when the pool runs out it rebuilds the whole EPT (ept-fault-in.ts), as KVM zaps all
// its EPT pages when it runs out of them. The count in use lives in HV_EPT_META rather than in
// the state block, which RESET clears while the tables stay live.

import { EPT_BASE, EPT_BYTES, HV_EPT_META_BASE } from "../generated/layout";

const POOL_USED: u32 = HV_EPT_META_BASE;
export const EPT_POOL_TABLES: u32 = EPT_BYTES >>> 12;

export function eptPoolClear(): void {
  store<u32>(POOL_USED, 0);
}

/** A zeroed table's host address, or 0 when the pool is used up (EPT_BASE is never 0). */
export function eptAllocTable(): u32 {
  const n = load<u32>(POOL_USED);
  if (n >= EPT_POOL_TABLES) return 0;
  store<u32>(POOL_USED, n + 1);
  const t = EPT_BASE + (n << 12);
  memory.fill(t, 0, 0x1000);
  return t;
}

export function eptPoolUsed(): u32 {
  return load<u32>(POOL_USED);
}
