// virtio-balloon (virtio 1.2, section 5.5): the host asks the guest to give back memory by
// raising `num_pages` in the configuration; the driver allocates pages and sends their frame
// numbers (little-endian 32-bit PFNs of 4 KiB pages) on the inflate queue, later returns them
// on the deflate queue, and reports how many it holds in `actual`. With VIRTIO_BALLOON_F_STATS_VQ
// the driver also keeps one buffer of statistics (16-bit tag, 64-bit value pairs) on the stats
// queue; the device holds it and hands it back when the host wants fresh figures, and the
// driver answers with a new buffer.
//
// The host sees what it asked for: the pages the guest gave back (a set of PFNs: this machine's
// RAM is one wasm memory that cannot shrink, so nothing is freed, but a page in the balloon is
// one the guest promised not to touch), the latest statistics (free and total memory, ...), and
// counters. A PFN outside RAM, a buffer that is not a whole number of PFNs, or statistics that
// are not whole tag/value pairs are counted and skipped; they never stop the queue.

import { VIRTIO_ID, type VirtioContext, type VirtioDevice } from "./device.js";
import type { DescChain } from "./virtqueue.js";

/** Feature bits (virtio 1.2, 5.5.3). */
export const VIRTIO_BALLOON_F = { MUST_TELL_HOST: 0n, STATS_VQ: 1n, DEFLATE_ON_OOM: 2n } as const;

/** Statistics tags (virtio 1.2, 5.5.6.3). */
export const BALLOON_STAT = {
  SWAP_IN: 0,
  SWAP_OUT: 1,
  MAJFLT: 2,
  MINFLT: 3,
  MEMFREE: 4,
  MEMTOT: 5,
  AVAIL: 6,
  CACHES: 7,
  HTLB_PGALLOC: 8,
  HTLB_PGFAIL: 9,
} as const;

const Q = { inflate: 0, deflate: 1, stats: 2 } as const;
const PAGE = 4096;
/** Most PFNs taken from one buffer (Linux sends at most 256). */
const MAX_PFNS = 65536;

export interface BalloonCounters {
  inflated: number;
  deflated: number;
  /** PFNs outside RAM, or deflated without having been inflated. */
  badPfns: number;
  /** Buffers that were not whole PFNs or stat pairs. */
  badBuffers: number;
  statsUpdates: number;
}

export interface VirtioBalloonOptions {
  /** Guest RAM in bytes (PFNs at or past it are refused). */
  ramBytes: number;
  /** Offer the statistics queue (default true). */
  stats?: boolean;
  /** Offer DEFLATE_ON_OOM (default true, as QEMU's deflate-on-oom=off is not the default here). */
  deflateOnOom?: boolean;
}

export class VirtioBalloon implements VirtioDevice {
  readonly name = "virtio-balloon";
  readonly deviceId = VIRTIO_ID.balloon;
  /** Class 00/FF: "other" (what QEMU gives virtio-balloon). */
  readonly classCode = 0x00ff00;
  readonly features: bigint;
  readonly queueSizes: readonly number[];
  /** num_pages and actual (le32 each). */
  readonly configSize = 8;
  /** The host's target, in 4 KiB pages. */
  private numPages = 0;
  /** What the driver says the balloon holds. */
  actual = 0;
  /** PFNs in the balloon now. */
  readonly pages = new Set<number>();
  /** The latest statistics by tag. */
  readonly stats = new Map<number, bigint>();
  readonly counters: BalloonCounters = { inflated: 0, deflated: 0, badPfns: 0, badBuffers: 0, statsUpdates: 0 };
  private readonly ramPages: number;
  private ctx: VirtioContext | undefined;
  /** The stats buffer the device holds until it wants new figures. */
  private statsChain: DescChain | undefined;

  constructor(options: VirtioBalloonOptions) {
    this.ramPages = Math.floor(options.ramBytes / PAGE);
    const stats = options.stats ?? true;
    this.features =
      (stats ? 1n << VIRTIO_BALLOON_F.STATS_VQ : 0n) |
      ((options.deflateOnOom ?? true) ? 1n << VIRTIO_BALLOON_F.DEFLATE_ON_OOM : 0n);
    this.queueSizes = stats ? [128, 128, 128] : [128, 128];
  }

  attach(ctx: VirtioContext): void {
    this.ctx = ctx;
  }

  /** The host asks the guest to hold `pages` 4 KiB pages in the balloon (a configuration change). */
  setTarget(pages: number): void {
    if (!Number.isInteger(pages) || pages < 0 || pages > this.ramPages) {
      throw new RangeError(`balloon target ${pages} pages: 0 to ${this.ramPages}`);
    }
    this.numPages = pages;
    this.ctx?.configChanged();
  }

  get target(): number {
    return this.numPages;
  }

  /** Asks the driver for fresh statistics: hands back the buffer it left. False if none is held. */
  requestStats(): boolean {
    const ctx = this.ctx;
    const q = ctx?.queue(Q.stats);
    const chain = this.statsChain;
    if (!ctx || !q || !chain) return false;
    this.statsChain = undefined;
    ctx.complete(q, chain, 0);
    return true;
  }

  configRead(offset: number, size: 1 | 2 | 4): number {
    const bytes = new Uint8Array(8);
    const dv = new DataView(bytes.buffer);
    dv.setUint32(0, this.numPages, true);
    dv.setUint32(4, this.actual, true);
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = (v << 8) | (bytes[offset + i] ?? 0);
    return v >>> 0;
  }

  configWrite(offset: number, size: 1 | 2 | 4, value: number): void {
    // Only `actual` is the driver's (num_pages is the device's and read-only to the driver).
    for (let i = 0; i < size; i++) {
      const at = offset + i - 4;
      if (at < 0 || at > 3) continue;
      const shift = at * 8;
      this.actual = ((this.actual & ~(0xff << shift)) | (((value >>> (i * 8)) & 0xff) << shift)) >>> 0;
    }
  }

  reset(): void {
    this.actual = 0;
    this.statsChain = undefined;
    // The balloon's pages belong to the guest again after a reset (its driver starts empty).
    this.pages.clear();
  }

  notify(index: number): void {
    const ctx = this.ctx;
    const q = ctx?.queue(index);
    if (!ctx || !q) return;
    for (let chain = q.pop(); chain; chain = q.pop()) {
      if (index === Q.stats) {
        this.readStats(chain);
        // Held until the host wants new figures; a second buffer replaces (and returns) the first.
        const old = this.statsChain;
        this.statsChain = chain;
        if (old) ctx.complete(q, old, 0);
        continue;
      }
      this.pfns(chain, index === Q.inflate);
      ctx.complete(q, chain, 0);
    }
  }

  private pfns(chain: DescChain, inflate: boolean): void {
    const q = this.ctx!.queue(inflate ? Q.inflate : Q.deflate)!;
    const length = Math.min(chain.readLength, MAX_PFNS * 4);
    if (chain.readLength % 4 !== 0) this.counters.badBuffers++;
    const buf = new Uint8Array(length - (length % 4));
    q.read(chain, 0, buf);
    const dv = new DataView(buf.buffer);
    for (let at = 0; at < buf.length; at += 4) {
      const pfn = dv.getUint32(at, true);
      if (pfn >= this.ramPages) {
        this.counters.badPfns++;
      } else if (inflate) {
        this.pages.add(pfn);
        this.counters.inflated++;
      } else if (this.pages.delete(pfn)) {
        this.counters.deflated++;
      } else {
        this.counters.badPfns++;
      }
    }
  }

  private readStats(chain: DescChain): void {
    const q = this.ctx!.queue(Q.stats)!;
    if (chain.readLength % 10 !== 0) this.counters.badBuffers++;
    const buf = new Uint8Array(Math.min(chain.readLength - (chain.readLength % 10), 10 * 64));
    q.read(chain, 0, buf);
    const dv = new DataView(buf.buffer);
    for (let at = 0; at < buf.length; at += 10) this.stats.set(dv.getUint16(at, true), dv.getBigUint64(at + 2, true));
    this.counters.statsUpdates++;
  }

  /** For `info virtio`-style summaries: pages held and the guest's reported free memory. */
  describe(): string {
    const free = this.stats.get(BALLOON_STAT.MEMFREE);
    return `balloon: target ${this.numPages} pages, actual ${this.actual}, held ${this.pages.size}${free === undefined ? "" : `, guest free ${free} bytes`}`;
  }
}
