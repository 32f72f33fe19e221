// The shadow MMU's software walk of the guest's own page tables, made by the VMM on a shadow miss.
// It follows the hardware rules of the native walk (tlb.ts): US/RW with CR0.WP, CR4.PSE 4 MiB
// pages, accessed and dirty bits set in the guest's entries. Those updates are raw stores, not
// guest writes: the frames are write-tracked, and the VMM's own update must not zap the shadow.

import { PHYS_RAM, PHYS_TRACKED, S_CR } from "../generated/layout";
import { physEntry, physRead32, physWrite32 } from "./physical";
import { permitted } from "./tlb";
import { vmmWroteGuest } from "./write-tracking";
import { PDE_PS, PTE_A, PTE_D, PTE_P, PTE_RW, PTE_US } from "./pte";

// Results of the last guestWalk.
/** #PF error code when it failed. */
export let walkFaultError: u32 = 0;
/** Guest-physical page (4 KiB) the linear address maps to. */
export let walkPhys: u32 = 0;
/** Effective leaf bits: rights of both levels ANDed, D, G (what a TLB entry is built from). */
export let walkFlags: u32 = 0;
/** The translation is a 4 MiB page (walkPde is the leaf). */
export let walkLarge: bool = false;
/** The guest PDE as updated by the walk. */
export let walkPde: u32 = 0;
/** The guest PTE as updated by the walk (4 KiB pages only). */
export let walkPte: u32 = 0;

function guestWrite(gpa: u32, v: u32): void {
  const pe = physEntry(gpa);
  const kind = pe & 0xf;
  if (kind == PHYS_RAM || kind == PHYS_TRACKED) {
    if ((gpa & 3) == 0) {
      store<u32>((pe & ~0xfff) + (gpa & 0xfff), v);
      // A page table can also be code (a guest may execute it): translations of it go stale.
      if (kind == PHYS_TRACKED) vmmWroteGuest(gpa, 4);
      return;
    }
  }
  physWrite32(gpa, v);
}

/** Walks the guest's tables for an access; false (walkFaultError set) when the guest would fault. */
export function guestWalk(lin: u32, write: bool, user: bool): bool {
  const cr0 = load<u32>(S_CR);
  const cr3 = load<u32>(S_CR + 12);
  const cr4 = load<u32>(S_CR + 16);
  const errBase: u32 = (write ? 2 : 0) | (user ? 4 : 0);
  const pdeAddr = (cr3 & 0xfffff000) | ((lin >>> 22) << 2);
  const pde = physRead32(pdeAddr);
  if ((pde & PTE_P) == 0) {
    walkFaultError = errBase;
    return false;
  }
  if ((pde & PDE_PS) != 0 && (cr4 & 0x10) != 0) {
    if (!permitted(pde, write, user, cr0)) {
      walkFaultError = errBase | 1;
      return false;
    }
    let upd = pde | PTE_A;
    if (write) upd |= PTE_D;
    if (upd != pde) guestWrite(pdeAddr, upd);
    walkLarge = true;
    walkPde = upd;
    walkFlags = upd;
    walkPhys = (upd & 0xffc00000) | (lin & 0x3ff000);
    return true;
  }
  const pteAddr = (pde & 0xfffff000) | (((lin >>> 12) & 0x3ff) << 2);
  const pte = physRead32(pteAddr);
  if ((pte & PTE_P) == 0) {
    walkFaultError = errBase;
    return false;
  }
  const rights = pte & pde & (PTE_RW | PTE_US);
  if (!permitted((pte & ~(PTE_RW | PTE_US)) | rights, write, user, cr0)) {
    walkFaultError = errBase | 1;
    return false;
  }
  let updPde = pde;
  if ((pde & PTE_A) == 0) {
    updPde = pde | PTE_A;
    guestWrite(pdeAddr, updPde);
  }
  let upd = pte | PTE_A;
  if (write) upd |= PTE_D;
  if (upd != pte) guestWrite(pteAddr, upd);
  walkLarge = false;
  walkPde = updPde;
  walkPte = upd;
  walkFlags = (upd & ~(PTE_RW | PTE_US)) | rights;
  walkPhys = upd & 0xfffff000;
  return true;
}
