// Which guest pages changed since they were last sent, for live migration's pre-copy rounds, in
// every virtualization mode.
//
// The core keeps one dirty-page log for every MMU mode (core/mmu/dirty-log.ts), read through
// collectDirtyFrames (vmm/virt/dirty-log.ts):
// - under EPT (hvm, pv) from the EPT leaves' dirty flags ("ept-log");
// - elsewhere (native, trap, bt, hvm with shadow or direct paging) by write protection through
//   write tracking while the migration logs ("write-track"): every RAM frame not yet logged is
//   tracked, so its first write takes the slow path and sets its bit.
// Both see every writer: the CPU on any path (interpreter, compiled and translated code), the
// core's own writes (kvmclock, page-table A/D bits), and device DMA and loaders through
// Cpu.writePhysical and the VM's GuestMemory (vmm/guest-memory.ts), which end in hostWroteGuest.
//
// The compare tracker is the fallback for a core without the log's exports (and a check of the
// others in the tests): it keeps a copy of what it sent and compares RAM page by page each round.
// A page whose bytes differ from the sent copy is dirty, whoever wrote it; it costs a copy of
// guest RAM on the source and one memcmp per page and round (Buffer.compare; about 5 ms for
// 64 MiB), and a page written back with the bytes it had is not resent.

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

/** The core's dirty-log exports (core/mmu/dirty-log.ts). */
interface DirtyLogExports {
  dirtyLogStart?(): void;
  dirtyLogStop?(): void;
}

function logExports(vm: Vm): DirtyLogExports {
  // Cpu keeps its exports private; the dirty log's readers are the only users of these.
  return (vm.cpu as unknown as { exports: DirtyLogExports }).exports;
}

/** The core's dirty log: EPT's dirty flags under EPT, write protection elsewhere. */
class LogTracker implements DirtyTracker {
  readonly kind: string;
  constructor(private readonly vm: Vm) {
    this.kind = vm.mmu === "ept" ? "ept-log" : "write-track";
  }
  start(): number[] {
    logExports(this.vm).dirtyLogStart!();
    return nonZeroPages(this.vm.cpu.ram);
  }
  collect(): number[] {
    const limit = this.vm.cpu.ramBytes / PAGE;
    return collectDirtyFrames(this.vm.cpu).frames.filter((f) => f < limit);
  }
  sent(): void {}
  stop(): void {
    logExports(this.vm).dirtyLogStop!();
  }
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

export type DirtyTrackerKind = "log" | "compare";

/**
 * The core's dirty log (EPT's or write protection, by the VM's MMU), or the compare tracker when
 * asked for or when the core has no dirty-log exports.
 */
export function dirtyTracker(vm: Vm, kind: DirtyTrackerKind = "log"): DirtyTracker {
  const core = logExports(vm);
  if (kind === "log" && core.dirtyLogStart && core.dirtyLogStop) return new LogTracker(vm);
  return new CompareTracker(vm);
}
