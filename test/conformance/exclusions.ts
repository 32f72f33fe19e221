// Where the captured CPU and the i686 we emulate are specified to differ. Keys are
// "CPU:STEM" (CPU = the MOO header's id: C286 = Harris 80C286; STEM = the opcode file, "F6.6"),
// or "CPU:*" for a rule that can apply to any opcode. Every entry names the rule that differs
// and its `when` tests that the rule is what this test hits (computed from the test's data and,
// where it matters, from the exception the emulator raised). Failures an entry explains are
// reported as excluded, never as passed; any other failure in the same file still fails.

import { decode16, defaultsToSS } from "./decode16.js";
import type { MooTest } from "./moo.js";

/** What the emulator did with the test, for rules that depend on it. */
export interface Outcome {
  /** Vector of the first exception the emulator raised, or null if it raised none. */
  firstException: number | null;
  /** FLAGS bits (under the comparison mask) that differ from the capture; 0 when FLAGS matched. */
  flagsDiff: number;
  /** What differs: register names ("ax", "flags", "eflags"...), "ram", "run" (did not halt). */
  differs: Set<string>;
}

export interface Exclusion {
  /** The rule that differs between the captured CPU and an i686 (SDM or documented behaviour). */
  reason: string;
  /** Only tests for which this holds (the rule's trigger). */
  when?: (t: MooTest, o: Outcome) => boolean;
  /** Only these test indexes. */
  tests?: number[];
  /**
   * The same test rewritten so that the rule no longer applies on a P6 (for example without the
   * LOCK prefix). When given, the runner also runs it, and the exclusion holds only if this
   * variant passes: the rest of the instruction is still checked against the capture.
   */
  variant?: (t: MooTest) => MooTest | null;
}

const VEC_SS = 12;
const VEC_GP = 13;
const VEC_UD = 6;

/** Instruction length without the HLT the capture appends. */
function insnLength(t: MooTest): number {
  const n = t.bytes.length;
  return n > 0 && t.bytes[n - 1] === 0xf4 ? n - 1 : n;
}

/** The 16-bit word at SS:SP+offset in the test's initial RAM (wrapping at 64 KiB), or null. */
function stackWord(t: MooTest, offset: number): number | null {
  const ss = t.initial.regs.ss ?? 0;
  const sp = t.initial.regs.sp ?? 0;
  const at = (o: number) => t.initial.ram.find(([a]) => a === ss * 16 + ((sp + o) & 0xffff))?.[1];
  const lo = at(offset);
  const hi = at(offset + 1);
  return lo === undefined || hi === undefined ? null : lo | (hi << 8);
}

/** The popped FLAGS image sets IOPL or NT (bits 12-14), and those bits are the only difference. */
const popsIoplOrNt = (offset: number) => (t: MooTest, o: Outcome) =>
  ((stackWord(t, offset) ?? 0) & 0x7000) !== 0 && only(o, ["flags"]) && (o.flagsDiff & ~0x7000) === 0;

/** Nothing but these differs. */
const only = (o: Outcome, names: string[]) => [...o.differs].every((n) => names.includes(n));

const POPPED_FLAGS =
  "a 286 in real mode forces FLAGS bits 12-15 to 0 when it loads FLAGS; a P6 in real mode (privilege level 0) loads IOPL and NT from the popped image (SDM vol. 2, POPF and IRET)";

const STRING_FAULT =
  "a 286 word string access that overruns offset FFFFh faults with SI/DI (and CX) already advanced; on a P6 the fault leaves the registers as before the instruction (faults are restartable, SDM vol. 3, 6.5)";
const stringFault = (t: MooTest, o: Outcome) =>
  t.exception?.vector === VEC_GP &&
  (o.firstException === VEC_GP || o.firstException === VEC_SS) &&
  only(o, ["si", "di", "cx"]);

/** Instructions that read or write the stack implicitly (PUSH, POP, CALL, RET, LEAVE, INT, IRET...). */
const STACK_OPS = new Set([
  0x06, 0x07, 0x0e, 0x16, 0x17, 0x1e, 0x1f, 0x60, 0x61, 0x68, 0x6a, 0x8f, 0x9a, 0x9c, 0x9d, 0xc2, 0xc3, 0xc8, 0xc9,
  0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf, 0xe8,
]);
function usesStack(d: ReturnType<typeof decode16>): boolean {
  if (STACK_OPS.has(d.opcode) || (d.opcode >= 0x50 && d.opcode <= 0x5f)) return true;
  return d.opcode === 0xff && (d.reg === 2 || d.reg === 3 || d.reg === 6);
}

const SREG_FS_GS =
  "FS and GS exist from the 386 on: a 286 raises #UD for segment register 4 or 5 in MOV Sreg forms; a P6 moves FS/GS";
const usesFsGs = (t: MooTest) => {
  const r = decode16(t.bytes).reg;
  return r === 4 || r === 5;
};

export const EXCLUSIONS: Record<string, Exclusion> = {
  "C286:*LOCK": {
    variant: withoutLock,
    reason:
      "a 286 accepts LOCK before any instruction; a P6 raises #UD when LOCK precedes an instruction that is not lockable or has no memory destination (SDM vol. 2, LOCK)",
    when: (t, o) => {
      const d = decode16(t.bytes);
      return d.lock && !(d.entry?.lock && d.modrm !== null && d.mod !== 3) && o.firstException === VEC_UD;
    },
  },
  "C286:*LENGTH": {
    reason:
      "the 286 limits an instruction (prefixes included) to 10 bytes and raises #GP beyond (80286 PRM); the P6 limit is 15 bytes (SDM vol. 2, ch. 2, instruction format)",
    when: (t, o) => insnLength(t) > 10 && t.exception?.vector === VEC_GP && o.firstException !== VEC_GP,
  },
  "C286:*SS": {
    variant: ssVectorAsGp,
    reason:
      "a 286 in real mode reports an SS-relative operand that overruns offset FFFFh as interrupt 13; a P6 raises #SS(0) for SS-relative accesses (SDM vol. 2, real-address-mode exceptions of each instruction)",
    when: (t, o) => {
      if (t.exception?.vector !== VEC_GP || o.firstException !== VEC_SS) return false;
      const d = decode16(t.bytes);
      // LEAVE is the exception: its SDM page gives #GP in real-address mode, as the 286 does.
      if (d.opcode === 0xc9) return false;
      const ssOperand =
        d.modrm !== null ? d.mod !== 3 && (d.segment === 2 || (d.segment === -1 && defaultsToSS(d))) : d.segment === 2;
      return ssOperand || usesStack(d);
    },
  },
  "C286:9D": { reason: POPPED_FLAGS, when: popsIoplOrNt(0) },
  "C286:CF": { reason: POPPED_FLAGS, when: popsIoplOrNt(4) },
  "C286:8C": { reason: SREG_FS_GS, when: usesFsGs },
  "C286:8E": { reason: SREG_FS_GS, when: usesFsGs },
  "C286:6C": { reason: STRING_FAULT, when: stringFault },
  "C286:6D": { reason: STRING_FAULT, when: stringFault },
  "C286:6E": { reason: STRING_FAULT, when: stringFault },
  "C286:6F": { reason: STRING_FAULT, when: stringFault },
  "C286:A4": { reason: STRING_FAULT, when: stringFault },
  "C286:A5": { reason: STRING_FAULT, when: stringFault },
  "C286:A6": { reason: STRING_FAULT, when: stringFault },
  "C286:A7": { reason: STRING_FAULT, when: stringFault },
  "C286:AA": { reason: STRING_FAULT, when: stringFault },
  "C286:AB": { reason: STRING_FAULT, when: stringFault },
  "C286:AC": { reason: STRING_FAULT, when: stringFault },
  "C286:AD": { reason: STRING_FAULT, when: stringFault },
  "C286:AE": { reason: STRING_FAULT, when: stringFault },
  "C286:AF": { reason: STRING_FAULT, when: stringFault },
};

/** A copy of a test whose instruction bytes (in `bytes` and in the initial RAM) are replaced. */
function withBytes(t: MooTest, bytes: Uint8Array): MooTest {
  const cs = t.initial.regs.cs ?? 0;
  const ip = t.initial.regs.ip ?? 0;
  const ram = t.initial.ram.map(([a, v]): [number, number] => {
    for (let i = 0; i < bytes.length; i++) if (a === cs * 16 + ((ip + i) & 0xffff)) return [a, bytes[i]];
    return [a, v];
  });
  return { ...t, bytes, initial: { ...t.initial, ram } };
}

/**
 * The LOCK prefix replaced by a segment prefix that changes nothing (the operand's effective
 * segment), so the instruction keeps its length: the P6 must then do what the 286 did.
 */
function withoutLock(t: MooTest): MooTest | null {
  const d = decode16(t.bytes);
  const at = t.bytes.indexOf(0xf0);
  if (at < 0 || at >= d.prefixes.length) return null;
  const memory = d.modrm !== null && d.mod !== 3;
  const seg = d.segment !== -1 ? d.segment : memory && defaultsToSS(d) ? 2 : 3;
  const bytes = Uint8Array.from(t.bytes);
  bytes[at] = [0x26, 0x2e, 0x36, 0x3e][seg];
  return withBytes(t, bytes);
}

/**
 * The interrupt-12 vector made the same as interrupt 13's, so that the P6's #SS lands where the
 * 286's interrupt 13 did and pushes the same frame.
 */
function ssVectorAsGp(t: MooTest): MooTest | null {
  const ivt13 = [0x34, 0x35, 0x36, 0x37].map((a) => t.initial.ram.find(([x]) => x === a)?.[1]);
  if (ivt13.some((v) => v === undefined) || t.initial.ram.some(([a]) => a >= 0x30 && a < 0x34)) return null;
  const ram: [number, number][] = [...t.initial.ram, ...ivt13.map((v, i): [number, number] => [0x30 + i, v!])];
  return { ...t, initial: { ...t.initial, ram } };
}

function applies(e: Exclusion | undefined, t: MooTest, o: Outcome): boolean {
  if (!e) return false;
  if (e.tests && !e.tests.includes(t.index)) return false;
  if (e.when && !e.when(t, o)) return false;
  return true;
}

/** The exclusion that explains this test's failure, or null when none applies. */
export function exclusionFor(key: string, t: MooTest, o: Outcome, skip: Set<Exclusion> = new Set()): Exclusion | null {
  const own = EXCLUSIONS[key];
  if (own && !skip.has(own) && applies(own, t, o)) return own;
  const cpu = key.slice(0, key.indexOf(":") + 1);
  for (const [k, e] of Object.entries(EXCLUSIONS)) {
    if (k.startsWith(`${cpu}*`) && !skip.has(e) && applies(e, t, o)) return e;
  }
  return null;
}
