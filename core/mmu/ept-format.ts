// EPT paging structures in Intel's format (SDM vol. 3C, 28.2.2 and figure 28-1): 4 KiB tables
// of 512 64-bit entries, four levels (PML4, PDPT, PD, PT) whatever the guest's paging mode.
//
// "Host-physical" in this emulator means an address in the core instance's linear memory (the
// wasm address): the EPT maps guest-physical pages onto pages of the RAM and ROM regions, and its
// own tables live in the EPT region. Those addresses are below 4 GiB, so bits 63:32 of every
// entry are 0 and the walk reads only the low doubleword of an entry.

export const EPT_R: u32 = 1 << 0;
export const EPT_W: u32 = 1 << 1;
export const EPT_X: u32 = 1 << 2;
export const EPT_RWX: u32 = EPT_R | EPT_W | EPT_X;
/** Leaf memory type in bits 5:3; 6 is write-back (SDM 28.2.6). */
export const EPT_MEMTYPE_WB: u32 = 6 << 3;
export const EPT_ACCESSED: u32 = 1 << 8;
/** Leaves only. */
export const EPT_DIRTY: u32 = 1 << 9;

/**
 * Leaf of a guest-physical page that only the host's device model can answer (MMIO, open bus).
 * Writable without readable is a reserved combination, so any access through it is an EPT
 * misconfiguration (exit 49) rather than a violation: KVM marks its MMIO pages the same way, so
 * that the exit says "emulate this access" without a lookup.
 */
export const EPT_MISCONFIG_LEAF: u32 = EPT_W | EPT_X;

/** The entry is W without R: an EPT misconfiguration (SDM 28.2.3.1). */
@inline export function eptMisconfigured(e: u32): bool {
  return (e & (EPT_R | EPT_W)) == EPT_W;
}

// EPTP (VMCS field 201AH, SDM 24.6.11).
export const EPTP_MEMTYPE_WB: u32 = 6;
/** Page-walk length minus one, bits 5:3: a four-level walk. */
export const EPTP_WALK_LENGTH_4: u32 = 3 << 3;
/** Bit 6: the processor sets accessed and dirty flags in EPT entries. */
export const EPTP_ACCESSED_DIRTY: u32 = 1 << 6;

/** Kinds of access, as numbered by the low bits of the EPT-violation qualification (the ABI's EptAccess reasons). */
export { EPT_ACCESS_FETCH, EPT_ACCESS_READ, EPT_ACCESS_WRITE } from "../generated/abi";

/** Index of a guest-physical address in the PDPT, PD and PT (PML4 index is 0 below 512 GiB). */
@inline export function eptIndex(gpa: u32, level: u32): u32 {
  return level == 1 ? gpa >>> 30 : level == 2 ? (gpa >>> 21) & 0x1ff : (gpa >>> 12) & 0x1ff;
}
