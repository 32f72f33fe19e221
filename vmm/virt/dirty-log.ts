// Dirty-page logging for live migration's pre-copy rounds, from EPT's dirty flags (ept-dirty.ts
// in the core): which guest frames the guest wrote since the last collection.
//
// Guest writes made through EPT set the leaves' dirty flags; writes that bypass EPT are marked
// directly (core/mmu/ept-dirty.ts), as KVM's own writes call mark_page_dirty: the core's (the
// kvmclock page, pv batches) and the host's through Cpu.writePhysical or device DMA through the
// Vm's GuestMemory (vmm/guest-memory.ts), which end in hostWroteGuest.

import type { Cpu } from "../cpu.js";

/** The core's dirty-log exports (core/mmu/ept-dirty.ts). */
interface DirtyLogExports {
  eptCollectDirty(): number;
  eptDirtyLog(): number;
}

/** Guest frames written since the previous collection. */
export interface DirtyFrames {
  /** Guest frame numbers (guest-physical address / 4096), ascending. */
  frames: number[];
  /** How many the core counted (equals frames.length). */
  count: number;
}

const BITMAP_WORDS = (1 << 20) / 32; // one bit per 4 KiB frame of 4 GiB

function coreExports(cpu: Cpu): DirtyLogExports {
  // Cpu keeps its exports private; this module is the one user of these two.
  return (cpu as unknown as { exports: DirtyLogExports }).exports;
}

/**
 * Collects and clears the dirty log: the frames written through EPT since the last call (or
 * since EPT was turned on). Needs the `ept` MMU; under any other it returns nothing.
 */
export function collectDirtyFrames(cpu: Cpu): DirtyFrames {
  const core = coreExports(cpu);
  const count = core.eptCollectDirty() >>> 0;
  const frames: number[] = [];
  if (count === 0) return { frames, count };
  const words = new Uint32Array(cpu.memory.buffer, core.eptDirtyLog() >>> 0, BITMAP_WORDS);
  for (let w = 0; w < BITMAP_WORDS; w++) {
    let bits = words[w];
    while (bits !== 0) {
      const low = 31 - Math.clz32(bits & -bits);
      frames.push(w * 32 + low);
      bits &= bits - 1;
    }
  }
  return { frames, count };
}
