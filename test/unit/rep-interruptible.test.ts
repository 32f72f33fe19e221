// REP string instructions are interruptible (core/cpu/rep.ts): each iteration counts against
// run()'s budget, run() can return between iterations with EIP still at the instruction and the
// registers advanced, interrupts are taken between iterations, and a run cut into slices ends in
// the same state as one run straight through, in every mode that runs kernel code.

import { describe, expect, it } from "vitest";
import { Cpu, REG, SEG } from "../../vmm/cpu.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import type { VirtMode } from "../../vmm/virt/vmcs.js";
import { Vm } from "../../vmm/vm.js";
import { CODE, d32, enterFlat32, loadReal } from "../system/harness.js";

const REP_INSB = [0xf3, 0x6c];
const HLT = 0xf4;

/** A bare core whose port 0x80 reads return a running counter (so lost or repeated reads show). */
async function counterPortCpu(onRead?: (n: number) => void) {
  let reads = 0;
  let vectorToAck = -1;
  const cpu = await Cpu.create(loadCoreModule(), 4 << 20, {
    ioRead(port, size) {
      if (port !== 0x80) return size === 1 ? 0xff : 0xffff;
      const v = reads++ & 0xff;
      onRead?.(reads);
      return v;
    },
    ackInterrupt() {
      cpu.setIntr(false);
      return vectorToAck;
    },
  });
  return {
    cpu,
    reads: () => reads,
    raise(vector: number) {
      vectorToAck = vector;
      cpu.setIntr(true);
    },
  };
}

describe("REP string instructions are interruptible", () => {
  it("rep insb with ECX=0xFFFFFFFF returns within its budget with EIP at the instruction", async () => {
    const { cpu, reads } = await counterPortCpu();
    enterFlat32({ cpu, console: [], exitCode: null, writes: [] }, [...REP_INSB, HLT]);
    cpu.setReg(REG.ECX, 0xffffffff);
    cpu.setReg(REG.EDX, 0x80);
    cpu.setReg(REG.EDI, 0x100000);
    const t0 = performance.now();
    expect(cpu.run(1000)).toBe("budget");
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(cpu.eip).toBe(CODE);
    expect(cpu.reg(REG.ECX)).toBe(0xffffffff - 1000);
    expect(cpu.reg(REG.EDI)).toBe(0x100000 + 1000);
    expect(reads()).toBe(1000);
    expect(cpu.instructions).toBe(1000n);
    // It resumes where it stopped: the bytes stored are the counter's values in order.
    expect(cpu.run(500)).toBe("budget");
    expect(reads()).toBe(1500);
    const stored = cpu.ram.subarray(0x100000, 0x100000 + 1500);
    expect(stored.every((b, i) => b === (i & 0xff))).toBe(true);
    // The run loop gives the host control back: a stop request ends it mid-instruction.
    cpu.requestStop();
    expect(cpu.run(1_000_000)).toBe("stop");
    expect(cpu.eip).toBe(CODE);
  });

  it("a sliced run ends in the same state as one run straight through", async () => {
    // 16-bit real mode and 32-bit protected mode, every string form, page-crossing copies.
    const program32 = [
      ...[0xbf, ...d32(0x20000)], // mov edi, 0x20000
      ...[0xb9, ...d32(5000)], // mov ecx, 5000
      ...[0x66, 0xba, 0x80, 0x00], // mov dx, 0x80
      ...REP_INSB,
      ...[0xbe, ...d32(0x20000)], // mov esi, 0x20000
      ...[0xbf, ...d32(0x30ffd)], // mov edi, 0x30ffd (copies straddle pages)
      ...[0xb9, ...d32(3000)],
      0xf3,
      0xa4, // rep movsb
      ...[0xbf, ...d32(0x40002)],
      ...[0xb8, ...d32(0x12345678)],
      ...[0xb9, ...d32(2000)],
      0xf3,
      0xab, // rep stosd
      ...[0xbe, ...d32(0x20000)],
      ...[0xbf, ...d32(0x30ffd)],
      ...[0xb9, ...d32(4000)],
      0xf3,
      0xa6, // repe cmpsb: stops at the first difference (after 3000)
      ...[0xbf, ...d32(0x40002)],
      ...[0xb9, ...d32(9000)],
      0xf2,
      0xaf, // repne scasd: finds EAX at once
      ...[0xbe, ...d32(0x20000)],
      ...[0xb9, ...d32(700)],
      0xf3,
      0xac, // rep lodsb
      ...[0xbe, ...d32(0x20000)],
      ...[0xb9, ...d32(300)],
      0xf3,
      0x66,
      0x6f, // rep outsw
      ...[0xfd], // std: backwards
      ...[0xbe, ...d32(0x20fff)],
      ...[0xbf, ...d32(0x50fff)],
      ...[0xb9, ...d32(4500)],
      0xf3,
      0xa4, // rep movsb, DF=1
      HLT,
    ];
    const states: string[] = [];
    for (const slice of [10_000_000, 1, 7, 4096]) {
      const { cpu } = await counterPortCpu();
      enterFlat32({ cpu, console: [], exitCode: null, writes: [] }, program32);
      let n = 0;
      let r = cpu.run(slice);
      while (r === "budget" && n++ < 200_000) r = cpu.run(slice);
      expect(r).toBe("halt");
      const regs = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => cpu.reg(i));
      const ram = Buffer.from(cpu.ram.subarray(0x20000, 0x52000)).toString("base64");
      states.push(JSON.stringify({ regs, eip: cpu.eip, flags: cpu.eflags, insns: `${cpu.instructions}`, ram }));
    }
    for (const s of states.slice(1)) expect(s).toBe(states[0]);
    // Every iteration counts (REPE CMPSB stops at the first difference, in its 3,001st
    // iteration; REPNE SCASD in its first), and 23 other instructions.
    expect(JSON.parse(states[0]).insns).toBe(`${5000 + 3000 + 2000 + 3001 + 1 + 700 + 300 + 4500 + 23}`);
  });

  it("takes an interrupt between iterations and resumes the instruction after IRET", async () => {
    const m = await counterPortCpu((n) => {
      if (n === 100) m.raise(0x20);
    });
    const { cpu } = m;
    // Real mode: the handler saves the interrupted IP and CX, counts, and returns.
    const handler = [
      0x55, // push bp
      0x89,
      0xe5, // mov bp, sp
      0x8b,
      0x46,
      0x02, // mov ax, [bp+2] (the interrupted IP)
      0xa3,
      0x00,
      0x05, // mov [0x500], ax
      0x89,
      0x0e,
      0x02,
      0x05, // mov [0x502], cx
      0x43, // inc bx
      0x5d, // pop bp
      0xcf, // iret
    ];
    const machine = { cpu, console: [], exitCode: null, writes: [] };
    loadReal(machine, [...REP_INSB, HLT]);
    cpu.writePhysical(0x8000, Uint8Array.from(handler));
    cpu.writePhysical(0x20 * 4, Uint8Array.from([0x00, 0x80, 0x00, 0x00]));
    cpu.eflags = cpu.eflags | 0x200;
    cpu.setReg(REG.ECX, 300);
    cpu.setReg(REG.EDX, 0x80);
    cpu.setReg(REG.EDI, 0x1000);
    cpu.setReg(REG.EBX, 0);
    expect(cpu.segment(SEG.CS).selector).toBe(0);
    expect(cpu.run(100_000)).toBe("halt");
    expect(cpu.reg(REG.EBX) & 0xffff).toBe(1);
    const view = new DataView(cpu.ram.buffer, cpu.ram.byteOffset);
    expect(view.getUint16(0x500, true)).toBe(CODE); // EIP was at the REP instruction
    expect(view.getUint16(0x502, true)).toBe(200); // after 100 of 300 iterations
    expect(cpu.reg(REG.ECX) & 0xffff).toBe(0);
    const stored = cpu.ram.subarray(0x1000, 0x1000 + 300);
    expect(stored.every((b, i) => b === (i & 0xff))).toBe(true);
  });

  for (const mode of ["native", "bt", "hvm", "pv"] as VirtMode[]) {
    it(`under ${mode}: a port loop in slices matches one straight run`, async () => {
      // Kernel code in a block (bt): the REP sits mid-block, between other instructions.
      const program = [
        ...[0xbf, ...d32(0x20000)],
        ...[0xb9, ...d32(3000)],
        ...[0x66, 0xba, 0x40, 0x00], // mov dx, 0x40 (the PIT's counter 0: time-dependent data)
        ...REP_INSB,
        ...[0x83, 0xc0, 0x01], // add eax, 1
        ...[0xbe, ...d32(0x20000)],
        ...[0xbf, ...d32(0x21000)],
        ...[0xb9, ...d32(3000)],
        0xf3,
        0xa4,
        HLT,
      ];
      const runs: string[] = [];
      for (const slice of [50_000_000, 3, 1000]) {
        // 100 ns per instruction: the PIT's counter moves a few hundred ticks during the loop.
        const vm = await Vm.create({ module: loadCoreModule(), ramBytes: 4 << 20, mode, nsPerInstruction: 100 });
        enterFlat32({ cpu: vm.cpu, console: [], exitCode: null, writes: [] }, program);
        // Program the PIT so its counter moves with virtual time.
        vm.devices.ioWrite(0x43, 1, 0x34);
        vm.devices.ioWrite(0x40, 1, 0x00);
        vm.devices.ioWrite(0x40, 1, 0x10);
        let stop = vm.run(slice);
        for (let i = 0; stop.kind === "limit" && i < 100_000; i++) stop = vm.run(slice);
        expect(stop.kind).toBe("halted");
        const regs = [0, 1, 2, 3, 5, 6, 7].map((i) => vm.cpu.reg(i));
        runs.push(
          JSON.stringify({
            regs,
            eip: vm.cpu.eip,
            insns: `${vm.cpu.instructions}`,
            ram: Buffer.from(vm.cpu.ram.subarray(0x20000, 0x22000)).toString("base64"),
          }),
        );
      }
      expect(runs[1]).toBe(runs[0]);
      expect(runs[2]).toBe(runs[0]);
      // The PIT's counter changed while the loop ran: the data really depends on time.
      const ram = Buffer.from(JSON.parse(runs[0]).ram, "base64");
      expect(new Set(ram.subarray(0, 3000)).size).toBeGreaterThan(100);
    });
  }
});
