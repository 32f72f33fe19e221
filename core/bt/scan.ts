// Instruction lengths and classes for the translator, from the forms generated out of the
// instruction table (scripts/gen-bt.mjs): the translator copies an instruction without executing
// it, so it needs its extent and what it does to control flow, nothing else.

import {
  BT_GROUP_FORMS,
  BT_OPCODE_FORMS,
  btExactForm,
  FORM_CALLOUT_SHIFT,
  FORM_FLOW_SHIFT,
  FORM_GROUP,
  FORM_IMM_ADDRSIZE,
  FORM_IMM_FIXED_SHIFT,
  FORM_IMM_OPSIZE,
  FORM_MODRM,
  FORM_REG_ONLY,
  FORM_VALID,
} from "../generated/bt-forms";

/** Bits of a form holding its callout + 1 (0: IDENT). */
export const FORM_CALLOUT_MASK: u32 = 0x3f << FORM_CALLOUT_SHIFT;

/** FLOW_* of a form. */
@inline export function flowOf(form: u32): u32 {
  return (form >> FORM_FLOW_SHIFT) & 7;
}

/** The form of the instruction scanInstruction last measured. */
export let scanForm: u32 = 0;
/** Its operand size was 32 bits (after a 66 prefix, if any). */
export let scanOpsize32: bool = false;
/** The last scan returned 0 because the instruction goes on past the `avail` bytes it was given. */
export let scanShort: bool = false;

const MAX_LENGTH: u32 = 15;

/**
 * Length of the instruction whose bytes are at `p` (`avail` of them readable), decoded with the
 * default operand and address size of the code segment. 0 when it is not a valid form or needs
 * bytes beyond `avail` or beyond 15: the interpreter must meet it (and raise its fault) instead.
 */
export function scanInstruction(p: usize, avail: u32, cs32: bool): u32 {
  const limit = avail < MAX_LENGTH ? avail : MAX_LENGTH;
  // Running out of bytes below 15 means the instruction continues past them (more bytes could
  // make it whole); at 15 it is too long, which no further byte changes.
  scanShort = avail < MAX_LENGTH;
  let i: u32 = 0;
  let op32 = cs32;
  let ad32 = cs32;
  let b: u32 = 0;
  for (;;) {
    if (i >= limit) return 0;
    b = load<u8>(p + i);
    i++;
    if (b == 0x66) op32 = !cs32;
    else if (b == 0x67) ad32 = !cs32;
    else if (!isPrefix(b)) break;
  }
  let map: u32 = 0;
  if (b == 0x0f) {
    if (i >= limit) return 0;
    b = load<u8>(p + i);
    i++;
    map = 1;
  }
  let f = load<u32>(BT_OPCODE_FORMS + (((map << 8) | b) << 2));
  if ((f & FORM_VALID) == 0) return notShort();
  if ((f & FORM_MODRM) != 0) {
    if (i >= limit) return 0;
    const m = load<u8>(p + i);
    i++;
    const exact = btExactForm(map, b, m);
    if (exact != 0) f = exact;
    else if ((f & FORM_GROUP) != 0) {
      f = load<u32>(BT_GROUP_FORMS + ((((f >>> 16) << 3) + ((m >> 3) & 7)) << 2));
      if ((f & FORM_VALID) == 0) return notShort();
    }
    if ((f & FORM_REG_ONLY) == 0) {
      const mod = m >> 6;
      const rm = m & 7;
      if (mod != 3) {
        if (ad32) {
          if (rm == 4) {
            if (i >= limit) return 0;
            const sib = load<u8>(p + i);
            i++;
            if ((sib & 7) == 5 && mod == 0) i += 4;
          } else if (rm == 5 && mod == 0) i += 4;
          if (mod == 1) i += 1;
          else if (mod == 2) i += 4;
        } else {
          if (rm == 6 && mod == 0) i += 2;
          else if (mod == 1) i += 1;
          else if (mod == 2) i += 2;
        }
      }
    }
  }
  i += (f >> FORM_IMM_FIXED_SHIFT) & 3;
  if ((f & FORM_IMM_OPSIZE) != 0) i += op32 ? 4 : 2;
  if ((f & FORM_IMM_ADDRSIZE) != 0) i += ad32 ? 4 : 2;
  if (i > limit) return 0;
  scanShort = false;
  scanForm = f;
  scanOpsize32 = op32;
  return i;
}

/** An invalid form: 0, and no byte beyond the ones scanned would make it valid. */
function notShort(): u32 {
  scanShort = false;
  return 0;
}

/** Segment overrides, LOCK, REP/REPNE (66 and 67 change the sizes and are handled apart). */
@inline function isPrefix(b: u32): bool {
  return b == 0x26 || b == 0x2e || b == 0x36 || b == 0x3e || b == 0x64 || b == 0x65 || b == 0xf0 || b == 0xf2 || b == 0xf3;
}
