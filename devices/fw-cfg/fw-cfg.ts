// QEMU's firmware configuration device (fw_cfg) as the x86 `pc` machine has it: the port I/O
// interface (QEMU docs/specs/fw_cfg.rst, hw/nvram/fw_cfg.c) that SeaBIOS (src/fw/paravirt.c)
// probes for and reads its configuration from.
//
// - 0x510, selector (16-bit write, little-endian): picks an item and rewinds its offset to 0.
//   Bit 15 (0x8000) selects the architecture-local items, bit 14 (0x4000) was the old write
//   channel and is ignored for selection.
// - 0x511 (and a byte read of 0x510, which QEMU decodes as one 2-port region), data: each byte
//   read returns the next byte of the item and advances; past the end, or for an absent item,
//   reads return 0. Writes are ignored (port write support was removed in QEMU 2.4).
// - 0x514-0x51B, DMA address (big-endian 64-bit): a 32-bit write to 0x514 sets the high half,
//   a 32-bit write to 0x518 sets the low half and starts the transfer described by the
//   FWCfgDmaAccess at that guest address ({control BE32, length BE32, address BE64}). Reads
//   return the signature "QEMU CFG" byte by byte. Control bits: ERROR 0x01, READ 0x02, SKIP
//   0x04, SELECT 0x08 (item in bits 31-16), WRITE 0x10; the device writes the control word back
//   as 0 when done, or with ERROR set.
// - Item 0x01 (ID) bit 0: the traditional interface, bit 1: DMA.
// - Item 0x19: the file directory, a BE32 count followed by 64-byte entries {size BE32,
//   select BE16, reserved u16, name[56] NUL-terminated}; files get selectors from 0x20 on, and
//   (as on QEMU's current machine types) the directory is sorted by name.
//
// The numbered items are little-endian (fw_cfg_add_i16/i32/i64), except the directory.

import { PORT } from "../bus/addresses.js";
import type { PortBus } from "../bus/port-bus.js";
import type { GuestMemory } from "../dma.js";

export type { GuestMemory } from "../dma.js";

/** Item selectors (QEMU include/standard-headers/linux/qemu_fw_cfg.h). */
export const FW_CFG = {
  SIGNATURE: 0x00,
  ID: 0x01,
  UUID: 0x02,
  RAM_SIZE: 0x03,
  NOGRAPHIC: 0x04,
  NB_CPUS: 0x05,
  MACHINE_ID: 0x06,
  KERNEL_ADDR: 0x07,
  KERNEL_SIZE: 0x08,
  KERNEL_CMDLINE: 0x09,
  INITRD_ADDR: 0x0a,
  INITRD_SIZE: 0x0b,
  BOOT_DEVICE: 0x0c,
  NUMA: 0x0d,
  BOOT_MENU: 0x0e,
  MAX_CPUS: 0x0f,
  KERNEL_ENTRY: 0x10,
  KERNEL_DATA: 0x11,
  INITRD_DATA: 0x12,
  CMDLINE_ADDR: 0x13,
  CMDLINE_SIZE: 0x14,
  CMDLINE_DATA: 0x15,
  SETUP_ADDR: 0x16,
  SETUP_SIZE: 0x17,
  SETUP_DATA: 0x18,
  FILE_DIR: 0x19,
  FILE_FIRST: 0x20,
  WRITE_CHANNEL: 0x4000,
  ARCH_LOCAL: 0x8000,
  // x86 architecture-local items (QEMU hw/i386/fw_cfg.h)
  ACPI_TABLES: 0x8000,
  SMBIOS_ENTRIES: 0x8001,
  IRQ0_OVERRIDE: 0x8002,
  E820_TABLE: 0x8003,
  HPET: 0x8004,
} as const;

/** ID item bits. */
export const FW_CFG_VERSION = 0x01;
export const FW_CFG_VERSION_DMA = 0x02;

/** FWCfgDmaAccess.control bits. */
export const FW_CFG_DMA = { ERROR: 0x01, READ: 0x02, SKIP: 0x04, SELECT: 0x08, WRITE: 0x10 } as const;

/** Default ports on the PC. */
export const FW_CFG_PORTS = { SELECTOR: PORT.FW_CFG_SELECTOR, DATA: PORT.FW_CFG_DATA, DMA: 0x514 } as const;

/** Bytes of a file name in a directory entry, the terminating NUL included. */
export const FW_CFG_MAX_FILE_PATH = 56;
const DIR_ENTRY_SIZE = 64;
const ENTRY_MASK = 0x3fff;
const DMA_SIGNATURE = "QEMU CFG";

export interface FwCfgFileInfo {
  name: string;
  size: number;
  select: number;
}

interface Item {
  data: Uint8Array;
  writable: boolean;
  onWrite?: (offset: number, length: number) => void;
}

interface FileEntry {
  name: string;
  item: Item;
}

export interface FwCfgOptions {
  /** Guest memory for the DMA interface. Without it the device has no DMA (ID bit 1 clear). */
  memory?: GuestMemory;
  /** Offer DMA when memory is given (default true). */
  dma?: boolean;
}

export interface AddFileOptions {
  /** The guest may write the file through DMA WRITE (QEMU: not read_only). */
  writable?: boolean;
  /** Called after a DMA write into the file. */
  onWrite?: (offset: number, length: number) => void;
}

const latin1 = (s: string): Uint8Array => {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i) & 0xff;
  return b;
};

/** Little-endian integer of `bytes` bytes (values up to 2^53, or a bigint). */
export function leBytes(value: number | bigint, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let v = BigInt.asUintN(bytes * 8, BigInt(value));
  for (let i = 0; i < bytes; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

const compareNames = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export class FwCfg {
  /** Numbered items by `key & 0xBFFF` (arch bit kept, write bit dropped). */
  private readonly items = new Map<number, Item>();
  /** Files in directory order (sorted by name); file i has selector 0x20 + i. */
  private readonly fileList: FileEntry[] = [];
  private current: Item | undefined;
  private currentKey = 0;
  private offset = 0;
  private dmaAddress = 0;
  private readonly memory: GuestMemory | undefined;
  readonly dmaEnabled: boolean;
  /** Called on each selector write (traces). */
  onSelect: ((key: number) => void) | undefined;

  constructor(options: FwCfgOptions = {}) {
    this.memory = options.memory;
    this.dmaEnabled = this.memory !== undefined && options.dma !== false;
    this.setItem(FW_CFG.SIGNATURE, latin1("QEMU"));
    this.setU32(FW_CFG.ID, FW_CFG_VERSION | (this.dmaEnabled ? FW_CFG_VERSION_DMA : 0));
    this.setItem(FW_CFG.UUID, new Uint8Array(16));
    this.setU16(FW_CFG.NOGRAPHIC, 0);
    this.setU16(FW_CFG.BOOT_MENU, 0);
    this.setItem(FW_CFG.FILE_DIR, this.buildDirectory());
    this.select(FW_CFG.SIGNATURE);
  }

  // Host side ---------------------------------------------------------------------------------

  /** Sets a numbered item's bytes (replacing any earlier value). */
  setItem(key: number, data: Uint8Array): void {
    const k = key & (FW_CFG.ARCH_LOCAL | ENTRY_MASK);
    if ((k & ENTRY_MASK) >= FW_CFG.FILE_FIRST && !(k & FW_CFG.ARCH_LOCAL)) {
      throw new RangeError(`fw_cfg item 0x${k.toString(16)} is in the file range: use addFile`);
    }
    const item: Item = { data, writable: false };
    this.items.set(k, item);
    if (this.currentKey === k) this.current = item;
  }

  setU16(key: number, value: number): void {
    this.setItem(key, leBytes(value, 2));
  }

  setU32(key: number, value: number): void {
    this.setItem(key, leBytes(value, 4));
  }

  setU64(key: number, value: number | bigint): void {
    this.setItem(key, leBytes(value, 8));
  }

  /** A numbered item's bytes, or undefined. */
  item(key: number): Uint8Array | undefined {
    return this.items.get(key & (FW_CFG.ARCH_LOCAL | ENTRY_MASK))?.data;
  }

  /**
   * Adds a file to the directory (or replaces the contents of the file of that name) and
   * returns its selector. Adding a file renumbers the files after it, as QEMU does when it
   * inserts in name order; do it before the guest runs.
   */
  addFile(name: string, data: Uint8Array, options: AddFileOptions = {}): number {
    if (name.length === 0 || name.length >= FW_CFG_MAX_FILE_PATH) {
      throw new RangeError(`fw_cfg file name "${name}" must be 1-${FW_CFG_MAX_FILE_PATH - 1} bytes`);
    }
    if (FW_CFG.FILE_FIRST + this.fileList.length >= ENTRY_MASK) throw new Error("fw_cfg file directory is full");
    const item: Item = { data, writable: options.writable ?? false, onWrite: options.onWrite };
    const existing = this.fileList.findIndex((f) => f.name === name);
    if (existing >= 0) {
      this.fileList[existing]!.item = item;
      if (this.currentKey === FW_CFG.FILE_FIRST + existing) this.current = item;
    } else {
      let index = this.fileList.length;
      while (index > 0 && compareNames(name, this.fileList[index - 1]!.name) < 0) index--;
      this.fileList.splice(index, 0, { name, item });
      this.current = this.lookup(this.currentKey);
    }
    this.items.get(FW_CFG.FILE_DIR)!.data = this.buildDirectory();
    return this.fileSelector(name)!;
  }

  /** Removes a file; true if it existed. */
  removeFile(name: string): boolean {
    const i = this.fileList.findIndex((f) => f.name === name);
    if (i < 0) return false;
    this.fileList.splice(i, 1);
    this.items.get(FW_CFG.FILE_DIR)!.data = this.buildDirectory();
    this.current = this.lookup(this.currentKey);
    return true;
  }

  /** A file's current bytes, or undefined. */
  file(name: string): Uint8Array | undefined {
    return this.fileList.find((f) => f.name === name)?.item.data;
  }

  fileSelector(name: string): number | undefined {
    const i = this.fileList.findIndex((f) => f.name === name);
    return i < 0 ? undefined : FW_CFG.FILE_FIRST + i;
  }

  /** The directory as the guest sees it. */
  files(): FwCfgFileInfo[] {
    return this.fileList.map((f, i) => ({ name: f.name, size: f.item.data.length, select: FW_CFG.FILE_FIRST + i }));
  }

  /** Machine reset: selects the signature (QEMU fw_cfg_reset) and clears the DMA address. */
  reset(): void {
    this.select(FW_CFG.SIGNATURE);
    this.dmaAddress = 0;
  }

  attach(ports: PortBus, base: number = FW_CFG_PORTS.SELECTOR, dmaBase: number = FW_CFG_PORTS.DMA): void {
    ports.register({
      owner: "fw_cfg",
      start: base,
      length: 2,
      sizes: 1 | 2,
      read: (_port, size) => (size === 1 ? this.readData() : this.readData() | (this.readData() << 8)),
      write: (port, size, value) => {
        if (size === 2 && port === base) this.select(value & 0xffff);
        // byte writes are data writes, ignored since QEMU 2.4
      },
    });
    if (this.dmaEnabled) {
      ports.register({
        owner: "fw_cfg DMA",
        start: dmaBase,
        length: 8,
        sizes: 1 | 2 | 4,
        read: (port, size) => {
          let v = 0;
          for (let k = size - 1; k >= 0; k--) v = (v << 8) | DMA_SIGNATURE.charCodeAt(port - dmaBase + k);
          return v >>> 0;
        },
        write: (port, size, value) => {
          if (size !== 4) return;
          // the register is big-endian: the byte at the lower port is the most significant
          const be = bswap32(value);
          if (port === dmaBase) this.dmaAddress = be * 0x1_0000_0000;
          else if (port === dmaBase + 4) {
            this.dmaAddress += be;
            this.dmaTransfer();
          }
        },
      });
    }
  }

  // Guest side ---------------------------------------------------------------------------------

  /** A selector write. */
  select(key: number): void {
    key &= 0xffff;
    this.onSelect?.(key);
    this.offset = 0;
    this.currentKey = key & (FW_CFG.ARCH_LOCAL | ENTRY_MASK);
    this.current = this.lookup(this.currentKey);
  }

  /** One byte from the data port. */
  readData(): number {
    const item = this.current;
    if (!item || this.offset >= item.data.length) return 0;
    return item.data[this.offset++]!;
  }

  /** Runs the DMA request whose descriptor is at `descriptor` (what a write to 0x518 does). */
  dmaTransfer(descriptor: number = this.dmaAddress): void {
    this.dmaAddress = 0;
    const mem = this.memory;
    if (!mem) return;
    // A descriptor outside RAM cannot even be answered: the request is dropped. DMA outside RAM
    // fails with the ERROR bit, as in QEMU.
    const inRam = (addr: number, len: number, write = false) => mem.check(addr, len, write);
    if (!inRam(descriptor, 16, true)) return;
    const d = mem.read(descriptor, 16);
    const dv = new DataView(d.buffer, d.byteOffset, 16);
    let control = dv.getUint32(0);
    let length = dv.getUint32(4);
    let address = dv.getUint32(8) * 0x1_0000_0000 + dv.getUint32(12);
    if (control & FW_CFG_DMA.SELECT) this.select(control >>> 16);
    const read = (control & FW_CFG_DMA.READ) !== 0;
    const write = !read && (control & FW_CFG_DMA.WRITE) !== 0;
    if (!read && !write && !(control & FW_CFG_DMA.SKIP)) length = 0;
    control = 0;
    const item = this.current;
    while (length > 0 && !(control & FW_CFG_DMA.ERROR)) {
      if ((read || write) && !inRam(address, Math.min(length, 0x1_0000_0000), read)) {
        control |= FW_CFG_DMA.ERROR;
        break;
      }
      let len: number;
      if (!item || this.offset >= item.data.length) {
        len = length;
        if (read) mem.write(address, new Uint8Array(len));
        if (write) control |= FW_CFG_DMA.ERROR;
      } else {
        len = Math.min(length, item.data.length - this.offset);
        if (read) mem.write(address, item.data.subarray(this.offset, this.offset + len));
        if (write) {
          if (!item.writable || len !== length) control |= FW_CFG_DMA.ERROR;
          else {
            item.data.set(mem.read(address, len), this.offset);
            item.onWrite?.(this.offset, len);
          }
        }
        this.offset += len;
      }
      address += len;
      length -= len;
    }
    mem.write(
      descriptor,
      new Uint8Array([control >>> 24, (control >>> 16) & 0xff, (control >>> 8) & 0xff, control & 0xff]),
    );
  }

  /** After a saved state was loaded (devices/state/): the selected item follows from its key. */
  stateLoaded(): void {
    this.current = this.lookup(this.currentKey);
  }

  // Internals ---------------------------------------------------------------------------------

  private lookup(key: number): Item | undefined {
    if (!(key & FW_CFG.ARCH_LOCAL) && key >= FW_CFG.FILE_FIRST) return this.fileList[key - FW_CFG.FILE_FIRST]?.item;
    return this.items.get(key);
  }

  private buildDirectory(): Uint8Array {
    const n = this.fileList.length;
    const dir = new Uint8Array(4 + n * DIR_ENTRY_SIZE);
    const dv = new DataView(dir.buffer);
    dv.setUint32(0, n);
    this.fileList.forEach((f, i) => {
      const at = 4 + i * DIR_ENTRY_SIZE;
      dv.setUint32(at, f.item.data.length);
      dv.setUint16(at + 4, FW_CFG.FILE_FIRST + i);
      dir.set(latin1(f.name), at + 8);
    });
    return dir;
  }
}

const bswap32 = (v: number): number =>
  (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
