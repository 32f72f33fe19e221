// PCI: a bus of functions with 256-byte type-0 configuration spaces, reached through
// configuration mechanism #1 (PCI Local Bus Specification 2.1, 3.7.4.1): a dword written to
// CONFIG_ADDRESS (0xCF8) selects enable bit 31, bus 23:16, device 15:11, function 10:8 and
// register 7:2; CONFIG_DATA (0xCFC-0xCFF) then reads or writes that dword, or bytes and words of
// it (byte k of the dword at port 0xCFC + k). Only dword accesses to 0xCF8 touch CONFIG_ADDRESS,
// so the byte probes of mechanism #2 (0xCF8/0xCFA) and the PIIX3 reset control register at 0xCF9
// live beside it. A missing function (or another bus: there are no bridges) reads as all ones.
//
// Each configuration byte is read-only, writable, or write-1-to-clear (the status register's
// error bits) by masks; base address registers are sized by their masks the way the spec
// describes (write all ones, read back: the low bits that stay 0 give the size), and a BAR is
// decoded on the port or MMIO bus while the command register enables its space and its base is
// not 0.
//
// Capability lists (PCI Local Bus Specification 2.2, 6.7): `addCapability` links a structure into
// the list that the capabilities pointer (0x34) starts, and sets the status register's
// capabilities-list bit; the structure's bytes are read-only unless the model opens them.

import type { MmioBus, MmioHandle } from "../bus/mmio-bus.js";
import type { AccessSize, PortBus, PortHandle } from "../bus/port-bus.js";

/** Configuration space offsets (PCI Local Bus Specification 2.1, 6.1). */
export const PCI = {
  VENDOR_ID: 0x00,
  DEVICE_ID: 0x02,
  COMMAND: 0x04,
  STATUS: 0x06,
  REVISION: 0x08,
  PROG_IF: 0x09,
  SUBCLASS: 0x0a,
  CLASS: 0x0b,
  CACHE_LINE_SIZE: 0x0c,
  LATENCY_TIMER: 0x0d,
  HEADER_TYPE: 0x0e,
  BAR0: 0x10,
  SUBSYSTEM_VENDOR_ID: 0x2c,
  SUBSYSTEM_ID: 0x2e,
  ROM_ADDRESS: 0x30,
  CAPABILITIES: 0x34,
  INTERRUPT_LINE: 0x3c,
  INTERRUPT_PIN: 0x3d,
} as const;

export const PCI_COMMAND_IO = 0x0001;
export const PCI_COMMAND_MEMORY = 0x0002;
export const PCI_COMMAND_MASTER = 0x0004;
export const PCI_COMMAND_INTX_DISABLE = 0x0400;
/** Status: an INTx message is pending (read-only; the function's INTx# level). */
export const PCI_STATUS_INTERRUPT = 0x0008;
/** Status: the capabilities pointer at 0x34 is valid. */
export const PCI_STATUS_CAP_LIST = 0x0010;
/** Command bits a guest may set: I/O, memory, bus master, special cycles, MWI, VGA palette
 * snoop, parity, SERR#, fast back-to-back, INTx disable. */
const COMMAND_WMASK = 0x07ff & ~0x0080;
/** Status bits that are write-1-to-clear: parity error, SERR#, master/target aborts, data parity. */
const STATUS_W1C = 0xf900;

/** QEMU gives every function of the `pc` machine this subsystem: Red Hat, "Qemu virtual machine". */
export const QEMU_SUBSYSTEM_VENDOR = 0x1af4;
export const QEMU_SUBSYSTEM = 0x1100;

export interface PciIdentity {
  vendor: number;
  device: number;
  revision?: number;
  /** class << 16 | subclass << 8 | programming interface. */
  classCode: number;
  /** Bit 7: multi-function device. */
  headerType?: number;
  subsystemVendor?: number;
  subsystem?: number;
  /** 0: none, 1-4: INTA#-INTD#. */
  interruptPin?: number;
}

/** A base address register's window. Handlers get the offset inside the window. */
export interface PciBar {
  kind: "io" | "mem";
  /** Power of two: at least 4 for I/O, 16 for memory. */
  size: number;
  /** Memory BARs: the prefetchable bit (3). */
  prefetchable?: boolean;
  /** Widths taken whole (mask of 1, 2, 4). */
  sizes?: number;
  read?(offset: number, size: AccessSize): number;
  write?(offset: number, size: AccessSize, value: number): void;
  /** Told the decoded base whenever it changes (undefined: not decoded). */
  onMap?(base: number | undefined): void;
}

/** One PCI function: its configuration space and BARs. */
export class PciFunction {
  readonly config = new Uint8Array(256);
  /** Bits a configuration write may change. */
  readonly wmask = new Uint8Array(256);
  /** Bits a configuration write of 1 clears. */
  readonly w1cmask = new Uint8Array(256);
  readonly bars: (PciBar | undefined)[] = [undefined, undefined, undefined, undefined, undefined, undefined];
  /** The bus it sits on, once added. */
  bus: PciBus | undefined;
  private resetImage: Uint8Array | undefined;
  private readonly mapped: (number | undefined)[] = [];
  private readonly handles: (PortHandle | MmioHandle | undefined)[] = [];

  constructor(
    readonly name: string,
    id: PciIdentity,
  ) {
    const c = this.config;
    this.set16(PCI.VENDOR_ID, id.vendor);
    this.set16(PCI.DEVICE_ID, id.device);
    c[PCI.REVISION] = id.revision ?? 0;
    c[PCI.PROG_IF] = id.classCode & 0xff;
    c[PCI.SUBCLASS] = (id.classCode >> 8) & 0xff;
    c[PCI.CLASS] = (id.classCode >> 16) & 0xff;
    c[PCI.HEADER_TYPE] = id.headerType ?? 0;
    this.set16(PCI.SUBSYSTEM_VENDOR_ID, id.subsystemVendor ?? QEMU_SUBSYSTEM_VENDOR);
    this.set16(PCI.SUBSYSTEM_ID, id.subsystem ?? QEMU_SUBSYSTEM);
    c[PCI.INTERRUPT_PIN] = id.interruptPin ?? 0;
    this.setMask16(PCI.COMMAND, COMMAND_WMASK);
    this.w1cmask[PCI.STATUS] = STATUS_W1C & 0xff;
    this.w1cmask[PCI.STATUS + 1] = STATUS_W1C >> 8;
    this.wmask[PCI.CACHE_LINE_SIZE] = 0xff;
    this.wmask[PCI.LATENCY_TIMER] = 0xff;
    this.wmask[PCI.INTERRUPT_LINE] = 0xff;
    // Device-specific registers (0x40-0xFF) are plain storage unless a model says otherwise.
    this.wmask.fill(0xff, 0x40);
  }

  /** Declares BAR `index`: its type bits and its size mask. Call before `saveResetState`. */
  defineBar(index: number, bar: PciBar): void {
    const min = bar.kind === "io" ? 4 : 16;
    if (bar.size < min || (bar.size & (bar.size - 1)) !== 0) {
      throw new RangeError(`${this.name}: BAR${index} size ${bar.size} is not a power of two >= ${min}`);
    }
    this.bars[index] = bar;
    const off = PCI.BAR0 + index * 4;
    // I/O space indicator; memory: 32-bit (type 00), prefetchable as declared
    const low = bar.kind === "io" ? 0x1 : bar.prefetchable ? 0x8 : 0x0;
    this.set32(off, low);
    this.setMask32(off, ~(bar.size - 1) & (bar.kind === "io" ? 0xfffffffc : 0xfffffff0));
  }

  /** Where the next capability structure goes (dword aligned, from 0x40). */
  private capEnd = 0x40;
  private capLast = -1;

  /**
   * Appends a capability structure of `length` bytes (ID and next pointer included) to the list
   * and returns its offset. Its bytes are read-only; the model fills them in (and opens any it
   * wants writable through `wmask`). Call before `saveResetState`.
   */
  addCapability(id: number, length: number): number {
    const off = this.capEnd;
    if (length < 2 || off + length > 0x100)
      throw new RangeError(`${this.name}: no room for a ${length}-byte capability`);
    this.config.fill(0, off, off + length);
    this.wmask.fill(0, off, off + length);
    this.config[off] = id;
    this.config[off + 1] = 0;
    if (this.capLast < 0) this.config[PCI.CAPABILITIES] = off;
    else this.config[this.capLast + 1] = off;
    this.wmask[PCI.CAPABILITIES] = 0;
    this.capLast = off;
    this.capEnd = (off + length + 3) & ~3;
    this.set16(PCI.STATUS, this.get16(PCI.STATUS) | PCI_STATUS_CAP_LIST);
    return off;
  }

  /** The offsets of the capabilities with this ID, in list order (as a driver walks them). */
  findCapabilities(id: number): number[] {
    const found: number[] = [];
    if (!(this.get16(PCI.STATUS) & PCI_STATUS_CAP_LIST)) return found;
    let off = this.config[PCI.CAPABILITIES]! & 0xfc;
    for (let guard = 0; off !== 0 && guard < 48; guard++) {
      if (this.config[off] === id) found.push(off);
      off = this.config[off + 1]! & 0xfc;
    }
    return found;
  }

  /**
   * Drives the INTx# level of the function into `wire`, as the status register's interrupt bit
   * reports it; the command register's INTx disable bit holds the wire low.
   */
  setIntx(level: boolean): void {
    this.intxLevel = level;
    const st = this.get16(PCI.STATUS);
    this.set16(PCI.STATUS, level ? st | PCI_STATUS_INTERRUPT : st & ~PCI_STATUS_INTERRUPT);
    this.intxWire?.set(level && !(this.get16(PCI.COMMAND) & PCI_COMMAND_INTX_DISABLE));
  }

  /**
   * After a saved state was loaded into the configuration space (devices/state/): decode the
   * BARs where it says and drive the INTx# wire to the saved level again.
   */
  stateLoaded(): void {
    this.updateBars();
    this.intxWire?.set(this.intxLevel && !(this.get16(PCI.COMMAND) & PCI_COMMAND_INTX_DISABLE));
  }

  /** The function's INTx# level as last driven. */
  get intxAsserted(): boolean {
    return this.intxLevel;
  }

  /** Where `setIntx` goes: the slot's wire through the interrupt router (set when added). */
  intxWire: { set(level: boolean): void } | undefined;
  private intxLevel = false;

  /** Remembers the current configuration as what reset restores. */
  saveResetState(): void {
    this.resetImage = this.config.slice();
  }

  /** PCI reset: configuration back to its reset values, BARs no longer decoded. */
  reset(): void {
    if (this.resetImage) this.config.set(this.resetImage);
    this.updateBars();
    this.setIntx(false);
  }

  get16(off: number): number {
    return this.config[off]! | (this.config[off + 1]! << 8);
  }

  get32(off: number): number {
    return (this.get16(off) | (this.get16(off + 2) << 16)) >>> 0;
  }

  set16(off: number, v: number): void {
    this.config[off] = v & 0xff;
    this.config[off + 1] = (v >> 8) & 0xff;
  }

  set32(off: number, v: number): void {
    this.set16(off, v & 0xffff);
    this.set16(off + 2, v >>> 16);
  }

  setMask16(off: number, mask: number): void {
    this.wmask[off] = mask & 0xff;
    this.wmask[off + 1] = (mask >> 8) & 0xff;
  }

  setMask32(off: number, mask: number): void {
    this.setMask16(off, mask & 0xffff);
    this.setMask16(off + 2, mask >>> 16);
  }

  /** A configuration read of `size` bytes at `offset` (little-endian, inside the 256 bytes). */
  readConfig(offset: number, size: AccessSize): number {
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = (v << 8) | this.config[(offset + i) & 0xff]!;
    return v >>> 0;
  }

  /** A configuration write, through the masks. */
  writeConfig(offset: number, size: AccessSize, value: number): void {
    let touchesDecode = false;
    for (let i = 0; i < size; i++) {
      const off = (offset + i) & 0xff;
      const b = (value >>> (i * 8)) & 0xff;
      const w = this.wmask[off]!;
      const old = this.config[off]!;
      let nb = (old & ~w) | (b & w);
      nb &= ~(b & this.w1cmask[off]!);
      this.config[off] = nb;
      if (off === PCI.COMMAND || (off >= PCI.BAR0 && off < PCI.BAR0 + 24)) touchesDecode = true;
    }
    if (touchesDecode) this.updateBars();
    if (offset <= PCI.COMMAND + 1 && offset + size > PCI.COMMAND + 1) this.setIntx(this.intxLevel);
    this.configWritten(offset, size);
  }

  /** Models react here to writes of their own registers (the bytes are already stored). */
  protected configWritten(_offset: number, _size: AccessSize): void {}

  /** The base BAR `index` decodes at now, or undefined. */
  barBase(index: number): number | undefined {
    return this.mapped[index];
  }

  /** Re-evaluates which BARs are decoded, and where, after a command or BAR write. */
  updateBars(): void {
    const command = this.get16(PCI.COMMAND);
    for (let i = 0; i < 6; i++) {
      const bar = this.bars[i];
      if (!bar) continue;
      const raw = this.get32(PCI.BAR0 + i * 4);
      let base: number | undefined;
      if (bar.kind === "io") {
        const b = raw & 0xfffc;
        if (command & PCI_COMMAND_IO && b !== 0 && raw >>> 16 === 0) base = b;
      } else {
        const b = (raw & 0xfffffff0) >>> 0;
        if (command & PCI_COMMAND_MEMORY && b !== 0) base = b;
      }
      if (base === this.mapped[i]) continue;
      this.handles[i]?.remove();
      this.handles[i] = undefined;
      this.mapped[i] = base;
      if (base !== undefined) this.handles[i] = this.bus?.decode(this, i, bar, base);
      bar.onMap?.(base);
    }
  }
}

export interface PciBusOptions {
  ports: PortBus;
  mmio?: MmioBus;
  /** PIIX3 reset control register (0xCF9): bit 2 written as 1 asks for a reset (bit 1: hard). */
  onReset?: (hard: boolean) => void;
  /**
   * A memory BAR started (`decoded`) or stopped decoding at [base, base + size): the VMM maps
   * those guest-physical pages as device memory so that accesses reach the MMIO bus.
   */
  onMemoryDecode?: (base: number, size: number, decoded: boolean) => void;
}

/** Bus 0 and configuration mechanism #1. */
export class PciBus {
  private readonly functions: (PciFunction | undefined)[] = new Array(256).fill(undefined);
  private readonly ports: PortBus;
  private readonly mmio: MmioBus | undefined;
  /** See PciBusOptions.onReset (settable: firmware boot installs its own). */
  onReset: ((hard: boolean) => void) | undefined;
  /** See PciBusOptions.onMemoryDecode (settable: the VMM wires it after the bus exists). */
  onMemoryDecode: ((base: number, size: number, decoded: boolean) => void) | undefined;
  /** CONFIG_ADDRESS as last written. */
  configAddress = 0;
  /** The PIIX3 reset control register at 0xCF9 (bit 1: system reset; bit 3 reserved). */
  resetControl = 0;

  constructor(options: PciBusOptions) {
    this.ports = options.ports;
    this.mmio = options.mmio;
    this.onReset = options.onReset;
    this.onMemoryDecode = options.onMemoryDecode;
  }

  /** Every function on the bus with its device and function number, in configuration order. */
  list(): { dev: number; fn: number; f: PciFunction }[] {
    const out: { dev: number; fn: number; f: PciFunction }[] = [];
    this.functions.forEach((f, devfn) => {
      if (f) out.push({ dev: devfn >> 3, fn: devfn & 7, f });
    });
    return out;
  }

  /** The lowest device number with no function 0, from `first` (undefined: the bus is full). */
  freeSlot(first = 1): number | undefined {
    for (let dev = first; dev < 32; dev++) if (!this.functions[dev << 3]) return dev;
    return undefined;
  }

  /** Puts `f` at device `dev`, function `fn` of bus 0. */
  add(dev: number, fn: number, f: PciFunction): void {
    if (dev < 0 || dev > 31 || fn < 0 || fn > 7) throw new RangeError(`PCI address ${dev}.${fn} is invalid`);
    const devfn = (dev << 3) | fn;
    const other = this.functions[devfn];
    if (other) throw new Error(`PCI 00:${dev.toString(16).padStart(2, "0")}.${fn} is taken by "${other.name}"`);
    this.functions[devfn] = f;
    f.bus = this;
    f.updateBars();
  }

  /** The function at bus 0, `dev`.`fn`. */
  get(dev: number, fn: number): PciFunction | undefined {
    return this.functions[((dev & 31) << 3) | (fn & 7)];
  }

  /** Registers a decoded BAR on the port or MMIO bus (called by PciFunction). */
  decode(f: PciFunction, index: number, bar: PciBar, base: number): PortHandle | MmioHandle | undefined {
    const owner = `${f.name} BAR${index}`;
    const read = bar.read;
    const write = bar.write;
    try {
      if (bar.kind === "io") {
        return this.ports.register({
          owner,
          start: base,
          length: bar.size,
          sizes: bar.sizes,
          read: read ? (p, s) => read(p - base, s) : undefined,
          write: write ? (p, s, v) => write(p - base, s, v) : undefined,
        });
      }
      const handle = this.mmio?.register({
        owner,
        base,
        length: bar.size,
        sizes: bar.sizes,
        read: read ? (a, s) => read(a - base, s) : undefined,
        write: write ? (a, s, v) => write(a - base, s, v) : undefined,
      });
      if (!handle) return undefined;
      this.onMemoryDecode?.(base, bar.size, true);
      return {
        range: handle.range,
        remove: () => {
          handle.remove();
          this.onMemoryDecode?.(base, bar.size, false);
        },
      };
    } catch {
      // The guest put the BAR over something else: real hardware would conflict on the bus; here
      // the existing owner keeps the range and the BAR is not decoded.
      return undefined;
    }
  }

  /** A configuration read at bus 0 (`bus` other than 0 reads all ones). */
  configRead(bus: number, dev: number, fn: number, offset: number, size: AccessSize): number {
    const f = bus === 0 ? this.get(dev, fn) : undefined;
    if (!f) return size === 4 ? 0xffffffff : (1 << (size * 8)) - 1;
    return f.readConfig(offset, size);
  }

  configWrite(bus: number, dev: number, fn: number, offset: number, size: AccessSize, value: number): void {
    const f = bus === 0 ? this.get(dev, fn) : undefined;
    f?.writeConfig(offset, size, value);
  }

  /** Claims 0xCF8-0xCFF. */
  attach(ports: PortBus = this.ports): void {
    ports.register({
      owner: "PCI configuration address (0xCF8)",
      start: 0xcf8,
      length: 4,
      sizes: 1 | 2 | 4,
      read: (port, size) => {
        if (port === 0xcf8 && size === 4) return this.configAddress;
        if (port === 0xcf9 && size === 1) return this.resetControl;
        return size === 2 ? 0xffff : 0xff;
      },
      write: (port, size, value) => {
        if (port === 0xcf8 && size === 4) {
          this.configAddress = (value & 0x80fffffc) >>> 0;
        } else if (port === 0xcf9 && size === 1) {
          this.resetControl = value & 0x02;
          if (value & 0x04) this.onReset?.((value & 0x02) !== 0);
        }
      },
    });
    ports.register({
      owner: "PCI configuration data (0xCFC)",
      start: 0xcfc,
      length: 4,
      sizes: 1 | 2 | 4,
      read: (port, size) => {
        const a = this.configAddress;
        if (!(a & 0x80000000)) return size === 4 ? 0xffffffff : (1 << (size * 8)) - 1;
        return this.configRead((a >> 16) & 0xff, (a >> 11) & 31, (a >> 8) & 7, (a & 0xfc) + (port & 3), size);
      },
      write: (port, size, value) => {
        const a = this.configAddress;
        if (!(a & 0x80000000)) return;
        this.configWrite((a >> 16) & 0xff, (a >> 11) & 31, (a >> 8) & 7, (a & 0xfc) + (port & 3), size, value);
      },
    });
  }

  /** PCI reset of every function. */
  reset(): void {
    this.configAddress = 0;
    this.resetControl = 0;
    for (const f of this.functions) f?.reset();
  }
}
