// Exit qualifications decoded into words (SDM Vol. 3C, "Basic VM-Exit Information": the tables
// for control-register accesses, I/O instructions and EPT violations; for a #PF exception exit the
// qualification is the faulting linear address). Language-neutral: field names are the SDM's.

import type { TraceRow } from "../../vmm/stats/stats.js";

const hex = (n: number, w = 8) => "0x" + (n >>> 0).toString(16).padStart(w, "0");
const REGS = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"];

export function decodeQualification(row: Pick<TraceRow, "kind" | "reason" | "qualification">): string {
  const q = row.qualification >>> 0;
  if (row.kind !== "exit") return q === 0 ? "" : hex(q);
  switch (row.reason) {
    case 28: {
      const cr = q & 0xf;
      const type = (q >>> 4) & 3;
      const reg = REGS[(q >>> 8) & 7]!;
      if (type === 0) return `mov cr${cr}, ${reg}`;
      if (type === 1) return `mov ${reg}, cr${cr}`;
      if (type === 2) return "clts";
      return `lmsw ${hex(q >>> 16, 4)}`;
    }
    case 30: {
      const size = (q & 7) + 1;
      const dir = q & 8 ? "in" : "out";
      const str = q & 0x10 ? "s" : "";
      const rep = q & 0x20 ? "rep " : "";
      return `${rep}${dir}${str} port ${hex(q >>> 16, 4)}, ${size} byte${size > 1 ? "s" : ""}`;
    }
    case 48: {
      const acc = [q & 1 ? "read" : "", q & 2 ? "write" : "", q & 4 ? "fetch" : ""].filter(Boolean).join("+");
      return `${acc || "access"}`;
    }
    case 0:
    case 14:
      return `linear ${hex(q)}`;
    default:
      return q === 0 ? "" : hex(q);
  }
}

export { hex };
