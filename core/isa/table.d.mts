// Types for core/isa/table.mjs (the instruction table is plain data shared with Node scripts).
export interface TableEntry {
  map: 0 | 1;
  op: number;
  reg: number;
  mnem: string;
  operands: string;
  modrm: boolean;
  memOnly: boolean;
  flags: { mod: string; undef: string };
  lock: boolean;
  user: boolean;
  x87: boolean;
  /** A register form with one exact ModRM byte inside a group slot, or -1. */
  modrmExact: number;
  handler: string;
  /** How the binary translator treats the instruction in guest-kernel code (see table.mjs). */
  bt: BtClass;
}
/** Control flow the translator sees: where a translated block ends and what it chains to. */
export type BtFlow = "none" | "jump" | "jcc" | "call" | "indirect" | "far";
export interface BtClass {
  flow: BtFlow;
  /** null: copied as it is (IDENT); a callout name; or one per ModRM.reg value. */
  callout: string | readonly string[] | null;
}
export const entries: TableEntry[];
export const FLAG_BITS: Record<string, number>;
export function handlerName(mnem: string, operands: string): string;
export function sizedHandler(entry: TableEntry, bits: 16 | 32): string;
export function isSized(entry: TableEntry): boolean;
export function undefinedFlagsMask(entry: TableEntry): number;
export function immediateBytes(entry: TableEntry, opBytes: number, addrBytes: number): number;
