// Device DMA on a VM's guest memory (the GuestMemory of devices/dma.ts). Each access is checked
// page by page against the core's physical map: only RAM (and, for reads, ROM such as the BIOS
// image at the top of 4 GiB) takes part in DMA; the VGA window, PCI BARs, open bus, anything
// past the end of RAM is a DmaError. Writes land in the
// page's host backing and are then reported with hostWroteGuest, so shadow page tables, the
// translation cache and the EPT dirty log treat them as they treat the CPU's own stores.

import { type DmaError, dmaFault, type GuestMemory, inRange } from "../devices/dma.js";
import type { Cpu } from "./cpu.js";
import * as L from "./generated/layout.js";

/** DMA traffic, for the stats. */
export interface DmaCounters {
  reads: number;
  bytesRead: number;
  writes: number;
  bytesWritten: number;
  /** Accesses refused (outside RAM). */
  faults: number;
}

/** The 32-bit guest-physical space the physical map covers. */
const SPACE = 2 ** 32;

export class CpuGuestMemory implements GuestMemory {
  readonly size: number;
  readonly counters: DmaCounters = { reads: 0, bytesRead: 0, writes: 0, bytesWritten: 0, faults: 0 };
  private readonly scratch = new Uint8Array(4);

  constructor(private readonly cpu: Cpu) {
    this.size = cpu.ramBytes;
  }

  /** The host address of guest-physical `addr`'s page, or -1 when DMA may not use it. */
  private page(addr: number, write: boolean): number {
    const entry = this.cpu.u32(L.PHYSMAP_BASE + Math.floor(addr / 4096) * 4);
    const kind = entry & 0xf;
    if (kind === L.PHYS_RAM || kind === L.PHYS_TRACKED || (!write && kind === L.PHYS_ROM)) {
      return (entry & ~0xfff) >>> 0;
    }
    return -1;
  }

  check(addr: number, length: number, write = false): boolean {
    if (!inRange(addr, length, SPACE)) return false;
    const last = length === 0 ? addr : addr + length - 1;
    for (let p = Math.floor(addr / 4096); p <= Math.floor(last / 4096); p++) {
      if (this.page(p * 4096, write) < 0) return false;
    }
    return true;
  }

  private fault(addr: number, length: number): DmaError {
    this.counters.faults++;
    return dmaFault(addr, length);
  }

  readInto(addr: number, dest: Uint8Array): void {
    const length = dest.length;
    if (!inRange(addr, length, SPACE)) throw this.fault(addr, length);
    const mem = new Uint8Array(this.cpu.memory.buffer);
    let done = 0;
    while (done < length) {
      const a = addr + done;
      const host = this.page(a, false);
      if (host < 0) throw this.fault(addr, length);
      const off = a & 0xfff;
      const n = Math.min(4096 - off, length - done);
      dest.set(mem.subarray(host + off, host + off + n), done);
      done += n;
    }
    this.counters.reads++;
    this.counters.bytesRead += length;
  }

  read(addr: number, length: number): Uint8Array {
    if (!inRange(addr, length, SPACE)) throw this.fault(addr, length);
    const out = new Uint8Array(length);
    this.readInto(addr, out);
    return out;
  }

  write(addr: number, bytes: Uint8Array): void {
    const length = bytes.length;
    // Check every page first: a refused DMA writes nothing.
    if (!this.check(addr, length, true)) throw this.fault(addr, length);
    const mem = new Uint8Array(this.cpu.memory.buffer);
    let done = 0;
    while (done < length) {
      const a = addr + done;
      const host = this.page(a, true);
      const off = a & 0xfff;
      const n = Math.min(4096 - off, length - done);
      mem.set(bytes.subarray(done, done + n), host + off);
      done += n;
    }
    this.cpu.noteHostWrite(addr, length);
    this.counters.writes++;
    this.counters.bytesWritten += length;
  }

  readU16(addr: number): number {
    const b = this.scratch.subarray(0, 2);
    this.readInto(addr, b);
    return b[0]! | (b[1]! << 8);
  }

  readU32(addr: number): number {
    this.readInto(addr, this.scratch);
    const b = this.scratch;
    return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
  }

  writeU16(addr: number, value: number): void {
    const b = this.scratch.subarray(0, 2);
    b[0] = value & 0xff;
    b[1] = (value >>> 8) & 0xff;
    this.write(addr, b);
  }

  writeU32(addr: number, value: number): void {
    const b = this.scratch;
    b[0] = value & 0xff;
    b[1] = (value >>> 8) & 0xff;
    b[2] = (value >>> 16) & 0xff;
    b[3] = (value >>> 24) & 0xff;
    this.write(addr, b);
  }
}
