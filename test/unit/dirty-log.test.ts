// The core's dirty-page log (core/mmu/dirty-log.ts) in every MMU mode: a guest loop with paging
// on stores to two pages and increments a word in a third; each collection names exactly the
// frames written since the one before, through the interpreter, compiled code (the JIT compiles
// on first sight here), the bt mode's translated kernel code and the trap mode's deprivileged
// kernel; device DMA and host writes count too. A collection takes fast writes away again from
// TLB entries that had them back (the loop's pages are logged in every round, not only the
// first), and stopping gives them back. Logging changes nothing the guest computes.

import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import * as L from "../../vmm/generated/layout.js";
import { dirtyTracker } from "../../vmm/state/dirty-tracker.js";
import type { MmuMode, VirtMode } from "../../vmm/virt/vmcs.js";
import type { Vm } from "../../vmm/vm.js";
import { PD, PT, pagedGuest, THREE_PAGES } from "./dirty-guest.js";

const WRITTEN = [0x500, 0x503, 0x506];
const guest = (mode: VirtMode, mmu: MmuMode | undefined, jit: boolean) => pagedGuest(mode, mmu, THREE_PAGES, { jit });

const ramHash = (vm: Vm) => createHash("sha256").update(vm.cpu.ram).digest("hex");
const kindOf = (vm: Vm, gfn: number) => vm.cpu.u32(L.PHYSMAP_BASE + gfn * 4) & 0xf;
const tlbOf = (vm: Vm, lin: number) => vm.cpu.u32(L.TLB_BASE + (lin >>> 12) * 4);

const MODES: [VirtMode, MmuMode | undefined][] = [
  ["native", undefined],
  ["trap", undefined],
  ["bt", undefined],
  ["hvm", "shadow"],
  ["hvm", "ept"],
];

describe("the dirty-page log", () => {
  for (const [mode, mmu] of MODES) {
    for (const jit of [false, true]) {
      const name = `${mode}${mmu ? `/${mmu}` : ""}, JIT ${jit ? "on" : "off"}`;
      it(`${name}: each collection names the frames written since the last`, async () => {
        const vm = await guest(mode, mmu, jit);
        expect(vm.run(20_000).kind).toBe("limit");
        const tracker = dirtyTracker(vm);
        expect(tracker.kind).toBe(mmu === "ept" ? "ept-log" : "write-track");
        expect(tracker.start()).toEqual(expect.arrayContaining([0x100, ...WRITTEN]));
        // Under EPT with A/D flags on, the walk's accesses to the guest's tables count as writes.
        const tables = mmu === "ept" ? [PD >>> 12, PT >>> 12] : [];
        const settled = (frames: number[]) => frames.filter((f) => !tables.includes(f));
        for (let round = 0; round < 3; round++) {
          expect(vm.run(20_000).kind).toBe("limit");
          // After its first write in the round the loop's page is written on the fast path.
          const fast = L.TLB_VALID | L.TLB_NO_SUPER_WRITE | L.TLB_WRITE_PHYS_SUPER;
          expect(tlbOf(vm, 0x500000) & fast).toBe(L.TLB_VALID);
          expect(settled(tracker.collect()), `round ${round}`).toEqual(WRITTEN);
          // The collection took the fast writes away (EPT: the whole TLB is flushed).
          expect(tlbOf(vm, 0x500000) & fast).not.toBe(L.TLB_VALID);
          expect(tracker.collect(), "nothing ran since").toEqual([]);
        }
        // The JIT compiles no code of the trap mode's deprivileged kernel.
        if (jit && mode !== "trap") expect(vm.cpu.u32(L.S_JIT_INSNS)).toBeGreaterThan(0);
        if (mode === "bt") expect(vm.cpu.u32(L.S_BT_BLOCKS)).toBeGreaterThan(0);

        // Device DMA and the host's own writes, with the guest stopped.
        vm.memory.write(0x600ffe, Uint8Array.of(1, 2, 3, 4)); // two pages
        vm.cpu.writePhysical(0x7ff000, Uint8Array.of(9));
        expect(tracker.collect()).toEqual([0x600, 0x601, 0x7ff]);

        tracker.stop();
        expect(vm.run(20_000).kind).toBe("limit");
        // No frame stays write-protected for the log, and the loop's page is written fast again.
        for (const gfn of [0x500, 0x600, 0x700, 0xfff]) expect(kindOf(vm, gfn), `frame ${gfn}`).toBe(L.PHYS_RAM);
        expect(tlbOf(vm, 0x500000) & (L.TLB_VALID | L.TLB_NO_SUPER_WRITE | L.TLB_WRITE_PHYS_SUPER)).toBe(L.TLB_VALID);
        // EPT's dirty flags log whether or not a migration reads them; write protection stops.
        if (mmu !== "ept") expect(tracker.collect(), "stopped: not logged").toEqual([]);
      });
    }
  }

  it("logging changes nothing the guest computes (bt, JIT on)", async () => {
    const plain = await guest("bt", undefined, true);
    const logged = await guest("bt", undefined, true);
    plain.run(5_000);
    logged.run(5_000);
    const tracker = dirtyTracker(logged);
    tracker.start();
    for (let i = 0; i < 5; i++) {
      plain.run(10_000);
      logged.run(10_000);
      tracker.collect();
    }
    tracker.stop();
    expect(logged.cpu.instructions).toBe(plain.cpu.instructions);
    expect(logged.cpu.reg(1)).toBe(plain.cpu.reg(1));
    expect(ramHash(logged)).toBe(ramHash(plain));
  });

  it("the compare tracker, the fallback, finds the same frames (native)", async () => {
    const vm = await guest("native", undefined, false);
    vm.run(20_000);
    const tracker = dirtyTracker(vm, "compare");
    expect(tracker.kind).toBe("compare");
    for (const f of tracker.start()) tracker.sent(f);
    vm.run(20_000);
    const dirty = tracker.collect();
    expect(dirty).toEqual(WRITTEN);
    for (const f of dirty) tracker.sent(f);
    expect(tracker.collect()).toEqual([]);
    tracker.stop();
  });
});
