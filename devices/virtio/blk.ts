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

import { type BlockDevice, BlockRangeError, SECTOR_SIZE } from "../storage/block.js";
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
  readonly counters: VirtioBlkCounters = { requests: {}, sectorsRead: 0, sectorsWritten: 0, errors: 0 };
  private readonly config = new Uint8Array(CONFIG_SIZE);
  private readonly serial: Uint8Array;
  private ctx: VirtioContext | undefined;

  constructor(options: VirtioBlkOptions) {
    this.disk = options.disk;
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

  reset(): void {}

  notify(index: number): void {
    const ctx = this.ctx;
    const q = ctx?.queue(index);
    if (!ctx || !q || index !== 0) return;
    for (let chain = q.pop(); chain; chain = q.pop()) {
      const written = this.request(q, chain);
      ctx.complete(q, chain, written);
    }
  }

  /** Runs one request; returns the bytes written into the chain (data and status). */
  private request(q: Virtqueue, chain: DescChain): number {
    // The status byte is the last writable byte; without one the request cannot be answered.
    if (chain.writeLength < 1 || chain.readLength < 16) {
      this.counters.errors++;
      return 0;
    }
    const hdr = new Uint8Array(16);
    q.read(chain, 0, hdr);
    const dv = new DataView(hdr.buffer);
    const type = dv.getUint32(0, true);
    const sector = Number(dv.getBigUint64(8, true));
    const dataIn = chain.writeLength - 1;
    const name = Object.entries(VIRTIO_BLK_T).find(([, t]) => t === type)?.[0] ?? `type ${type}`;
    this.counters.requests[name] = (this.counters.requests[name] ?? 0) + 1;
    let status: number = VIRTIO_BLK_S.OK;
    let written = 0;
    try {
      switch (type) {
        case VIRTIO_BLK_T.IN: {
          if (dataIn % SECTOR_SIZE !== 0 || dataIn > REQUEST_MAX) throw new BlockRangeError("bad read length");
          const data = this.disk.read(sector, dataIn / SECTOR_SIZE);
          written = q.write(chain, 0, data);
          this.counters.sectorsRead += dataIn / SECTOR_SIZE;
          break;
        }
        case VIRTIO_BLK_T.OUT: {
          const len = chain.readLength - 16;
          if (len % SECTOR_SIZE !== 0 || len > REQUEST_MAX) throw new BlockRangeError("bad write length");
          const data = new Uint8Array(len);
          q.read(chain, 16, data);
          this.disk.write(sector, data);
          this.counters.sectorsWritten += len / SECTOR_SIZE;
          break;
        }
        case VIRTIO_BLK_T.FLUSH:
          this.disk.flush();
          break;
        case VIRTIO_BLK_T.GET_ID:
          written = q.write(chain, 0, this.serial.subarray(0, Math.min(20, dataIn)));
          break;
        case VIRTIO_BLK_T.DISCARD:
        case VIRTIO_BLK_T.WRITE_ZEROES:
          this.segments(q, chain, type === VIRTIO_BLK_T.WRITE_ZEROES);
          break;
        default:
          status = VIRTIO_BLK_S.UNSUPP;
      }
    } catch (e) {
      if (!(e instanceof BlockRangeError)) throw e;
      status = VIRTIO_BLK_S.IOERR;
      this.counters.errors++;
    }
    q.write(chain, dataIn, Uint8Array.of(status));
    return written + 1;
  }

  /** DISCARD and WRITE_ZEROES: checks every segment, then zeroes (discard leaves data as is). */
  private segments(q: Virtqueue, chain: DescChain, zero: boolean): void {
    const len = chain.readLength - 16;
    if (len === 0 || len % 16 !== 0 || len / 16 > MAX_DISCARD_SEG) throw new BlockRangeError("bad segment list");
    const segs = new Uint8Array(len);
    q.read(chain, 16, segs);
    const dv = new DataView(segs.buffer);
    const list: { sector: number; count: number }[] = [];
    for (let at = 0; at < len; at += 16) {
      const sector = Number(dv.getBigUint64(at, true));
      const count = dv.getUint32(at + 8, true);
      const flags = dv.getUint32(at + 12, true);
      if (count > MAX_DISCARD_SECTORS || sector + count > this.disk.sectors || flags & ~1) {
        throw new BlockRangeError("bad segment");
      }
      list.push({ sector, count });
    }
    if (!zero) {
      if (this.disk.readOnly) throw new BlockRangeError("the disk is read-only");
      return;
    }
    for (const { sector, count } of list) {
      if (count > 0) this.disk.write(sector, new Uint8Array(count * SECTOR_SIZE));
      this.counters.sectorsWritten += count;
    }
  }
}
