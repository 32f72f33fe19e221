// The stats the hypervisor reports into (issue 4, item 4): counters by kind, reason and where
// handled, plus a bounded trace ring of recent crossings. Snapshots are plain JSON-able data; the
// monitor's `info stats`, `--stats`, the benchmarks and the page all read the same snapshot.
//
// Allocation: the trace ring is preallocated typed arrays, so tracing allocates nothing per event.
// A counter cell (a two-element Float64Array) is allocated the first time a (kind, reason) pair is
// seen, never again for that pair.

import {
  KIND_COUNT,
  KIND_NAMES,
  type Kind,
  type KindName,
  reasonName,
  WHERE_NAMES,
  type Where,
  type WhereName,
} from "./events.js";

export interface CounterRow {
  kind: KindName;
  reason: number;
  name: string;
  core: number;
  host: number;
}

export interface TraceRow {
  /** 1-based sequence number of the traced crossing since construction or reset. */
  seq: number;
  kind: KindName;
  reason: number;
  name: string;
  where: WhereName;
  qualification: number;
  eip: number;
  gpa: number;
  /** Virtual time (the caller's unit, e.g. guest instructions on the icount clock or ns). */
  vtime: number;
}

export interface StatsSnapshot {
  version: 1;
  /** One row per (kind, reason) with a non-zero count, ordered by kind then reason. */
  counters: CounterRow[];
  /** Total count per kind (core + host). */
  totals: Record<KindName, number>;
  trace: {
    capacity: number;
    /** Crossings traced in total (may exceed capacity; only the newest `capacity` are kept). */
    recorded: number;
    /** Oldest first. */
    entries: TraceRow[];
  };
}

export const DEFAULT_TRACE_CAPACITY = 256;

export class Stats {
  readonly capacity: number;
  private readonly cells: Map<number, Float64Array>[] = [];
  private readonly tKind: Uint8Array;
  private readonly tReason: Uint32Array;
  private readonly tWhere: Uint8Array;
  private readonly tQual: Uint32Array;
  private readonly tEip: Uint32Array;
  private readonly tGpa: Float64Array;
  private readonly tTime: Float64Array;
  private readonly tSeq: Float64Array;
  private next = 0;
  private recorded = 0;

  constructor(traceCapacity: number = DEFAULT_TRACE_CAPACITY) {
    if (!Number.isInteger(traceCapacity) || traceCapacity < 1) {
      throw new RangeError(`trace capacity must be a positive integer, got ${traceCapacity}`);
    }
    this.capacity = traceCapacity;
    for (let k = 0; k < KIND_COUNT; k++) this.cells.push(new Map());
    this.tKind = new Uint8Array(traceCapacity);
    this.tReason = new Uint32Array(traceCapacity);
    this.tWhere = new Uint8Array(traceCapacity);
    this.tQual = new Uint32Array(traceCapacity);
    this.tEip = new Uint32Array(traceCapacity);
    this.tGpa = new Float64Array(traceCapacity);
    this.tTime = new Float64Array(traceCapacity);
    this.tSeq = new Float64Array(traceCapacity);
  }

  /** Count `n` events of a kind and reason, handled in the core or the host. Not traced. */
  count(kind: Kind, reason: number, where: Where, n = 1): void {
    const map = this.cells[kind]!;
    let cell = map.get(reason);
    if (cell === undefined) {
      cell = new Float64Array(2);
      map.set(reason, cell);
    }
    cell[where] += n;
  }

  /** Count one crossing and record it in the trace ring. */
  crossing(
    kind: Kind,
    reason: number,
    where: Where,
    qualification: number,
    eip: number,
    gpa: number,
    vtime: number,
  ): void {
    this.count(kind, reason, where, 1);
    const i = this.next;
    this.tKind[i] = kind;
    this.tReason[i] = reason;
    this.tWhere[i] = where;
    this.tQual[i] = qualification;
    this.tEip[i] = eip;
    this.tGpa[i] = gpa;
    this.tTime[i] = vtime;
    this.tSeq[i] = ++this.recorded;
    this.next = i + 1 === this.capacity ? 0 : i + 1;
  }

  /** The count of one (kind, reason), optionally only where handled. */
  get(kind: Kind, reason: number, where?: Where): number {
    const cell = this.cells[kind]!.get(reason);
    if (cell === undefined) return 0;
    return where === undefined ? cell[0]! + cell[1]! : cell[where]!;
  }

  /** The count of all reasons of a kind. */
  total(kind: Kind): number {
    let sum = 0;
    for (const cell of this.cells[kind]!.values()) sum += cell[0]! + cell[1]!;
    return sum;
  }

  reset(): void {
    for (const map of this.cells) {
      for (const cell of map.values()) cell.fill(0);
    }
    this.next = 0;
    this.recorded = 0;
  }

  snapshot(): StatsSnapshot {
    const counters: CounterRow[] = [];
    for (let k = 0; k < KIND_COUNT; k++) {
      const reasons = [...this.cells[k]!.keys()].sort((a, b) => a - b);
      for (const reason of reasons) {
        const cell = this.cells[k]!.get(reason)!;
        if (cell[0] === 0 && cell[1] === 0) continue;
        counters.push({
          kind: KIND_NAMES[k]!,
          reason,
          name: reasonName(k as Kind, reason),
          core: cell[0]!,
          host: cell[1]!,
        });
      }
    }
    const kept = Math.min(this.recorded, this.capacity);
    const entries: TraceRow[] = [];
    let i = (this.next - kept + this.capacity) % this.capacity;
    for (let n = 0; n < kept; n++) {
      const kind = this.tKind[i]! as Kind;
      entries.push({
        seq: this.tSeq[i]!,
        kind: KIND_NAMES[kind]!,
        reason: this.tReason[i]!,
        name: reasonName(kind, this.tReason[i]!),
        where: WHERE_NAMES[this.tWhere[i]!]!,
        qualification: this.tQual[i]!,
        eip: this.tEip[i]!,
        gpa: this.tGpa[i]!,
        vtime: this.tTime[i]!,
      });
      i = i + 1 === this.capacity ? 0 : i + 1;
    }
    return {
      version: 1,
      counters,
      totals: totalsOf(counters),
      trace: { capacity: this.capacity, recorded: this.recorded, entries },
    };
  }
}

function emptyTotals(): Record<KindName, number> {
  const totals = {} as Record<KindName, number>;
  for (const name of KIND_NAMES) totals[name] = 0;
  return totals;
}

function totalsOf(counters: readonly CounterRow[]): Record<KindName, number> {
  const totals = emptyTotals();
  for (const row of counters) totals[row.kind] += row.core + row.host;
  return totals;
}

function kindIndex(name: KindName): number {
  return KIND_NAMES.indexOf(name);
}

function sortCounters(rows: CounterRow[]): CounterRow[] {
  return rows.sort((a, b) => kindIndex(a.kind) - kindIndex(b.kind) || a.reason - b.reason);
}

function rowKey(row: CounterRow): string {
  return row.kind + ":" + row.reason;
}

/**
 * What happened between two snapshots of the same Stats (no reset in between): counters are
 * `after - before`, the trace holds the entries of `after` recorded after `before` was taken.
 */
export function diffSnapshots(before: StatsSnapshot, after: StatsSnapshot): StatsSnapshot {
  if (after.trace.recorded < before.trace.recorded) {
    throw new RangeError("diffSnapshots: `after` was taken before `before` (or the stats were reset)");
  }
  const prior = new Map<string, CounterRow>();
  for (const row of before.counters) prior.set(rowKey(row), row);
  const counters: CounterRow[] = [];
  for (const row of after.counters) {
    const p = prior.get(rowKey(row));
    const core = row.core - (p?.core ?? 0);
    const host = row.host - (p?.host ?? 0);
    if (core < 0 || host < 0) {
      throw new RangeError(`diffSnapshots: ${row.kind} ${row.reason} went down (were the stats reset?)`);
    }
    if (core !== 0 || host !== 0) counters.push({ ...row, core, host });
    prior.delete(rowKey(row));
  }
  for (const row of prior.values()) {
    if (row.core !== 0 || row.host !== 0) {
      throw new RangeError(`diffSnapshots: ${row.kind} ${row.reason} disappeared (were the stats reset?)`);
    }
  }
  const lastSeq = before.trace.recorded;
  const entries = after.trace.entries.filter((e) => e.seq > lastSeq).map((e) => ({ ...e }));
  return {
    version: 1,
    counters,
    totals: totalsOf(counters),
    trace: { capacity: after.trace.capacity, recorded: after.trace.recorded - before.trace.recorded, entries },
  };
}

/**
 * The sum of two snapshots (e.g. two vCPUs or two runs): counters add; the trace keeps the newest
 * entries of both by virtual time, up to the larger capacity.
 */
export function mergeSnapshots(a: StatsSnapshot, b: StatsSnapshot): StatsSnapshot {
  const sums = new Map<string, CounterRow>();
  for (const row of [...a.counters, ...b.counters]) {
    const key = rowKey(row);
    const have = sums.get(key);
    if (have === undefined) sums.set(key, { ...row });
    else {
      have.core += row.core;
      have.host += row.host;
    }
  }
  const counters = sortCounters([...sums.values()]);
  const capacity = Math.max(a.trace.capacity, b.trace.capacity);
  const entries = [...a.trace.entries, ...b.trace.entries]
    .map((e) => ({ ...e }))
    .sort((x, y) => x.vtime - y.vtime || x.seq - y.seq)
    .slice(-capacity);
  return {
    version: 1,
    counters,
    totals: totalsOf(counters),
    trace: { capacity, recorded: a.trace.recorded + b.trace.recorded, entries },
  };
}

/** The count of one (kind, reason) in a snapshot, summed over where handled unless given. */
export function countOf(snap: StatsSnapshot, kind: KindName, reason?: number, where?: WhereName): number {
  let sum = 0;
  for (const row of snap.counters) {
    if (row.kind !== kind || (reason !== undefined && row.reason !== reason)) continue;
    sum += where === undefined ? row.core + row.host : row[where];
  }
  return sum;
}
