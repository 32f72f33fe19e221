// Which arithmetic flags nobody can see: a compile-time look ahead inside one basic block.
//
// Rotates (they change CF and OF and keep the other four) and shifts by CL (a count of zero
// changes nothing) cannot keep their flags pending in locals the way ADD or SHL by a constant
// do: compiled code defers them to the core's shift() at the next flush (flags.ts "deferred"),
// which still costs the locals and, at every exit, the call. Most of the time nothing reads
// them at all: hash and checksum loops (MD5's ROL, SHA-256's ROR) follow a rotate with an XOR
// or an ADD that replaces all six. Then the rotate needs no flags, only its result.
//
// "Nobody can see them" means: before any instruction reads a flag, every flag is written again
// by an instruction that cannot fault, exit or call into the interpreter on the way (a fault
// would push EFLAGS in an exception frame; an exit or the interpreter would read the state
// block). Only the instruction table's facts and operand forms are used, so this holds for any
// guest, not a pattern.

import type { Insn } from "./decode.js";

/** Write all six arithmetic flags from their operands alone (none read), and cannot fault without memory. */
const FULL_WRITERS = new Set(["ADD", "SUB", "AND", "OR", "XOR", "CMP", "TEST", "NEG", "SHL", "SAL", "SHR", "SAR"]);
/** Neither read nor write a flag and cannot fault when no memory is accessed. */
const FLAGLESS = new Set(["MOV", "LEA", "NOT", "BSWAP", "XCHG", "MOVZX", "MOVSX", "NOP"]);

/** The masked count of a shift or rotate by an immediate or by 1; null for a count in CL. */
function constantCount(insn: Insn): number | null {
  if (insn.entry.operands.endsWith(",Ib")) return insn.imm[0] & 0x1f;
  if (insn.entry.operands.endsWith(",1")) return 1;
  return null;
}

/** Whether `insn` touches memory (LEA only computes an address). */
function accessesMemory(insn: Insn): boolean {
  return insn.mem !== null && insn.entry.mnem !== "LEA";
}

/**
 * Whether the arithmetic flags as they stand after `insns[j]` are never observed: the rest of
 * the basic block replaces all of them before anything can read them. False at the block's end
 * (the successor is not looked at).
 */
export function flagsDeadAfter(insns: readonly Insn[], j: number): boolean {
  for (let k = j + 1; k < insns.length; k++) {
    const insn = insns[k];
    const mnem = insn.entry.mnem;
    if (insn.lock || insn.rep !== 0 || accessesMemory(insn)) return false;
    if (FLAGLESS.has(mnem)) {
      // Register moves only: not a segment, control or debug register, nor a moffs operand.
      if (/[SCDO][a-z]/.test(insn.entry.operands)) return false;
      continue;
    }
    if (FULL_WRITERS.has(mnem) && insn.entry.flags.mod === "OSZAPC") {
      if (mnem === "SHL" || mnem === "SAL" || mnem === "SHR" || mnem === "SAR") {
        // A count of zero (or one in CL, which may be zero) keeps the flags as they were.
        const n = constantCount(insn);
        if (n === null || n === 0) return false;
      }
      return true;
    }
    if ((mnem === "ROL" || mnem === "ROR") && constantCount(insn) !== null) {
      // A rotate replaces CF and OF (a zero count nothing) and passes the other four on.
      continue;
    }
    if (mnem === "IMUL" && insn.entry.operands.includes(",")) return true; // two- and three-operand IMUL
    return false;
  }
  return false;
}
