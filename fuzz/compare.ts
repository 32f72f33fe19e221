// The architectural state modes must agree on: registers, EFLAGS, segment caches, descriptor
// table registers, control and debug registers, CPL and mode, the x87 state, instructions
// retired, the exception counts, and guest RAM (hashed). Hypervisor-side state (shadow roots,
// the VMCS, translation caches, counters of crossings) is left out: it differs by design.

import { createHash } from "node:crypto";
import type { Cpu } from "../vmm/cpu.js";
import { STATE_FIELDS } from "../vmm/generated/layout.js";

const ARCHITECTURAL = [
  "REGS",
  "EIP",
  "SEG_SEL",
  "SEG_BASE",
  "SEG_LIMIT",
  "SEG_ATTR",
  "GDTR_BASE",
  "GDTR_LIMIT",
  "IDTR_BASE",
  "IDTR_LIMIT",
  "CR",
  "DR",
  "CPL",
  "MODE",
  "HALTED",
  "INSN_COUNT",
  "EXC_COUNT",
  "FPU_ST",
  "FPU_CW",
  "FPU_SW",
  "FPU_TOP",
  "FPU_TAG",
  "FPU_IP",
  "FPU_CS",
  "FPU_OPCODE",
  "FPU_DP",
  "FPU_DS",
] as const;

const FIELDS = STATE_FIELDS.filter((f) => (ARCHITECTURAL as readonly string[]).includes(f.name));

export type StateSnapshot = Record<string, string>;

/** The comparable state of a stopped VM, one printable value per field (arrays joined). */
export function snapshot(cpu: Cpu, stop: string): StateSnapshot {
  const out: StateSnapshot = { stop, EFLAGS: hex(cpu.eflags) };
  const dv = new DataView(cpu.memory.buffer);
  for (const f of FIELDS) {
    const width = f.type === "u64" ? 8 : 4;
    const values: string[] = [];
    for (let i = 0; i < f.count; i++) {
      const at = f.addr + i * width;
      values.push(width === 8 ? dv.getBigUint64(at, true).toString(16) : hex(dv.getUint32(at, true)));
    }
    out[f.name] = values.join(" ");
  }
  out.RAM = createHash("sha1").update(cpu.ram).digest("hex");
  return out;
}

function hex(v: number): string {
  return (v >>> 0).toString(16);
}

/** The first field where `b` differs from `a`, described in one line; undefined when equal. */
export function firstDifference(a: StateSnapshot, b: StateSnapshot): string | undefined {
  for (const k of Object.keys(a)) {
    if (a[k] !== b[k]) return `${k}: ${a[k]} vs ${b[k]}`;
  }
  return undefined;
}
