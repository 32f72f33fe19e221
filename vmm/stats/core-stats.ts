// The core's crossing counters and trace ring (HV_EVENTS and HV_TRACE in core.wasm's memory,
// written by core/virt/events.ts) as a StatsSnapshot: the one stats view that the monitor's
// `info stats`, `--stats`, the benchmarks and the page share.

import * as L from "../generated/layout.js";
import { KIND_NAMES, Kind, type KindName, reasonName, WHERE_NAMES } from "./events.js";
import type { CounterRow, StatsSnapshot, TraceRow } from "./stats.js";

/** Reads memory as the core lays it out (a Cpu, or anything with its memory). */
export interface CoreMemory {
  readonly memory: WebAssembly.Memory;
}

const TRACE_ENTRIES = L.TRACE_ENTRIES;
const ENTRY_WORDS = L.TRACE_ENTRY_WORDS;

/** Page-walk figures (the 2-D walk of EPT shows here): TLB misses and references per miss. */
export interface WalkStats {
  tlbMisses: number;
  guestRefs: number;
  nestedRefs: number;
  refsPerMiss: number;
}

export function readCoreStats(core: CoreMemory): StatsSnapshot {
  const words = new Uint32Array(core.memory.buffer);
  const counters: CounterRow[] = [];
  const totals = {} as Record<KindName, number>;
  for (const name of KIND_NAMES) totals[name] = 0;
  const kinds = Math.min(L.EVENT_KINDS, KIND_NAMES.length);
  for (let k = 0; k < kinds; k++) {
    for (let r = 0; r < L.EVENT_REASONS; r++) {
      const at = (L.HV_EVENTS_BASE >>> 2) + ((k * L.EVENT_REASONS + r) << 1);
      const coreCount = words[at]!;
      const hostCount = words[at + 1]!;
      if (coreCount === 0 && hostCount === 0) continue;
      const kind = KIND_NAMES[k]!;
      counters.push({ kind, reason: r, name: reasonName(k as Kind, r), core: coreCount, host: hostCount });
      totals[kind] += coreCount + hostCount;
    }
  }
  // Page-walk references are counted by the MMU in the state block (one add per reference, no
  // table lookup on the fill path); they appear here as the walkRef kind.
  const walk = readWalkStats(core);
  const refs: [number, number][] = [
    [0, walk.guestRefs],
    [1, walk.nestedRefs],
  ];
  for (const [reason, n] of refs) {
    if (n === 0) continue;
    counters.push({ kind: "walkRef", reason, name: reasonName(Kind.walkRef, reason), core: n, host: 0 });
    totals.walkRef += n;
  }
  counters.sort((a, b) => KIND_NAMES.indexOf(a.kind) - KIND_NAMES.indexOf(b.kind) || a.reason - b.reason);
  const recorded = words[L.S_TRACE_RECORDED >>> 2]!;
  const kept = Math.min(recorded, TRACE_ENTRIES);
  const entries: TraceRow[] = [];
  for (let n = recorded - kept; n < recorded; n++) {
    const at = (L.HV_TRACE_BASE >>> 2) + (n % TRACE_ENTRIES) * ENTRY_WORDS;
    const head = words[at]!;
    const kindIndex = head & 0xff;
    const reason = head >>> 16;
    entries.push({
      seq: n + 1,
      kind: KIND_NAMES[kindIndex] ?? KIND_NAMES[0]!,
      reason,
      name: reasonName(kindIndex as Kind, reason),
      where: WHERE_NAMES[(head >>> 8) & 1]!,
      qualification: words[at + 1]!,
      eip: words[at + 2]!,
      gpa: words[at + 3]!,
      vtime: words[at + 4]! + words[at + 5]! * 2 ** 32,
    });
  }
  return { version: 1, counters, totals, trace: { capacity: TRACE_ENTRIES, recorded, entries } };
}

export function readWalkStats(core: CoreMemory): WalkStats {
  const dv = new DataView(core.memory.buffer);
  const u64 = (addr: number) => Number(dv.getBigUint64(addr, true));
  const tlbMisses = u64(L.S_WALK_TLB_MISSES);
  const guestRefs = u64(L.S_WALK_GUEST_REFS);
  const nestedRefs = u64(L.S_WALK_NESTED_REFS);
  return { tlbMisses, guestRefs, nestedRefs, refsPerMiss: tlbMisses ? (guestRefs + nestedRefs) / tlbMisses : 0 };
}

/** Zeroes the counters, the trace ring and the walk figures (between benchmark phases). */
export function resetCoreStats(core: CoreMemory): void {
  new Uint8Array(core.memory.buffer, L.HV_EVENTS_BASE, L.HV_EVENTS_BYTES).fill(0);
  new Uint8Array(core.memory.buffer, L.HV_TRACE_BASE, L.HV_TRACE_BYTES).fill(0);
  const dv = new DataView(core.memory.buffer);
  dv.setUint32(L.S_TRACE_RECORDED, 0, true);
  for (const a of [L.S_WALK_TLB_MISSES, L.S_WALK_GUEST_REFS, L.S_WALK_NESTED_REFS, L.S_VMX_EXITS]) {
    dv.setBigUint64(a, 0n, true);
  }
}

/** The hypervisor's own structures, read from the state block: what each mode built and kept. */
export interface StructureStats {
  vmExits: number;
  ept: { poolFlushes: number; remaps: number };
  shadow: { rootHits: number; rootMisses: number; poolFlushes: number; unshadowed: number; pagesInUse: number };
  bt: {
    blocks: number;
    lookups: number;
    chained: number;
    codeWrites: number;
    invalidated: number;
    flushes: number;
    cacheBytes: number;
  };
  pv: { mmuUpdates: number; mmuBatches: number };
  trap: { emulated: number; reflected: number };
}

export function readStructureStats(core: CoreMemory): StructureStats {
  const dv = new DataView(core.memory.buffer);
  const u32 = (a: number) => dv.getUint32(a, true);
  const u64 = (a: number) => Number(dv.getBigUint64(a, true));
  return {
    vmExits: u64(L.S_VMX_EXITS),
    ept: { poolFlushes: u32(L.S_EPT_POOL_FLUSHES), remaps: u32(L.S_EPT_REMAPS) },
    shadow: {
      rootHits: u32(L.S_SHADOW_ROOT_HITS),
      rootMisses: u32(L.S_SHADOW_ROOT_MISSES),
      poolFlushes: u32(L.S_SHADOW_POOL_FLUSHES),
      unshadowed: u32(L.S_SHADOW_UNSHADOWED),
      pagesInUse: u32(L.S_SHADOW_PAGES),
    },
    bt: {
      blocks: u32(L.S_BT_BLOCKS),
      lookups: u32(L.S_BT_LOOKUPS),
      chained: u32(L.S_BT_CHAINED),
      codeWrites: u32(L.S_BT_CODE_WRITES),
      invalidated: u32(L.S_BT_INVALIDATED),
      flushes: u32(L.S_BT_FLUSHES),
      cacheBytes: u32(L.S_BT_CACHE_USED),
    },
    pv: { mmuUpdates: u64(L.S_PV_MMU_UPDATES), mmuBatches: u64(L.S_PV_MMU_BATCHES) },
    trap: { emulated: u32(L.S_TRAP_EMULATED), reflected: u32(L.S_TRAP_REFLECTED) },
  };
}
