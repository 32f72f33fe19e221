// The fuzzer's seeded randomness: every case is a pure function of (target, seed), so a saved
// seed replays the same case. pure-rand's xoroshiro128+ does the generating.

import { uniformInt } from "pure-rand/distribution/uniformInt";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";

export class Rng {
  private readonly gen;

  constructor(seed: number) {
    this.gen = xoroshiro128plus(seed | 0);
  }

  /** An integer in [lo, hi], both included. */
  int(lo: number, hi: number): number {
    return uniformInt(this.gen, lo, hi);
  }

  /** A 32-bit unsigned value. */
  u32(): number {
    return (uniformInt(this.gen, 0, 0xffff) * 0x10000 + uniformInt(this.gen, 0, 0xffff)) >>> 0;
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return uniformInt(this.gen, 0, 999_999) < p * 1_000_000;
  }

  pick<T>(items: readonly T[]): T {
    return items[uniformInt(this.gen, 0, items.length - 1)];
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = uniformInt(this.gen, 0, 255);
    return out;
  }
}
