// Bits of a 32-bit (non-PAE) page-directory or page-table entry (SDM vol. 3, 4.3), shared by the
// hardware walk (tlb.ts), the shadow MMU's walk of the guest's tables and its shadow entries.

export const PTE_P: u32 = 0x1;
export const PTE_RW: u32 = 0x2;
export const PTE_US: u32 = 0x4;
export const PTE_A: u32 = 0x20;
export const PTE_D: u32 = 0x40;
/** In a page-directory entry with CR4.PSE: a 4 MiB page. */
export const PDE_PS: u32 = 0x80;
export const PTE_G: u32 = 0x100;
