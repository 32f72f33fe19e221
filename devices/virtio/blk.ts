// virtio-blk (virtio 1.2, section 5.2) over the same block layer as IDE (storage/block.ts: a
// copy-on-write overlay over the image unless the user asked for writes to go through).
//
// One request queue. A request is a chain: a 16-byte header {type le32, reserved le32, sector
// le64} the device reads, the data (read for OUT, written for IN), and a status byte the device
// writes last. Types: IN, OUT, FLUSH, GET_ID (20-byte serial), DISCARD and WRITE_ZEROES (a list
// of {sector le64, num_sectors le32, flags le32} segments). A request the disk cannot do (past
// the end, a write to a read-only disk, a malformed segment list) is VIRTIO_BLK_S_IOERR, an
// unknown type VIRTIO_BLK_S_UNSUPP: the driver's error, not the queue's. Discard is a hint the
// device may ignore (the spec allows it): the sectors keep their data.
//
// Requests go to the disk through the block queue (storage/request.ts) and are returned to the
// driver (data, status, used ring, interrupt) when the disk has done them, in whatever order it
// does them: with a disk that answers at once (files, memory) that is inside the notify, as
// before; with one that answers later (a File in the page) the guest runs on meanwhile, with up
// to 32 requests at the disk and the rest of the ring waiting in the queue. A reset forgets the
// requests in flight (their completions are dropped).

import { type BlockDevice, BlockRangeError, SECTOR_SIZE } from "../storage/block.js";
import {
  BlockQueue,
  type BlockQueueCounters,
  type BlockQueueOptions,
  type BlockRequest,
  backendOf,
} from "../storage/request.js";
import { bit, configBytesRead, VIRTIO_ID, type VirtioContext, type VirtioDevice } from "./device.js";
import type { DescChain, Virtqueue } from "./virtqueue.js";

export const VIRTIO_BLK_F = {
  SIZE_MAX: 1n,
  SEG_MAX: 2n,
  RO: 5n,
  BLK_SIZE: 6n,
  FLUSH: 9n,
  DISCARD: 13n,
  WRITE_ZEROES: 14n,
} as const;

export const VIRTIO_BLK_T = { IN: 0, OUT: 1, FLUSH: 4, GET_ID: 8, DISCARD: 11, WRITE_ZEROES: 13 } as const;
export const VIRTIO_BLK_S = { OK: 0, IOERR: 1, UNSUPP: 2 } as const;

export const BLK_QUEUE_SIZE = 128;
/** Largest data segment (bytes) and request (bytes) the device takes. */
const SIZE_MAX = 0x10000;
const REQUEST_MAX = 4 << 20;
/** Largest discard / write-zeroes request (sectors) and segment count. */
const MAX_DISCARD_SECTORS = 0x8000;
const MAX_DISCARD_SEG = 1;
const CONFIG_SIZE = 0x3c;

export interface VirtioBlkOptions {
  disk: BlockDevice;
  /** Up to 20 bytes returned by GET_ID (the drive's serial). */
  serial?: string;
  /** The block queue's bounds (request.ts); defaults: 32 at the disk, 128 pending. */
  queue?: BlockQueueOptions;
}

/** Per-request-type counts (requests and sectors), for the stats. */
export interface VirtioBlkCounters {
  requests: Record<string, number>;
  sectorsRead: number;
  sectorsWritten: number;
  errors: number;
}

export class VirtioBlk implements VirtioDevice {
  readonly name = "virtio-blk";
  readonly deviceId = VIRTIO_ID.blk;
  /** Mass storage, SCSI (what QEMU gives virtio-blk). */
  readonly classCode = 0x010000;
  readonly queueSizes = [BLK_QUEUE_SIZE];
  readonly configSize = CONFIG_SIZE;
  readonly features: bigint;
  readonly disk: BlockDevice;
  // Every key is there from the start: a saved state's counters then fit a fresh device's.
  readonly counters: VirtioBlkCounters = {
    requests: Object.fromEntries([...Object.keys(VIRTIO_BLK_T), "other"].map((n) => [n, 0])),
    sectorsRead: 0,
    sectorsWritten: 0,
    errors: 0,
  };
  private readonly config = new Uint8Array(CONFIG_SIZE);
  private readonly serial: Uint8Array;
  private ctx: VirtioContext | undefined;
  private readonly io: BlkIo;

  constructor(options: VirtioBlkOptions) {
    this.disk = options.disk;
    const queue = new BlockQueue(backendOf(options.disk), { depth: 32, limit: BLK_QUEUE_SIZE, ...options.queue });
    // Room again after the queue was full: take the chains the driver made available meanwhile.
    queue.onSpace = () => this.pump();
    this.io = new BlkIo(queue);
    let f =
      bit(VIRTIO_BLK_F.SIZE_MAX) |
      bit(VIRTIO_BLK_F.SEG_MAX) |
      bit(VIRTIO_BLK_F.BLK_SIZE) |
      bit(VIRTIO_BLK_F.FLUSH) |
      bit(VIRTIO_BLK_F.DISCARD) |
      bit(VIRTIO_BLK_F.WRITE_ZEROES);
    if (options.disk.readOnly) f |= bit(VIRTIO_BLK_F.RO);
    this.features = f;
    const dv = new DataView(this.config.buffer);
    dv.setBigUint64(0x00, BigInt(options.disk.sectors), true); // capacity
    dv.setUint32(0x08, SIZE_MAX, true); // size_max
    dv.setUint32(0x0c, BLK_QUEUE_SIZE - 2, true); // seg_max: header and status take two
    dv.setUint16(0x10, Math.min(65535, Math.floor(options.disk.sectors / (16 * 63))), true); // geometry
    dv.setUint8(0x12, 16);
    dv.setUint8(0x13, 63);
    dv.setUint32(0x14, SECTOR_SIZE, true); // blk_size
    dv.setUint32(0x24, MAX_DISCARD_SECTORS, true);
    dv.setUint32(0x28, MAX_DISCARD_SEG, true);
    dv.setUint32(0x2c, 1, true); // discard_sector_alignment
    dv.setUint32(0x30, MAX_DISCARD_SECTORS, true);
    dv.setUint32(0x34, MAX_DISCARD_SEG, true);
    this.serial = new Uint8Array(20);
    const s = options.serial ?? "";
    for (let i = 0; i < Math.min(20, s.length); i++) this.serial[i] = s.charCodeAt(i) & 0x7f;
  }

  attach(ctx: VirtioContext): void {
    this.ctx = ctx;
  }

  configRead(offset: number, size: 1 | 2 | 4): number {
    return configBytesRead(this.config, offset, size);
  }

  reset(): void {
    this.io.generation++;
  }

  notify(index: number): void {
    if (index === 0) this.pump();
  }

  /** Starts the requests the driver made available, while the block queue has room. */
  private pump(): void {
    const ctx = this.ctx;
    const q = ctx?.queue(0);
    if (!ctx || !q) return;
    const io = this.io;
    while (!io.queue.full) {
      const chain = q.pop();
      if (!chain) return;
      this.request(ctx, q, chain, io.generation);
    }
  }

  /** The block queue's counters (requests, the most pending at once, late completions). */
  get queueCounters(): BlockQueueCounters {
    return this.io.queue.counters;
  }

  /** Requests in flight (started, not yet returned to the driver). */
  get inFlight(): number {
    return this.io.queue.pending;
  }

  /** Resolves when every request in flight has completed (a saved state waits for this). */
  drain(): Promise<void> {
    return this.io.queue.drain();
  }

  /**
   * Starts one request; it is returned to the driver (data, status byte, used ring, interrupt)
   * when the disk has done it. Returns nothing: an error is the request's status.
   */
  private request(ctx: VirtioContext, q: Virtqueue, chain: DescChain, generation: number): void {
    // The status byte is the last writable byte; without one the request cannot be answered.
    if (chain.writeLength < 1 || chain.readLength < 16) {
      this.counters.errors++;
      ctx.complete(q, chain, 0);
      return;
    }
    const hdr = new Uint8Array(16);
    q.read(chain, 0, hdr);
    const dv = new DataView(hdr.buffer);
    const type = dv.getUint32(0, true);
    const sector = Number(dv.getBigUint64(8, true));
    const dataIn = chain.writeLength - 1;
    const name = TYPE_NAMES.get(type) ?? "other";
    this.counters.requests[name]!++;
    const finish = (status: number, written: number) => {
      // A reset since the request started: the driver has forgotten it (the data still landed).
      if (this.io.generation !== generation) return;
      if (status === VIRTIO_BLK_S.IOERR) this.counters.errors++;
      q.write(chain, dataIn, Uint8Array.of(status));
      ctx.complete(q, chain, written + 1);
    };
    let req: BlockRequest;
    try {
      req = this.blockRequest(q, chain, type, sector, dataIn);
    } catch (e) {
      if (!(e instanceof BlockRangeError)) throw e;
      finish(VIRTIO_BLK_S.IOERR, 0);
      return;
    }
    if (type === VIRTIO_BLK_T.GET_ID) {
      finish(VIRTIO_BLK_S.OK, q.write(chain, 0, this.serial.subarray(0, Math.min(20, dataIn))));
      return;
    }
    if (req === UNSUPPORTED) {
      finish(VIRTIO_BLK_S.UNSUPP, 0);
      return;
    }
    if (req === NOTHING) {
      finish(VIRTIO_BLK_S.OK, 0);
      return;
    }
    this.io.queue.submit(req, (r) => {
      if (r.status !== "ok") {
        finish(VIRTIO_BLK_S.IOERR, 0);
        return;
      }
      if (req.op === "read") {
        this.counters.sectorsRead += req.count;
        if (this.io.generation === generation) finish(VIRTIO_BLK_S.OK, q.write(chain, 0, req.data!));
        return;
      }
      if (req.op === "write") this.counters.sectorsWritten += req.count;
      finish(VIRTIO_BLK_S.OK, 0);
    });
  }

  /** The block request a virtio-blk request stands for; throws BlockRangeError for a malformed one. */
  private blockRequest(q: Virtqueue, chain: DescChain, type: number, sector: number, dataIn: number): BlockRequest {
    switch (type) {
      case VIRTIO_BLK_T.IN: {
        if (dataIn % SECTOR_SIZE !== 0 || dataIn > REQUEST_MAX) throw new BlockRangeError("bad read length");
        return { op: "read", sector, count: dataIn / SECTOR_SIZE, data: new Uint8Array(dataIn) };
      }
      case VIRTIO_BLK_T.OUT: {
        const len = chain.readLength - 16;
        if (len % SECTOR_SIZE !== 0 || len > REQUEST_MAX) throw new BlockRangeError("bad write length");
        // The data is taken now: the driver may not touch it before completion, but this copy
        // is what the disk gets whenever the backend gets to it.
        const data = new Uint8Array(len);
        q.read(chain, 16, data);
        return { op: "write", sector, count: len / SECTOR_SIZE, data };
      }
      case VIRTIO_BLK_T.FLUSH:
        return { op: "flush", sector: 0, count: 0 };
      case VIRTIO_BLK_T.GET_ID:
        return NOTHING;
      case VIRTIO_BLK_T.DISCARD:
      case VIRTIO_BLK_T.WRITE_ZEROES:
        return this.segments(q, chain, type === VIRTIO_BLK_T.WRITE_ZEROES);
      default:
        return UNSUPPORTED;
    }
  }

  /**
   * DISCARD and WRITE_ZEROES: checks the segment (one at most, MAX_DISCARD_SEG); write-zeroes
   * is a write of zeros, discard is nothing to do (the sectors keep their data).
   */
  private segments(q: Virtqueue, chain: DescChain, zero: boolean): BlockRequest {
    const len = chain.readLength - 16;
    if (len === 0 || len % 16 !== 0 || len / 16 > MAX_DISCARD_SEG) throw new BlockRangeError("bad segment list");
    const segs = new Uint8Array(len);
    q.read(chain, 16, segs);
    const dv = new DataView(segs.buffer);
    const sector = Number(dv.getBigUint64(0, true));
    const count = dv.getUint32(8, true);
    const flags = dv.getUint32(12, true);
    if (count > MAX_DISCARD_SECTORS || sector + count > this.disk.sectors || flags & ~1) {
      throw new BlockRangeError("bad segment");
    }
    if (this.disk.readOnly) throw new BlockRangeError("the disk is read-only");
    if (!zero || count === 0) return NOTHING;
    return { op: "write", sector, count, data: new Uint8Array(count * SECTOR_SIZE) };
  }
}

/** Requests with nothing for the disk to do, and unknown types. */
const NOTHING: BlockRequest = { op: "flush", sector: 0, count: 0 };
const UNSUPPORTED: BlockRequest = { op: "flush", sector: 0, count: 0 };
const TYPE_NAMES = new Map(Object.entries(VIRTIO_BLK_T).map(([n, t]) => [t as number, n]));

/** The device's requests in flight: wiring, not saved state (a state is saved only when none are). */
class BlkIo {
  /** Bumped by a reset: completions of older requests are dropped. */
  generation = 0;
  constructor(readonly queue: BlockQueue) {}
}
