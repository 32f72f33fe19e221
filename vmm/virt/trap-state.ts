// The trap VMM's virtual CPU as the host sees it (TRAP_VIRTUAL and the trap counters in the
// core's state block; word order as in core/virt/trap-state.ts): what the guest believes its
// IF, CPL and descriptor-table registers hold, next to the real ones the VMM runs it with.

import * as L from "../generated/layout.js";

export interface SystemSegment {
  selector: number;
  base: number;
  limit: number;
  valid: boolean;
}

export interface TrapState {
  /** The guest runs deprivileged (it has entered protected mode under the trap mode). */
  active: boolean;
  /** The guest's IF (the real IF stays 1). */
  virtualIf: boolean;
  virtualIopl: number;
  /** The privilege level the guest believes it has (0 while the real CPL is 1). */
  virtualCpl: number;
  gdtr: { base: number; limit: number };
  idtr: { base: number; limit: number };
  ldtr: SystemSegment;
  tr: SystemSegment;
  sysenterCs: number;
  /** Privileged instructions emulated, and exceptions/interrupts reflected to the guest. */
  emulated: number;
  reflected: number;
}

interface CoreWords {
  u32(addr: number): number;
}

const VALID = 0x80000000;

export function readTrapState(cpu: CoreWords): TrapState {
  const w = (i: number) => cpu.u32(L.S_TRAP_VIRTUAL + i * 4);
  const seg = (at: number): SystemSegment => ({
    selector: w(at),
    base: w(at + 1),
    limit: w(at + 2),
    valid: (w(at + 3) & VALID) !== 0,
  });
  return {
    active: w(0) !== 0,
    virtualIf: (w(1) & 0x200) !== 0,
    virtualIopl: (w(1) >>> 12) & 3,
    virtualCpl: w(2),
    gdtr: { base: w(3), limit: w(4) },
    idtr: { base: w(5), limit: w(6) },
    ldtr: seg(7),
    tr: seg(11),
    sysenterCs: w(15),
    emulated: cpu.u32(L.S_TRAP_EMULATED),
    reflected: cpu.u32(L.S_TRAP_REFLECTED),
  };
}
