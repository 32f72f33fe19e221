// The instruction table (core/isa/table.mjs) indexed for decoding, once for every host-side
// decoder (the JIT's, vmm/jit/decode.ts, and the monitor's disassembler, vmm/monitor/disasm.ts):
// by map << 8 | opcode; ModRM.reg groups as their eight slots; forms that need one exact ModRM
// byte apart, by (map << 8 | opcode) << 8 | modrm.

import { entries, type TableEntry } from "../../core/isa/table.mjs";

export const byOpcode = new Map<number, TableEntry>();
export const byGroup = new Map<number, TableEntry[]>();
export const byExact = new Map<number, TableEntry>();

for (const e of entries) {
  const key = (e.map << 8) | e.op;
  if (e.modrmExact >= 0) byExact.set((key << 8) | e.modrmExact, e);
  else if (e.reg >= 0) {
    const g = byGroup.get(key) ?? [];
    g[e.reg] = e;
    byGroup.set(key, g);
  } else byOpcode.set(key, e);
}
