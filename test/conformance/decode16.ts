// Just enough of a 16-bit decoder to apply rules to SingleStepTests vectors: prefixes, the
// opcode, the ModRM byte and where the immediate starts. Real mode, one-byte opcode map (what
// the 80286 suites contain); whether an opcode has a ModRM byte comes from the instruction table.

import { entries } from "../../core/isa/table.mjs";

interface TableEntry {
  map: number;
  op: number;
  reg: number;
  mnem: string;
  modrm: boolean;
  lock: boolean;
}
const TABLE = entries as TableEntry[];

const byOpcode = new Map<number, TableEntry[]>();
for (const e of TABLE) {
  if (e.map !== 0) continue;
  const list = byOpcode.get(e.op) ?? [];
  list.push(e);
  byOpcode.set(e.op, list);
}

export interface Decoded16 {
  prefixes: number[];
  lock: boolean;
  /** Segment override prefix (ES CS SS DS = 0..3), or -1. */
  segment: number;
  opcode: number;
  /** The table entry (for groups, the one for ModRM.reg), if the table has the opcode. */
  entry: TableEntry | undefined;
  modrm: number | null;
  mod: number;
  reg: number;
  rm: number;
  /** Offset of the first byte after ModRM and displacement (the immediate, if any). */
  immOffset: number;
}

const SEG_PREFIX: Record<number, number> = { 38: 0, 46: 1, 54: 2, 62: 3 };

export function decode16(bytes: Uint8Array): Decoded16 {
  let i = 0;
  const prefixes: number[] = [];
  let segment = -1;
  while (i < bytes.length) {
    const b = bytes[i];
    if (b in SEG_PREFIX) segment = SEG_PREFIX[b];
    else if (b !== 0xf0 && b !== 0xf2 && b !== 0xf3) break;
    prefixes.push(b);
    i++;
  }
  const opcode = bytes[i++] ?? 0;
  const list = byOpcode.get(opcode) ?? [];
  const hasModrm = list.some((e) => e.modrm);
  let modrm: number | null = null;
  let mod = 0;
  let reg = 0;
  let rm = 0;
  if (hasModrm && i < bytes.length) {
    modrm = bytes[i++];
    mod = modrm >> 6;
    reg = (modrm >> 3) & 7;
    rm = modrm & 7;
    if (mod === 1) i += 1;
    else if (mod === 2 || (mod === 0 && rm === 6)) i += 2;
  }
  const entry = list.find((e) => e.reg === -1 || (modrm !== null && e.reg === reg));
  return { prefixes, lock: prefixes.includes(0xf0), segment, opcode, entry, modrm, mod, reg, rm, immOffset: i };
}

/** Whether the 16-bit memory operand is addressed through SS by default (BP-based forms). */
export function defaultsToSS(d: Decoded16): boolean {
  if (d.modrm === null || d.mod === 3) return false;
  if (d.mod === 0 && d.rm === 6) return false; // [disp16]
  return d.rm === 2 || d.rm === 3 || d.rm === 6; // [bp+si] [bp+di] [bp+disp]
}
