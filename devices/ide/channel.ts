// One IDE channel (ATA/ATAPI-6): the command block registers at base+0..7, the control block
// register at ctrl (alternate status / device control), an interrupt line, and up to two devices
// (master, slave) that share the register file: a write to a command block register reaches both
// devices, the DEV bit of the device register picks which one answers reads and takes commands.
//
// Disks run the ATA PIO commands; a CD-ROM runs ATAPI PACKET commands (atapi.ts). Commands
// complete at once, in the port write that starts them (no modelled seek or transfer time): data
// is ready with DRQ set, and INTRQ is raised where the protocol raises it (each DRQ block of a PIO
// data-in command, each block after the first and the end of a data-out command, the end of a
// non-data command, each ATAPI data block and the ATAPI completion). Reading the status register
// clears the pending interrupt; nIEN in the device control register masks it.
//
// DMA (ATA-6, 8.23/8.24/8.45/8.46 and the bus-master interface of SFF-8038i): disks advertise
// multiword DMA 0-2 and Ultra DMA 0-5 in IDENTIFY and accept SET FEATURES "set transfer mode".
// READ/WRITE DMA (EXT) leave the device with DRQ set and a request posted in `dmaRequest`; the
// controller's bus master (bus-master.ts) moves the data when the guest starts it and calls
// `finishDma` or `failDma`, which complete the command with its interrupt as QEMU's ide_dma_cb
// does. ATAPI devices stay PIO (IDENTIFY PACKET DEVICE offers no DMA).
//
// Disk sectors move through the block queue (storage/request.ts). A disk that answers at once
// (files, memory) completes a command inside the port write as before; one that answers later
// (a File in the page) leaves the device BSY (PIO) or the bus master active (DMA) until its data
// is there, then the DRQ block or the command's completion and its interrupt follow, so polling
// drivers (SeaBIOS waits for BSY to clear) and interrupt-driven ones (Linux) both see the real
// order of events. A disk error is an ATA error: outside the disk IDNF, a read-only disk or an
// I/O error ABRT (as QEMU's ide_rw_error). The CD-ROM reads its medium synchronously (ATAPI
// packets run in the port write), so a CD image must be a synchronous source.

import type { IrqLine } from "../bus/irq.js";
import type { AccessSize, PortBus } from "../bus/port-bus.js";
import { type BlockDevice, SECTOR_SIZE } from "../storage/block.js";
import {
  type BlockDone,
  BlockQueue,
  type BlockQueueCounters,
  type BlockRequest,
  type BlockResult,
  backendOf,
} from "../storage/request.js";
import { AtapiCdrom, type AtapiData, type AtapiOptions, type AtapiResult } from "./atapi.js";

/** Status register bits. */
export const ST = { ERR: 0x01, DRQ: 0x08, DSC: 0x10, DF: 0x20, DRDY: 0x40, BSY: 0x80 } as const;
/** Error register bits. */
export const ER = { ABRT: 0x04, IDNF: 0x10, UNC: 0x40 } as const;
/** Device control bits. */
const CTL_NIEN = 0x02;
const CTL_SRST = 0x04;
const CTL_HOB = 0x80;

/** Largest READ/WRITE MULTIPLE block (IDENTIFY word 47). */
export const MAX_MULTIPLE = 16;
const LBA28_MAX = 0x0fffffff;

export interface IdeDiskOptions {
  model?: string;
  serial?: string;
  firmware?: string;
}

export type IdeDeviceSpec =
  | ({ kind: "disk"; disk: BlockDevice } & IdeDiskOptions)
  | ({ kind: "cdrom"; medium?: BlockDevice; serial?: string; firmware?: string; model?: string } & AtapiOptions);

/** Puts an ATA string into IDENTIFY words: two characters a word, the first in the high byte. */
function identString(w: Uint16Array, word: number, chars: number, s: string): void {
  for (let i = 0; i < chars; i += 2) {
    const a = i < s.length ? s.charCodeAt(i) & 0x7f : 0x20;
    const b = i + 1 < s.length ? s.charCodeAt(i + 1) & 0x7f : 0x20;
    w[word + i / 2] = (a << 8) | b;
  }
}

/** Word 255: signature 0xA5 and a checksum byte that makes the 512 bytes sum to 0. */
function identChecksum(w: Uint16Array): void {
  w[255] = 0x00a5;
  let sum = 0;
  for (let i = 0; i < 255; i++) sum += (w[i]! & 0xff) + (w[i]! >> 8);
  sum += 0xa5;
  w[255] = 0x00a5 | (((-sum & 0xff) >>> 0) << 8);
}

function identBytes(w: Uint16Array): Uint8Array {
  const b = new Uint8Array(512);
  for (let i = 0; i < 256; i++) {
    b[i * 2] = w[i]! & 0xff;
    b[i * 2 + 1] = w[i]! >> 8;
  }
  return b;
}

/** One device on a channel. */
export class IdeDevice {
  readonly kind: "disk" | "cdrom";
  readonly disk: BlockDevice | undefined;
  readonly cdrom: AtapiCdrom | undefined;
  status = 0;
  error = 0x01;
  /** READ/WRITE MULTIPLE block size in sectors; 0 until SET MULTIPLE MODE. */
  multiple = 0;
  /** Default CHS translation (IDENTIFY words 1, 3, 6). */
  readonly cylinders: number = 0;
  readonly heads: number = 0;
  readonly spt: number = 0;
  /** The DMA mode SET FEATURES selected (IDENTIFY words 63 and 88 report it), or none. */
  dmaMode: { kind: "mwdma" | "udma"; mode: number } | undefined;
  /** Current translation (INITIALIZE DEVICE PARAMETERS). */
  curHeads = 0;
  curSpt = 0;
  readonly model: string;
  readonly serial: string;
  readonly firmware: string;
  /** 0 for the master, 1 for the slave: which copy of the task file is this device's. */
  readonly position: 0 | 1;

  constructor(spec: IdeDeviceSpec, index: 0 | 1) {
    this.position = index;
    this.kind = spec.kind;
    this.serial = spec.serial ?? `QM0000${index + 1}`;
    this.firmware = spec.firmware ?? "2.5+";
    if (spec.kind === "disk") {
      this.disk = spec.disk;
      this.model = spec.model ?? "QEMU HARDDISK";
      const total = spec.disk.sectors;
      this.heads = 16;
      this.spt = 63;
      this.cylinders = Math.max(1, Math.min(16383, Math.floor(total / (16 * 63))));
      this.curHeads = this.heads;
      this.curSpt = this.spt;
    } else {
      this.cdrom = new AtapiCdrom(spec.medium, spec);
      this.model = spec.model ?? "QEMU DVD-ROM";
    }
    this.resetState();
  }

  get isAtapi(): boolean {
    return this.kind === "cdrom";
  }

  /** Status after power-on or reset: ATA disks ready, ATAPI devices 0 (ATAPI-4, 9.1). */
  resetState(): void {
    this.status = this.isAtapi ? 0 : ST.DRDY | ST.DSC;
    this.error = 0x01; // diagnostics passed
  }

  /** Cylinders of the current translation. */
  get curCylinders(): number {
    if (!this.disk) return 0;
    return Math.min(65535, Math.floor(this.disk.sectors / (this.curHeads * this.curSpt)));
  }

  identify(): Uint8Array {
    const w = new Uint16Array(256);
    if (this.isAtapi) {
      // General configuration: ATAPI, CD-ROM, removable, accelerated DRQ (50 us), 12-byte packets.
      w[0] = (2 << 14) | (5 << 8) | (1 << 7) | (2 << 5);
      identString(w, 10, 20, this.serial);
      identString(w, 23, 8, this.firmware);
      identString(w, 27, 40, this.model);
      w[48] = 1;
      w[49] = 1 << 9; // LBA (no DMA)
      w[53] = 0x0003; // words 54-58 and 64-70 valid
      w[64] = 0x0003; // PIO modes 3 and 4
      w[65] = 0xb4;
      w[66] = 0xb4;
      w[67] = 0x12c;
      w[68] = 0xb4;
      w[71] = 30;
      w[72] = 30;
      w[80] = 0x1e; // ATAPI-1 to ATAPI-4
    } else {
      const total = this.disk!.sectors;
      w[0] = 0x0040; // fixed device
      w[1] = this.cylinders;
      w[3] = this.heads;
      w[4] = SECTOR_SIZE * this.spt; // obsolete: bytes per track
      w[5] = SECTOR_SIZE; // obsolete: bytes per sector
      w[6] = this.spt;
      identString(w, 10, 20, this.serial);
      w[20] = 3; // obsolete: buffer type
      w[21] = 512; // obsolete: buffer size
      identString(w, 23, 8, this.firmware);
      identString(w, 27, 40, this.model);
      w[47] = 0x8000 | MAX_MULTIPLE;
      w[48] = 1; // doubleword I/O
      w[49] = (1 << 11) | (1 << 10) | (1 << 9) | (1 << 8); // IORDY, IORDY may be disabled, LBA, DMA
      w[50] = 0x4000;
      w[51] = 0x0200; // PIO timing mode 2 (obsolete)
      w[53] = 0x0007; // words 54-58, 64-70 and 88 valid
      const cyl = this.curCylinders;
      w[54] = cyl;
      w[55] = this.curHeads;
      w[56] = this.curSpt;
      const chsCapacity = cyl * this.curHeads * this.curSpt;
      w[57] = chsCapacity & 0xffff;
      w[58] = chsCapacity >>> 16;
      w[59] = this.multiple ? 0x0100 | this.multiple : 0;
      const lba28 = Math.min(total, LBA28_MAX);
      w[60] = lba28 & 0xffff;
      w[61] = lba28 >>> 16;
      const dma = this.dmaMode;
      w[63] = MWDMA_MODES | (dma?.kind === "mwdma" ? 0x100 << dma.mode : 0);
      w[64] = 0x0003; // PIO modes 3 and 4
      w[65] = 120;
      w[66] = 120;
      w[67] = 120;
      w[68] = 120;
      w[80] = 0x007e; // ATA-1 to ATA-6
      w[82] = (1 << 14) | (1 << 5); // NOP, write cache
      w[83] = (1 << 14) | (1 << 13) | (1 << 12) | (1 << 10); // FLUSH CACHE (EXT), 48-bit addresses
      w[84] = 1 << 14;
      w[85] = 1 << 5; // write cache enabled
      w[86] = (1 << 13) | (1 << 12) | (1 << 10);
      w[87] = 1 << 14;
      w[88] = UDMA_MODES | (dma?.kind === "udma" ? 0x100 << dma.mode : 0);
      w[93] = 0x6001; // hardware reset result: device 0, 80-conductor cable (QEMU's value)
      w[100] = total & 0xffff;
      w[101] = Math.floor(total / 0x10000) & 0xffff;
      w[102] = Math.floor(total / 0x100000000) & 0xffff;
      w[103] = 0;
    }
    identChecksum(w);
    return identBytes(w);
  }
}

export interface IdeChannelOptions {
  name: string;
  /** Command block base (0x1F0 or 0x170). */
  base: number;
  /** Control block register (0x3F6 or 0x376). */
  ctrl: number;
  irq: IrqLine;
  master?: IdeDeviceSpec;
  slave?: IdeDeviceSpec;
}

type Addressing = "chs" | "lba28" | "lba48";

/** A READ/WRITE DMA command waiting for the bus master. */
export interface DmaRequest {
  readonly device: IdeDevice;
  /** Device to memory (READ DMA) or memory to device (WRITE DMA). */
  readonly toMemory: boolean;
  readonly lba: number;
  readonly sectors: number;
  readonly mode: Addressing;
}

/** SET FEATURES subcommand 03h: the transfer mode in the sector count register (ATA-6, 8.46.11). */
const XFER_PIO_DEFAULT = 0x00;
const XFER_PIO_FLOW = 0x08;
const XFER_MWDMA = 0x20;
const XFER_UDMA = 0x40;
/** Modes a disk offers: multiword DMA 0-2, Ultra DMA 0-5 (as QEMU's IDE disks). */
const MWDMA_MODES = 0x07;
const UDMA_MODES = 0x3f;

/** A device's command block registers, with each one's previous value for 48-bit commands (HOB). */
export class TaskFile {
  feature = 0;
  nsector = 0;
  sector = 0;
  lcyl = 0;
  hcyl = 0;
  hobFeature = 0;
  hobNsector = 0;
  hobSector = 0;
  hobLcyl = 0;
  hobHcyl = 0;
}

export class IdeChannel {
  readonly name: string;
  readonly base: number;
  readonly ctrl: number;
  readonly devices: [IdeDevice | undefined, IdeDevice | undefined];
  private readonly irq: IrqLine;
  /** Called when INTRQ rises (the bus-master status register's interrupt bit). */
  onInterrupt: (() => void) | undefined;
  /** The READ/WRITE DMA command waiting for the bus master, if any. */
  dmaRequest: DmaRequest | undefined;
  /** Requests at the disks: wiring, not state (a state is saved only when none are in flight). */
  private readonly io: ChannelIo;
  /** Called when a DMA command is posted (the bus master runs it if the guest started it). */
  onDmaRequest: (() => void) | undefined;

  /** Each device's copy of the command block registers (a write reaches both). */
  private readonly files: [TaskFile, TaskFile] = [new TaskFile(), new TaskFile()];
  select = 0xa0;
  control = 0;
  private irqPending = false;

  // The PIO transfer in progress.
  private buf: Uint8Array = new Uint8Array(0);
  private xferDevice: IdeDevice | undefined;
  private pos = 0;
  private end = 0;
  private onBufferDone: (() => void) | undefined;
  // Sector transfer state for READ/WRITE (MULTIPLE).
  private xferLba = 0;
  private xferLeft = 0;
  private xferBlock = 1;
  private xferMode: Addressing = "lba28";
  // ATAPI transfer state.
  private atapiData: AtapiData | undefined;
  private atapiDone = 0;
  private atapiLimit = 0;

  constructor(options: IdeChannelOptions) {
    this.name = options.name;
    this.base = options.base;
    this.ctrl = options.ctrl;
    this.irq = options.irq;
    this.devices = [
      options.master ? new IdeDevice(options.master, 0) : undefined,
      options.slave ? new IdeDevice(options.slave, 1) : undefined,
    ];
    this.io = new ChannelIo(this.devices);
    this.setSignatures();
  }

  /** The selected device's command block registers. */
  get tf(): TaskFile {
    return this.files[(this.select >> 4) & 1];
  }

  /** The device the DEV bit selects (possibly absent). */
  get current(): IdeDevice | undefined {
    return this.devices[(this.select >> 4) & 1];
  }

  private get empty(): boolean {
    return !this.devices[0] && !this.devices[1];
  }

  attach(ports: PortBus): void {
    ports.register({
      owner: `${this.name} (command block)`,
      start: this.base,
      length: 8,
      sizes: 1 | 2 | 4,
      read: (port, size) => this.readCommandBlock(port - this.base, size),
      write: (port, size, value) => this.writeCommandBlock(port - this.base, size, value),
    });
    ports.register({
      owner: `${this.name} (control block)`,
      start: this.ctrl,
      length: 1,
      read: () => this.readAltStatus(),
      write: (_p, _s, v) => this.writeControl(v),
    });
  }

  // Port side -------------------------------------------------------------------------------

  private readCommandBlock(reg: number, size: AccessSize): number {
    if (reg === 0 && size !== 1) return this.readData(size);
    if (size !== 1) {
      let v = 0;
      for (let i = 0; i < size; i++) v |= this.readCommandBlock(reg + i, 1) << (i * 8);
      return v >>> 0;
    }
    return this.readRegister(reg);
  }

  private writeCommandBlock(reg: number, size: AccessSize, value: number): void {
    if (reg === 0 && size !== 1) {
      this.writeData(size, value);
      return;
    }
    if (size !== 1) {
      for (let i = 0; i < size; i++) this.writeCommandBlock(reg + i, 1, (value >>> (i * 8)) & 0xff);
      return;
    }
    this.writeRegister(reg, value & 0xff);
  }

  /** A byte register read at base + reg. */
  readRegister(reg: number): number {
    const dev = this.current;
    const hob = (this.control & CTL_HOB) !== 0;
    if (reg === 7) {
      // No drive on the channel, or the selected one absent: 0, as QEMU's ide_ioport_read
      // returns (Linux then classifies the position as empty without issuing IDENTIFY).
      if (this.empty || !dev) return 0;
      this.setIrq(false);
      return dev.status;
    }
    if (reg === 6) return this.select;
    if (reg === 0) return this.readData(1);
    if (this.empty || !dev) return 0;
    switch (reg) {
      case 1:
        return hob ? this.tf.hobFeature : dev.error;
      case 2:
        return hob ? this.tf.hobNsector : this.tf.nsector;
      case 3:
        return hob ? this.tf.hobSector : this.tf.sector;
      case 4:
        return hob ? this.tf.hobLcyl : this.tf.lcyl;
      default:
        return hob ? this.tf.hobHcyl : this.tf.hcyl;
    }
  }

  /** A byte register write at base + reg. */
  writeRegister(reg: number, v: number): void {
    if (reg >= 1 && reg <= 6) this.control &= ~CTL_HOB;
    switch (reg) {
      case 0:
        this.writeData(1, v);
        break;
      case 1:
        for (const f of this.files) [f.hobFeature, f.feature] = [f.feature, v];
        break;
      case 2:
        for (const f of this.files) [f.hobNsector, f.nsector] = [f.nsector, v];
        break;
      case 3:
        for (const f of this.files) [f.hobSector, f.sector] = [f.sector, v];
        break;
      case 4:
        for (const f of this.files) [f.hobLcyl, f.lcyl] = [f.lcyl, v];
        break;
      case 5:
        for (const f of this.files) [f.hobHcyl, f.hcyl] = [f.hcyl, v];
        break;
      case 6:
        this.select = v | 0xa0; // bits 7 and 5 are obsolete, read as 1
        break;
      default:
        this.command(v);
    }
  }

  readAltStatus(): number {
    return this.empty ? 0 : (this.current?.status ?? 0);
  }

  writeControl(v: number): void {
    const old = this.control;
    this.control = v;
    if (v & CTL_SRST && !(old & CTL_SRST)) {
      // Reset asserted: both devices busy, any transfer abandoned.
      this.stopTransfer();
      for (const d of this.devices) if (d) d.status = ST.BSY;
    } else if (!(v & CTL_SRST) && old & CTL_SRST) {
      this.softReset();
    }
    this.updateIrq();
  }

  /** The end of a software reset: signatures, device 0 selected, no interrupt (ATA-6, 9.2). */
  private softReset(): void {
    for (const d of this.devices) if (d) d.resetState();
    this.select = 0xa0;
    this.setSignatures();
    this.irqPending = false;
  }

  /** Hardware reset (the VM's reset). */
  reset(): void {
    this.stopTransfer();
    this.control = 0;
    for (const f of this.files) {
      f.feature = f.hobFeature = 0;
      f.hobNsector = f.hobSector = f.hobLcyl = f.hobHcyl = 0;
    }
    for (const d of this.devices) {
      if (!d) continue;
      d.resetState();
      d.multiple = 0;
      d.dmaMode = undefined;
      d.curHeads = d.heads;
      d.curSpt = d.spt;
    }
    this.select = 0xa0;
    this.setSignatures();
    this.setIrq(false);
  }

  /** The device signature in the command block (ATA: 01 01 00 00; ATAPI: 01 01 14 EB). */
  private setSignatures(only?: IdeDevice): void {
    for (let i = 0; i < 2; i++) {
      const dev = this.devices[i];
      if (only && dev !== only) continue;
      const f = this.files[i]!;
      f.nsector = 1;
      f.sector = 1;
      f.lcyl = dev?.isAtapi ? 0x14 : 0;
      f.hcyl = dev?.isAtapi ? 0xeb : 0;
    }
  }

  // The data register belongs to the selected device: with the other position selected, the
  // transfer waits (as each of QEMU's IDEState keeps its own data pointer) and an absent device
  // reads as 0.
  readData(size: AccessSize): number {
    const dev = this.xferDevice;
    if (!dev || dev !== this.current || !(dev.status & ST.DRQ) || this.pos >= this.end) return 0;
    let v = 0;
    for (let i = 0; i < size; i++) v |= (this.pos + i < this.end ? this.buf[this.pos + i]! : 0) << (i * 8);
    this.pos += size;
    if (this.pos >= this.end) this.bufferDone();
    return v >>> 0;
  }

  writeData(size: AccessSize, value: number): void {
    const dev = this.xferDevice;
    if (!dev || dev !== this.current || !(dev.status & ST.DRQ) || this.pos >= this.end) return;
    for (let i = 0; i < size && this.pos + i < this.end; i++) this.buf[this.pos + i] = (value >>> (i * 8)) & 0xff;
    this.pos += size;
    if (this.pos >= this.end) this.bufferDone();
  }

  private bufferDone(): void {
    const done = this.onBufferDone;
    this.onBufferDone = undefined;
    if (this.xferDevice) this.xferDevice.status &= ~ST.DRQ;
    done?.();
  }

  private stopTransfer(): void {
    // A request still at the disk belongs to the command being abandoned: its answer is dropped.
    this.io.generation++;
    this.xferDevice = undefined;
    this.pos = this.end = 0;
    this.onBufferDone = undefined;
    this.atapiData = undefined;
    this.dmaRequest = undefined;
  }

  /**
   * Starts a DRQ block of `dev`: `buf` to be read by the host, or filled by it. The transfer
   * belongs to `dev` whatever the guest selects meanwhile (selecting the other position, even an
   * absent one, mid-transfer changes which registers it reads, not whose transfer this is).
   */
  private startBlock(dev: IdeDevice, buf: Uint8Array, done: () => void): void {
    this.buf = buf;
    this.pos = 0;
    this.end = buf.length;
    this.onBufferDone = done;
    this.xferDevice = dev;
    dev.status = ST.DRDY | ST.DSC | ST.DRQ;
  }

  /** The copy of the command block registers that belongs to `dev`. */
  private fileOf(dev: IdeDevice): TaskFile {
    return this.files[dev.position];
  }

  // Interrupts ------------------------------------------------------------------------------

  get interruptPending(): boolean {
    return this.irqPending;
  }

  private setIrq(pending: boolean): void {
    this.irqPending = pending;
    this.updateIrq();
  }

  private raiseIrq(): void {
    this.irqPending = true;
    this.updateIrq();
    if (!(this.control & CTL_NIEN)) this.onInterrupt?.();
  }

  private updateIrq(): void {
    this.irq.set(this.irqPending && !(this.control & CTL_NIEN));
  }

  // Commands --------------------------------------------------------------------------------

  private ok(dev: IdeDevice): void {
    dev.status = ST.DRDY | ST.DSC;
    dev.error = 0;
    this.raiseIrq();
  }

  private abort(dev: IdeDevice, error: number = ER.ABRT): void {
    this.stopTransfer();
    dev.status = ST.DRDY | ST.DSC | ST.ERR;
    dev.error = error;
    this.raiseIrq();
  }

  /** A write to the command register. */
  command(cmd: number): void {
    const dev = this.current;
    if (!dev) return; // no device answers; the command is lost
    this.setIrq(false);
    this.stopTransfer();
    dev.error = 0;
    if (cmd === 0x90) {
      this.executeDiagnostic();
      return;
    }
    if (dev.isAtapi) this.atapiCommand(dev, cmd);
    else this.ataCommand(dev, cmd);
  }

  private executeDiagnostic(): void {
    for (const d of this.devices) if (d) d.resetState();
    this.select &= ~0x10;
    this.setSignatures();
    this.raiseIrq();
  }

  private ataCommand(dev: IdeDevice, cmd: number): void {
    switch (cmd) {
      case 0xec: // IDENTIFY DEVICE
        this.startBlock(dev, dev.identify(), () => this.ok0(dev));
        this.raiseIrq();
        return;
      case 0x20: // READ SECTORS
      case 0x21:
        this.startRead(dev, "lba28", 1);
        return;
      case 0x24: // READ SECTORS EXT
        this.startRead(dev, "lba48", 1);
        return;
      case 0xc4: // READ MULTIPLE
      case 0x29: // READ MULTIPLE EXT
        if (!dev.multiple) {
          this.abort(dev);
          return;
        }
        this.startRead(dev, cmd === 0x29 ? "lba48" : "lba28", dev.multiple);
        return;
      case 0x30: // WRITE SECTORS
      case 0x31:
        this.startWrite(dev, "lba28", 1);
        return;
      case 0x34: // WRITE SECTORS EXT
        this.startWrite(dev, "lba48", 1);
        return;
      case 0xc5: // WRITE MULTIPLE
      case 0x39: // WRITE MULTIPLE EXT
        if (!dev.multiple) {
          this.abort(dev);
          return;
        }
        this.startWrite(dev, cmd === 0x39 ? "lba48" : "lba28", dev.multiple);
        return;
      case 0x40: // READ VERIFY SECTORS
      case 0x41:
      case 0x42: {
        // READ VERIFY SECTORS (EXT)
        const r = this.taskRange(dev, cmd === 0x42 ? "lba48" : "lba28");
        if (!r) {
          this.abort(dev, ER.IDNF);
          return;
        }
        this.ok(dev);
        return;
      }
      case 0xc6: {
        // SET MULTIPLE MODE
        const n = this.tf.nsector;
        if (n > MAX_MULTIPLE || (n & (n - 1)) !== 0) {
          this.abort(dev);
          return;
        }
        dev.multiple = n;
        this.ok(dev);
        return;
      }
      case 0x91: {
        // INITIALIZE DEVICE PARAMETERS
        const heads = (this.select & 0x0f) + 1;
        if (this.tf.nsector === 0) {
          this.abort(dev);
          return;
        }
        dev.curHeads = heads;
        dev.curSpt = this.tf.nsector;
        this.ok(dev);
        return;
      }
      case 0xe7: // FLUSH CACHE
      case 0xea: // FLUSH CACHE EXT
        dev.status = ST.BSY | ST.DRDY | ST.DSC;
        this.submit(dev, { op: "flush", sector: 0, count: 0 }, (r) => {
          if (r.status === "ok") this.ok(dev);
          else this.abort(dev, diskError(r));
        });
        return;
      case 0xc8: // READ DMA
      case 0xc9:
        this.startDma(dev, "lba28", true);
        return;
      case 0x25: // READ DMA EXT
        this.startDma(dev, "lba48", true);
        return;
      case 0xca: // WRITE DMA
      case 0xcb:
        this.startDma(dev, "lba28", false);
        return;
      case 0x35: // WRITE DMA EXT
        this.startDma(dev, "lba48", false);
        return;
      case 0xef: // SET FEATURES
        if (this.tf.feature === 0x03 && !this.setTransferMode(dev, this.tf.nsector)) {
          this.abort(dev);
          return;
        }
        this.ok(dev); // write cache, look-ahead and the rest: accepted
        return;
      case 0xe0: // STANDBY IMMEDIATE
      case 0xe1: // IDLE IMMEDIATE
      case 0xe2: // STANDBY
      case 0xe3: // IDLE
      case 0xe6: // SLEEP
        this.ok(dev);
        return;
      case 0xe5: // CHECK POWER MODE: active or idle
        this.tf.nsector = 0xff;
        this.ok(dev);
        return;
      default:
        if ((cmd & 0xf0) === 0x10 || (cmd & 0xf0) === 0x70) {
          // RECALIBRATE, SEEK
          this.ok(dev);
          return;
        }
        this.abort(dev);
        return;
    }
  }

  /** SET FEATURES 03h: PIO modes (no state kept) or a DMA mode this disk offers. */
  private setTransferMode(dev: IdeDevice, value: number): boolean {
    const mode = value & 0x07;
    switch (value & 0xf8) {
      case XFER_PIO_DEFAULT:
        return mode <= 1;
      case XFER_PIO_FLOW:
        return mode <= 4;
      case XFER_MWDMA:
        if (!((MWDMA_MODES >> mode) & 1)) return false;
        dev.dmaMode = { kind: "mwdma", mode };
        return true;
      case XFER_UDMA:
        if (!((UDMA_MODES >> mode) & 1)) return false;
        dev.dmaMode = { kind: "udma", mode };
        return true;
      default:
        return false; // single-word DMA is not offered
    }
  }

  /** READ/WRITE DMA (EXT): check the range, then wait for the bus master with DRQ set. */
  private startDma(dev: IdeDevice, mode: Addressing, toMemory: boolean): void {
    const r = this.taskRange(dev, mode);
    if (!r) {
      this.abort(dev, ER.IDNF);
      return;
    }
    dev.status = ST.DRDY | ST.DSC | ST.DRQ;
    this.dmaRequest = { device: dev, toMemory, lba: r.lba, sectors: r.count, mode: r.mode };
    this.onDmaRequest?.();
  }

  /** The posted DMA command's data is at the disk (the bus master waits for its answer). */
  get dmaInFlight(): boolean {
    return this.dmaRequest !== undefined && this.io.dma === this.dmaRequest;
  }

  /** The block queue counters of the disk at `position` (none for a CD-ROM or an empty place). */
  queueCounters(position: 0 | 1): BlockQueueCounters | undefined {
    return this.io.queues[position]?.counters;
  }

  /** Requests in flight at this channel's disks. */
  get inFlight(): number {
    return this.io.pending();
  }

  /** Resolves when no request is in flight at this channel's disks (a saved state waits for it). */
  drain(): Promise<void> {
    return this.io.drain();
  }

  /**
   * The bus master's side of a DMA command: reads the posted request's sectors into `data`
   * (READ DMA) or writes them from it (WRITE DMA), then calls `done(true)`; on a disk error the
   * command fails (IDNF past the end, ABRT otherwise, interrupt raised) and `done(false)`. If the
   * command is abandoned meanwhile (a reset, a new command), `done` is never called.
   */
  dmaTransfer(data: Uint8Array, done: (ok: boolean) => void): void {
    const req = this.dmaRequest;
    if (!req) return;
    const op = req.toMemory ? "read" : "write";
    this.io.dma = req;
    this.submit(req.device, { op, sector: req.lba, count: req.sectors, data }, (r) => {
      if (this.dmaRequest !== req) return;
      this.io.dma = undefined;
      if (r.status !== "ok") {
        this.setTaskAddress(req.device, req.lba, req.mode);
        this.abort(req.device, diskError(r));
        done(false);
        return;
      }
      done(true);
    });
  }

  /** Submits a request for `dev`'s disk; `done` runs unless the command is abandoned first. */
  private submit(dev: IdeDevice, req: BlockRequest, done: BlockDone): void {
    const generation = this.io.generation;
    const queue = this.io.queues[dev.position]!;
    const accepted = queue.submit(req, (r) => {
      if (this.io.generation === generation) done(r);
    });
    // Only reachable when a guest keeps issuing commands while the disk has not answered old ones.
    if (!accepted) done({ status: "io", message: "too many abandoned requests at the disk" });
  }

  /** The data moved: the command completes with its interrupt. */
  finishDma(): void {
    const req = this.dmaRequest;
    if (!req) return;
    this.dmaRequest = undefined;
    this.setTaskAddress(req.device, req.lba + req.sectors - 1, req.mode);
    this.ok(req.device);
  }

  /**
   * The bus master could not move the data. `bus`: a master abort (PRD table or buffer outside
   * RAM): the command is aborted with an interrupt, as QEMU's ide_dma_error. Otherwise the PRDs
   * were shorter than the transfer: the device goes idle without an interrupt, as QEMU does.
   */
  failDma(bus: boolean): void {
    const req = this.dmaRequest;
    if (!req) return;
    this.dmaRequest = undefined;
    if (bus) {
      this.abort(req.device);
    } else {
      req.device.status = ST.DRDY | ST.DSC;
    }
  }

  /** The end of IDENTIFY's data: no interrupt (PIO data-in raises one per block, before it). */
  private ok0(dev: IdeDevice): void {
    dev.status = ST.DRDY | ST.DSC;
  }

  /** The start LBA and sector count of a read/write command, or undefined if out of range. */
  private taskRange(dev: IdeDevice, mode: Addressing): { lba: number; count: number; mode: Addressing } | undefined {
    let lba: number;
    let count: number;
    if (mode === "lba48") {
      lba =
        this.tf.hobHcyl * 2 ** 40 +
        this.tf.hobLcyl * 2 ** 32 +
        this.tf.hobSector * 2 ** 24 +
        ((this.tf.hcyl << 16) | (this.tf.lcyl << 8) | this.tf.sector);
      count = (this.tf.hobNsector << 8) | this.tf.nsector || 65536;
    } else {
      count = this.tf.nsector || 256;
      if (this.select & 0x40) {
        lba = ((this.select & 0x0f) << 24) | (this.tf.hcyl << 16) | (this.tf.lcyl << 8) | this.tf.sector;
      } else {
        mode = "chs";
        const cyl = (this.tf.hcyl << 8) | this.tf.lcyl;
        const head = this.select & 0x0f;
        const sec = this.tf.sector;
        if (sec === 0 || sec > dev.curSpt || head >= dev.curHeads) return undefined;
        lba = (cyl * dev.curHeads + head) * dev.curSpt + sec - 1;
      }
    }
    if (lba + count > dev.disk!.sectors) return undefined;
    return { lba, count, mode };
  }

  /** Puts `lba` back into the address registers in the command's addressing mode. */
  private setTaskAddress(dev: IdeDevice, lba: number, mode: Addressing): void {
    const tf = this.fileOf(dev);
    if (mode === "lba48") {
      tf.sector = lba & 0xff;
      tf.lcyl = (lba >>> 8) & 0xff;
      tf.hcyl = (lba >>> 16) & 0xff;
      const high = Math.floor(lba / 2 ** 24);
      tf.hobSector = high & 0xff;
      tf.hobLcyl = (high >>> 8) & 0xff;
      tf.hobHcyl = (high >>> 16) & 0xff;
    } else if (mode === "lba28") {
      tf.sector = lba & 0xff;
      tf.lcyl = (lba >>> 8) & 0xff;
      tf.hcyl = (lba >>> 16) & 0xff;
      this.select = (this.select & 0xf0) | ((lba >>> 24) & 0x0f);
    } else {
      const spt = dev.curSpt;
      const heads = dev.curHeads;
      const cyl = Math.floor(lba / (spt * heads));
      const rem = lba % (spt * heads);
      tf.sector = (rem % spt) + 1;
      tf.lcyl = cyl & 0xff;
      tf.hcyl = (cyl >> 8) & 0xff;
      this.select = (this.select & 0xf0) | Math.floor(rem / spt);
    }
  }

  private startRead(dev: IdeDevice, mode: Addressing, block: number): void {
    const r = this.taskRange(dev, mode);
    if (!r) {
      this.abort(dev, ER.IDNF);
      return;
    }
    this.xferLba = r.lba;
    this.xferLeft = r.count;
    this.xferBlock = block;
    this.xferMode = r.mode;
    this.readBlock(dev);
  }

  private readBlock(dev: IdeDevice): void {
    const n = Math.min(this.xferLeft, this.xferBlock);
    const data = new Uint8Array(n * SECTOR_SIZE);
    dev.status = ST.BSY | ST.DRDY | ST.DSC;
    this.submit(dev, { op: "read", sector: this.xferLba, count: n, data }, (r) => {
      if (r.status !== "ok") {
        this.setTaskAddress(dev, this.xferLba, this.xferMode);
        this.abort(dev, diskError(r));
        return;
      }
      this.readBlockReady(dev, data, n);
    });
  }

  /** A PIO read block is there: DRQ and its interrupt. */
  private readBlockReady(dev: IdeDevice, data: Uint8Array, n: number): void {
    this.startBlock(dev, data, () => {
      this.setTaskAddress(dev, this.xferLba + n - 1, this.xferMode);
      this.xferLba += n;
      this.xferLeft -= n;
      if (this.xferLeft > 0) this.readBlock(dev);
      else dev.status = ST.DRDY | ST.DSC;
    });
    this.raiseIrq();
  }

  private startWrite(dev: IdeDevice, mode: Addressing, block: number): void {
    const r = this.taskRange(dev, mode);
    if (!r) {
      this.abort(dev, ER.IDNF);
      return;
    }
    this.xferLba = r.lba;
    this.xferLeft = r.count;
    this.xferBlock = block;
    this.xferMode = r.mode;
    this.writeBlock(dev); // the first block is requested without an interrupt
  }

  private writeBlock(dev: IdeDevice): void {
    const n = Math.min(this.xferLeft, this.xferBlock);
    const buf = new Uint8Array(n * SECTOR_SIZE);
    this.startBlock(dev, buf, () => {
      dev.status = ST.BSY | ST.DRDY | ST.DSC;
      this.submit(dev, { op: "write", sector: this.xferLba, count: n, data: buf }, (r) => {
        if (r.status !== "ok") {
          this.setTaskAddress(dev, this.xferLba, this.xferMode);
          this.abort(dev, diskError(r));
          return;
        }
        this.writeBlockDone(dev, n);
      });
    });
  }

  /** A PIO write block reached the disk: the next block is requested, or the command ends. */
  private writeBlockDone(dev: IdeDevice, n: number): void {
    this.setTaskAddress(dev, this.xferLba + n - 1, this.xferMode);
    this.xferLba += n;
    this.xferLeft -= n;
    if (this.xferLeft > 0) {
      this.writeBlock(dev);
      this.raiseIrq();
    } else {
      this.ok(dev);
    }
  }

  // ATAPI -----------------------------------------------------------------------------------

  private atapiCommand(dev: IdeDevice, cmd: number): void {
    switch (cmd) {
      case 0xa1: // IDENTIFY PACKET DEVICE
        this.startBlock(dev, dev.identify(), () => this.ok0(dev));
        this.raiseIrq();
        return;
      case 0xa0: // PACKET
        if (this.tf.feature & 0x01) {
          // DMA: not offered
          this.atapiAbort(dev);
          return;
        }
        this.startPacket(dev);
        return;
      case 0x08: // DEVICE RESET
        dev.resetState();
        this.setSignatures(dev);
        return;
      case 0xef: // SET FEATURES
        this.ok(dev);
        return;
      case 0xe5: // CHECK POWER MODE
        this.tf.nsector = 0xff;
        this.ok(dev);
        return;
      default:
        // IDENTIFY DEVICE and other ATA commands: aborted, with the ATAPI signature in place so
        // the host knows to use IDENTIFY PACKET DEVICE (ATA-6, 8.15).
        this.atapiAbort(dev);
        return;
    }
  }

  private atapiAbort(dev: IdeDevice): void {
    this.setSignatures(dev);
    this.abort(dev);
  }

  private startPacket(dev: IdeDevice): void {
    let limit = (this.tf.hcyl << 8) | this.tf.lcyl;
    if (limit === 0 || limit === 0xffff) limit = 0xfffe;
    this.atapiLimit = Math.max(2, limit & ~1);
    this.tf.nsector = (this.tf.nsector & ~0x07) | 0x01; // CoD: the device wants the command packet
    this.startBlock(dev, new Uint8Array(12), () => this.runPacket(dev, this.buf.slice(0, 12)));
  }

  private runPacket(dev: IdeDevice, packet: Uint8Array): void {
    let result: AtapiResult;
    try {
      result = dev.cdrom!.execute(packet);
    } catch {
      // A read the medium cannot serve (the image shrank under us): a medium error.
      dev.cdrom!.senseKey = 0x03;
      dev.cdrom!.asc = 0x11; // unrecovered read error
      result = { kind: "error" };
    }
    if (result.kind === "error") {
      this.atapiError(dev);
      return;
    }
    if (result.kind === "ok") {
      this.atapiComplete(dev);
      return;
    }
    this.atapiData = result.data;
    this.atapiDone = 0;
    this.atapiSendBlock(dev);
  }

  private atapiSendBlock(dev: IdeDevice): void {
    const tf = this.fileOf(dev);
    const data = this.atapiData!;
    const left = data.total - this.atapiDone;
    let n = Math.min(left, this.atapiLimit);
    if (n < left && n >= 2048) n -= n % 2048; // whole CD sectors per block where the limit allows
    let piece: Uint8Array;
    try {
      piece = data.get(this.atapiDone, n);
    } catch {
      dev.cdrom!.senseKey = 0x03;
      dev.cdrom!.asc = 0x11;
      this.atapiError(dev);
      return;
    }
    this.atapiDone += n;
    tf.lcyl = n & 0xff;
    tf.hcyl = (n >> 8) & 0xff;
    tf.nsector = (tf.nsector & ~0x07) | 0x02; // I/O: data to the host
    this.startBlock(dev, piece, () => {
      if (this.atapiDone < data.total) this.atapiSendBlock(dev);
      else this.atapiComplete(dev);
    });
    this.raiseIrq();
  }

  private atapiComplete(dev: IdeDevice): void {
    const tf = this.fileOf(dev);
    this.atapiData = undefined;
    tf.nsector = (tf.nsector & ~0x07) | 0x03; // I/O and CoD: status
    dev.status = ST.DRDY | ST.DSC;
    dev.error = 0;
    this.raiseIrq();
  }

  private atapiError(dev: IdeDevice): void {
    const tf = this.fileOf(dev);
    this.stopTransfer();
    tf.nsector = (tf.nsector & ~0x07) | 0x03;
    dev.status = ST.DRDY | ST.ERR;
    dev.error = dev.cdrom!.senseKey << 4; // sense key in the high nibble
    this.raiseIrq();
  }
}

/** The ATA error bits for a failed disk request. */
function diskError(r: BlockResult): number {
  return r.status === "range" ? ER.IDNF : ER.ABRT;
}

/** A channel's block queues (one per disk, one command at a time) and the generation of its command. */
class ChannelIo {
  /** Bumped whenever a command is abandoned or replaced: older answers are dropped. */
  generation = 0;
  /** The DMA command whose data is at the disk. */
  dma: DmaRequest | undefined;
  readonly queues: (BlockQueue | undefined)[];

  constructor(devices: readonly (IdeDevice | undefined)[]) {
    this.queues = devices.map((d) =>
      d?.disk ? new BlockQueue(backendOf(d.disk), { depth: 1, limit: 4, ordered: true }) : undefined,
    );
  }

  pending(): number {
    let n = 0;
    for (const q of this.queues) n += q?.pending ?? 0;
    return n;
  }

  async drain(): Promise<void> {
    for (const q of this.queues) await q?.drain();
  }
}
