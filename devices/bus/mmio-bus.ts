// The MMIO bus: device ranges in the 32-bit guest-physical address space (the core sends here
// the accesses that hit no RAM). Same rules as the port bus: ranges never overlap, an unclaimed
// address reads as all ones (open bus) and ignores writes, and an access wider than a device
// accepts, or one that crosses the end of its range, is split into halves then bytes.

import type { AccessSize } from "./port-bus.js";

export interface MmioRange {
  owner: string;
  /** First physical address. */
  base: number;
  /** Size in bytes. */
  length: number;
  /** Widths taken whole (mask of 1, 2, 4; byte access is always allowed). Default 1 | 2 | 4. */
  sizes?: number;
  /** `addr` is absolute. Missing: reads as all ones. */
  read?(addr: number, size: AccessSize): number;
  write?(addr: number, size: AccessSize, value: number): void;
}

export interface MmioHandle {
  readonly range: Readonly<MmioRange>;
  remove(): void;
}

const hex = (n: number): string => "0x" + n.toString(16).padStart(8, "0");
const ONES: Record<AccessSize, number> = { 1: 0xff, 2: 0xffff, 4: 0xffffffff };
const ADDRESS_SPACE = 0x1_0000_0000;

/** A registered range with its access count. */
type Stored = MmioRange & { hits: number };

export class MmioBus {
  /** Sorted by base; few entries, so a binary search over an array is enough. */
  private ranges: Stored[] = [];
  /** Accesses to ranges since removed, by owner. */
  private readonly retired = new Map<string, number>();
  onUnclaimed: ((kind: "read" | "write", addr: number, size: AccessSize, value: number) => void) | undefined;

  register(range: MmioRange): MmioHandle {
    const { base, length, owner } = range;
    if (!Number.isInteger(base) || !Number.isInteger(length) || base < 0 || length <= 0) {
      throw new RangeError(`MMIO range for "${owner}" is invalid: base ${base}, length ${length}`);
    }
    const end = base + length; // exclusive
    if (end > ADDRESS_SPACE) {
      throw new RangeError(`MMIO range ${hex(base)}-${hex(end - 1)} for "${owner}" is outside the 32-bit space`);
    }
    for (const o of this.ranges) {
      if (base < o.base + o.length && o.base < end) {
        throw new Error(
          `MMIO range ${hex(base)}-${hex(end - 1)} for "${owner}" overlaps ${hex(o.base)}-${hex(o.base + o.length - 1)} owned by "${o.owner}"`,
        );
      }
    }
    const stored: Stored = { ...range, sizes: (range.sizes ?? 7) | 1, hits: 0 };
    this.ranges.push(stored);
    this.ranges.sort((a, b) => a.base - b.base);
    return {
      range: stored,
      remove: () => {
        if (!this.ranges.includes(stored)) return;
        this.ranges = this.ranges.filter((r) => r !== stored);
        this.retired.set(stored.owner, (this.retired.get(stored.owner) ?? 0) + stored.hits);
      },
    };
  }

  /** Accesses each owner's ranges took (see PortBus.accessCounts). */
  accessCounts(): Map<string, number> {
    const counts = new Map(this.retired);
    for (const r of this.ranges) counts.set(r.owner, (counts.get(r.owner) ?? 0) + r.hits);
    return counts;
  }

  /** The range holding `addr`, or undefined. */
  find(addr: number): Stored | undefined {
    addr >>>= 0;
    const rs = this.ranges;
    let lo = 0;
    let hi = rs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = rs[mid]!;
      if (addr < r.base) hi = mid - 1;
      else if (addr >= r.base + r.length) lo = mid + 1;
      else return r;
    }
    return undefined;
  }

  read(addr: number, size: AccessSize): number {
    addr >>>= 0;
    const r = this.find(addr);
    if (r) {
      if ((r.sizes! & size) !== 0 && addr + size <= r.base + r.length) {
        r.hits++;
        return r.read ? r.read(addr, size) >>> 0 : ONES[size];
      }
    } else if (size === 1 || this.noneIn(addr, size)) {
      this.onUnclaimed?.("read", addr, size, 0);
      return ONES[size];
    }
    const half = (size >> 1) as AccessSize;
    const lo = this.read(addr, half);
    const hi = this.read((addr + half) >>> 0, half);
    return (lo | (hi << (half * 8))) >>> 0;
  }

  write(addr: number, size: AccessSize, value: number): void {
    addr >>>= 0;
    value >>>= 0;
    const r = this.find(addr);
    if (r) {
      if ((r.sizes! & size) !== 0 && addr + size <= r.base + r.length) {
        r.hits++;
        r.write?.(addr, size, size === 4 ? value : value & ONES[size]);
        return;
      }
    } else if (size === 1 || this.noneIn(addr, size)) {
      this.onUnclaimed?.("write", addr, size, value & ONES[size]);
      return;
    }
    const half = (size >> 1) as AccessSize;
    this.write(addr, half, half === 2 ? value & 0xffff : value & 0xff);
    this.write((addr + half) >>> 0, half, half === 2 ? value >>> 16 : (value >>> 8) & 0xff);
  }

  private noneIn(addr: number, size: number): boolean {
    for (let k = 0; k < size; k++) if (this.find((addr + k) >>> 0)) return false;
    return true;
  }
}
