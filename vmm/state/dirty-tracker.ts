// Which guest pages changed since they were last sent, for live migration's pre-copy rounds, in
// every virtualization mode.
//
// Under the EPT MMU (hvm, pv) the core keeps a dirty log (vmm/virt/dirty-log.ts): EPT leaves'
// dirty flags plus the writes that bypass EPT (the core's own, and device DMA and loaders through
// Cpu.writePhysical and the VM's GuestMemory, which end in hostWroteGuest).
//
// The other modes (native, trap, bt, hvm with shadow or direct paging) have no dirty log the
// VMM can read: the core's write tracking (PHYS_TRACKED frames) reports writes to its own owners
// only (the shadow MMU, the translators) and has no export to add another. There the tracker
// compares RAM against a copy of what it sent, page by page: a page whose bytes differ from the
// sent copy is dirty, whoever wrote it (the CPU in any mode and through any path, device DMA, the
// core's kvmclock page). It costs a copy of guest RAM on the source and one memcmp per page and
// round (Buffer.compare; about 5 ms for 64 MiB), and it never misses a write; a page written
// back with the bytes it had is not resent, which is what a migration needs. The core hook that
// would replace it (a TRACK_MIGRATE owner whose writes set a bit in a bitmap the VMM reads) is
// named in docs/migration.md.

import { collectDirtyFrames } from "../virt/dirty-log.js";
import type { Vm } from "../vm.js";
import { bytesEqual } from "./page-bytes.js";

const PAGE = 4096;

export interface DirtyTracker {
  /** "ept-log" or "compare". */
  readonly kind: string;
  /** Starts tracking; returns the pages the destination lacks now (those not all zeros). */
  start(): number[];
  /** The pages changed since start() or the last collect(), in ascending order. */
  collect(): number[];
  /** The page's bytes as sent now (the compare tracker keeps them). */
  sent(frame: number): void;
  /** Stops tracking (frees the copy). */
  stop(): void;
}

/** The frames of `ram` that are not all zeros. */
export function nonZeroPages(ram: Uint8Array): number[] {
  const words = new Uint32Array(ram.buffer, ram.byteOffset, ram.length >>> 2);
  const out: number[] = [];
  for (let f = 0; f < ram.length / PAGE; f++) {
    for (let w = f * 1024; w < (f + 1) * 1024; w++) {
      if (words[w] !== 0) {
        out.push(f);
        break;
      }
    }
  }
  return out;
}

class EptTracker implements DirtyTracker {
  readonly kind = "ept-log";
  constructor(private readonly vm: Vm) {}
  start(): number[] {
    collectDirtyFrames(this.vm.cpu);
    return nonZeroPages(this.vm.cpu.ram);
  }
  collect(): number[] {
    const limit = this.vm.cpu.ramBytes / PAGE;
    return collectDirtyFrames(this.vm.cpu).frames.filter((f) => f < limit);
  }
  sent(): void {}
  stop(): void {}
}

class CompareTracker implements DirtyTracker {
  readonly kind = "compare";
  private copy: Uint8Array | undefined;
  constructor(private readonly vm: Vm) {}
  private ram(): Uint8Array {
    return this.vm.cpu.ram;
  }
  start(): number[] {
    // The copy starts as the destination's RAM (zeros), so the first collection is every page
    // that is not all zeros.
    this.copy = new Uint8Array(this.vm.cpu.ramBytes);
    return this.collect();
  }
  collect(): number[] {
    const copy = this.copy!;
    const ram = this.ram();
    const out: number[] = [];
    // 64 KiB at a time first: most of RAM is unchanged between rounds.
    const CHUNK = 16 * PAGE;
    for (let at = 0; at < ram.length; at += CHUNK) {
      const end = Math.min(at + CHUNK, ram.length);
      if (bytesEqual(ram, at, copy, at, end - at)) continue;
      for (let p = at; p < end; p += PAGE) {
        if (!bytesEqual(ram, p, copy, p, PAGE)) out.push(p / PAGE);
      }
    }
    return out;
  }
  sent(frame: number): void {
    const at = frame * PAGE;
    this.copy!.set(this.ram().subarray(at, at + PAGE), at);
  }
  stop(): void {
    this.copy = undefined;
  }
}

/** The EPT dirty log where the VM runs with EPT, the compare tracker elsewhere. */
export function dirtyTracker(vm: Vm): DirtyTracker {
  return vm.mmu === "ept" ? new EptTracker(vm) : new CompareTracker(vm);
}
