// Shadow page tables (MMU_SHADOW): the tiny Linux and the nanobench lab kernel under hvm with
// --mmu shadow, and hand-built paging guests that check coherence (a rewritten PTE is seen, a
// not-present or read-only one gives the guest its #PF), the root cache across CR3 switches and
// the pool running out.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { bootLinux } from "../../bench/modes/linux-boot.js";
import { loadMultiboot } from "../../vmm/boot/multiboot.js";
import { Cpu, REG, SEG } from "../../vmm/cpu.js";
import * as L from "../../vmm/generated/layout.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { configureVirtualization } from "../../vmm/virt/vmcs.js";
import { Vm } from "../../vmm/vm.js";

const KIND_EXIT = 0;
const KIND_SHADOW_FAULT = 3;
const SF = { hidden: 0, true: 1, ptWrite: 2 };
const EXIT = { exception: 0, invlpg: 14, crAccess: 28 };

interface Counters {
  u32(addr: number): number;
}

function event(cpu: Counters, kind: number, reason: number, where = 0): number {
  return cpu.u32(L.HV_EVENTS_BASE + ((kind * L.EVENT_REASONS + reason) * 2 + where) * 4);
}
function vmExits(cpu: Counters): number {
  return cpu.u32(L.S_VMX_EXITS) + cpu.u32(L.S_VMX_EXITS + 4) * 2 ** 32;
}
function shadowFaults(cpu: Counters) {
  return {
    hidden: event(cpu, KIND_SHADOW_FAULT, SF.hidden),
    true: event(cpu, KIND_SHADOW_FAULT, SF.true),
    ptWrite: event(cpu, KIND_SHADOW_FAULT, SF.ptWrite),
  };
}

describe("shadow page tables under hvm", () => {
  it("boot the tiny Linux to its shell, with hidden, true and page-table-write faults", async () => {
    const r = await bootLinux("hvm", "shadow");
    const cpu = r.vm.cpu;
    expect(r.clocksource).toBe("kvm-clock");
    const f = shadowFaults(cpu);
    expect(f.hidden).toBeGreaterThan(100);
    expect(f.true).toBeGreaterThan(10);
    expect(f.ptWrite).toBeGreaterThan(10);
    // Each shadow fault is a #PF exit (reason 0): hidden and PT-write ones counted by the shadow
    // MMU, true ones by the exception bitmap as they are reflected. Nothing else exits with 0.
    expect(event(cpu, KIND_EXIT, EXIT.exception)).toBe(f.hidden + f.true + f.ptWrite);
    expect(vmExits(cpu)).toBeGreaterThan(f.hidden + f.true + f.ptWrite);
    expect(event(cpu, KIND_EXIT, EXIT.crAccess)).toBeGreaterThan(10);
    expect(event(cpu, KIND_EXIT, EXIT.invlpg)).toBeGreaterThan(0);
    expect(cpu.u32(L.S_SHADOW_ROOT_HITS)).toBeGreaterThan(0);
    expect(cpu.u32(L.S_SHADOW_ROOT_MISSES)).toBeGreaterThan(0);
    // Every CR3 load is a control-register exit that switched roots (the other CR exits are
    // CR0/CR4 writes and CR3 reads).
    const roots = cpu.u32(L.S_SHADOW_ROOT_HITS) + cpu.u32(L.S_SHADOW_ROOT_MISSES);
    expect(roots).toBeGreaterThan(50);
    expect(roots).toBeLessThanOrEqual(event(cpu, KIND_EXIT, EXIT.crAccess));
    // Page-table frames freed and reused as data stop being shadowed after a few writes.
    expect(cpu.u32(L.S_SHADOW_UNSHADOWED)).toBeGreaterThan(0);
    expect(cpu.u32(L.S_SHADOW_PAGES)).toBeGreaterThan(0);
    expect(cpu.u32(L.S_SHADOW_PAGES)).toBeLessThanOrEqual(L.SHADOW_BYTES / 4096);
  }, 120_000);

  it("run nanobench: pgfault gives true faults and ptwrite traced writes, one per iteration", async () => {
    const kernel = new Uint8Array(readFileSync(new URL("../../guests/labs/nanobench/nanobench.elf", import.meta.url)));
    let out = "";
    const vm = await Vm.create({
      module: loadCoreModule(),
      ramBytes: 32 << 20,
      clock: "icount",
      mode: "hvm",
      mmu: "shadow",
      onSerial: (com, byte) => {
        if (com === 1) out += String.fromCharCode(byte);
      },
    });
    loadMultiboot(vm.cpu, { kernel, cmdline: "nanobench" });
    const stop = vm.run(50_000_000);
    const lines = out.split("\r\n").filter((l) => l !== "");
    expect(stop).toEqual({ kind: "debug-exit", status: 1 });
    expect(lines.at(-1)).toBe("nanobench done");
    const iters = new Map<string, number>();
    for (const l of lines.slice(1, -1)) {
      const m = /^nanobench (\S+) (\d+) (\d+) (\d+\.\d\d)$/.exec(l);
      expect(m, l).not.toBeNull();
      iters.set(m![1], Number(m![2]));
    }
    expect(iters.size).toBe(8);
    const f = shadowFaults(vm.cpu);
    const pgfault = iters.get("pgfault")!;
    const ptwrite = iters.get("ptwrite")!;
    // Every probe of the supervisor page from ring 3 is a true fault; the rest of the kernel
    // takes none. Every PTE store of ptwrite reaches the traced page table (a few more come from
    // paging_init and the PTE restore).
    expect(f.true).toBe(pgfault);
    expect(f.ptWrite).toBeGreaterThanOrEqual(ptwrite);
    expect(f.ptWrite).toBeLessThan(ptwrite + 20);
    // ptwrite's INVLPG drops the shadow PTE, but the loop never touches the page again.
    expect(event(vm.cpu, KIND_EXIT, EXIT.invlpg)).toBeGreaterThanOrEqual(ptwrite);
    expect(f.hidden).toBeGreaterThan(0);
    expect(f.hidden).toBeLessThan(ptwrite);
  }, 60_000);
});

// ---- a hand-built paging guest --------------------------------------------------------------

const PD_A = 0x100000;
const PD_B = 0x101000;
const PT_LOW = 0x102000; // identity map of 0-4 MiB, shared by both directories
const PT_A = 0x103000; // maps linear 4 MiB in directory A
const PT_B = 0x104000; // maps linear 4 MiB in directory B
const FRAME_X = 0x200000;
const FRAME_Y = 0x201000;
const FRAME_Z = 0x202000;
const LIN = 0x400000;
const CODE = 0x1000;
const P = 1;
const RW = 2;
const US = 4;
const A = 0x20;
const D = 0x40;

const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const asm = {
  movEaxMem: (addr: number) => [0xa1, ...le32(addr)],
  movMemImm: (addr: number, v: number) => [0xc7, 0x05, ...le32(addr), ...le32(v)],
  movEaxImm: (v: number) => [0xb8, ...le32(v)],
  movCr3Eax: () => [0x0f, 0x22, 0xd8],
  hlt: () => [0xf4],
};

class PagingGuest {
  constructor(readonly cpu: Cpu) {}

  static async create(ramBytes = 4 << 20): Promise<PagingGuest> {
    const cpu = await Cpu.create(loadCoreModule(), ramBytes);
    configureVirtualization(cpu, "hvm", "shadow");
    return new PagingGuest(cpu);
  }

  w32(addr: number, v: number): void {
    this.cpu.writePhysical(addr, new Uint8Array(le32(v >>> 0)));
  }
  r32(addr: number): number {
    return new DataView(this.cpu.readPhysical(addr, 4).buffer).getUint32(0, true);
  }

  /** Flat ring-0 protected mode with paging on, CR3 = directory A, CR0.WP set. */
  buildTables(): void {
    for (let i = 0; i < 1024; i++) this.w32(PT_LOW + i * 4, (i << 12) | P | RW | US);
    this.w32(PD_A, PT_LOW | P | RW | US);
    this.w32(PD_B, PT_LOW | P | RW | US);
    this.w32(PD_A + 4, PT_A | P | RW | US);
    this.w32(PD_B + 4, PT_B | P | RW | US);
    this.w32(PT_A, FRAME_X | P | RW | US);
    this.w32(PT_B, FRAME_Z | P | RW | US);
    this.w32(FRAME_X, 0x11111111);
    this.w32(FRAME_Y, 0x22222222);
    this.w32(FRAME_Z, 0x33333333);
    const cpu = this.cpu;
    cpu.setSegment(SEG.CS, { selector: 8, base: 0, limit: 0xffffffff, attr: 0xc09b });
    for (const s of [SEG.SS, SEG.DS, SEG.ES, SEG.FS, SEG.GS]) {
      cpu.setSegment(s, { selector: 0x10, base: 0, limit: 0xffffffff, attr: 0xc093 });
    }
    cpu.setCr(3, PD_A);
    cpu.setCr(0, 0x80010011); // PG | WP | ET | PE
    cpu.setReg(REG.ESP, 0x9000);
  }

  /** Runs a snippet of code at CODE to its HLT (or the first exception). */
  run(code: number[]): ReturnType<Cpu["run"]> {
    this.cpu.writePhysical(CODE, new Uint8Array(code));
    this.cpu.eip = CODE;
    this.cpu.halted = false;
    return this.cpu.run(10_000);
  }
}

describe("shadow page tables: a hand-built paging guest under hvm", () => {
  it("follows the guest's PTE rewrites, reflects true faults and caches roots", async () => {
    const g = await PagingGuest.create();
    const cpu = g.cpu;
    g.buildTables();
    cpu.stopOnException = true;

    // A read through a fresh mapping: hidden faults fill the shadow; A set in the guest, D not.
    expect(g.run([...asm.movEaxMem(LIN), ...asm.hlt()])).toBe("halt");
    expect(cpu.reg(REG.EAX)).toBe(0x11111111);
    expect(shadowFaults(cpu).hidden).toBeGreaterThan(0);
    expect(g.r32(PT_A) & (A | D)).toBe(A);

    // The guest points the page at another frame (through its identity map of PT_A) and reads it
    // back without INVLPG: the write to the traced page table zapped the shadow PTE.
    let before = shadowFaults(cpu);
    const pfExitsBefore = event(cpu, KIND_EXIT, EXIT.exception);
    expect(g.run([...asm.movMemImm(PT_A, FRAME_Y | P | RW | US), ...asm.movEaxMem(LIN), ...asm.hlt()])).toBe("halt");
    expect(cpu.reg(REG.EAX)).toBe(0x22222222);
    const after = shadowFaults(cpu);
    expect(after.ptWrite).toBe(before.ptWrite + 1);
    expect(after.hidden).toBeGreaterThan(before.hidden);
    // Both are #PF exits: the traced write and the refill.
    expect(event(cpu, KIND_EXIT, EXIT.exception) - pfExitsBefore).toBe(
      after.ptWrite - before.ptWrite + after.hidden - before.hidden,
    );

    // A write sets the guest's dirty bit (the shadow PTE was read-only until then).
    expect(g.run([...asm.movMemImm(LIN, 0x44444444), ...asm.hlt()])).toBe("halt");
    expect(g.r32(FRAME_Y)).toBe(0x44444444);
    expect(g.r32(PT_A) & (A | D)).toBe(A | D);

    // Not present: the guest's #PF, CR2 = the address, error code 0 (supervisor read).
    before = shadowFaults(cpu);
    expect(g.run([...asm.movMemImm(PT_A, 0), ...asm.movEaxMem(LIN + 0x10), ...asm.hlt()])).toBe("exception");
    expect(cpu.lastException).toMatchObject({ vector: 14, error: 0 });
    expect(cpu.cr(2)).toBe(LIN + 0x10);
    expect(shadowFaults(cpu).true).toBe(before.true + 1);

    // Read-only with CR0.WP: a supervisor write faults with P | W.
    expect(g.run([...asm.movMemImm(PT_A, FRAME_X | P | US), ...asm.movMemImm(LIN + 8, 1), ...asm.hlt()])).toBe(
      "exception",
    );
    expect(cpu.lastException).toMatchObject({ vector: 14, error: 3 });
    expect(cpu.cr(2)).toBe(LIN + 8);
    expect(g.r32(FRAME_X + 8)).toBe(0);
    expect(shadowFaults(cpu).true).toBe(before.true + 2);

    // Switch to directory B and back: B sees its own frame; coming back to A hits the root cache.
    g.run([...asm.movMemImm(PT_A, FRAME_X | P | RW | US), ...asm.hlt()]);
    const hits = cpu.u32(L.S_SHADOW_ROOT_HITS);
    const misses = cpu.u32(L.S_SHADOW_ROOT_MISSES);
    const crExits = event(cpu, KIND_EXIT, EXIT.crAccess);
    expect(g.run([...asm.movEaxImm(PD_B), ...asm.movCr3Eax(), ...asm.movEaxMem(LIN), ...asm.hlt()])).toBe("halt");
    expect(cpu.reg(REG.EAX)).toBe(0x33333333);
    expect(cpu.u32(L.S_SHADOW_ROOT_MISSES)).toBe(misses + 1);
    expect(g.run([...asm.movEaxImm(PD_A), ...asm.movCr3Eax(), ...asm.movEaxMem(LIN), ...asm.hlt()])).toBe("halt");
    expect(cpu.reg(REG.EAX)).toBe(0x11111111);
    expect(cpu.u32(L.S_SHADOW_ROOT_HITS)).toBe(hits + 1);
    expect(event(cpu, KIND_EXIT, EXIT.crAccess)).toBe(crExits + 2);
  });

  it("walks without caching when the guest's page directory is not RAM", async () => {
    const g = await PagingGuest.create();
    const cpu = g.cpu;
    g.buildTables();
    cpu.stopOnException = true;
    g.run([...asm.movEaxMem(LIN), ...asm.hlt()]);
    expect(cpu.reg(REG.EAX)).toBe(0x11111111);
    // Open bus reads as all ones: every "entry" is present and maps open bus, code included.
    cpu.setCr(3, 0xf0000000);
    expect(cpu.u32(L.S_SHADOW_CR3)).toBe(0);
    expect(cpu.translate(LIN)).toBe(0xfffff000);
    expect(cpu.u32(L.S_SHADOW_CR3)).toBe(0);
    expect(["exception", "budget", "halt"]).toContain(cpu.run(1000));
    cpu.setCr(3, PD_A);
    expect(g.run([...asm.movEaxMem(LIN), ...asm.hlt()])).toBe("halt");
    expect(cpu.reg(REG.EAX)).toBe(0x11111111);
  });

  it("survives running out of shadow pool, and a reset untracks every frame", async () => {
    // Three directories, each with 1023 distinct page tables: more than the pool holds.
    const dirs = 3;
    const tables = 1023;
    const ptBase = 0x400000;
    const DIRS = 0x110000;
    const g = await PagingGuest.create(ptBase + (dirs * tables + 1) * 4096);
    const cpu = g.cpu;
    g.buildTables();
    const ram = new DataView(cpu.memory.buffer, L.RAM_BASE);
    for (let d = 0; d < dirs; d++) {
      const pd = DIRS + 0x1000 * d;
      ram.setUint32(pd, PT_LOW | P | RW | US, true);
      for (let i = 1; i <= tables; i++) {
        const pt = ptBase + (d * tables + i - 1) * 4096;
        ram.setUint32(pd + i * 4, pt | P | RW | US, true);
        ram.setUint32(pt, FRAME_X | P | RW | US, true);
      }
    }
    // ecx = 1; loop: eax = ecx << 22; add ebx, [eax]; inc ecx; cmp ecx, 1024; jb loop; hlt
    const walk = [
      0xb9,
      ...le32(1),
      0x31,
      0xdb,
      0x89,
      0xc8,
      0xc1,
      0xe0,
      0x16,
      0x03,
      0x18,
      0x41,
      0x81,
      0xf9,
      ...le32(1024),
      0x72,
      0xf0,
      0xf4,
    ];
    for (let d = 0; d < dirs; d++) {
      cpu.setCr(3, DIRS + 0x1000 * d);
      expect(g.run(walk)).toBe("halt");
      expect(cpu.reg(REG.EBX)).toBe((0x11111111 * tables) % 2 ** 32);
    }
    expect(cpu.u32(L.S_SHADOW_POOL_FLUSHES)).toBeGreaterThan(0);
    expect(cpu.u32(L.S_SHADOW_PAGES)).toBeLessThanOrEqual(L.SHADOW_BYTES / 4096);

    const physmap = new Uint32Array(cpu.memory.buffer, L.PHYSMAP_BASE, cpu.ramBytes / 4096);
    expect(physmap.some((e) => (e & 0xf) === L.PHYS_TRACKED)).toBe(true);
    configureVirtualization(cpu, "hvm", "shadow");
    expect(physmap.some((e) => (e & 0xf) === L.PHYS_TRACKED)).toBe(false);
    expect(cpu.u32(L.S_SHADOW_PAGES)).toBe(0);
    // And the guest still runs: the shadows are rebuilt on demand.
    expect(g.run(walk)).toBe("halt");
    expect(cpu.reg(REG.EBX)).toBe((0x11111111 * tables) % 2 ** 32);
  });
});
