// The port I/O bus: the 64 KiB x86 I/O space, each port owned by at most one device.
// An unclaimed port reads as all ones (nothing drives the ISA data lines, the pull-ups win) and
// ignores writes. An access wider than a device accepts is split into narrower ones, low port
// first, as the ISA bus's 8-bit cycle splitting does for 8-bit cards.

/** Access widths in bytes. */
export type AccessSize = 1 | 2 | 4;

/** A device's claim on a range of ports. */
export interface PortRange {
  /** Who owns the range: named in overlap errors and traces. */
  owner: string;
  /** First port. */
  start: number;
  /** Number of ports. */
  length: number;
  /**
   * Access widths the handlers take whole (a mask of 1, 2 and 4; byte access is always
   * allowed). A wider access, or one that runs past the end of the range, is split into halves
   * and then bytes.
   */
  sizes?: number;
  /** Reads `size` bytes at `port` (absolute). Missing: the range reads as all ones. */
  read?(port: number, size: AccessSize): number;
  /** Writes `size` bytes at `port` (absolute). Missing: writes are ignored. */
  write?(port: number, size: AccessSize, value: number): void;
}

/** A registration, to remove later (PCI BARs move). */
export interface PortHandle {
  readonly range: Readonly<PortRange>;
  remove(): void;
}

export type UnclaimedHook = (kind: "read" | "write", port: number, size: AccessSize, value: number) => void;

export const PORT_SPACE_SIZE = 0x10000;

const hex = (n: number, digits = 4): string => "0x" + n.toString(16).padStart(digits, "0");

const ONES: Record<AccessSize, number> = { 1: 0xff, 2: 0xffff, 4: 0xffffffff };

/** A registered range with its access count (the handlers see only what they registered). */
type Stored = PortRange & { hits: number };

export class PortBus {
  /** owner index + 1 for every port, 0 when unclaimed. */
  private readonly map = new Uint16Array(PORT_SPACE_SIZE);
  private readonly ranges: (Stored | undefined)[] = [];
  /** Accesses to ranges since removed, by owner. */
  private readonly retired = new Map<string, number>();
  /** Called for each access to an unclaimed port (bring-up traces); nothing by default. */
  onUnclaimed: UnclaimedHook | undefined;

  register(range: PortRange): PortHandle {
    const { start, length, owner } = range;
    if (!Number.isInteger(start) || !Number.isInteger(length) || length <= 0 || start < 0) {
      throw new RangeError(`port range for "${owner}" is invalid: start ${start}, length ${length}`);
    }
    const end = start + length - 1;
    if (end >= PORT_SPACE_SIZE) {
      throw new RangeError(`port range ${hex(start)}-${hex(end)} for "${owner}" is outside the 16-bit port space`);
    }
    for (let p = start; p <= end; p++) {
      const other = this.map[p];
      if (other !== 0) {
        const o = this.ranges[other - 1]!;
        throw new Error(
          `port range ${hex(start)}-${hex(end)} for "${owner}" overlaps ${hex(o.start)}-${hex(o.start + o.length - 1)} owned by "${o.owner}"`,
        );
      }
    }
    let slot = this.ranges.indexOf(undefined);
    if (slot < 0) slot = this.ranges.push(undefined) - 1;
    if (slot >= 0xffff) throw new Error("too many port ranges");
    const stored: Stored = { ...range, sizes: (range.sizes ?? 1) | 1, hits: 0 };
    this.ranges[slot] = stored;
    this.map.fill(slot + 1, start, end + 1);
    return {
      range: stored,
      remove: () => {
        if (this.ranges[slot] !== stored) return;
        this.ranges[slot] = undefined;
        this.retired.set(stored.owner, (this.retired.get(stored.owner) ?? 0) + stored.hits);
        this.map.fill(0, start, end + 1);
      },
    };
  }

  /**
   * Accesses each owner's ranges took (the device's side of every I/O crossing: an access a
   * device takes whole counts once, one split into narrower ones counts per piece).
   */
  accessCounts(): Map<string, number> {
    const counts = new Map(this.retired);
    for (const r of this.ranges) if (r) counts.set(r.owner, (counts.get(r.owner) ?? 0) + r.hits);
    return counts;
  }

  /** The owner of a port, or undefined. */
  ownerOf(port: number): string | undefined {
    const i = this.map[port & 0xffff];
    return i === 0 ? undefined : this.ranges[i - 1]!.owner;
  }

  read(port: number, size: AccessSize): number {
    port &= 0xffff;
    const i = this.map[port];
    if (i !== 0) {
      const r = this.ranges[i - 1]!;
      if ((r.sizes! & size) !== 0 && port + size <= r.start + r.length) {
        r.hits++;
        return r.read ? r.read(port, size) >>> 0 : ONES[size];
      }
    } else if (size === 1 || this.allUnclaimed(port, size)) {
      this.onUnclaimed?.("read", port, size, 0);
      return ONES[size];
    }
    const half = (size >> 1) as AccessSize;
    const lo = this.read(port, half);
    const hi = this.read((port + half) & 0xffff, half);
    return (lo | (hi << (half * 8))) >>> 0;
  }

  write(port: number, size: AccessSize, value: number): void {
    port &= 0xffff;
    value >>>= 0;
    const i = this.map[port];
    if (i !== 0) {
      const r = this.ranges[i - 1]!;
      if ((r.sizes! & size) !== 0 && port + size <= r.start + r.length) {
        r.hits++;
        r.write?.(port, size, size === 4 ? value : value & ONES[size]);
        return;
      }
    } else if (size === 1 || this.allUnclaimed(port, size)) {
      this.onUnclaimed?.("write", port, size, value & ONES[size]);
      return;
    }
    const half = (size >> 1) as AccessSize;
    const bits = half * 8;
    this.write(port, half, half === 2 ? value & 0xffff : value & 0xff);
    this.write((port + half) & 0xffff, half, half === 2 ? value >>> 16 : (value >>> bits) & 0xff);
  }

  private allUnclaimed(port: number, size: number): boolean {
    for (let k = 0; k < size; k++) if (this.map[(port + k) & 0xffff] !== 0) return false;
    return true;
  }
}
