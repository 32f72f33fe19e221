// The pv mode's hypercall ABI (docs/hypercalls.md), each hypercall driven by a tiny hand-built
// guest in flat 32-bit protected mode under Vm.create({ mode: "pv" }): what it does, what it
// refuses (bad addresses, unaligned entries, too many entries: an error in EAX, nothing written),
// where it is counted, and the tiny Linux booting under pv on kvm-clock.

import { describe, expect, it } from "vitest";
import { bootLinux } from "../../bench/modes/linux-boot.js";
import { REG, SEG } from "../../vmm/cpu.js";
import * as L from "../../vmm/generated/layout.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { readCoreStats } from "../../vmm/stats/core-stats.js";
import { pulseSharedIrq } from "../../vmm/virt/pv-host.js";
import type { VirtMode } from "../../vmm/virt/vmcs.js";
import { Vm } from "../../vmm/vm.js";

const RAM = 4 << 20;
const CODE = 0x7000;
const GDT = 0x1000;
const IDT = 0x2000;
const HANDLER = 0x3000;
const BUF = 0x4000;
const OUT = 0x5000; // the guest stores its results here, one u32 each
const SHARED = 0x6000;
const TICKS = 0x5100; // the timer interrupt handler counts here
const STACK = 0x9000;

const u32le = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
// Hand-encoded instructions.
const movEax = (v: number) => [0xb8, ...u32le(v)];
const movEbx = (v: number) => [0xbb, ...u32le(v)];
const movEcx = (v: number) => [0xb9, ...u32le(v)];
const storeEax = (addr: number) => [0xa3, ...u32le(addr)];
const loadEax = (addr: number) => [0xa1, ...u32le(addr)];
const storeImm = (addr: number, v: number) => [0xc7, 0x05, ...u32le(addr), ...u32le(v)];
const VMCALL = [0x0f, 0x01, 0xc1];
const HLT = [0xf4];
const CLI = [0xfa];
const STI = [0xfb];
const NOP = [0x90];
const JMP_SELF = [0xeb, 0xfe];
const RDTSC = [0x0f, 0x31];
/** Set timer: the deadline is kvmclock now (the TSC) + `ns`. */
const armTimerIn = (ns: number) => [
  ...RDTSC,
  ...[0x05, ...u32le(ns)], // add eax, ns
  ...[0x83, 0xd2, 0x00], // adc edx, 0
  ...[0x89, 0xc3], // mov ebx, eax
  ...[0x89, 0xd1], // mov ecx, edx
  ...movEax(69),
  ...VMCALL,
];
/** nr, EBX, ECX, VMCALL, then EAX stored at OUT + 4 * slot. */
const hypercall = (nr: number, ebx: number, ecx: number, slot: number) => [
  ...movEax(nr),
  ...movEbx(ebx),
  ...movEcx(ecx),
  ...VMCALL,
  ...storeEax(OUT + 4 * slot),
];

interface Guest {
  vm: Vm;
  serial: () => string;
  result: (slot: number) => number;
  word: (gpa: number) => number;
  hypercalls: (nr: number) => { core: number; host: number };
  exits: (reason: number) => number;
}

/** A VM in `mode` with flat segments at `cpl`, an IDT whose vector 0x20 counts at TICKS. */
async function guest(
  code: number[],
  opts: { mode?: VirtMode; cpl?: number; onHypercall?: () => number | "stop" } = {},
): Promise<Guest> {
  let out = "";
  const vm = await Vm.create({
    module: loadCoreModule(),
    ramBytes: RAM,
    mode: opts.mode ?? "pv",
    onHypercall: opts.onHypercall,
    onSerial: (com, b) => {
      if (com === 1) out += String.fromCharCode(b);
    },
  });
  const { cpu } = vm;
  const gdt = [
    [0, 0],
    [0x0000ffff, 0x00cf9a00],
    [0x0000ffff, 0x00cf9200],
    [0x0000ffff, 0x00cffa00],
    [0x0000ffff, 0x00cff200],
  ];
  cpu.writePhysical(GDT, Uint8Array.from(gdt.flatMap(([lo, hi]) => [...u32le(lo!), ...u32le(hi!)])));
  // Vector 0x20: a 32-bit interrupt gate to HANDLER: INC [TICKS], EOI to the master PIC, IRET (EAX kept).
  cpu.writePhysical(IDT + 0x20 * 8, Uint8Array.from([...u32le((0x08 << 16) | HANDLER), ...u32le(0x8e00)]));
  cpu.writePhysical(HANDLER, Uint8Array.from([0x50, 0xff, 0x05, ...u32le(TICKS), 0xb0, 0x20, 0xe6, 0x20, 0x58, 0xcf]));
  cpu.writePhysical(CODE, Uint8Array.from(code));
  cpu.setGdtr(GDT, gdt.length * 8 - 1);
  cpu.setIdtr(IDT, 0x800 - 1);
  cpu.setCr(0, 0x11);
  cpu.setU32(L.S_VMCS_CR0_SHADOW, cpu.cr(0)); // the guest's CR0 as the VMM set it up
  const user = opts.cpl === 3;
  cpu.setSegment(SEG.CS, { selector: user ? 0x1b : 0x08, base: 0, limit: 0xffffffff, attr: user ? 0xc0fb : 0xc09b });
  for (const s of [SEG.DS, SEG.ES, SEG.SS, SEG.FS, SEG.GS]) {
    cpu.setSegment(s, { selector: user ? 0x23 : 0x10, base: 0, limit: 0xffffffff, attr: user ? 0xc0f3 : 0xc093 });
  }
  cpu.cpl = user ? 3 : 0;
  cpu.eip = CODE;
  cpu.setReg(REG.ESP, STACK);
  cpu.eflags = 0x2;
  const dv = () => new DataView(cpu.ram.buffer, cpu.ram.byteOffset);
  const word = (gpa: number) => dv().getUint32(gpa, true);
  const counters = () => readCoreStats(cpu).counters;
  return {
    vm,
    serial: () => out,
    result: (slot) => word(OUT + 4 * slot) | 0,
    word,
    hypercalls: (nr) => {
      const row = counters().find((c) => c.kind === "hypercall" && c.reason === nr);
      return { core: row?.core ?? 0, host: row?.host ?? 0 };
    },
    exits: (reason) => {
      const row = counters().find((c) => c.kind === "exit" && c.reason === reason);
      return (row?.core ?? 0) + (row?.host ?? 0);
    },
  };
}

/**
 * The PC's PIC pair as a guest kernel would program it: IRQ 0-7 at vector 0x20, only IRQ 0
 * unmasked. The PIT (also IRQ 0, counting since power-on) is stopped: mode 0 waiting for a count.
 */
function initPic(vm: Vm): void {
  const out = (port: number, v: number) => vm.devices.ioWrite(port, 1, v);
  out(0x43, 0x30);
  out(0x20, 0x11);
  out(0x21, 0x20);
  out(0x21, 0x04);
  out(0x21, 0x01);
  out(0xa0, 0x11);
  out(0xa1, 0x28);
  out(0xa1, 0x02);
  out(0xa1, 0x01);
  out(0x21, 0xfe);
  out(0xa1, 0xff);
}

const EPERM = -1;
const EFAULT = -14;
const EINVAL = -22;
const EOPNOTSUPP = -95;
const ENOSYS = -1000;

describe("pv hypercalls: KVM's numbers", () => {
  it("KICK_CPU, SEND_IPI, SCHED_YIELD return 0; CLOCK_PAIRING -KVM_EOPNOTSUPP; MAP_GPA_RANGE and unknown -KVM_ENOSYS", async () => {
    const nrs = [5, 10, 11, 9, 12, 99, 72];
    const g = await guest([...nrs.flatMap((nr, i) => hypercall(nr, 0, 0, i)), ...HLT]);
    expect(g.vm.run(1000)).toEqual({ kind: "halted" });
    expect(nrs.map((_, i) => g.result(i))).toEqual([0, 0, 0, EOPNOTSUPP, ENOSYS, ENOSYS, ENOSYS]);
    for (const nr of nrs) expect(g.hypercalls(nr), `hypercall ${nr}`).toEqual({ core: 1, host: 0 });
    expect(g.exits(18)).toBe(0); // counted as hypercalls, not also as VMCALL exits
  });

  it("the project's range is the pv mode's only: under hvm it is -KVM_ENOSYS and does nothing", async () => {
    const text = [0x68, 0x69, 0x0d, 0x0a];
    const g = await guest([...hypercall(64, BUF, text.length, 0), ...hypercall(70, 1, 0, 1), ...HLT], { mode: "hvm" });
    g.vm.cpu.writePhysical(BUF, Uint8Array.from(text));
    expect(g.vm.run(1000)).toEqual({ kind: "halted" });
    expect([g.result(0), g.result(1)]).toEqual([ENOSYS, ENOSYS]);
    expect(g.serial()).toBe("");
    expect(g.vm.cpu.cr(0) & 8).toBe(0);
  });

  it("from CPL 3 every hypercall is -KVM_EPERM, the host's too, and does nothing", async () => {
    const text = [0x68, 0x69];
    const g = await guest(
      [...hypercall(64, BUF, 2, 0), ...hypercall(70, 1, 0, 1), ...hypercall(5, 0, 0, 2), ...JMP_SELF],
      { cpl: 3 },
    );
    g.vm.cpu.writePhysical(BUF, Uint8Array.from(text));
    expect(g.vm.run(200)).toEqual({ kind: "limit" });
    expect([g.result(0), g.result(1), g.result(2)]).toEqual([EPERM, EPERM, EPERM]);
    expect(g.serial()).toBe("");
    expect(g.vm.cpu.cr(0) & 8).toBe(0);
    expect(g.hypercalls(64)).toEqual({ core: 1, host: 0 }); // refused in the core, never forwarded
  });
});

describe("pv hypercalls: console write (64)", () => {
  it("writes the buffer to COM1's output, returns its length, and is handled by the host", async () => {
    const text = "hello from pv\r\n";
    const g = await guest([...hypercall(64, BUF, text.length, 0), ...hypercall(64, BUF, 0, 1), ...HLT]);
    g.vm.cpu.writePhysical(BUF, new TextEncoder().encode(text));
    expect(g.vm.run(1000)).toEqual({ kind: "halted" });
    expect(g.serial()).toBe(text);
    expect([g.result(0), g.result(1)]).toEqual([text.length, 0]);
    expect(g.hypercalls(64)).toEqual({ core: 0, host: 2 });
    expect(g.exits(30)).toBe(0); // no port I/O: the point of a pv console
  });

  it("refuses a buffer outside RAM, wrapping past 4 GiB, or longer than 4096 bytes, writing nothing", async () => {
    const g = await guest([
      ...hypercall(64, RAM - 4, 16, 0),
      ...hypercall(64, 0xfffffff0, 0x20, 1),
      ...hypercall(64, 0xfee00000, 4, 2),
      ...hypercall(64, BUF, 4097, 3),
      ...hypercall(64, BUF, 0xffffffff, 4),
      ...HLT,
    ]);
    expect(g.vm.run(1000)).toEqual({ kind: "halted" });
    expect([0, 1, 2, 3, 4].map(g.result)).toEqual([EFAULT, EFAULT, EFAULT, EINVAL, EINVAL]);
    expect(g.serial()).toBe("");
  });

  it("a host handler that asks to stop ends run() after the hypercall, with EIP past it", async () => {
    const g = await guest([...movEax(64), ...VMCALL, ...HLT], { onHypercall: () => "stop" });
    expect(g.vm.run(100)).toMatchObject({ kind: "vmexit", reason: 18 });
    expect(g.vm.cpu.eip).toBe(CODE + 8);
    expect(g.vm.run(100)).toEqual({ kind: "halted" });
  });
});

describe("pv hypercalls: batched page-table updates (65)", () => {
  const PD = 0x10000;
  const PT = 0x11000;
  const LIST = 0x12000;
  const pte = (page: number) => PT + page * 4;
  const MARK_A = 0xaaaa0001;
  const MARK_B = 0xbbbb0002;
  const ACCESSED = 0x20; // set by the CPU's own page walks

  /** Paging on, 0-4 MiB identity-mapped; page 0x20 holds MARK_A, page 0x21 MARK_B. */
  async function paged(code: number[], list: number[][]): Promise<Guest> {
    const g = await guest(code);
    const { cpu } = g.vm;
    const table = new Uint8Array(4096);
    const dv = new DataView(table.buffer);
    for (let i = 0; i < 1024; i++) dv.setUint32(i * 4, (i << 12) | 3, true);
    cpu.writePhysical(PT, table);
    cpu.writePhysical(PD, Uint8Array.from(u32le(PT | 3)));
    cpu.writePhysical(0x20000, Uint8Array.from(u32le(MARK_A)));
    cpu.writePhysical(0x21000, Uint8Array.from(u32le(MARK_B)));
    cpu.writePhysical(LIST, Uint8Array.from(list.flatMap(([a, v]) => [...u32le(a!), ...u32le(v!)])));
    cpu.setCr(3, PD);
    cpu.setCr(0, 0x80000011);
    cpu.setU32(L.S_VMCS_CR0_SHADOW, cpu.cr(0));
    return g;
  }
  const updates = (g: Guest) => Number(new DataView(g.vm.cpu.memory.buffer).getBigUint64(L.S_PV_MMU_UPDATES, true));

  it("writes every entry, flushes the TLB once, returns the count, and counts the entries", async () => {
    // Read page 0x20 (its translation is now in the TLB), remap it to frame 0x21, read again.
    const code = [
      ...loadEax(0x20000),
      ...storeEax(OUT + 16),
      ...hypercall(65, LIST, 2, 0),
      ...loadEax(0x20000),
      ...storeEax(OUT + 20),
      ...HLT,
    ];
    const g = await paged(code, [
      [pte(0x20), 0x21003],
      [pte(0x30), 0x30001],
    ]);
    expect(g.vm.run(1000)).toEqual({ kind: "halted" });
    expect(g.result(0)).toBe(2);
    expect(g.word(pte(0x20)) & ~ACCESSED).toBe(0x21003);
    expect(g.word(pte(0x30))).toBe(0x30001);
    expect(g.result(4) >>> 0).toBe(MARK_A);
    expect(g.result(5) >>> 0).toBe(MARK_B); // a stale TLB entry would still say MARK_A
    expect(updates(g)).toBe(2);
    expect(g.hypercalls(65)).toEqual({ core: 1, host: 0 });
  });

  it("refuses bad batches as a whole: nothing written, no TLB change, nothing counted", async () => {
    const good = [pte(0x20), 0x21003];
    const cases: [number[][], number, number, number][] = [
      // [entries, list GPA, count, expected EAX]
      [[good, [pte(0x30) + 2, 0x30001]], LIST, 2, EINVAL], // unaligned pte_gpa after a good one
      [[good, [RAM, 0x1003]], LIST, 2, EFAULT], // pte_gpa just past RAM
      [[good, [0xfffffffc, 0x1003]], LIST, 2, EFAULT], // pte_gpa at the top of the address space
      [[good], LIST, 513, EINVAL], // more than PV_MMU_BATCH_MAX entries
      [[good], LIST + 2, 1, EINVAL], // unaligned list
      [[good], RAM - 8, 2, EFAULT], // list running past RAM
      [[good], 0xfffffff8, 0x200, EFAULT], // list wrapping past 4 GiB
    ];
    for (const [entries, list, count, expected] of cases) {
      const g = await paged(
        [...loadEax(0x20000), ...hypercall(65, list, count, 0), ...loadEax(0x20000), ...storeEax(OUT + 4), ...HLT],
        entries,
      );
      expect(g.vm.run(1000)).toEqual({ kind: "halted" });
      const label = `list 0x${list.toString(16)} count ${count}`;
      expect(g.result(0), label).toBe(expected);
      expect(g.word(pte(0x20)) & ~ACCESSED, label).toBe(0x20003);
      expect(g.word(pte(0x30)), label).toBe(0x30003);
      expect(g.result(1) >>> 0, label).toBe(MARK_A);
      expect(updates(g), label).toBe(0);
    }
  });
});

describe("pv hypercalls: virtual interrupts (66 shared page, 68 block, 69 timer)", () => {
  it("the shared page's mask holds an interrupt back (pending set) until the guest clears it", async () => {
    const code = [
      ...hypercall(66, SHARED, 0, 0),
      ...STI,
      ...NOP,
      ...NOP,
      ...NOP,
      ...loadEax(TICKS),
      ...storeEax(OUT + 4), // ticks while masked
      ...loadEax(SHARED + 4),
      ...storeEax(OUT + 8), // pending while masked
      ...storeImm(SHARED, 0), // unmask: a plain store, no crossing
      ...NOP,
      ...loadEax(TICKS),
      ...storeEax(OUT + 12),
      ...CLI,
      ...HLT,
    ];
    const g = await guest(code);
    g.vm.cpu.writePhysical(SHARED, Uint8Array.from(u32le(1))); // events masked from the start
    initPic(g.vm);
    pulseSharedIrq(g.vm.devices.pic, 0);
    expect(g.vm.run(1000)).toEqual({ kind: "halted" });
    expect(g.result(0)).toBe(0);
    expect(g.result(1)).toBe(0); // IF = 1, yet nothing delivered
    expect(g.result(2)).toBe(1);
    expect(g.result(3)).toBe(1); // delivered right after the unmasking store
    expect(g.word(SHARED + 4)).toBe(0); // no longer pending
  });

  it("without the mask the same interrupt is taken at once", async () => {
    const code = [
      ...hypercall(66, SHARED, 0, 0),
      ...STI,
      ...NOP,
      ...NOP,
      ...loadEax(TICKS),
      ...storeEax(OUT + 4),
      ...CLI,
      ...HLT,
    ];
    const g = await guest(code);
    initPic(g.vm);
    pulseSharedIrq(g.vm.devices.pic, 0);
    expect(g.vm.run(1000)).toEqual({ kind: "halted" });
    expect(g.result(1)).toBe(1);
  });

  it("refuses a shared page that is unaligned or outside RAM", async () => {
    const g = await guest([
      ...hypercall(66, SHARED + 4, 0, 0),
      ...hypercall(66, RAM, 0, 1),
      ...hypercall(66, 0, 0, 2),
      ...HLT,
    ]);
    expect(g.vm.run(1000)).toEqual({ kind: "halted" });
    expect([g.result(0), g.result(1), g.result(2)]).toEqual([EINVAL, EFAULT, 0]);
    expect(g.vm.cpu.u32(L.S_PV_SHARED_PAGE)).toBe(0);
  });

  it("set timer + block: IRQ 0 wakes the vCPU when kvmclock passes the deadline (unmasking the shared page)", async () => {
    const DELAY = 50_000;
    const code = [
      ...hypercall(66, SHARED, 0, 0),
      ...RDTSC,
      ...storeEax(OUT + 12),
      ...armTimerIn(DELAY),
      ...storeEax(OUT + 4),
      ...movEax(68),
      ...VMCALL, // block: wakes in the handler, returns here
      ...storeEax(OUT + 8),
      ...RDTSC,
      ...storeEax(OUT + 16),
      ...CLI,
      ...HLT,
    ];
    const g = await guest(code);
    g.vm.cpu.writePhysical(SHARED, Uint8Array.from(u32le(1))); // masked: block must unmask
    initPic(g.vm);
    expect(g.vm.run(1_000_000)).toEqual({ kind: "halted" });
    expect([g.result(1), g.result(2)]).toEqual([0, 0]);
    expect(g.word(TICKS)).toBe(1);
    const slept = g.result(4) - g.result(3);
    expect(slept).toBeGreaterThanOrEqual(DELAY);
    expect(slept).toBeLessThan(DELAY + 100);
    expect(g.hypercalls(69)).toEqual({ core: 0, host: 1 });
    expect(g.hypercalls(68)).toEqual({ core: 1, host: 0 });
  });

  it("a new deadline replaces the old, 0 cancels, and a deadline already passed fires at once", async () => {
    let g = await guest([
      ...RDTSC,
      ...storeEax(OUT + 12),
      ...armTimerIn(20_000), // replaced by the next one
      ...armTimerIn(30_000),
      ...hypercall(69, 0, 0, 0), // cancelled
      ...armTimerIn(100_000),
      ...movEax(68),
      ...VMCALL,
      ...RDTSC,
      ...storeEax(OUT + 16),
      ...CLI,
      ...HLT,
    ]);
    initPic(g.vm);
    expect(g.vm.run(1_000_000)).toEqual({ kind: "halted" });
    expect(g.word(TICKS)).toBe(1);
    expect(g.result(4) - g.result(3)).toBeGreaterThanOrEqual(100_000);
    g = await guest([
      ...hypercall(69, 1, 0, 0),
      ...STI,
      ...NOP,
      ...NOP,
      ...loadEax(TICKS),
      ...storeEax(OUT + 4),
      ...CLI,
      ...HLT,
    ]);
    initPic(g.vm);
    expect(g.vm.run(1000)).toEqual({ kind: "halted" });
    expect(g.result(1)).toBe(1);
  });

  it("yield returns 0 and changes nothing", async () => {
    const g = await guest([...hypercall(67, 0, 0, 0), ...HLT]);
    expect(g.vm.run(100)).toEqual({ kind: "halted" });
    expect(g.result(0)).toBe(0);
    expect(g.hypercalls(67)).toEqual({ core: 1, host: 0 });
  });
});

describe("pv hypercalls: FPU task switch (70)", () => {
  it("sets and clears CR0.TS without a CR-access exit, where CLTS and MOV to CR0 exit", async () => {
    const code = [
      ...[0x0f, 0x20, 0xc0], // mov eax, cr0
      ...[0x0d, ...u32le(8)], // or eax, TS
      ...[0x0f, 0x22, 0xc0], // mov cr0, eax: exits
      ...[0x0f, 0x06], // clts: exits (TS is set in the read shadow)
      ...hypercall(70, 1, 0, 0),
      ...[0x0f, 0x20, 0xc0],
      ...storeEax(OUT + 4),
      ...hypercall(70, 0, 0, 2),
      ...[0x0f, 0x20, 0xc0],
      ...storeEax(OUT + 12),
      ...hypercall(70, 2, 0, 4),
      ...HLT,
    ];
    const g = await guest(code);
    expect(g.vm.run(1000)).toEqual({ kind: "halted" });
    expect(g.exits(28)).toBe(2);
    expect([g.result(0), g.result(2), g.result(4)]).toEqual([0, 0, EINVAL]);
    expect(g.result(1) & 8).toBe(8); // the guest reads TS set
    expect(g.result(3) & 8).toBe(0);
    expect(g.vm.cpu.cr(0) & 8).toBe(0);
    expect(g.hypercalls(70)).toEqual({ core: 3, host: 0 });
    expect(readCoreStats(g.vm.cpu).totals.hypercall).toBe(3);
  });
});

describe("the tiny Linux under pv", () => {
  it("boots to its shell on kvm-clock", async () => {
    const r = await bootLinux("pv");
    expect(r.output).toContain("Hypervisor detected: KVM");
    expect(r.clocksource).toBe("kvm-clock");
  }, 600_000);
});
