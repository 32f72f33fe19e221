// The trap VMM's virtual CPU as the host sees it (TRAP_VIRTUAL and the trap counters in the
// core's state block; the words are core/layout/abi.mjs's TV_*): what the guest believes its
// IF, CPL and descriptor-table registers hold, next to the real ones the VMM runs it with.

import * as A from "../generated/abi.js";
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

export function readTrapState(cpu: CoreWords): TrapState {
  const w = (i: number) => cpu.u32(L.S_TRAP_VIRTUAL + i * 4);
  const seg = (at: number): SystemSegment => ({
    selector: w(at + A.TV_SEG_SELECTOR),
    base: w(at + A.TV_SEG_BASE),
    limit: w(at + A.TV_SEG_LIMIT),
    valid: (w(at + A.TV_SEG_ATTR) & A.TV_VALID) !== 0,
  });
  return {
    active: w(A.TV_ACTIVE) !== 0,
    virtualIf: (w(A.TV_FLAGS) & 0x200) !== 0,
    virtualIopl: (w(A.TV_FLAGS) >>> 12) & 3,
    virtualCpl: w(A.TV_CPL),
    gdtr: { base: w(A.TV_GDTR_BASE), limit: w(A.TV_GDTR_LIMIT) },
    idtr: { base: w(A.TV_IDTR_BASE), limit: w(A.TV_IDTR_LIMIT) },
    ldtr: seg(A.TV_LDTR),
    tr: seg(A.TV_TR),
    sysenterCs: w(A.TV_SYSENTER_CS),
    emulated: cpu.u32(L.S_TRAP_EMULATED),
    reflected: cpu.u32(L.S_TRAP_REFLECTED),
  };
}
