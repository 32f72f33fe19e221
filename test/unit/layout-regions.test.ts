// The regions of a core instance's memory (core/layout/layout.mjs) are disjoint and in address
// order, so no table can grow into its neighbour through the layout itself; the core asserts at
// start that its own tables fit the regions they are given (core/mmu/shadow-pool.ts,
// core/bt/cache.ts).

import { describe, expect, it } from "vitest";
import { regions } from "../../core/layout/layout.mjs";
import { Cpu } from "../../vmm/cpu.js";
import * as L from "../../vmm/generated/layout.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";

describe("memory layout", () => {
  it("regions are in address order and do not overlap; RAM is last and 4 MiB-aligned", () => {
    const list = regions as [string, number, number, string][];
    for (let i = 1; i < list.length; i++) {
      const [prev, base, size] = list[i - 1]!;
      const [name, next] = list[i]!;
      expect(base + size, `${prev} runs into ${name}`).toBeLessThanOrEqual(next);
    }
    expect(list.at(-1)![0]).toBe("RAM");
    expect(L.RAM_BASE % (4 << 20)).toBe(0);
  });

  it("the per-frame tables cover every 4 KiB frame of the 32-bit physical space", () => {
    const frames = 2 ** 32 / 4096;
    expect(L.HV_FRAME_BYTES).toBe(frames * 4);
    expect(L.HV_SHADOW_FRAMES_BYTES).toBe(frames * 2);
    expect(L.HV_BT_FRAMES_BYTES).toBe(frames * 4);
    expect(L.HV_DIRTY_LOG_BYTES).toBe((frames / 8) * 2);
  });

  it("the core instantiates (its start-up checks of its tables against the regions pass)", async () => {
    const cpu = await Cpu.create(loadCoreModule(), 1 << 20);
    expect(cpu.ramBytes).toBe(1 << 20);
  });
});
