// The asynchronous block layer: a disk model hands a request (read, write or flush of a sector
// range, with its buffer) to a `BlockQueue`, which passes it to the disk's backend and calls the
// model back when the backend says it is done, now or later. The result is a value: an I/O error
// completes the request with a status the model reports to the guest (virtio-blk IOERR, an ATA
// error), never an exception out of the device.
//
// Backends: a disk with its own `submit` (a CowDisk over a source whose reads return promises: a
// File in the page, a deliberately slow source in tests) completes when its data is there; any
// other BlockDevice (an image file, memory) is driven through its synchronous read/write/flush and
// completes inside `submit`, so the guest sees exactly what it saw before this layer existed and
// an icount run stays reproducible.
//
// The queue keeps at most `depth` requests at the backend and `limit` in all (a model stops
// taking work from the guest while it is full and resumes on `onSpace`), never starts a request
// that overlaps a write in flight (or a write that overlaps anything in flight), lets a flush start
// only when everything before it has completed and nothing after it start before it completes,
// and, with `ordered`, reports completions in submission order (IDE has one command at a time;
// virtio-blk may see them in any order). `drain()` waits until nothing is pending: a saved state
// is taken only then.

import { type BlockDevice, BlockIoError, BlockRangeError, BlockReadOnlyError, SECTOR_SIZE } from "./block.js";

export type BlockOp = "read" | "write" | "flush";

export interface BlockRequest {
  readonly op: BlockOp;
  /** First 512-byte sector (0 for a flush). */
  readonly sector: number;
  /** Sectors (0 for a flush). */
  readonly count: number;
  /** read: filled by the backend; write: the bytes to write (count * 512 of them). */
  readonly data?: Uint8Array;
}

/** ok; range: outside the disk or malformed; readonly: a write to a read-only disk; io: the image failed. */
export type BlockStatus = "ok" | "range" | "readonly" | "io";

export interface BlockResult {
  readonly status: BlockStatus;
  /** What went wrong, for the host's log and tests. */
  readonly message?: string;
}

export type BlockDone = (result: BlockResult) => void;

export const BLOCK_OK: BlockResult = Object.freeze({ status: "ok" });

/** A disk that takes requests (the queue checks ranges first: a backend sees only valid ones). */
export interface BlockBackend {
  readonly sectors: number;
  readonly readOnly: boolean;
  /** Starts `req`; calls `done` exactly once, inside this call or later. */
  submit(req: BlockRequest, done: BlockDone): void;
}

/** The result for an exception a synchronous disk threw. */
export function resultOf(e: unknown): BlockResult {
  const message = e instanceof Error ? e.message : String(e);
  if (e instanceof BlockReadOnlyError) return { status: "readonly", message };
  if (e instanceof BlockIoError) return { status: "io", message };
  if (e instanceof BlockRangeError) return { status: "range", message };
  return { status: "io", message };
}

/** Runs `req` on a synchronous disk; whatever it throws becomes the result. */
export function runSync(disk: BlockDevice, req: BlockRequest): BlockResult {
  try {
    if (req.op === "read") req.data!.set(disk.read(req.sector, req.count));
    else if (req.op === "write") disk.write(req.sector, req.data!);
    else disk.flush();
    return BLOCK_OK;
  } catch (e) {
    return resultOf(e);
  }
}

/** The backend of a disk: its own `submit` where it has one, else its synchronous methods. */
export function backendOf(disk: BlockDevice): BlockBackend {
  if (disk.submit) return disk as BlockBackend;
  return {
    sectors: disk.sectors,
    readOnly: disk.readOnly,
    submit: (req, done) => done(runSync(disk, req)),
  };
}

export interface BlockQueueOptions {
  /** Requests at the backend at once. Default 32. */
  depth?: number;
  /** Requests pending in all (at the backend or waiting). Default 128. */
  limit?: number;
  /** Report completions in submission order. Default false. */
  ordered?: boolean;
}

interface Entry {
  readonly req: BlockRequest;
  readonly done: BlockDone;
  started: boolean;
  result: BlockResult | undefined;
}

/** Counters for tests and `info`. */
export interface BlockQueueCounters {
  submitted: number;
  completed: number;
  errors: number;
  /** Requests refused because the queue was full. */
  refused: number;
  /** The most requests pending at once. */
  maxPending: number;
  /** Requests whose completion came after `submit` returned. */
  late: number;
}

export class BlockQueue {
  readonly depth: number;
  readonly limit: number;
  readonly ordered: boolean;
  readonly counters: BlockQueueCounters = { submitted: 0, completed: 0, errors: 0, refused: 0, maxPending: 0, late: 0 };
  /** Called when a full queue has room again. */
  onSpace: (() => void) | undefined;
  /** Submitted and not yet reported, in submission order. */
  private readonly entries: Entry[] = [];
  private inFlight = 0;
  private wasFull = false;
  /** Inside dispatch/report: a nested call only asks the outer loop to go round again. */
  private busy = false;
  private again = false;
  private drainers: (() => void)[] = [];

  constructor(
    readonly backend: BlockBackend,
    options: BlockQueueOptions = {},
  ) {
    this.depth = Math.max(1, options.depth ?? 32);
    this.limit = Math.max(this.depth, options.limit ?? 128);
    this.ordered = options.ordered ?? false;
  }

  /** Requests submitted and not yet reported. */
  get pending(): number {
    return this.entries.length;
  }

  get full(): boolean {
    return this.entries.length >= this.limit;
  }

  /**
   * Queues `req`; `done` is called exactly once with its result (possibly inside this call).
   * Returns false, without calling `done`, when the queue is full.
   */
  submit(req: BlockRequest, done: BlockDone): boolean {
    if (this.full) {
      this.counters.refused++;
      this.wasFull = true;
      return false;
    }
    this.counters.submitted++;
    const e: Entry = { req, done, started: false, result: this.check(req) };
    if (e.result) e.started = true;
    this.entries.push(e);
    if (this.full) this.wasFull = true;
    this.counters.maxPending = Math.max(this.counters.maxPending, this.entries.length);
    this.run();
    return true;
  }

  /** Resolves when nothing is pending (at once if nothing is). */
  drain(): Promise<void> {
    if (this.entries.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainers.push(resolve));
  }

  /** A request the backend must never see: outside the disk, malformed, a write to a read-only disk. */
  private check(req: BlockRequest): BlockResult | undefined {
    if (req.op === "flush") return undefined;
    const { sector, count } = req;
    if (!Number.isSafeInteger(sector) || !Number.isSafeInteger(count) || sector < 0 || count < 0) {
      return { status: "range", message: `invalid sector range ${sector}+${count}` };
    }
    if (sector + count > this.backend.sectors) {
      return {
        status: "range",
        message: `sectors ${sector}+${count} are past the end of the disk (${this.backend.sectors} sectors)`,
      };
    }
    if (!req.data || req.data.length !== count * SECTOR_SIZE) {
      return {
        status: "range",
        message: `a ${req.op} of ${count} sectors needs a buffer of ${count * SECTOR_SIZE} bytes`,
      };
    }
    if (req.op === "write" && this.backend.readOnly) return { status: "readonly", message: "the disk is read-only" };
    return undefined;
  }

  private run(): void {
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    try {
      do {
        this.again = false;
        this.dispatch();
        this.report();
      } while (this.again);
    } finally {
      this.busy = false;
    }
    if (this.entries.length === 0 && this.drainers.length > 0) {
      const d = this.drainers;
      this.drainers = [];
      for (const f of d) f();
    }
    if (this.wasFull && !this.full) {
      this.wasFull = false;
      this.onSpace?.();
    }
  }

  /** Starts what may start, in submission order. */
  private dispatch(): void {
    for (let i = 0; i < this.entries.length && this.inFlight < this.depth; i++) {
      const e = this.entries[i]!;
      if (e.started) {
        // Nothing passes a flush that has not completed.
        if (e.req.op === "flush" && !e.result) return;
        continue;
      }
      if (e.req.op === "flush") {
        // A flush starts when everything before it has completed, and holds back what follows.
        if (this.inFlight === 0) this.start(e);
        return;
      }
      if (!this.overlaps(e, i)) this.start(e);
    }
  }

  /** Whether `e` touches the sectors of an earlier request still running, where one of them writes. */
  private overlaps(e: Entry, index: number): boolean {
    const a = e.req;
    for (let j = 0; j < index; j++) {
      const o = this.entries[j]!;
      if (o.result && o.started) continue;
      const b = o.req;
      if (b.op === "flush" || (a.op === "read" && b.op === "read")) continue;
      if (a.sector < b.sector + b.count && b.sector < a.sector + a.count) return true;
    }
    return false;
  }

  private start(e: Entry): void {
    e.started = true;
    this.inFlight++;
    let sync = true;
    const finish: BlockDone = (result) => {
      if (e.result) return; // a backend that answers twice: the first answer stands
      if (!sync) this.counters.late++;
      e.result = result;
      this.inFlight--;
      this.run();
    };
    try {
      this.backend.submit(e.req, finish);
    } catch (err) {
      // A backend that throws instead of answering: the request fails, the host carries on.
      finish(resultOf(err));
    } finally {
      sync = false;
    }
  }

  /** Calls back the requests that completed (in order when `ordered`). */
  private report(): void {
    let i = 0;
    while (i < this.entries.length) {
      const e = this.entries[i]!;
      if (!e.result) {
        if (this.ordered) return;
        i++;
        continue;
      }
      this.entries.splice(i, 1);
      this.counters.completed++;
      if (e.result.status !== "ok") this.counters.errors++;
      e.done(e.result);
    }
  }
}
