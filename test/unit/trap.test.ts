// The trap-and-emulate mode on hand-built guests: a ring-0 kernel whose privileged instructions
// (CLI, STI, HLT, IN, OUT, MOV from CR0) trap and are emulated against its virtual CPU, while
// the sensitive unprivileged ones (POPF, PUSHF, PUSH CS, IRET, SGDT) run deprivileged at CPL 1
// and give it the real machine's answers; a genuine fault is told apart from a privileged
// instruction and reflected; and a guest that enters protected mode itself is taken over.

import { describe, expect, it } from "vitest";
import { Cpu, REG, SEG } from "../../vmm/cpu.js";
import * as L from "../../vmm/generated/layout.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { readCoreStats } from "../../vmm/stats/core-stats.js";
import { readTrapState } from "../../vmm/virt/trap-state.js";
import { configureVirtualization } from "../../vmm/virt/vmcs.js";

const GDT = 0x1000;
const IDT = 0x2000;
const TSS = 0x3000;
const DATA = 0x5000;
const STACK0 = 0x8000;
const CODE = 0x10000;
const IRQ_HANDLER = 0x10100;
const GP_HANDLER = 0x10300;
const IRQ_VECTOR = 0x20;
/** Where the VMM's own tables appear to the guest (core/virt/trap-state.ts AREA_LINEAR). */
const VMM_AREA = 0xffc00000;

function segDesc(base: number, limit: number, access: number, flags: number): [number, number] {
  const lo = ((limit & 0xffff) | ((base & 0xffff) << 16)) >>> 0;
  const hi = (((base >>> 16) & 0xff) | (access << 8) | (limit & 0xf0000) | (flags << 20) | (base & 0xff000000)) >>> 0;
  return [lo, hi];
}

function intGate(off: number): [number, number] {
  return [((off & 0xffff) | (0x08 << 16)) >>> 0, ((off & 0xffff0000) | 0x8e00) >>> 0];
}

class Guest {
  readonly ioWrites: Array<[number, number]> = [];
  ioReads = 0;
  private constructor(readonly cpu: Cpu) {}

  static async create(mode: "trap" | "native"): Promise<Guest> {
    let g: Guest | undefined;
    const cpu = await Cpu.create(loadCoreModule(), 1 << 20, {
      // Port 0x71 answers 10, 20, 30, ...; the PIC's acknowledge drops INTR.
      ioRead: () => 10 * ++g!.ioReads,
      ioWrite: (port, _size, value) => g!.ioWrites.push([port, value]),
      ackInterrupt: () => {
        cpu.setIntr(false);
        return IRQ_VECTOR;
      },
    });
    g = new Guest(cpu);
    configureVirtualization(cpu, mode);
    return g;
  }

  w32(a: number, v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    this.cpu.writePhysical(a, b);
  }
  r32(a: number): number {
    return new DataView(this.cpu.readPhysical(a, 4).buffer).getUint32(0, true);
  }
  code(a: number, bytes: number[]): void {
    this.cpu.writePhysical(a, new Uint8Array(bytes));
  }

  /** GDT (ring-0 and ring-3 flat segments, a TSS), IDT with an IRQ and a #GP handler. */
  tables(): void {
    const d: Array<[number, number]> = [
      [0, 0],
      segDesc(0, 0xfffff, 0x9a, 0xc),
      segDesc(0, 0xfffff, 0x92, 0xc),
      segDesc(0, 0xfffff, 0xfa, 0xc),
      segDesc(0, 0xfffff, 0xf2, 0xc),
      segDesc(TSS, 0x67, 0x89, 0),
    ];
    d.forEach(([lo, hi], i) => {
      this.w32(GDT + i * 8, lo);
      this.w32(GDT + i * 8 + 4, hi);
    });
    for (const [v, off] of [
      [IRQ_VECTOR, IRQ_HANDLER],
      [13, GP_HANDLER],
    ] as const) {
      const [lo, hi] = intGate(off);
      this.w32(IDT + v * 8, lo);
      this.w32(IDT + v * 8 + 4, hi);
    }
    this.w32(TSS + 4, STACK0);
    this.w32(TSS + 8, 0x10);
  }

  /** Protected mode, ring 0, IF = 0, as a Multiboot loader leaves a kernel. */
  startRing0(eip: number): void {
    const cpu = this.cpu;
    this.tables();
    cpu.setGdtr(GDT, 6 * 8 - 1);
    cpu.setIdtr(IDT, 256 * 8 - 1);
    cpu.setCr(0, 0x11);
    cpu.setSegment(SEG.CS, { selector: 0x08, base: 0, limit: 0xffffffff, attr: 0xc09b });
    for (const s of [SEG.SS, SEG.DS, SEG.ES, SEG.FS, SEG.GS]) {
      cpu.setSegment(s, { selector: 0x10, base: 0, limit: 0xffffffff, attr: 0xc093 });
    }
    cpu.setSegment(SEG.TR, { selector: 0x28, base: TSS, limit: 0x67, attr: 0x8b });
    cpu.setSegment(SEG.LDTR, { selector: 0, base: 0, limit: 0, attr: 0x82 });
    cpu.cpl = 0;
    cpu.eflags = 0x2;
    cpu.setReg(REG.ESP, STACK0);
    cpu.eip = eip;
  }

  /** KIND_TRAP counts by reason (the VMM's entries). */
  traps(): Map<number, number> {
    const m = new Map<number, number>();
    for (const c of readCoreStats(this.cpu).counters) if (c.kind === "trap") m.set(c.reason, c.core + c.host);
    return m;
  }
}

// Phase 1: CLI, STI, then POPF tries to clear IF; PUSHF and PUSH CS look at the machine; HLT.
// Phase 2 (after an IRQ wakes it): five IN/OUT round trips summed into EBX, stored; HLT.
const PROGRAM = [
  [0xfa], // cli
  [0xfb], // sti
  [0x6a, 0x02], // push 2
  [0x9d], // popf (IF = 0 wanted)
  [0x9c], // pushf
  [0x58], // pop eax
  [0xa3, 0x00, 0x50, 0x00, 0x00], // mov [0x5000], eax
  [0x0e], // push cs
  [0x58], // pop eax
  [0xa3, 0x04, 0x50, 0x00, 0x00], // mov [0x5004], eax
  [0xf4], // hlt (end of phase 1)
  [0x31, 0xdb], // xor ebx, ebx
  [0xb9, 0x05, 0x00, 0x00, 0x00], // mov ecx, 5
  [0xe4, 0x71], // in al, 0x71
  [0x0f, 0xb6, 0xc0], // movzx eax, al
  [0x01, 0xc3], // add ebx, eax
  [0xe6, 0xe9], // out 0xe9, al
  [0x49], // dec ecx
  [0x75, 0xf4], // jnz in
  [0x89, 0x1d, 0x08, 0x50, 0x00, 0x00], // mov [0x5008], ebx
  [0xf4], // hlt (end of phase 2)
].flat();
// The IRQ handler records the EFLAGS image it was given and counts itself.
const IRQ_PROGRAM = [
  [0x8b, 0x44, 0x24, 0x08], // mov eax, [esp+8]
  [0xa3, 0x10, 0x50, 0x00, 0x00], // mov [0x5010], eax
  [0xff, 0x05, 0x0c, 0x50, 0x00, 0x00], // inc dword [0x500c]
  [0xcf], // iret
].flat();
// The #GP handler stores its error code and stops.
const GP_PROGRAM = [
  [0x58], // pop eax
  [0xa3, 0x14, 0x50, 0x00, 0x00], // mov [0x5014], eax
  [0xf4], // hlt
].flat();
// Real mode: LGDT and MOV to CR0 run natively; the VMM takes over when PE is set.
const REAL_MODE_PROGRAM = [
  [0x0f, 0x01, 0x16, 0x00, 0x71], // lgdt [0x7100]
  [0x0f, 0x20, 0xc0], // mov eax, cr0
  [0x0c, 0x01], // or al, 1
  [0x0f, 0x22, 0xc0], // mov cr0, eax
  [0x66, 0xea, 0x15, 0x70, 0x00, 0x00, 0x08, 0x00], // jmp dword 0x08:0x7015
  [0x0e], // push cs (32-bit code from here)
  [0x58], // pop eax
  [0xa3, 0x00, 0x50, 0x00, 0x00], // mov [0x5000], eax
  [0x0f, 0x20, 0xc0], // mov eax, cr0 (traps now)
  [0xa3, 0x04, 0x50, 0x00, 0x00], // mov [0x5004], eax
  [0x0f, 0x01, 0x05, 0x08, 0x50, 0x00, 0x00], // sgdt [0x5008]
  [0xf4], // hlt
].flat();
const REAL_MODE_AT = 0x7000;

describe("trap and emulate, a hand-built ring-0 guest", () => {
  it("emulates CLI, STI, HLT, IN and OUT (one #GP trap each) and the guest computes the right result", async () => {
    const g = await Guest.create("trap");
    g.code(CODE, PROGRAM);
    g.code(IRQ_HANDLER, IRQ_PROGRAM);
    g.startRing0(CODE);

    expect(g.cpu.run(1000)).toBe("halt");
    // Deprivileged: the real CPU runs the kernel at CPL 1, the guest believes it is at CPL 0.
    const s1 = readTrapState(g.cpu);
    expect(s1.active).toBe(true);
    expect(g.cpu.cpl).toBe(1);
    expect(s1.virtualCpl).toBe(0);
    // cli, sti, hlt: three privileged instructions, three traps, all emulated.
    expect(g.traps()).toEqual(new Map([[13, 3]]));
    expect(s1.emulated).toBe(3);
    // POPF at CPL 1 cannot clear IF: the guest's IF stays 1 and the VMM never hears of it.
    expect(s1.virtualIf).toBe(true);
    // PUSHF shows the real IF (1); PUSH CS shows RPL 1.
    expect(g.r32(DATA) & 0x200).toBe(0x200);
    expect(g.r32(DATA + 4) & 0xffff).toBe(0x09);
    expect(g.cpu.eflags & 0x200).toBe(0x200);

    // An interrupt with the guest's IF = 1 is reflected through its IDT and wakes the HLT.
    g.cpu.setIntr(true);
    expect(g.cpu.run(1000)).toBe("halt");
    expect(g.r32(DATA + 0xc)).toBe(1);
    // The frame holds the guest's IF (1), not a VMM value.
    expect(g.r32(DATA + 0x10) & 0x3200).toBe(0x200);
    // The handler's IRET at CPL 1 cannot set IF and does not trap: the VMM still believes
    // the interrupt gate's IF = 0 (another way POPF/IRET escape the VMM).
    expect(readTrapState(g.cpu).virtualIf).toBe(false);
    // 5 INs and 5 OUTs went to the device bus; the sum is right.
    expect(g.ioReads).toBe(5);
    expect(g.ioWrites).toEqual([10, 20, 30, 40, 50].map((v) => [0xe9, v]));
    expect(g.r32(DATA + 8)).toBe(150);
    const traps = g.traps();
    expect(traps.get(13)).toBe(3 + 5 + 5 + 1);
    expect(traps.get(32)).toBe(1);
    expect(readTrapState(g.cpu).reflected).toBe(1);
    // Halted with the guest's IF clear: the host sees a CPU stopped for good.
    expect(g.cpu.eflags & 0x200).toBe(0);
  });

  it("holds an interrupt while the guest's IF is 0 (the real IF is 1)", async () => {
    const g = await Guest.create("trap");
    g.code(CODE, [0x90, 0x90, 0x90, 0xeb, 0xfe]); // nop x3; jmp $
    g.code(IRQ_HANDLER, IRQ_PROGRAM);
    g.startRing0(CODE);
    g.cpu.setIntr(true);
    g.cpu.run(100);
    expect(g.cpu.eflags & 0x200).toBe(0x200);
    expect(g.r32(DATA + 0xc)).toBe(0);
    expect(g.traps().get(32)).toBeUndefined();
  });

  it("tells a genuine fault from a privileged instruction: reflected with its error code", async () => {
    const g = await Guest.create("trap");
    // mov ax, 0x53; mov ds, ax; hlt: selector 0x50 is beyond the guest's GDT limit -> #GP(0x50).
    g.code(CODE, [0x66, 0xb8, 0x53, 0x00, 0x8e, 0xd8, 0xf4]);
    g.code(GP_HANDLER, GP_PROGRAM);
    g.startRing0(CODE);
    expect(g.cpu.run(100)).toBe("halt");
    expect(g.r32(DATA + 0x14)).toBe(0x50);
    const s = readTrapState(g.cpu);
    expect(s.reflected).toBe(1);
    // The handler's HLT was the one instruction emulated; the #GP and the HLT were both traps.
    expect(s.emulated).toBe(1);
    expect(g.traps().get(13)).toBe(2);
    // The faulting load changed nothing.
    expect(g.cpu.segment(SEG.DS).selector).toBe(0x10);
  });

  it("the same program natively: no traps, PUSH CS shows RPL 0 and POPF clears IF", async () => {
    const g = await Guest.create("native");
    g.code(CODE, PROGRAM);
    g.startRing0(CODE);
    expect(g.cpu.run(1000)).toBe("halt");
    expect(g.r32(DATA) & 0x200).toBe(0);
    expect(g.r32(DATA + 4) & 0xffff).toBe(0x08);
    expect(g.cpu.cpl).toBe(0);
    expect(g.traps().size).toBe(0);
  });

  it("re-copies the shadow GDT when the guest reloads GDTR after editing its GDT", async () => {
    const g = await Guest.create("trap");
    const bytes = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
    const [lo, hi] = segDesc(DATA, 0xfff, 0x92, 0x4); // selector 0x30: data at 0x5000, DPL 0
    g.code(CODE, [
      ...[0xc7, 0x05, ...bytes(GDT + 0x30), ...bytes(lo)], // mov dword [GDT+0x30], lo
      ...[0xc7, 0x05, ...bytes(GDT + 0x34), ...bytes(hi)], // mov dword [GDT+0x34], hi
      ...[0x0f, 0x01, 0x15, ...bytes(0x7100)], // lgdt [0x7100] (the same base and limit)
      ...[0x66, 0xb8, 0x30, 0x00], // mov ax, 0x30
      ...[0x8e, 0xd8], // mov ds, ax
      ...[0xa1, ...bytes(0)], // mov eax, [0] (DS: 0x5000)
      ...[0x26, 0xa3, ...bytes(DATA + 0x20)], // mov es:[0x5020], eax
      0xf4, // hlt
    ]);
    g.w32(DATA, 0xcafebabe);
    g.startRing0(CODE);
    g.cpu.setGdtr(GDT, 7 * 8 - 1); // slot 6 empty for now
    g.code(0x7100, [7 * 8 - 1, 0, ...bytes(GDT)]);
    expect(g.cpu.run(100)).toBe("halt");
    expect(g.r32(DATA + 0x20)).toBe(0xcafebabe);
    expect(g.cpu.segment(SEG.DS).selector).toBe(0x30);
    // LGDT and HLT trapped; the DS load used the re-copied shadow (DPL 1) and did not.
    expect(g.traps()).toEqual(new Map([[13, 2]]));
    expect(g.cpu.u32(L.S_TRAP_GDT_COPIED)).toBe(7);
  });

  it("takes over a guest that enters protected mode itself (real mode runs natively)", async () => {
    const g = await Guest.create("trap");
    g.tables();
    g.code(REAL_MODE_AT, REAL_MODE_PROGRAM);
    g.code(0x7100, [6 * 8 - 1, 0, GDT & 0xff, (GDT >>> 8) & 0xff, 0, 0]);
    g.cpu.setRealSegment(SEG.CS, 0);
    for (const s of [SEG.SS, SEG.DS, SEG.ES]) g.cpu.setRealSegment(s, 0);
    g.cpu.setReg(REG.ESP, 0x6000);
    g.cpu.eip = REAL_MODE_AT;
    expect(g.cpu.run(100)).toBe("halt");
    const s = readTrapState(g.cpu);
    expect(s.active).toBe(true);
    expect(s.gdtr).toEqual({ base: GDT, limit: 6 * 8 - 1 });
    expect(g.r32(DATA) & 0xffff).toBe(0x09);
    expect(g.r32(DATA + 4)).toBe(0x60000011); // CD, NW and ET from RESET, PE
    // SGDT is not privileged: the guest sees the VMM's GDT.
    expect(g.cpu.readPhysical(DATA + 8, 2)).toEqual(new Uint8Array([0xff, 0xff]));
    expect(g.r32(DATA + 10)).toBe(VMM_AREA);
    // Only the protected-mode MOV from CR0 and HLT trapped.
    expect(g.traps()).toEqual(new Map([[13, 2]]));
    expect(g.cpu.u32(L.S_TRAP_GDT_COPIED)).toBe(6);
  });
});
