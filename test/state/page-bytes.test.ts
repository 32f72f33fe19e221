// page-bytes.ts: the page comparisons of live migration's source, the same in Node (Buffer) and
// in a Worker (a 32-bit word loop, or a byte loop for unaligned ranges).

import { describe, expect, it } from "vitest";
import { bytesEqual, isZeroPage, wordsEqual } from "../../vmm/state/page-bytes.js";

describe("page comparisons", () => {
  const a = new Uint8Array(64 * 1024);
  for (let i = 0; i < a.length; i++) a[i] = (i * 31 + 7) & 0xff;

  it("find a one-byte difference anywhere, aligned or not, with Buffer and without", () => {
    for (const at of [0, 1, 3, 4095, 4096, 40_000, a.length - 1]) {
      const b = a.slice();
      b[at]! ^= 0x10;
      for (const eq of [bytesEqual, wordsEqual]) {
        expect(eq(a, 0, b, 0, a.length), `${eq.name} at ${at}`).toBe(false);
        expect(eq(a, 0, a.slice(), 0, a.length), eq.name).toBe(true);
        // An unaligned window that holds the difference, and one that does not.
        const from = Math.max(0, at - 5);
        expect(eq(a, from, b, from, Math.min(11, a.length - from)), `${eq.name} window at ${at}`).toBe(false);
        if (at > 20) expect(eq(a, 1, b, 1, 17), `${eq.name} before ${at}`).toBe(true);
      }
    }
  });

  it("tell an all-zero page from one with a single bit set", () => {
    const ram = new Uint8Array(3 * 4096);
    ram[4096 + 4095] = 1;
    expect([0, 1, 2].map((f) => isZeroPage(ram, f))).toEqual([true, false, true]);
  });
});
