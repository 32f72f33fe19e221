// Device DMA through the VM's GuestMemory: bounds-checked against the physical map (RAM only;
// ROM readable), and every write seen as the CPU's own stores are: the translator drops code a
// DMA overwrote, and the EPT dirty log lists the frames DMA wrote.

import { describe, expect, it } from "vitest";
import { DmaError } from "../../devices/dma.js";
import { Cpu } from "../../vmm/cpu.js";
import * as L from "../../vmm/generated/layout.js";
import { CpuGuestMemory } from "../../vmm/guest-memory.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { collectDirtyFrames } from "../../vmm/virt/dirty-log.js";
import { Vm } from "../../vmm/vm.js";
import { CODE, d32, enterFlat32, machine } from "../system/harness.js";

describe("GuestMemory for device DMA", () => {
  it("reads and writes RAM, little-endian words included, and counts the traffic", async () => {
    const vm = await Vm.create({ module: loadCoreModule(), ramBytes: 1 << 20 });
    const mem = vm.memory;
    expect(mem.size).toBe(1 << 20);
    mem.write(0x1ffe, Uint8Array.of(1, 2, 3, 4)); // crosses a page boundary
    expect(Array.from(vm.cpu.readPhysical(0x1ffe, 4))).toEqual([1, 2, 3, 4]);
    expect(mem.readU32(0x1ffe)).toBe(0x04030201);
    mem.writeU16(0x3000, 0xbeef);
    mem.writeU32(0x3004, 0xdeadbeef);
    expect(mem.readU16(0x3000)).toBe(0xbeef);
    expect(Array.from(mem.read(0x3004, 4))).toEqual([0xef, 0xbe, 0xad, 0xde]);
    expect(mem.counters.writes).toBe(3);
    expect(mem.counters.bytesWritten).toBe(10);
    expect(mem.counters.faults).toBe(0);
  });

  it("refuses what is not RAM: past the end, the VGA window, open bus; ROM is read-only", async () => {
    const vm = await Vm.create({ module: loadCoreModule(), ramBytes: 1 << 20, vga: true });
    const mem = vm.memory;
    expect(mem.check(0xff000, 0x1000, true)).toBe(true);
    expect(mem.check(0xff000, 0x1001)).toBe(false);
    expect(mem.check(-1, 4)).toBe(false);
    expect(mem.check(0.5, 4)).toBe(false);
    expect(mem.check(0xb8000, 2)).toBe(false); // VGA text window: device memory
    expect(mem.check(0xfffffff0, 0x20)).toBe(false); // wraps past 4 GiB
    expect(() => mem.write(0xffffe, Uint8Array.of(1, 2, 3, 4))).toThrow(DmaError);
    expect(vm.cpu.readPhysical(0xffffe, 2)).toEqual(new Uint8Array(2)); // nothing written
    expect(() => mem.read(0xb8000, 16)).toThrow(DmaError);
    expect(() => mem.readU32(0x2000_0000)).toThrow(/outside RAM/);
    vm.cpu.loadRom(0xffff0000, new Uint8Array(0x10000).fill(0x5a));
    expect(mem.check(0xffff0000, 16)).toBe(true);
    expect(mem.check(0xffff0000, 16, true)).toBe(false);
    expect(mem.readU16(0xfffffffe)).toBe(0x5a5a);
    expect(mem.counters.faults).toBe(3);
  });

  it("makes the translator drop code that DMA overwrote", async () => {
    // mov eax, 1; hlt: translated and run, then a DMA rewrites the immediate to 2.
    const m = await machine();
    m.cpu.setVirtualization(L.VIRT_BT, L.MMU_DIRECT);
    enterFlat32(m, [0xb8, ...d32(1), 0xf4]);
    expect(m.cpu.run(100)).toBe("halt");
    expect(m.cpu.reg(0)).toBe(1);
    const invalidated = m.cpu.u32(L.S_BT_INVALIDATED);
    new CpuGuestMemory(m.cpu).writeU32(CODE + 1, 2);
    expect(m.cpu.u32(L.S_BT_INVALIDATED)).toBeGreaterThan(invalidated);
    m.cpu.setU32(L.S_HALTED, 0);
    m.cpu.eip = CODE;
    expect(m.cpu.run(100)).toBe("halt");
    expect(m.cpu.reg(0)).toBe(2);
  });

  it("makes the JIT drop a compiled block that DMA overwrote", async () => {
    // A loop (mov ecx, 4; L: mov eax, 1; dec ecx; jnz L; hlt) compiled at its first visit.
    const cpu = await Cpu.create(loadCoreModule(), 4 << 20, {}, { jit: true, jitThreshold: 1 });
    const m = { cpu, console: [], exitCode: null, writes: [] };
    enterFlat32(m, [0xb9, ...d32(4), 0xb8, ...d32(1), 0x49, 0x75, 0xfa, 0xf4]);
    expect(cpu.run(100)).toBe("halt");
    expect(cpu.reg(0)).toBe(1);
    expect(cpu.u32(L.S_JIT_LIVE)).toBeGreaterThan(0);
    const invalidated = cpu.u32(L.S_JIT_INVALIDATED);
    new CpuGuestMemory(cpu).writeU32(CODE + 6, 2);
    expect(cpu.u32(L.S_JIT_INVALIDATED)).toBeGreaterThan(invalidated);
    cpu.setU32(L.S_HALTED, 0);
    cpu.eip = CODE;
    expect(cpu.run(100)).toBe("halt");
    expect(cpu.reg(0)).toBe(2);
  });

  it("puts the frames DMA wrote in the EPT dirty log", async () => {
    const vm = await Vm.create({ module: loadCoreModule(), ramBytes: 4 << 20, mode: "hvm", mmu: "ept" });
    collectDirtyFrames(vm.cpu);
    vm.memory.write(0x123ff0, new Uint8Array(0x20)); // frames 0x123 and 0x124
    vm.memory.writeU16(0x200000, 7);
    expect(collectDirtyFrames(vm.cpu).frames).toEqual([0x123, 0x124, 0x200]);
    expect(collectDirtyFrames(vm.cpu).frames).toEqual([]);
  });
});
