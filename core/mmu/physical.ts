// Every guest-physical access goes through here: RAM, ROM, device memory (host calls) and open
// bus, per 4 KiB page as PHYSMAP says. A second translation stage (EPT) and write tracking hook
// in at this one place.

import { hostMmioRead, hostMmioWrite } from "../host";
import { eptMarkDirty } from "./ept-dirty";
import { frameOwners, trackedWrite } from "./write-tracking";
import { eptMisconfigExit } from "./ept-exits";
import {
  PHYS_MMIO,
  PHYS_NONE,
  PHYS_RAM,
  PHYS_ROM,
  PHYS_TRACKED,
  PHYSMAP_BASE,
  RAM_BASE,
  ROM_BASE,
  MMU_EPT,
  S_MMU_MODE,
  S_A20_MASK,
  S_ROM_PHYS,
  S_RAM_SIZE,
  MMU_EPT,
  S_MMU_MODE,
} from "../generated/layout";

@inline export function physEntry(addr: u32): u32 {
  return load<u32>(PHYSMAP_BASE + ((addr >>> 12) << 2));
}

/** Marks guest-physical pages [start, start+len) as one kind, backed at host address `host`. */
export function mapPhysical(start: u32, len: u32, kind: u32, host: u32): void {
  const first = start >>> 12;
  const count = (len + 0xfff) >>> 12;
  for (let i: u32 = 0; i < count; i++) {
    const hostPage: u32 = kind == PHYS_MMIO || kind == PHYS_NONE ? 0 : host + (i << 12);
    // RAM mapped again over a frame the hypervisor tracks stays tracked.
    const k = kind == PHYS_RAM && frameOwners(first + i) != 0 ? PHYS_TRACKED : kind;
    store<u32>(PHYSMAP_BASE + ((first + i) << 2), hostPage | k);
    if (kind == PHYS_ROM && hostPage >= ROM_BASE && hostPage < RAM_BASE) {
      store<u32>(S_ROM_PHYS + (((hostPage - ROM_BASE) >>> 12) << 2), (first + i) << 12);
    }
  }
}

/** Default map: RAM from 0 to RAM_SIZE, nothing elsewhere. */
export function resetPhysicalMap(): void {
  const ram = load<u32>(S_RAM_SIZE);
  for (let p: u32 = 0; p < 0x100000; p++) {
    const a = p << 12;
    store<u32>(PHYSMAP_BASE + (p << 2), a < ram ? (RAM_BASE + a) | PHYS_RAM : PHYS_NONE);
  }
}

/**
 * Under EPT, device memory and open bus sit behind misconfigured EPT leaves: every access that
 * reaches them here is one EPT-misconfiguration exit that the host's device model emulates.
 */
@inline function deviceAccessExit(addr: u32): void {
  if (load<u32>(S_MMU_MODE) == MMU_EPT) eptMisconfigExit(addr);
}

@inline export function a20(addr: u32): u32 {
  return addr & load<u32>(S_A20_MASK);
}

export function physRead8(addr: u32): u32 {
  const e = physEntry(addr);
  const kind = e & 0xf;
  if (kind == PHYS_RAM || kind == PHYS_ROM || kind == PHYS_TRACKED) return load<u8>((e & ~0xfff) + (addr & 0xfff));
  if (kind == PHYS_MMIO) {
    deviceAccessExit(addr);
    return hostMmioRead(addr, 1) & 0xff;
  }
  if (kind == PHYS_NONE) deviceAccessExit(addr);
  return 0xff;
}

/**
 * After a store to RAM through this path: tracked frames are told, and under EPT the frame is
 * marked in the dirty log (these writes, the core's own among them, do not go through a leaf).
 */
@inline function ramWritten(addr: u32, size: u32, kind: u32): void {
  if (kind == PHYS_TRACKED) trackedWrite(addr, size);
  if (load<u32>(S_MMU_MODE) == MMU_EPT) eptMarkDirty(addr);
}

export function physWrite8(addr: u32, v: u32): void {
  const e = physEntry(addr);
  const kind = e & 0xf;
  if (kind == PHYS_RAM || kind == PHYS_TRACKED) {
    store<u8>((e & ~0xfff) + (addr & 0xfff), <u8>v);
    ramWritten(addr, 1, kind);
  } else if (kind == PHYS_MMIO) {
    deviceAccessExit(addr);
    hostMmioWrite(addr, 1, v & 0xff);
  } else if (kind == PHYS_NONE) deviceAccessExit(addr);
}

export function physRead16(addr: u32): u32 {
  if ((addr & 0xfff) <= 0xffe) {
    const e = physEntry(addr);
    const kind = e & 0xf;
    if (kind == PHYS_RAM || kind == PHYS_ROM || kind == PHYS_TRACKED) return load<u16>((e & ~0xfff) + (addr & 0xfff));
    if (kind == PHYS_MMIO) {
      deviceAccessExit(addr);
      return hostMmioRead(addr, 2) & 0xffff;
    }
    if (kind == PHYS_NONE) {
      deviceAccessExit(addr);
      return 0xffff;
    }
  }
  return physRead8(addr) | (physRead8(addr + 1) << 8);
}

export function physWrite16(addr: u32, v: u32): void {
  if ((addr & 0xfff) <= 0xffe) {
    const e = physEntry(addr);
    const kind = e & 0xf;
    if (kind == PHYS_RAM || kind == PHYS_TRACKED) {
      store<u16>((e & ~0xfff) + (addr & 0xfff), <u16>v);
      ramWritten(addr, 2, kind);
      return;
    }
    if (kind == PHYS_MMIO) {
      deviceAccessExit(addr);
      hostMmioWrite(addr, 2, v & 0xffff);
      return;
    }
    if (kind == PHYS_NONE) {
      deviceAccessExit(addr);
      return;
    }
  }
  physWrite8(addr, v);
  physWrite8(addr + 1, v >>> 8);
}

export function physRead32(addr: u32): u32 {
  if ((addr & 0xfff) <= 0xffc) {
    const e = physEntry(addr);
    const kind = e & 0xf;
    if (kind == PHYS_RAM || kind == PHYS_ROM || kind == PHYS_TRACKED) return load<u32>((e & ~0xfff) + (addr & 0xfff));
    if (kind == PHYS_MMIO) {
      deviceAccessExit(addr);
      return hostMmioRead(addr, 4);
    }
    if (kind == PHYS_NONE) {
      deviceAccessExit(addr);
      return 0xffffffff;
    }
  }
  return physRead16(addr) | (physRead16(addr + 2) << 16);
}

export function physWrite32(addr: u32, v: u32): void {
  if ((addr & 0xfff) <= 0xffc) {
    const e = physEntry(addr);
    const kind = e & 0xf;
    if (kind == PHYS_RAM || kind == PHYS_TRACKED) {
      store<u32>((e & ~0xfff) + (addr & 0xfff), v);
      ramWritten(addr, 4, kind);
      return;
    }
    if (kind == PHYS_MMIO) {
      deviceAccessExit(addr);
      hostMmioWrite(addr, 4, v);
      return;
    }
    if (kind == PHYS_NONE) {
      deviceAccessExit(addr);
      return;
    }
  }
  physWrite16(addr, v);
  physWrite16(addr + 2, v >>> 16);
}

/** Whether a guest-physical address is plain RAM (for loaders and DMA checks). */
export function isRam(addr: u32): bool {
  return (physEntry(addr) & 0xf) == PHYS_RAM && addr < load<u32>(S_RAM_SIZE);
}

/** The guest-physical page of a host page of RAM or ROM. */
export function hostToPhysical(host: u32): u32 {
  if (host >= RAM_BASE) return host - RAM_BASE;
  return load<u32>(S_ROM_PHYS + (((host - ROM_BASE) >>> 12) << 2));
}
