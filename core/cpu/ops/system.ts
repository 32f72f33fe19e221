// System instructions that manage control state: MOV to and from CR0/CR2/CR3/CR4 and DR0-DR7,
// LMSW/SMSW, CLTS, INVD/WBINVD, INVLPG, LGDT/LIDT/SGDT/SIDT, and the IOPL-sensitive flag
// instructions CLI/STI/PUSHF/POPF. Each routine cites the SDM (vol. 2 instruction pages,
// vol. 3 chapters) for the rule it applies.

import { updateDebugArmed } from "../debug";
import { cr0WriteExits, cr3LoadExits, cr4WriteExits, crQualification, exitIf, procControl } from "../../virt/vmx";
import { invlpgHook } from "../../mmu/mmu-hooks";
import { S_CR, S_DR, S_GDTR_BASE, S_GDTR_LIMIT, S_IDTR_BASE, S_IDTR_LIMIT, S_INT_SHADOW } from "../../generated/layout";
import { read16, read32, write16, write32 } from "../../mmu/access";
import { tlbInvalidatePage, tlbSlot } from "../../mmu/tlb";
import { cr4, setCr0, setCr3, setCr4, writeEflags } from "../control";
import { addrsize32, eaSeg, effectiveAddress, insnEip, modrm, opsize32, setNextEip } from "../decode";
import { faulted, gp, NO_ERROR, raise, ud, VEC_DB } from "../fault";
import { getEflags } from "../flags";
import { pop16, pop32, push16, push32 } from "../stack";
import {
  CR0_PE,
  CR0_TS,
  CR4_DE,
  CR4_PSE,
  CR4_PVI,
  CR4_VME,
  cpl,
  FLAG_AC,
  FLAG_ID,
  FLAG_IF,
  FLAG_IOPL,
  FLAG_NT,
  FLAG_RF,
  FLAG_TF,
  FLAG_VIF,
  FLAG_VIP,
  FLAGS_ARITH,
  FLAG_DF,
  mode,
  reg16,
  reg32,
  segBase,
  setReg16,
  setReg32,
} from "../state";
import { EXIT_CR_ACCESS, EXIT_INVLPG, PROC_CR3_STORE_EXITING, PROC_INVLPG_EXITING } from "../../generated/abi";

/** CR0 bits a P6 implements (PG CD NW AM WP NE ET TS EM MP PE); other bits are ignored. */
const CR0_IMPLEMENTED: u32 = 0xe005003f;
/** CR4 bits this core implements: VME PVI TSD DE PSE PGE. Setting any other bit is #GP(0). */
export const CR4_IMPLEMENTED: u32 = 0x9f;
const CR0_NW: u32 = 0x20000000;
const CR0_CD: u32 = 0x40000000;
const CR0_PG: u32 = 0x80000000;

// ---- privilege ---------------------------------------------------------------------------

/**
 * The rule shared by the privileged instructions (SDM vol. 3, 5.9 "Privileged Instructions"):
 * allowed in real-address mode and at CPL 0; #GP(0) at CPL > 0 and in virtual-8086 mode.
 * Returns false after raising the fault.
 */
export function requireCpl0(): bool {
  if (mode() == 0) return true;
  if (mode() == 2 || cpl() != 0) {
    gp(0);
    return false;
  }
  return true;
}

@inline function iopl(): u32 {
  return (getEflags() & FLAG_IOPL) >>> 12;
}

@inline function addrMask(): u32 {
  return addrsize32 ? 0xffffffff : 0xffff;
}

// ---- control registers -------------------------------------------------------------------

/** The value MOV from CRn reads (CR0, CR2, CR3, CR4). */
@inline function crValue(n: u32): u32 {
  return load<u32>(S_CR + (n << 2));
}

/**
 * MOV r32, CRn (0F 20). SDM vol. 2B "MOV—Move to/from Control Registers": the ModRM mod field
 * is ignored (always a register); operand size is always 32; CR1 and CR5-CR7 are #UD;
 * #GP(0) at CPL > 0 and in virtual-8086 mode.
 */
export function MOV_RdCd(): void {
  const n = (modrm >> 3) & 7;
  if (n == 1 || n > 4) {
    ud();
    return;
  }
  if (!requireCpl0()) return;
  if (exitIf(n == 3 && procControl(PROC_CR3_STORE_EXITING), EXIT_CR_ACCESS, crQualification(3, 1, modrm & 7, false, 0))) return;
  setReg32(modrm & 7, crValue(n));
}

/**
 * MOV CRn, r32 (0F 22). Same encoding rules as MOV_RdCd. CR0: PG=1 with PE=0, or NW=1 with
 * CD=0, is #GP(0) (invalid combinations); bits the P6 does not implement are ignored.
 * CR4: setting a bit this processor does not implement is #GP(0) (SDM vol. 3, 2.5).
 */
export function MOV_CdRd(): void {
  const n = (modrm >> 3) & 7;
  if (n == 1 || n > 4) {
    ud();
    return;
  }
  if (!requireCpl0()) return;
  const v = reg32(modrm & 7);
  const exits = n == 0 ? cr0WriteExits(v) : n == 3 ? cr3LoadExits(v) : n == 4 ? cr4WriteExits(v) : false;
  if (exitIf(exits, EXIT_CR_ACCESS, crQualification(n, 0, modrm & 7, false, 0))) return;
  switch (n) {
    case 0: {
      if ((v & CR0_PG) != 0 && (v & CR0_PE) == 0) {
        gp(0);
        return;
      }
      if ((v & CR0_NW) != 0 && (v & CR0_CD) == 0) {
        gp(0);
        return;
      }
      setCr0(v & CR0_IMPLEMENTED);
      return;
    }
    case 2:
      store<u32>(S_CR + 8, v);
      return;
    case 3:
      // Bits 2:0 and 11:5 are ignored without PAE (SDM vol. 3, 4.3); kept as written.
      setCr3(v);
      return;
    default:
      if ((v & ~CR4_IMPLEMENTED) != 0) {
        gp(0);
        return;
      }
      setCr4(v);
      return;
  }
}

/**
 * LMSW Ew (0F 01 /6). SDM vol. 2A "LMSW": loads CR0 bits 0-3 (PE MP EM TS) from the source;
 * PE can be set but not cleared. #GP(0) at CPL > 0 and in virtual-8086 mode.
 */
export function LMSW_Ew(): void {
  let src: u32;
  if (modrm >= 0xc0) {
    if (!requireCpl0()) return;
    src = reg16(modrm & 7);
  } else {
    const off = effectiveAddress();
    if (faulted || !requireCpl0()) return;
    src = read16(eaSeg, off);
    if (faulted) return;
  }
  const old = crValue(0);
  const next = (old & ~0xf) | (src & 0xf) | (old & CR0_PE);
  if (exitIf(cr0WriteExits(next), EXIT_CR_ACCESS, crQualification(0, 3, 0, modrm < 0xc0, src & 0xffff))) return;
  setCr0(next);
}

/**
 * SMSW Ew (0F 01 /4). SDM vol. 2B "SMSW": a memory destination receives the low 16 bits of
 * CR0; a 32-bit register receives all of CR0 (P6 family and later), a 16-bit register the low
 * word. Not privileged (no UMIP on this processor).
 */
export function SMSW_Ew(): void {
  const v = crValue(0);
  if (modrm >= 0xc0) {
    if (opsize32) setReg32(modrm & 7, v);
    else setReg16(modrm & 7, v);
    return;
  }
  const off = effectiveAddress();
  if (faulted) return;
  write16(eaSeg, off, v & 0xffff);
}

/** CLTS (0F 06): clears CR0.TS. Privileged (SDM vol. 2A "CLTS"). */
export function CLTS(): void {
  if (!requireCpl0()) return;
  if (exitIf(cr0WriteExits(crValue(0) & ~CR0_TS), EXIT_CR_ACCESS, crQualification(0, 2, 0, false, 0))) return;
  setCr0(crValue(0) & ~CR0_TS);
}

/** INVD (0F 08): no caches are modelled; privileged (SDM vol. 2A "INVD"). */
export function INVD(): void {
  requireCpl0();
}

/** WBINVD (0F 09): no caches are modelled; privileged (SDM vol. 2B "WBINVD"). */
export function WBINVD(): void {
  requireCpl0();
}

/**
 * INVLPG m (0F 01 /7). SDM vol. 2A "INVLPG": invalidates the TLB entries for the page that
 * holds the linear address, global entries included; for a 4 MiB page all of it. This TLB
 * keeps one entry per 4 KiB of linear space, so with CR4.PSE on every slot of the surrounding
 * 4 MiB is dropped (the page may have been a large page). Privileged; no fault for an address
 * outside the segment limit or not mapped.
 */
export function INVLPG_M(): void {
  const off = effectiveAddress();
  if (faulted) return;
  if (!requireCpl0()) return;
  const lin = segBase(eaSeg) + off;
  if (exitIf(procControl(PROC_INVLPG_EXITING), EXIT_INVLPG, lin)) return;
  invlpgHook(lin);
  if ((cr4() & CR4_PSE) != 0) {
    const first = lin & 0xffc00000;
    for (let i: u32 = 0; i < 1024; i++) store<u32>(tlbSlot(first + (i << 12)), 0);
  }
  tlbInvalidatePage(lin);
}

// ---- debug registers ---------------------------------------------------------------------

/** DR6 bits that are reserved and read as 1 on P6 (4-11, 16-31); bit 12 reads as 0. */
const DR6_FIXED1: u32 = 0xffff0ff0;
const DR6_WRITABLE: u32 = 0x0000e00f;
/** DR7: bit 10 reads as 1; bits 11, 12, 14, 15 read as 0. */
const DR7_WRITABLE: u32 = 0xffff23ff;
const DR7_GD: u32 = 0x2000;
const DR6_BD: u32 = 0x2000;

/**
 * Common checks of MOV to/from DRn. SDM vol. 2B "MOV—Move to/from Debug Registers": #GP(0)
 * at CPL > 0 or in virtual-8086 mode; with DR7.GD set, #DB with DR6.BD (general detect, a
 * fault; GD is cleared so the handler may use the registers); DR4/DR5 are #UD with CR4.DE and
 * otherwise alias DR6/DR7. Returns the register number to use, or -1 after a fault.
 */
function debugRegister(): i32 {
  if (!requireCpl0()) return -1;
  let n = (modrm >> 3) & 7;
  if ((load<u32>(S_DR + 28) & DR7_GD) != 0) {
    store<u32>(S_DR + 24, load<u32>(S_DR + 24) | DR6_BD);
    store<u32>(S_DR + 28, load<u32>(S_DR + 28) & ~DR7_GD);
    // General detect is a fault: the frame must hold this instruction's EIP. The interpreter
    // reports every #DB at nextEip (as for the single-step trap), so point it back here.
    setNextEip(insnEip);
    raise(VEC_DB, NO_ERROR);
    return -1;
  }
  if (n == 4 || n == 5) {
    if ((cr4() & CR4_DE) != 0) {
      ud();
      return -1;
    }
    n += 2;
  }
  return <i32>n;
}

/** MOV r32, DRn (0F 21): the mod field is ignored; operand size is always 32. */
export function MOV_RdDd(): void {
  const n = debugRegister();
  if (n < 0) return;
  setReg32(modrm & 7, load<u32>(S_DR + (<u32>n << 2)));
}

/** MOV DRn, r32 (0F 23). DR6 and DR7 keep their fixed bits. */
export function MOV_DdRd(): void {
  const n = debugRegister();
  if (n < 0) return;
  let v = reg32(modrm & 7);
  if (n == 6) v = (v & DR6_WRITABLE) | DR6_FIXED1;
  else if (n == 7) v = (v & DR7_WRITABLE) | 0x400;
  store<u32>(S_DR + (<u32>n << 2), v);
  if (n == 7) updateDebugArmed();
}

// ---- descriptor-table registers ------------------------------------------------------------

/**
 * LGDT/LIDT (0F 01 /2, /3). SDM vol. 2A "LGDT/LIDT": a 6-byte operand, limit then base; with
 * a 16-bit operand size only 24 bits of the base are loaded (the high byte becomes 0).
 * Privileged (#GP(0) at CPL > 0 and in virtual-8086 mode); the memory reads fault first.
 */
function loadTableRegister(baseAddr: u32, limitAddr: u32, is32: bool): void {
  const off = effectiveAddress();
  if (faulted) return;
  if (!requireCpl0()) return;
  const seg = eaSeg;
  const limit = read16(seg, off);
  if (faulted) return;
  let base = read32(seg, (off + 2) & addrMask());
  if (faulted) return;
  if (!is32) base &= 0xffffff;
  store<u32>(baseAddr, base);
  store<u32>(limitAddr, limit);
}

/**
 * SGDT/SIDT (0F 01 /0, /1). SDM vol. 2B "SGDT": the limit goes to the low 2 bytes and the full
 * 32-bit base to the high 4 bytes, for both operand sizes (the current SDM's operation; Bochs
 * does the same). Not privileged on this processor (no UMIP).
 */
function storeTableRegister(baseAddr: u32, limitAddr: u32): void {
  const off = effectiveAddress();
  if (faulted) return;
  const seg = eaSeg;
  const hiOff = (off + 2) & addrMask();
  // Two stores: a fault on the second (segment limit, page) leaves the limit written.
  write16(seg, off, load<u32>(limitAddr) & 0xffff);
  if (faulted) return;
  write32(seg, hiOff, load<u32>(baseAddr));
}

export function LGDT_Ms_16(): void {
  loadTableRegister(S_GDTR_BASE, S_GDTR_LIMIT, false);
}
export function LGDT_Ms_32(): void {
  loadTableRegister(S_GDTR_BASE, S_GDTR_LIMIT, true);
}
export function LIDT_Ms_16(): void {
  loadTableRegister(S_IDTR_BASE, S_IDTR_LIMIT, false);
}
export function LIDT_Ms_32(): void {
  loadTableRegister(S_IDTR_BASE, S_IDTR_LIMIT, true);
}
export function SGDT_Ms_16(): void {
  storeTableRegister(S_GDTR_BASE, S_GDTR_LIMIT);
}
export function SGDT_Ms_32(): void {
  storeTableRegister(S_GDTR_BASE, S_GDTR_LIMIT);
}
export function SIDT_Ms_16(): void {
  storeTableRegister(S_IDTR_BASE, S_IDTR_LIMIT);
}
export function SIDT_Ms_32(): void {
  storeTableRegister(S_IDTR_BASE, S_IDTR_LIMIT);
}

// ---- interrupt flag and EFLAGS images -----------------------------------------------------

/**
 * CLI (FA). SDM vol. 2A "CLI" operation: real mode clears IF. Protected mode: IOPL >= CPL
 * clears IF; else CPL 3 with CR4.PVI clears VIF; else #GP(0). Virtual-8086 mode: IOPL 3
 * clears IF; else CR4.VME clears VIF; else #GP(0).
 */
export function CLI(): void {
  const m = mode();
  if (m == 0) {
    writeEflags(0, FLAG_IF);
    return;
  }
  const pl = iopl();
  if (m == 1) {
    if (pl >= cpl()) writeEflags(0, FLAG_IF);
    else if (cpl() == 3 && (cr4() & CR4_PVI) != 0) writeEflags(0, FLAG_VIF);
    else gp(0);
    return;
  }
  if (pl == 3) writeEflags(0, FLAG_IF);
  else if ((cr4() & CR4_VME) != 0) writeEflags(0, FLAG_VIF);
  else gp(0);
}

/** Sets IF; when IF goes from 0 to 1 interrupts stay held for one more instruction. */
function setInterruptFlag(): void {
  if ((getEflags() & FLAG_IF) == 0) {
    writeEflags(FLAG_IF, FLAG_IF);
    store<u32>(S_INT_SHADOW, 1);
  }
}

/**
 * STI (FB). SDM vol. 2B "STI" operation: the CLI rules, and setting VIF (PVI at CPL 3, VME in
 * virtual-8086 mode) is #GP(0) while VIP is set. "If IF = 0, maskable hardware interrupts
 * remain inhibited on the instruction boundary following an execution of STI."
 */
export function STI(): void {
  const m = mode();
  if (m == 0) {
    setInterruptFlag();
    return;
  }
  const pl = iopl();
  const vip = (getEflags() & FLAG_VIP) != 0;
  if (m == 1) {
    if (pl >= cpl()) setInterruptFlag();
    else if (cpl() == 3 && (cr4() & CR4_PVI) != 0 && !vip) writeEflags(FLAG_VIF, FLAG_VIF);
    else gp(0);
    return;
  }
  if (pl == 3) setInterruptFlag();
  else if ((cr4() & CR4_VME) != 0 && !vip) writeEflags(FLAG_VIF, FLAG_VIF);
  else gp(0);
}

/**
 * PUSHF/PUSHFD (9C). SDM vol. 2B "PUSHF": the 32-bit image has VM and RF cleared. In
 * virtual-8086 mode with IOPL < 3: with CR4.VME and a 16-bit operand, the image has IF taken
 * from VIF and IOPL = 3; otherwise #GP(0).
 */
function pushFlags(is32: bool): void {
  const f = getEflags();
  if (mode() == 2 && ((f & FLAG_IOPL) >>> 12) < 3) {
    if ((cr4() & CR4_VME) == 0 || is32) {
      gp(0);
      return;
    }
    let img = (f & 0xffff & ~FLAG_IF) | FLAG_IOPL;
    if ((f & FLAG_VIF) != 0) img |= FLAG_IF;
    push16(img);
    return;
  }
  if (is32) push32(f & 0x00fcffff);
  else push16(f & 0xffff);
}

export function PUSHF_16(): void {
  pushFlags(false);
}
export function PUSHF_32(): void {
  pushFlags(true);
}

/**
 * Flags any POPF may write: OSZAPC, TF, DF, NT (16-bit image), plus AC and ID (32-bit image):
 * FLAGS_ARITH | FLAG_TF | FLAG_DF | FLAG_NT | FLAG_AC | FLAG_ID, as a literal because module
 * initialization order through the MMU's imports can reach this file before state.ts.
 */
const POPF_BASE: u32 = 0x244dd5;

/**
 * POPF/POPFD (9D). SDM vol. 2B "POPF" operation: IOPL changes only at CPL 0; IF only when
 * CPL <= IOPL; VM, VIF and VIP never change; a 32-bit POPF clears RF. Virtual-8086 mode with
 * IOPL 3: IOPL and RF are kept. Virtual-8086 mode with IOPL < 3: with CR4.VME and a 16-bit
 * operand, IF of the image goes to VIF (IF and IOPL are kept), and #GP(0) when the image sets
 * TF, or sets IF while VIP is set; otherwise #GP(0).
 */
function popFlags(is32: bool): void {
  const f = getEflags();
  const m = mode();
  const pl = (f & FLAG_IOPL) >>> 12;
  if (m == 2 && pl < 3) {
    if ((cr4() & CR4_VME) == 0 || is32) {
      gp(0);
      return;
    }
    const img = pop16();
    if (faulted) return;
    if (((f & FLAG_VIP) != 0 && (img & FLAG_IF) != 0) || (img & FLAG_TF) != 0) {
      gp(0); // the interpreter restores ESP for a fault
      return;
    }
    writeEflags((img & 0xffff) | ((img & FLAG_IF) != 0 ? FLAG_VIF : 0), (POPF_BASE & 0xffff) | FLAG_VIF);
    return;
  }
  let mask = POPF_BASE;
  if (m == 0 || (m == 1 && cpl() == 0)) mask |= FLAG_IOPL | FLAG_IF;
  else if (m == 1 && cpl() <= pl) mask |= FLAG_IF;
  else if (m == 2) mask |= FLAG_IF; // IOPL 3
  let img: u32;
  if (is32) {
    img = pop32();
    if (faulted) return;
    if (m != 2) {
      // RF is cleared, except in virtual-8086 mode where it is unaffected.
      mask |= FLAG_RF;
      img &= ~FLAG_RF;
    }
  } else {
    img = pop16();
    if (faulted) return;
    mask &= 0xffff;
  }
  writeEflags(img, mask);
}

export function POPF_16(): void {
  popFlags(false);
}
export function POPF_32(): void {
  popFlags(true);
}
