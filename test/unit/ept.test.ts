// EPT (hvm/ept): the second translation stage the VMM builds on EPT violations, the 2-D walk's
// cost (SDM vol. 3C 28.2; reference/virtualization.md 5.5-5.6), misconfigured leaves for device
// memory and open bus, and dirty logging through EPT's dirty flags.

import { describe, expect, it } from "vitest";
import { bootLinux } from "../../bench/modes/linux-boot.js";
import { Cpu, REG, SEG } from "../../vmm/cpu.js";
import * as L from "../../vmm/generated/layout.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { readCoreStats, readWalkStats } from "../../vmm/stats/core-stats.js";
import { collectDirtyFrames } from "../../vmm/virt/dirty-log.js";
import { configureVirtualization } from "../../vmm/virt/vmcs.js";

const EXIT_EPT_VIOLATION = 48;
const EXIT_EPT_MISCONFIG = 49;

// Qualification bits of an EPT violation (SDM table 27-7).
const Q_READ = 1 << 0;
const Q_WRITE = 1 << 1;
const Q_FETCH = 1 << 2;
const Q_LINEAR_VALID = 1 << 7;
const Q_FINAL = 1 << 8;

// EPT entry bits.
const EPT_W = 2;
const EPT_X = 4;
const EPT_ACCESSED = 1 << 8;
const EPT_DIRTY = 1 << 9;

// The guest: 8 MiB of RAM, a page directory at 4 KiB, one page table at 8 KiB, code at 12 KiB.
const RAM = 8 << 20;
const PD = 0x1000;
const PT = 0x2000;
const CODE = 0x3000;
const P_RW = 0x3; // present, writable
const ACCESSED_DIRTY = 0x60;
const PS = 0x80;

function writeU32(cpu: Cpu, gpa: number, v: number): void {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  cpu.writePhysical(gpa, b);
}

/**
 * Flat 32-bit protected mode with paging through PD: PDE 0 -> PT, which maps the first 4 MiB
 * one to one; PDE 1 a 4 MiB page over 4-8 MiB; `extraPdes` adds others.
 */
async function pagedGuest(extraPdes: Record<number, number> = {}): Promise<Cpu> {
  const cpu = await Cpu.create(loadCoreModule(), RAM);
  configureVirtualization(cpu, "hvm", "ept");
  writeU32(cpu, PD, PT | P_RW);
  writeU32(cpu, PD + 4, 0x400000 | PS | P_RW);
  for (const [i, pde] of Object.entries(extraPdes)) writeU32(cpu, PD + Number(i) * 4, pde);
  for (let i = 0; i < 1024; i++) writeU32(cpu, PT + i * 4, (i << 12) | P_RW);
  cpu.setSegment(SEG.CS, { selector: 0x08, base: 0, limit: 0xffffffff, attr: 0xc09b });
  for (const s of [SEG.DS, SEG.ES, SEG.SS]) {
    cpu.setSegment(s, { selector: 0x10, base: 0, limit: 0xffffffff, attr: 0xc093 });
  }
  cpu.setCr(4, 0x10); // PSE
  cpu.setCr(3, PD);
  cpu.setCr(0, 0x80000011); // PG, ET, PE
  cpu.stopOnException = true;
  return cpu;
}

/**
 * Runs code bytes at CODE (written by the host, so not seen by EPT) for `budget` instructions, or
 * to its final HLT when budget is omitted.
 */
function runCode(cpu: Cpu, code: number[], budget?: number): string {
  cpu.writePhysical(CODE, Uint8Array.from([...code, 0xf4]));
  cpu.eip = CODE;
  cpu.halted = false;
  return cpu.run(budget ?? 100_000);
}

const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
const loadEax = (addr: number) => [0xa1, ...le32(addr)]; // mov eax, [addr]
const storeEax = (addr: number) => [0xa3, ...le32(addr)]; // mov [addr], eax
const invlpg = (addr: number) => [0x0f, 0x01, 0x3d, ...le32(addr)]; // invlpg [addr]

/** The EPT leaf for `gpa` as the walk would find it, or null if an upper level is not present. */
function eptLeaf(cpu: Cpu, gpa: number): number | null {
  const dv = new DataView(cpu.memory.buffer);
  let table = Number(dv.getBigUint64(L.S_VMCS_EPTP, true) & ~0xfffn);
  const index = [0, gpa >>> 30, (gpa >>> 21) & 511, (gpa >>> 12) & 511];
  for (let level = 0; level < 4; level++) {
    const e = Number(dv.getBigUint64(table + index[level]! * 8, true));
    if (level === 3) return e;
    if ((e & 7) === 0) return null;
    table = (e & ~0xfff) >>> 0;
  }
  return null;
}

function exitCount(cpu: Cpu, reason: number, where: "core" | "host"): number {
  const row = readCoreStats(cpu).counters.find((c) => c.kind === "exit" && c.reason === reason);
  return row ? row[where] : 0;
}

function traced(cpu: Cpu, reason: number): { qualification: number; gpa: number }[] {
  return readCoreStats(cpu)
    .trace.entries.filter((e) => e.kind === "exit" && e.reason === reason)
    .map((e) => ({ qualification: e.qualification, gpa: e.gpa }));
}

describe("EPT", () => {
  it("programs EPTP: write-back, a 4-level walk, A/D flags, a PML4 in the EPT pool", async () => {
    const cpu = await pagedGuest();
    const eptp = new DataView(cpu.memory.buffer).getBigUint64(L.S_VMCS_EPTP, true);
    expect(Number(eptp & 0xfffn)).toBe(6 | (3 << 3) | (1 << 6));
    const pml4 = Number(eptp & ~0xfffn);
    expect(pml4).toBeGreaterThanOrEqual(L.EPT_BASE);
    expect(pml4).toBeLessThan(L.EPT_BASE + L.EPT_BYTES);
  });

  it("faults pages in on first touch with the SDM's qualification and addresses", async () => {
    const cpu = await pagedGuest();
    writeU32(cpu, PT + 0x200 * 4, 0x123000 | P_RW); // linear 0x200000 -> guest-physical 0x123000
    expect(runCode(cpu, loadEax(0x200000), 1)).toBe("budget");
    // The last exit is the data read: the final translation, guest-linear address valid.
    expect(cpu.u32(L.S_VMCS_EXIT_REASON)).toBe(EXIT_EPT_VIOLATION);
    expect(cpu.u32(L.S_VMCS_EXIT_QUALIFICATION)).toBe(Q_READ | Q_LINEAR_VALID | Q_FINAL);
    expect(cpu.u32(L.S_VMCS_GUEST_PHYSICAL_ADDRESS)).toBe(0x123000);
    expect(cpu.u32(L.S_VMCS_GUEST_LINEAR_ADDRESS)).toBe(0x200000);
    const exits = traced(cpu, EXIT_EPT_VIOLATION);
    // Before it: the code fetch's walk. With EPT A/D flags on, reads of guest paging-structure
    // entries count as writes (SDM 28.2.3.2), and bit 8 is clear for them.
    expect(exits).toEqual([
      // Guest paging-structure accesses are writes with EPT A/D on: both bits 0 and 1.
      { qualification: Q_READ | Q_WRITE | Q_LINEAR_VALID, gpa: PD },
      { qualification: Q_READ | Q_WRITE | Q_LINEAR_VALID, gpa: PT + (CODE >>> 12) * 4 },
      { qualification: Q_FETCH | Q_LINEAR_VALID | Q_FINAL, gpa: CODE },
      { qualification: Q_READ | Q_LINEAR_VALID | Q_FINAL, gpa: 0x123000 },
    ]);
    const violations = readCoreStats(cpu).counters.filter((c) => c.kind === "eptViolation");
    expect(violations.map((c) => [c.reason, c.core])).toEqual([
      [0, 1],
      [1, 2],
      [2, 1],
    ]);
    const leaf = eptLeaf(cpu, 0x123000)!;
    expect((leaf & ~0xfff) >>> 0).toBe(L.RAM_BASE + 0x123000);
    expect(leaf & 0x3f).toBe(7 | (6 << 3)); // RWX, write-back
    expect(cpu.reg(REG.EAX)).toBe(0);
  });

  it("a second touch does not exit, and a 4 KiB TLB miss costs 2 + 12 = 14 references", async () => {
    const cpu = await pagedGuest();
    // INVLPG drops a whole 4 MiB of this TLB with CR4.PSE on, the code page with it.
    cpu.setCr(4, 0);
    runCode(cpu, loadEax(0x100000));
    const before = traced(cpu, EXIT_EPT_VIOLATION).length;
    const walk0 = readWalkStats(cpu);
    expect(runCode(cpu, [...invlpg(0x100000), ...loadEax(0x100000)])).toBe("halt");
    const walk1 = readWalkStats(cpu);
    expect(traced(cpu, EXIT_EPT_VIOLATION).length).toBe(before);
    expect(walk1.tlbMisses - walk0.tlbMisses).toBe(1);
    expect(walk1.guestRefs - walk0.guestRefs).toBe(2);
    expect(walk1.nestedRefs - walk0.nestedRefs).toBe(12);
  });

  it("a 4 MiB guest page's TLB miss costs 1 + 8 = 9 references", async () => {
    const cpu = await pagedGuest();
    runCode(cpu, loadEax(0x456000));
    const walk0 = readWalkStats(cpu);
    runCode(cpu, [...invlpg(0x456000), ...loadEax(0x456000)]);
    const walk1 = readWalkStats(cpu);
    expect(walk1.tlbMisses - walk0.tlbMisses).toBe(1);
    expect(walk1.guestRefs - walk0.guestRefs).toBe(1);
    expect(walk1.nestedRefs - walk0.nestedRefs).toBe(8);
  });

  it("sets the leaf's dirty flag on the first write after a read, even with the guest's D set", async () => {
    const cpu = await pagedGuest();
    // The guest PTE is already accessed and dirty, so only EPT can make the write slow.
    writeU32(cpu, PT + 0x201 * 4, 0x124000 | ACCESSED_DIRTY | P_RW);
    runCode(cpu, loadEax(0x201000));
    const afterRead = eptLeaf(cpu, 0x124000)!;
    expect(afterRead & EPT_ACCESSED).not.toBe(0);
    expect(afterRead & EPT_DIRTY).toBe(0);
    cpu.setReg(REG.EAX, 0x5a5a5a5a);
    runCode(cpu, storeEax(0x201008));
    expect(eptLeaf(cpu, 0x124000)! & EPT_DIRTY).not.toBe(0);
    expect(cpu.readPhysical(0x124008, 4)).toEqual(Uint8Array.from([0x5a, 0x5a, 0x5a, 0x5a]));
  });

  it("logs dirty frames once per collection, and again after new writes", async () => {
    const cpu = await pagedGuest();
    cpu.setReg(REG.EAX, 1);
    runCode(cpu, [
      ...storeEax(0x100000),
      ...storeEax(0x100004), // same page: logged once
      ...storeEax(0x101000),
      ...storeEax(0x405000), // in the 4 MiB page
      ...loadEax(0x102000), // read only: not dirty
    ]);
    // Guest paging structures are dirty too: with EPT A/D on, the walk's accesses are writes
    // (and the host wrote them); so is the code page the host wrote.
    const first = collectDirtyFrames(cpu);
    expect(first.frames).toEqual([PD >>> 12, PT >>> 12, CODE >>> 12, 0x100, 0x101, 0x405].sort((a, b) => a - b));
    expect(first.count).toBe(first.frames.length);
    expect(collectDirtyFrames(cpu)).toEqual({ frames: [], count: 0 });
    runCode(cpu, storeEax(0x101000));
    const again = collectDirtyFrames(cpu).frames;
    expect(again).toContain(0x101);
    expect(again).not.toContain(0x100);
    expect(again).not.toContain(0x405);
  });

  it("logs the writes that do not go through a leaf: the core's own (kvmclock) and the host's", async () => {
    const cpu = await pagedGuest();
    runCode(cpu, []);
    collectDirtyFrames(cpu);
    // wrmsr(MSR_KVM_SYSTEM_TIME_NEW, 0x200001): the VMM writes the pvclock structure at 0x200000.
    cpu.setReg(REG.ECX, 0x4b564d01);
    cpu.setReg(REG.EAX, 0x200001);
    cpu.setReg(REG.EDX, 0);
    runCode(cpu, [0x0f, 0x30]);
    expect(collectDirtyFrames(cpu).frames).toContain(0x200);
    cpu.writePhysical(0x300ffe, Uint8Array.of(1, 2, 3, 4)); // a host write across two frames
    expect(collectDirtyFrames(cpu).frames).toEqual([0x300, 0x301]);
  });

  it("reads open bus above RAM through a misconfigured leaf, one exit 49 per access", async () => {
    // PDE 2: a 4 MiB page at guest-physical 256 MiB; PDE 3: a page table at 512 MiB. No RAM there.
    const cpu = await pagedGuest({ 2: 0x10000000 | PS | P_RW, 3: 0x20000000 | P_RW | 0x20 });
    cpu.setReg(REG.EAX, 0x1234);
    expect(runCode(cpu, [...storeEax(0x800010), ...loadEax(0x800000), 0x89, 0xc3, ...loadEax(0xc00000)])).toBe("halt");
    expect(cpu.reg(REG.EBX)).toBe(0xffffffff); // mov ebx, eax after the first read
    expect(cpu.reg(REG.EAX)).toBe(0xffffffff); // its page-table entry read as all ones as well
    // The write, the read, and for 0xC00000 its PTE read and the data read (at 0xFFFFF000).
    expect(exitCount(cpu, EXIT_EPT_MISCONFIG, "host")).toBe(4);
    expect(traced(cpu, EXIT_EPT_MISCONFIG).map((e) => e.gpa)).toEqual([0x10000010, 0x10000000, 0x20000000, 0xfffff000]);
    expect(eptLeaf(cpu, 0x10000000)! & 7).toBe(EPT_W | EPT_X);
  });

  it("follows the VMM's memory map when a device window replaces RAM under a built leaf", async () => {
    const cpu = await pagedGuest();
    runCode(cpu, loadEax(0xa0000));
    expect(eptLeaf(cpu, 0xa0000)! & 7).toBe(7);
    const reads: number[] = [];
    cpu.setHost({
      mmioRead: (addr) => {
        reads.push(addr);
        return 0x11223344;
      },
    });
    cpu.mapPhysical(0xa0000, 0x20000, L.PHYS_MMIO);
    runCode(cpu, loadEax(0xa0000));
    expect(cpu.reg(REG.EAX)).toBe(0x11223344);
    expect(reads).toEqual([0xa0000]);
    expect(cpu.u32(L.S_EPT_REMAPS)).toBe(1);
    expect(eptLeaf(cpu, 0xa0000)! & 7).toBe(EPT_W | EPT_X);
    expect(exitCount(cpu, EXIT_EPT_MISCONFIG, "host")).toBe(1);
  });

  it("rebuilds the EPT when its pool runs out, keeping the dirty log", async () => {
    // PDEs 4-1023: 4 MiB pages over the rest of the 4 GiB guest-physical space (one EPT page
    // table each, 1020 in all: twice the pool).
    const pdes: Record<number, number> = {};
    for (let i = 4; i < 1024; i++) pdes[i] = ((i << 22) | PS | P_RW) >>> 0;
    const cpu = await pagedGuest(pdes);
    cpu.setReg(REG.EAX, 7);
    runCode(cpu, storeEax(0x100000));
    // mov ecx, 0x1000000; l: mov eax, [ecx]; add ecx, 0x400000; jnz l
    expect(runCode(cpu, [0xb9, ...le32(0x1000000), 0x8b, 0x01, 0x81, 0xc1, ...le32(0x400000), 0x75, 0xf6])).toBe(
      "halt",
    );
    expect(cpu.u32(L.S_EPT_POOL_FLUSHES)).toBeGreaterThan(0);
    expect(exitCount(cpu, EXIT_EPT_MISCONFIG, "host")).toBe(1020);
    expect(cpu.reg(REG.EAX)).toBe(0xffffffff);
    expect(collectDirtyFrames(cpu).frames).toContain(0x100);
    runCode(cpu, loadEax(0x100000));
    expect(cpu.reg(REG.EAX)).toBe(7);
  });

  it("boots the tiny Linux under hvm/ept with kvm-clock and a 2-D walk of 9 to 14 references per miss", {
    timeout: 180_000,
  }, async () => {
    const ept = await bootLinux("hvm", "ept");
    const cpu = ept.vm.cpu;
    expect(ept.clocksource).toBe("kvm-clock");
    const walk = readWalkStats(cpu);
    const violations = exitCount(cpu, EXIT_EPT_VIOLATION, "core");
    expect(violations).toBeGreaterThan(0);
    // Each guest-physical page is faulted in once (64 MiB of RAM is 16384 pages); the TLB here
    // has an entry for every linear page, so its misses are mostly first touches too.
    expect(violations).toBeLessThan(16384);
    expect(violations).toBeLessThan(walk.tlbMisses);
    expect(cpu.u32(L.S_EPT_POOL_FLUSHES)).toBe(0);
    expect(walk.refsPerMiss).toBeGreaterThanOrEqual(9);
    expect(walk.refsPerMiss).toBeLessThanOrEqual(14);
    // Exits 49 only ever come from device memory or open bus (bootLinux attaches no VGA).
    for (const e of traced(cpu, EXIT_EPT_MISCONFIG))
      expect(e.gpa >= 64 << 20 || (e.gpa >= 0xa0000 && e.gpa < 0xc0000)).toBe(true);
    const native = await bootLinux("native");
    console.log(
      `tiny Linux to the prompt: native ${native.hostMsToPrompt.toFixed(0)} ms, hvm/ept ${ept.hostMsToPrompt.toFixed(0)} ms; ` +
        `EPT violations ${violations}, exits 49 ${exitCount(cpu, EXIT_EPT_MISCONFIG, "host")}, ` +
        `TLB misses ${walk.tlbMisses}, references per miss ${walk.refsPerMiss.toFixed(2)}`,
    );
  });
});
