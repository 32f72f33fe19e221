// The asynchronous block layer (devices/storage/request.ts): completions in order where asked,
// errors as values (never exceptions), the queue's bound, requests that overlap a write waiting
// for it, flush as a barrier, drain, and disks that answer at once, late, or fail.

import { describe, expect, it } from "vitest";
import { BlockIoError, bytesSource, CowDisk } from "../../devices/storage/block.js";
import {
  BLOCK_OK,
  type BlockBackend,
  type BlockDone,
  BlockQueue,
  type BlockRequest,
  type BlockResult,
  backendOf,
} from "../../devices/storage/request.js";
import { DelayedSource, HeldSource, settle } from "./slow-source.js";

/** A backend that keeps every request until the test answers it. */
class ManualBackend implements BlockBackend {
  readonly started: { req: BlockRequest; done: BlockDone }[] = [];
  readOnly = false;
  constructor(readonly sectors = 1000) {}
  submit(req: BlockRequest, done: BlockDone): void {
    this.started.push({ req, done });
  }
  /** Answers the started request for `sector` (of kind `op`). */
  answer(sector: number, result: BlockResult = BLOCK_OK, op?: string): void {
    const i = this.started.findIndex((s) => s.req.sector === sector && (!op || s.req.op === op));
    if (i < 0) throw new Error(`no request for sector ${sector} started`);
    const [s] = this.started.splice(i, 1);
    s!.done(result);
  }
}

const read = (sector: number, count = 1): BlockRequest => ({
  op: "read",
  sector,
  count,
  data: new Uint8Array(count * 512),
});
const write = (sector: number, fill: number, count = 1): BlockRequest => ({
  op: "write",
  sector,
  count,
  data: new Uint8Array(count * 512).fill(fill),
});
const flush: () => BlockRequest = () => ({ op: "flush", sector: 0, count: 0 });

function image(sectors: number): Uint8Array {
  const b = new Uint8Array(sectors * 512);
  for (let s = 0; s < sectors; s++) b.fill(s + 1, s * 512, (s + 1) * 512);
  return b;
}

describe("block requests", () => {
  it("complete inside submit on a synchronous disk, with the disk's data", () => {
    const disk = new CowDisk(bytesSource(image(16)));
    const q = new BlockQueue(backendOf(disk));
    const seen: string[] = [];
    const r = read(3, 2);
    q.submit(r, (res) => seen.push(res.status));
    expect(seen).toEqual(["ok"]);
    expect([r.data![0], r.data![1023]]).toEqual([4, 5]);
    q.submit(write(3, 0xaa), (res) => seen.push(res.status));
    q.submit(flush(), (res) => seen.push(res.status));
    expect(seen).toEqual(["ok", "ok", "ok"]);
    expect(disk.read(3, 1)[0]).toBe(0xaa);
    expect(q.pending).toBe(0);
    expect(q.counters.late).toBe(0);
  });

  it("drives a disk without submit through its synchronous methods (backendOf)", () => {
    const cow = new CowDisk(bytesSource(image(16)));
    const plain = {
      sectors: 16,
      size: 16 * 512,
      readOnly: false,
      read: cow.read.bind(cow),
      write: cow.write.bind(cow),
      flush() {},
    };
    const q = new BlockQueue(backendOf(plain));
    const r = read(15);
    let status = "";
    q.submit(r, (res) => {
      status = res.status;
    });
    expect(status).toBe("ok");
    expect(r.data![0]).toBe(16);
  });

  it("report completions in submission order when ordered, as they come otherwise", () => {
    for (const ordered of [true, false]) {
      const b = new ManualBackend();
      const q = new BlockQueue(b, { ordered });
      const seen: number[] = [];
      for (const s of [1, 2, 3]) q.submit(read(s), () => seen.push(s));
      expect(b.started.length).toBe(3);
      b.answer(3);
      b.answer(2);
      expect(seen).toEqual(ordered ? [] : [3, 2]);
      b.answer(1);
      expect(seen).toEqual(ordered ? [1, 2, 3] : [3, 2, 1]);
      expect(q.counters.late).toBe(3);
    }
  });

  it("turn errors into results: outside the disk, malformed, read-only, a backend that throws or fails", () => {
    const b = new ManualBackend(100);
    const q = new BlockQueue(b);
    const results: BlockResult[] = [];
    const keep = (r: BlockResult) => results.push(r);
    q.submit(read(99, 2), keep);
    q.submit({ op: "read", sector: -1, count: 1, data: new Uint8Array(512) }, keep);
    q.submit({ op: "write", sector: 0, count: 2, data: new Uint8Array(512) }, keep);
    expect(results.map((r) => r.status)).toEqual(["range", "range", "range"]);
    expect(results[0]!.message).toMatch(/past the end/);
    expect(b.started.length).toBe(0); // the backend never saw them

    const ro = new BlockQueue({ sectors: 10, readOnly: true, submit: (_r, done) => done(BLOCK_OK) });
    ro.submit(write(0, 1), keep);
    expect(results[3]!.status).toBe("readonly");

    const throwing = new BlockQueue({
      sectors: 10,
      readOnly: false,
      submit: () => {
        throw new Error("backend bug");
      },
    });
    throwing.submit(read(0), keep);
    expect(results[4]).toEqual({ status: "io", message: "backend bug" });
    expect(throwing.pending).toBe(0);

    q.submit(read(5), keep);
    b.answer(5, { status: "io", message: "disk gone" });
    expect(results[5]).toEqual({ status: "io", message: "disk gone" });
    expect(q.counters.errors).toBe(4);
  });

  it("take the first answer of a backend that answers twice", () => {
    const b = new ManualBackend();
    const q = new BlockQueue(b);
    const seen: string[] = [];
    q.submit(read(1), (r) => seen.push(r.status));
    const done = b.started[0]!.done;
    done(BLOCK_OK);
    done({ status: "io" });
    expect(seen).toEqual(["ok"]);
  });

  it("keep at most `depth` at the backend and refuse past `limit`, then call onSpace", () => {
    const b = new ManualBackend();
    const q = new BlockQueue(b, { depth: 2, limit: 4 });
    let spaced = 0;
    q.onSpace = () => spaced++;
    const done: number[] = [];
    for (const s of [10, 20, 30, 40]) expect(q.submit(read(s), () => done.push(s))).toBe(true);
    expect(b.started.map((s) => s.req.sector)).toEqual([10, 20]);
    expect(q.full).toBe(true);
    expect(q.submit(read(50), () => done.push(50))).toBe(false);
    expect(q.counters.refused).toBe(1);
    b.answer(20);
    expect(b.started.map((s) => s.req.sector)).toEqual([10, 30]);
    expect(spaced).toBe(1);
    expect(q.submit(read(50), () => done.push(50))).toBe(true);
    b.answer(10);
    b.answer(30);
    b.answer(40);
    b.answer(50);
    expect(done).toEqual([20, 10, 30, 40, 50]);
    expect(q.counters.maxPending).toBe(4);
  });

  it("hold a request that overlaps a write in flight until the write is done", () => {
    const b = new ManualBackend();
    const q = new BlockQueue(b);
    q.submit(write(10, 1, 4), () => {});
    q.submit(read(12), () => {}); // overlaps: waits
    q.submit(read(100), () => {}); // does not: starts
    q.submit(write(200, 2), () => {});
    q.submit(read(200), () => {}); // behind a write of its sector: waits
    expect(b.started.map((s) => `${s.req.op}${s.req.sector}`)).toEqual(["write10", "read100", "write200"]);
    b.answer(10, BLOCK_OK, "write");
    expect(b.started.map((s) => `${s.req.op}${s.req.sector}`)).toEqual(["read100", "write200", "read12"]);
    // Two reads of the same sectors may run together; a write after a read waits for it.
    q.submit(read(100), () => {});
    q.submit(write(100, 3), () => {});
    expect(b.started.filter((s) => s.req.sector === 100).map((s) => s.req.op)).toEqual(["read", "read"]);
  });

  it("start a flush after everything before it and nothing after it before it is done", () => {
    const b = new ManualBackend();
    const q = new BlockQueue(b);
    q.submit(write(1, 1), () => {});
    q.submit(flush(), () => {});
    q.submit(write(2, 2), () => {});
    expect(b.started.map((s) => s.req.op)).toEqual(["write"]);
    b.answer(1);
    expect(b.started.map((s) => s.req.op)).toEqual(["flush"]);
    b.answer(0, BLOCK_OK, "flush");
    expect(b.started.map((s) => `${s.req.op}${s.req.sector}`)).toEqual(["write2"]);
  });

  it("drain when the last request completes", async () => {
    const b = new ManualBackend();
    const q = new BlockQueue(b);
    await q.drain(); // nothing pending: at once
    q.submit(read(1), () => {});
    q.submit(read(2), () => {});
    let drained = false;
    const d = q.drain().then(() => {
      drained = true;
    });
    b.answer(1);
    await settle();
    expect(drained).toBe(false);
    b.answer(2);
    await d;
    expect(drained).toBe(true);
  });
});

describe("a copy-on-write disk over a source that answers later", () => {
  it("completes reads when the source's data is there, overlay sectors included", async () => {
    const src = new HeldSource(image(64));
    const disk = new CowDisk(src);
    const q = new BlockQueue(backendOf(disk));
    // A write lands in the overlay at once (memory); the read then mixes overlay and source.
    let wrote = "";
    q.submit(write(5, 0xee), (r) => {
      wrote = r.status;
    });
    expect(wrote).toBe("ok");
    const r = read(4, 3);
    let status = "";
    q.submit(r, (res) => {
      status = res.status;
    });
    expect(status).toBe("");
    expect(src.held.map((h) => [h.offset, h.length])).toEqual([
      [4 * 512, 512],
      [6 * 512, 512],
    ]);
    src.release(1);
    await settle();
    expect(status).toBe("");
    src.release(0);
    await settle();
    expect(status).toBe("ok");
    expect([r.data![0], r.data![512], r.data![1024]]).toEqual([5, 0xee, 7]);
    expect(q.counters.late).toBe(1);
  });

  it("fails a request whose source access fails, with the image's name, and carries on", async () => {
    const src = new HeldSource(image(64));
    src.failing = [10 * 512, 11 * 512];
    const disk = new CowDisk(src, { name: "slow.img", writeThrough: true });
    const q = new BlockQueue(backendOf(disk));
    const results: BlockResult[] = [];
    q.submit(read(10), (r) => results.push(r));
    q.submit(write(20, 9), (r) => results.push(r));
    src.releaseAll();
    await settle();
    expect(results.map((r) => r.status).sort()).toEqual(["io", "ok"]);
    expect(results.find((r) => r.status === "io")!.message).toMatch(/^slow\.img: host I\/O error/);
    expect(src.bytes[20 * 512]).toBe(9);
  });

  it("refuses the synchronous methods with a clear error", () => {
    const disk = new CowDisk(new DelayedSource(image(8), 1));
    expect(() => disk.read(0, 1)).toThrow(BlockIoError);
    expect(() => disk.read(0, 1)).toThrow(/asynchronously/);
  });

  it("serves a timed source through the queue: every sector's data, several requests at the source", async () => {
    const src = new DelayedSource(image(256), 2);
    const q = new BlockQueue(backendOf(new CowDisk(src)), { depth: 8 });
    const reqs = Array.from({ length: 32 }, (_, i) => read(i * 8, 8));
    const done = reqs.map((r) => new Promise<BlockResult>((res) => q.submit(r, res)));
    expect(q.pending).toBe(32);
    const results = await Promise.all(done);
    expect(results.every((r) => r.status === "ok")).toBe(true);
    expect(reqs.map((r) => r.data![4095])).toEqual(reqs.map((_, i) => (i * 8 + 8) & 0xff));
    expect(q.counters.late).toBe(32);
    expect(q.counters.maxPending).toBe(32);
  });
});
