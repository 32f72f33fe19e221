// The page-walk view reads the guest's walk, the shadow entries and the 2-D EPT walk without
// changing anything: nanobench (paging on, an identity map of 4 KiB pages) after its run.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadMultiboot } from "../../vmm/boot/multiboot.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { readWalkStats } from "../../vmm/stats/core-stats.js";
import type { MmuMode, VirtMode } from "../../vmm/virt/vmcs.js";
import { pageWalkView } from "../../vmm/virt/walk-view.js";
import { Vm } from "../../vmm/vm.js";

async function nanobench(mode: VirtMode, mmu: MmuMode): Promise<Vm> {
  const kernel = new Uint8Array(readFileSync(new URL("../../guests/labs/nanobench/nanobench.elf", import.meta.url)));
  const vm = await Vm.create({ module: loadCoreModule(), ramBytes: 32 << 20, clock: "icount", mode, mmu });
  loadMultiboot(vm.cpu, { kernel, cmdline: "nanobench" });
  expect(vm.run(50_000_000).kind).toBe("debug-exit");
  return vm;
}

describe("page-walk view", () => {
  it("walks the guest's tables natively: identity map, two references", async () => {
    const vm = await nanobench("native", "direct");
    const v = pageWalkView(vm.cpu, "direct", 0x00101234);
    expect(v.paging).toBe(true);
    expect(v.guest.map((e) => e.level)).toEqual(["PDE", "PTE"]);
    expect(v.guest.every((e) => e.present)).toBe(true);
    expect(v.gpa).toBe(0x00101234); // nanobench identity-maps its first 16 MiB
    expect(v.references).toBe(2);
    expect(v.shadow).toBeUndefined();
    expect(v.ept).toBeUndefined();
  });

  it("shows the 2-D walk under EPT: 3 x 4 EPT references plus the guest's 2, and reads without counting", async () => {
    const vm = await nanobench("hvm", "ept");
    const before = readWalkStats(vm.cpu);
    const v = pageWalkView(vm.cpu, "ept", 0x00101234);
    expect(v.ept?.map((w) => w.for)).toEqual(["PDE", "PTE", "data"]);
    for (const w of v.ept!) {
      expect(w.entries.map((e) => e.level)).toEqual(["EPT PML4E", "EPT PDPTE", "EPT PDE", "EPT PTE"]);
      expect(w.hostPage).not.toBeNull();
    }
    expect(v.references).toBe(14);
    // The data page's host page is the guest RAM page behind it (core memory: RAM_BASE + gpa).
    const ram = vm.cpu.ram;
    expect(v.ept![2]!.hostPage! - (ram.byteOffset + (0x00101000 as number))).toBe(0);
    expect(readWalkStats(vm.cpu)).toEqual(before);
  });

  it("shows the shadow entries under shadow paging, mapping the same guest frame", async () => {
    const vm = await nanobench("hvm", "shadow");
    const v = pageWalkView(vm.cpu, "shadow", 0x00101234);
    expect(v.shadow?.map((e) => e.level)).toEqual(["shadow PDE", "shadow PTE"]);
    const spte = v.shadow![1]!;
    expect(spte.present).toBe(true);
    expect(spte.entry & ~0xfff).toBe(v.gpa! & ~0xfff);
    expect(v.references).toBe(2);
  });
});
