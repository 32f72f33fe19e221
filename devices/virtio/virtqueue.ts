// A split virtqueue (virtio 1.2, section 2.7) as the device side walks it in guest memory:
//
//   descriptor table  16 bytes per entry: addr le64, len le32, flags le16, next le16
//   available ring    flags le16, idx le16, ring[size] le16, used_event le16 (EVENT_IDX)
//   used ring         flags le16, idx le16, ring[size] {id le32, len le32}, avail_event le16
//
// `pop()` takes the next chain the driver made available and returns its buffers, following
// NEXT links and one level of INDIRECT tables; `push()` returns a chain in the used ring. With
// VIRTIO_F_EVENT_IDX the device publishes avail_event (kick me when idx passes this) and asks
// `needInterrupt()` whether the driver's used_event was crossed; without it, the driver's
// NO_INTERRUPT flag decides.
//
// A queue the driver broke is a `VirtqueueError`, never an exception of another kind, a hang or a
// write outside guest RAM: a head or next index past the table, a loop or a chain longer than the
// table (a chain cannot visit more descriptors than there are), INDIRECT with NEXT, a nested or
// empty or misaligned indirect table, INDIRECT when it was not negotiated, a readable descriptor
// after a writable one, a buffer or ring outside RAM, lengths that overflow 32 bits, or an
// available index that runs more than the queue size ahead. The transport marks the device as
// needing reset and counts the kind.

import { DmaError, type GuestMemory } from "../dma.js";

export const VIRTQ_DESC_F_NEXT = 1;
export const VIRTQ_DESC_F_WRITE = 2;
export const VIRTQ_DESC_F_INDIRECT = 4;
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
export const VIRTQ_USED_F_NO_NOTIFY = 1;
/** Largest queue size (a power of two up to 32768). */
export const VIRTQ_MAX_SIZE = 32768;

/** The kinds of driver errors a queue detects (counted by the transport). */
export type VirtqueueFault =
  | "bad-index"
  | "loop-or-too-long"
  | "indirect"
  | "order"
  | "outside-ram"
  | "length-overflow"
  | "avail-overrun";

export class VirtqueueError extends Error {
  override name = "VirtqueueError";
  constructor(
    readonly fault: VirtqueueFault,
    message: string,
  ) {
    super(message);
  }
}

export interface VirtqBuffer {
  addr: number;
  len: number;
}

/** One descriptor chain: what the device may read, then what it may write. */
export interface DescChain {
  head: number;
  readable: VirtqBuffer[];
  writable: VirtqBuffer[];
  readLength: number;
  writeLength: number;
}

/** A queue's configuration and progress: plain data (a later issue saves and restores it). */
export interface VirtqueueState {
  /** Entries (a power of two); the driver may lower it from the device's maximum. */
  size: number;
  enabled: boolean;
  desc: number;
  avail: number;
  used: number;
  /** Next available-ring slot the device reads (free-running 16-bit). */
  lastAvail: number;
  /** The used index the device writes next (free-running 16-bit). */
  usedIdx: number;
  /** The used index when the driver was last interrupted (EVENT_IDX). */
  signalledUsed: number;
  /** The driver broke the queue: it stays stopped until reset. */
  broken: boolean;
}

export function newQueueState(maxSize: number): VirtqueueState {
  return {
    size: maxSize,
    enabled: false,
    desc: 0,
    avail: 0,
    used: 0,
    lastAvail: 0,
    usedIdx: 0,
    signalledUsed: 0,
    broken: false,
  };
}

const U32 = 2 ** 32;

export class Virtqueue {
  /** Negotiated features that change the ring format. */
  eventIdx = false;
  indirect = false;

  constructor(
    readonly state: VirtqueueState,
    private readonly mem: GuestMemory,
  ) {}

  get size(): number {
    return this.state.size;
  }

  /** Where the rings sit, for the legacy interface (one block, used ring page-aligned). */
  static legacyLayout(pfnAddr: number, size: number): { desc: number; avail: number; used: number } {
    const avail = pfnAddr + 16 * size;
    const used = Math.ceil((avail + 6 + 2 * size) / 4096) * 4096;
    return { desc: pfnAddr, avail, used };
  }

  private fail(fault: VirtqueueFault, message: string): never {
    throw new VirtqueueError(fault, message);
  }

  private ringU16(addr: number): number {
    try {
      return this.mem.readU16(addr);
    } catch (e) {
      if (e instanceof DmaError) this.fail("outside-ram", `ring at 0x${addr.toString(16)} is outside RAM`);
      throw e;
    }
  }

  private ringWrite(fn: () => void, addr: number): void {
    try {
      fn();
    } catch (e) {
      if (e instanceof DmaError) this.fail("outside-ram", `used ring at 0x${addr.toString(16)} is outside RAM`);
      throw e;
    }
  }

  /** Chains the driver has made available and the device has not taken yet. */
  pending(): number {
    const s = this.state;
    if (!s.enabled || s.broken) return 0;
    const availIdx = this.ringU16(s.avail + 2);
    const n = (availIdx - s.lastAvail) & 0xffff;
    if (n > s.size) this.fail("avail-overrun", `available index ${availIdx} is ${n} ahead of ${s.lastAvail}`);
    return n;
  }

  /** The next available chain, or undefined when there is none. */
  pop(): DescChain | undefined {
    const s = this.state;
    if (this.pending() === 0) return undefined;
    const head = this.ringU16(s.avail + 4 + 2 * (s.lastAvail % s.size));
    s.lastAvail = (s.lastAvail + 1) & 0xffff;
    if (this.eventIdx) {
      // avail_event: kick again as soon as anything beyond what was taken is made available.
      const at = s.used + 4 + 8 * s.size;
      this.ringWrite(() => this.mem.writeU16(at, s.lastAvail), at);
    }
    return this.walk(head);
  }

  private walk(head: number): DescChain {
    const s = this.state;
    if (head >= s.size) this.fail("bad-index", `head ${head} is past the ${s.size}-entry table`);
    const chain: DescChain = { head, readable: [], writable: [], readLength: 0, writeLength: 0 };
    let table = s.desc;
    let tableSize = s.size;
    let index = head;
    let seen = 0;
    let inIndirect = false;
    for (;;) {
      if (++seen > tableSize) {
        this.fail("loop-or-too-long", `chain from ${head} visits more than ${tableSize} descriptors`);
      }
      const d = this.readDesc(table, index);
      if (d.flags & VIRTQ_DESC_F_INDIRECT) {
        if (!this.indirect) this.fail("indirect", "INDIRECT descriptor without VIRTIO_F_INDIRECT_DESC");
        if (inIndirect) this.fail("indirect", "an indirect table inside an indirect table");
        if (d.flags & VIRTQ_DESC_F_NEXT) this.fail("indirect", "INDIRECT together with NEXT");
        if (d.len === 0 || d.len % 16 !== 0) this.fail("indirect", `indirect table of ${d.len} bytes`);
        if (!this.mem.check(d.addr, d.len)) {
          this.fail("outside-ram", `indirect table at 0x${d.addr.toString(16)}+${d.len} is outside RAM`);
        }
        inIndirect = true;
        table = d.addr;
        tableSize = d.len / 16;
        index = 0;
        seen = 0;
        continue;
      }
      this.addBuffer(chain, d);
      if (!(d.flags & VIRTQ_DESC_F_NEXT)) return chain;
      if (d.next >= tableSize) this.fail("bad-index", `next ${d.next} is past the ${tableSize}-entry table`);
      index = d.next;
    }
  }

  private readDesc(table: number, index: number): { addr: number; len: number; flags: number; next: number } {
    const at = table + 16 * index;
    let lo: number;
    let hi: number;
    let len: number;
    let fn: number;
    try {
      lo = this.mem.readU32(at);
      hi = this.mem.readU32(at + 4);
      len = this.mem.readU32(at + 8);
      fn = this.mem.readU32(at + 12);
    } catch (e) {
      if (e instanceof DmaError) this.fail("outside-ram", `descriptor table at 0x${table.toString(16)} is outside RAM`);
      throw e;
    }
    if (hi !== 0) this.fail("outside-ram", `buffer above 4 GiB (0x${hi.toString(16)}${lo.toString(16)})`);
    return { addr: lo, len, flags: fn & 0xffff, next: fn >>> 16 };
  }

  private addBuffer(chain: DescChain, d: { addr: number; len: number; flags: number }): void {
    if (d.addr + d.len > U32) this.fail("length-overflow", `buffer 0x${d.addr.toString(16)}+${d.len} wraps 4 GiB`);
    const write = (d.flags & VIRTQ_DESC_F_WRITE) !== 0;
    if (!this.mem.check(d.addr, d.len, write)) {
      this.fail("outside-ram", `buffer 0x${d.addr.toString(16)}+${d.len} is outside RAM`);
    }
    if (write) {
      if (chain.writeLength + d.len >= U32) this.fail("length-overflow", "writable lengths overflow 32 bits");
      chain.writable.push({ addr: d.addr, len: d.len });
      chain.writeLength += d.len;
    } else {
      if (chain.writable.length > 0) this.fail("order", "a device-readable descriptor after a writable one");
      if (chain.readLength + d.len >= U32) this.fail("length-overflow", "readable lengths overflow 32 bits");
      chain.readable.push({ addr: d.addr, len: d.len });
      chain.readLength += d.len;
    }
  }

  /** Returns a chain: `written` bytes of its writable buffers hold data. */
  push(chain: DescChain, written: number): void {
    const s = this.state;
    const slot = s.used + 4 + 8 * (s.usedIdx % s.size);
    this.ringWrite(() => {
      this.mem.writeU32(slot, chain.head);
      this.mem.writeU32(slot + 4, written);
      s.usedIdx = (s.usedIdx + 1) & 0xffff;
      this.mem.writeU16(s.used + 2, s.usedIdx);
    }, slot);
  }

  /**
   * After pushing: should the driver be interrupted? EVENT_IDX: only when the used index passed
   * the driver's used_event since the last interrupt; otherwise unless NO_INTERRUPT is set.
   */
  needInterrupt(): boolean {
    const s = this.state;
    if (s.usedIdx === s.signalledUsed) return false;
    let need: boolean;
    if (this.eventIdx) {
      const event = this.ringU16(s.avail + 4 + 2 * s.size);
      need = ((s.usedIdx - event - 1) & 0xffff) < ((s.usedIdx - s.signalledUsed) & 0xffff);
    } else {
      need = (this.ringU16(s.avail) & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
    }
    s.signalledUsed = s.usedIdx;
    return need;
  }

  /** Copies the chain's readable bytes from `offset` into `dest` (as many as there are). */
  read(chain: DescChain, offset: number, dest: Uint8Array): number {
    let done = 0;
    let skip = offset;
    for (const b of chain.readable) {
      if (done >= dest.length) break;
      if (skip >= b.len) {
        skip -= b.len;
        continue;
      }
      const n = Math.min(b.len - skip, dest.length - done);
      this.mem.readInto(b.addr + skip, dest.subarray(done, done + n));
      done += n;
      skip = 0;
    }
    return done;
  }

  /** Copies `src` into the chain's writable buffers from `offset`; returns the bytes written. */
  write(chain: DescChain, offset: number, src: Uint8Array): number {
    let done = 0;
    let skip = offset;
    for (const b of chain.writable) {
      if (done >= src.length) break;
      if (skip >= b.len) {
        skip -= b.len;
        continue;
      }
      const n = Math.min(b.len - skip, src.length - done);
      this.mem.write(b.addr + skip, src.subarray(done, done + n));
      done += n;
      skip = 0;
    }
    return done;
  }
}
