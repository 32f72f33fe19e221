// VMX non-root operation (the hvm mode): each exit reason the VMM handles, with the SDM's
// qualification formats, from small real-mode guests. The guest's results must be those of the
// bare machine; the exits are what differs, counted by reason and by where they were handled.

import { describe, expect, it } from "vitest";
import { Cpu, REG, SEG } from "../../vmm/cpu.js";
import * as L from "../../vmm/generated/layout.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { readCoreStats } from "../../vmm/stats/core-stats.js";
import { ExitReason, Kind } from "../../vmm/stats/events.js";
import type { StatsSnapshot } from "../../vmm/stats/stats.js";
import { configureVirtualization, PROC, type VirtMode } from "../../vmm/virt/vmcs.js";
import { Vm } from "../../vmm/vm.js";

const HLT = 0xf4;

interface Guest {
  vm: Vm;
  debug: number[];
}

/** A VM in `mode` with `code` at 0:7C00 in real mode (followed by HLT), interrupts off. */
async function guest(code: number[], mode: VirtMode = "hvm"): Promise<Guest> {
  const debug: number[] = [];
  const vm = await Vm.create({
    module: loadCoreModule(),
    ramBytes: 1 << 20,
    mode,
    onDebugConsole: (_port, byte) => debug.push(byte),
  });
  vm.cpu.writePhysical(0x7c00, Uint8Array.from([...code, HLT]));
  vm.cpu.setRealSegment(SEG.CS, 0);
  vm.cpu.setRealSegment(SEG.DS, 0);
  vm.cpu.setRealSegment(SEG.ES, 0);
  vm.cpu.setRealSegment(SEG.SS, 0);
  vm.cpu.setReg(REG.ESP, 0x7000);
  vm.cpu.eip = 0x7c00;
  return { vm, debug };
}

function runToHalt(g: Guest): StatsSnapshot {
  const stop = g.vm.run(100_000);
  expect(stop.kind).toBe("halted");
  return readCoreStats(g.vm.cpu);
}

function exits(s: StatsSnapshot, reason: number, where?: "core" | "host"): number {
  const row = s.counters.find((r) => r.kind === "exit" && r.reason === reason);
  if (!row) return 0;
  return where ? row[where] : row.core + row.host;
}

function traced(s: StatsSnapshot, reason: number) {
  return s.trace.entries.filter((e) => e.kind === "exit" && e.reason === reason);
}

describe("VMX exits (hvm mode)", () => {
  it("CPUID always exits (reason 10) and the VMM answers with KVM's leaves", async () => {
    // mov eax, 0x40000000; cpuid; mov edi, ebx; cpuid
    const g = await guest([0x66, 0xb8, 0x00, 0x00, 0x00, 0x40, 0x0f, 0xa2, 0x66, 0x89, 0xdf, 0x0f, 0xa2]);
    const s = runToHalt(g);
    expect(exits(s, ExitReason.cpuid, "core")).toBe(2);
    expect(g.vm.cpu.reg(REG.EDI)).toBe(0x4b4d564b); // "KVMK"
  });

  it("CPUID does not exit on the bare machine", async () => {
    const g = await guest([0x0f, 0xa2], "native");
    const s = runToHalt(g);
    expect(s.totals.exit).toBe(0);
  });

  it("HLT exits (reason 12) when HLT exiting is on, and the vCPU halts", async () => {
    const g = await guest([]);
    const s = runToHalt(g);
    expect(exits(s, ExitReason.hlt, "core")).toBe(1);
    expect(g.vm.cpu.eip).toBe(0x7c01);
  });

  it("port I/O exits to the host (reason 30) with the SDM's qualification; the device sees the access", async () => {
    // mov al, 'A'; out 0xe9, al; mov dx, 0xe9; mov al, 'B'; out dx, al; in al, 0x80
    const g = await guest([0xb0, 0x41, 0xe6, 0xe9, 0xba, 0xe9, 0x00, 0xb0, 0x42, 0xee, 0xe4, 0x80]);
    const s = runToHalt(g);
    expect(g.debug).toEqual([0x41, 0x42]);
    expect(exits(s, ExitReason.ioInstruction, "host")).toBe(3);
    const quals = traced(s, ExitReason.ioInstruction).map((e) => e.qualification);
    // size-1 | IN<<3 | string<<4 | REP<<5 | immediate<<6 | port<<16
    expect(quals).toEqual([(0xe9 << 16) | 0x40, 0xe9 << 16, (0x80 << 16) | 0x40 | 0x08]);
  });

  it("string I/O exits with the string and REP bits and is emulated by the core", async () => {
    // mov si, 0x7d00; mov cx, 3; mov dx, 0xe9; rep outsb
    const g = await guest([0xbe, 0x00, 0x7d, 0xb9, 0x03, 0x00, 0xba, 0xe9, 0x00, 0xf3, 0x6e]);
    g.vm.cpu.writePhysical(0x7d00, Uint8Array.from([0x78, 0x38, 0x36]));
    const s = runToHalt(g);
    expect(String.fromCharCode(...g.debug)).toBe("x86");
    expect(traced(s, ExitReason.ioInstruction).map((e) => e.qualification)).toEqual([(0xe9 << 16) | 0x30]);
    expect(g.vm.cpu.reg(REG.ECX) & 0xffff).toBe(0);
  });

  it("RDMSR/WRMSR exit through the MSR bitmaps (31, 32); SYSENTER MSRs pass through", async () => {
    // mov ecx, 0x174; mov eax, 0x10; xor edx, edx; wrmsr; rdmsr; mov ecx, 0x10 (TSC); rdmsr; mov ecx, 0x174; wrmsr
    const g = await guest([
      0x66, 0xb9, 0x74, 0x01, 0x00, 0x00, 0x66, 0xb8, 0x10, 0x00, 0x00, 0x00, 0x66, 0x31, 0xd2, 0x0f, 0x30, 0x0f, 0x32,
      0x66, 0xb9, 0x10, 0x00, 0x00, 0x00, 0x0f, 0x32, 0x66, 0xb9, 0x74, 0x01, 0x00, 0x00, 0x0f, 0x30,
    ]);
    const stats = runToHalt(g);
    expect(exits(stats, ExitReason.rdmsr)).toBe(1); // only IA32_TIME_STAMP_COUNTER
    expect(exits(stats, ExitReason.wrmsr)).toBe(0);
    // With the bitmap bit set for SYSENTER_CS writes, the same WRMSR exits.
    const h = await guest([0x66, 0xb9, 0x74, 0x01, 0x00, 0x00, 0x66, 0x31, 0xc0, 0x66, 0x31, 0xd2, 0x0f, 0x30]);
    const bitmap = new Uint8Array(h.vm.cpu.memory.buffer, L.HV_MSR_BITMAP_BASE, L.HV_MSR_BITMAP_BYTES);
    bitmap[0x800 + (0x174 >>> 3)] |= 1 << (0x174 & 7);
    expect(exits(runToHalt(h), ExitReason.wrmsr, "core")).toBe(1);
  });

  it("MOV to CR0 exits (reason 28) when it changes an owned bit; the qualification names CR0, the access and the register", async () => {
    // mov eax, cr0; and eax, 0x9fffffff (clear CD, NW: set at reset); mov cr0, eax; mov ebx, cr0; clts
    const g = await guest([
      0x0f, 0x20, 0xc0, 0x66, 0x25, 0xff, 0xff, 0xff, 0x9f, 0x0f, 0x22, 0xc0, 0x0f, 0x20, 0xc3, 0x0f, 0x06,
    ]);
    const s = runToHalt(g);
    expect(exits(s, ExitReason.crAccess, "core")).toBe(1); // CLTS: TS is the guest's own bit
    expect(traced(s, ExitReason.crAccess)[0]!.qualification).toBe(0); // CR0, MOV to CR, EAX
    expect(g.vm.cpu.cr(0) & 0x60000000).toBe(0);
    expect(g.vm.cpu.reg(REG.EBX) & 0x60000000).toBe(0);
    expect(g.vm.cpu.u32(L.S_VMCS_CR0_SHADOW) & 0x60000000).toBe(0);
  });

  it("LMSW that sets PE exits with access type 3 and its source data", async () => {
    // mov ax, 1; lmsw ax
    const g = await guest([0xb8, 0x01, 0x00, 0x0f, 0x01, 0xf0]);
    const s = runToHalt(g);
    expect(traced(s, ExitReason.crAccess).map((e) => e.qualification)).toEqual([(1 << 16) | (3 << 4)]);
    expect(g.vm.cpu.cr(0) & 1).toBe(1);
  });

  it("MOV from CR3 exits with CR3-store exiting (qualification: CR3, MOV from CR, register)", async () => {
    const g = await guest([0x0f, 0x20, 0xda]); // mov edx, cr3
    g.vm.cpu.setU32(L.S_VMCS_PROC_CONTROLS, g.vm.cpu.u32(L.S_VMCS_PROC_CONTROLS) | PROC.cr3StoreExiting);
    const s = runToHalt(g);
    expect(traced(s, ExitReason.crAccess).map((e) => e.qualification)).toEqual([3 | (1 << 4) | (2 << 8)]);
  });

  it("RDTSC exits (16) only with RDTSC exiting; INVLPG (14) carries the linear address", async () => {
    const g = await guest([0x0f, 0x31, 0x0f, 0x01, 0x3e, 0x34, 0x12]); // rdtsc; invlpg [0x1234]
    g.vm.cpu.setU32(
      L.S_VMCS_PROC_CONTROLS,
      g.vm.cpu.u32(L.S_VMCS_PROC_CONTROLS) | PROC.rdtscExiting | PROC.invlpgExiting,
    );
    const s = runToHalt(g);
    expect(exits(s, ExitReason.rdtsc)).toBe(1);
    expect(traced(s, ExitReason.invlpg).map((e) => e.qualification)).toEqual([0x1234]);
    const n = await guest([0x0f, 0x31]);
    expect(exits(runToHalt(n), ExitReason.rdtsc)).toBe(0);
  });

  it("an exception in the exception bitmap exits (reason 0) and is reflected to the guest", async () => {
    // IVT[0] -> 0:7D00 (handler: mov bl, 0x55; add word [esp], 2; iret) ; xor cx, cx; div cl (2 bytes)
    const g = await guest([0x31, 0xc9, 0xf6, 0xf1]);
    g.vm.cpu.writePhysical(0, Uint8Array.from([0x00, 0x7d, 0x00, 0x00]));
    g.vm.cpu.writePhysical(0x7d00, Uint8Array.from([0xb3, 0x55, 0x89, 0xe5, 0x83, 0x46, 0x00, 0x02, 0xcf]));
    g.vm.cpu.setU32(L.S_VMCS_EXCEPTION_BITMAP, 1 << 0);
    const s = runToHalt(g);
    expect(g.vm.cpu.reg(REG.EBX) & 0xff).toBe(0x55);
    expect(exits(s, ExitReason.exceptionOrNmi, "core")).toBe(1);
    const info = traced(s, ExitReason.exceptionOrNmi)[0]!.qualification;
    expect(info >>> 0).toBe((0 | (3 << 8) | (1 << 31)) >>> 0); // vector 0, hardware exception, valid
  });

  it("VMCALL is #UD on the bare machine and a counted hypercall in non-root operation", async () => {
    const g = await guest([0x66, 0xb8, 0x0b, 0x00, 0x00, 0x00, 0x0f, 0x01, 0xc1]); // mov eax, 11 (SCHED_YIELD); vmcall
    const s = runToHalt(g);
    expect(g.vm.cpu.reg(REG.EAX)).toBe(0);
    expect(s.counters.find((r) => r.kind === "hypercall" && r.reason === 11)?.core).toBe(1);
    expect(exits(s, ExitReason.vmcall)).toBe(0); // priced once, as a hypercall
    const bare = await Cpu.create(loadCoreModule(), 1 << 20);
    configureVirtualization(bare, "native");
    bare.writePhysical(0x7c00, Uint8Array.from([0x0f, 0x01, 0xc1, HLT]));
    bare.setRealSegment(SEG.CS, 0);
    bare.eip = 0x7c00;
    bare.stopOnException = true;
    expect(bare.run(10)).toBe("exception");
    expect(bare.lastException.vector).toBe(6);
  });

  it("an external interrupt exits (1), waits for the interrupt window (7) while IF=0, and is injected", async () => {
    const cpu = await Cpu.create(loadCoreModule(), 1 << 20);
    let intr = true;
    cpu.setHost({
      ackInterrupt: () => {
        intr = false;
        cpu.setIntr(false);
        return 0x20;
      },
    });
    configureVirtualization(cpu, "hvm", "ept");
    // IVT[0x20] -> 0:7D00 (inc bx; iret); code: cli; nop; nop; sti; nop; nop; hlt
    cpu.writePhysical(0x80, Uint8Array.from([0x00, 0x7d, 0x00, 0x00]));
    cpu.writePhysical(0x7d00, Uint8Array.from([0x43, 0xcf]));
    cpu.writePhysical(0x7c00, Uint8Array.from([0xfa, 0x90, 0x90, 0xfb, 0x90, 0x90, 0xfa, HLT]));
    cpu.setRealSegment(SEG.CS, 0);
    cpu.setRealSegment(SEG.SS, 0);
    cpu.setReg(REG.ESP, 0x7000);
    cpu.setReg(REG.EBX, 0);
    cpu.eip = 0x7c00;
    cpu.setIntr(intr);
    expect(cpu.run(100)).toBe("halt");
    const s = readCoreStats(cpu);
    expect(exits(s, ExitReason.externalInterrupt)).toBe(1);
    expect(exits(s, ExitReason.interruptWindow)).toBe(1);
    expect(cpu.reg(REG.EBX)).toBe(1);
    // Injected after the instruction that follows STI (the STI shadow), before the second NOP.
    // EPT violations (48) of the guest's first touches are left out: they are not the point here.
    const t = s.trace.entries.filter((e) => e.kind === "exit" && e.reason !== ExitReason.eptViolation);
    expect(t.map((e) => e.reason)).toEqual([ExitReason.externalInterrupt, ExitReason.interruptWindow, ExitReason.hlt]);
  });

  it("single-steps an instruction that exited: #DB after the VMM completed it", async () => {
    // IVT[1] -> 0:7D00 (inc si; iret). pushf; or word [esp], 0x100 (TF); popf; cpuid; nop
    const g = await guest([
      0x9c, 0x89, 0xe5, 0x81, 0x4e, 0x00, 0x00, 0x01, 0x9d, 0x0f, 0xa2, 0x90, 0x9c, 0x83, 0x66, 0x00, 0x00, 0x9d,
    ]);
    g.vm.cpu.writePhysical(4, Uint8Array.from([0x00, 0x7d, 0x00, 0x00]));
    g.vm.cpu.writePhysical(0x7d00, Uint8Array.from([0x46, 0xcf]));
    g.vm.cpu.setReg(REG.ESI, 0);
    const s = runToHalt(g);
    expect(exits(s, ExitReason.cpuid)).toBe(1);
    // Traps after POPF's successor instructions: CPUID, NOP, PUSHF, AND, POPF (TF cleared by it).
    expect(g.vm.cpu.reg(REG.ESI)).toBe(5);
  });

  it("counts every exit in the trace ring with its guest EIP", async () => {
    const g = await guest([0x0f, 0xa2, 0x0f, 0xa2]);
    const s = runToHalt(g);
    const cpuids = traced(s, ExitReason.cpuid);
    expect(cpuids.map((e) => e.eip)).toEqual([0x7c00, 0x7c02]); // the exiting instruction
    expect(s.totals.exit).toBe(
      Object.values(s.counters).reduce((n, r) => n + (r.kind === "exit" ? r.core + r.host : 0), 0),
    );
    expect(Kind.exit).toBe(0);
  });
});
