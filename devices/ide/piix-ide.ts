// The PIIX3 IDE controller (Intel 82371SB function 1, 00:01.1 on QEMU's `pc`): 8086:7010,
// class 01/01 with programming interface 0x80 (bus master capable, both channels in legacy
// "compatibility" mode, which this function cannot leave: the channels sit at the ISA addresses
// 0x1F0-0x1F7/0x3F6 with IRQ 14 and 0x170-0x177/0x376 with IRQ 15, and BAR0-3 are absent).
//
// BAR4 is the 16-byte bus-master I/O window (BMIBA). DMA is not modelled: the window holds the
// command, status and PRD table pointer registers of both channels so drivers can probe and
// program them, the status register's interrupt bit follows the channel's INTRQ, and the start
// bit never starts a transfer (IDENTIFY offers no DMA modes, so Linux and SeaBIOS stay on PIO).
//
// IDETIM (0x40 primary, 0x42 secondary): bit 15 enables the channel's decode. It resets to 0 on
// the real part and SeaBIOS sets it; we reset it to 0x8000 so that a guest booted without
// firmware (direct Linux boot: ata_piix checks the bit) finds its disks. The legacy ports are
// decoded either way.

import type { IrqSink } from "../bus/irq.js";
import { IrqLine } from "../bus/irq.js";
import type { AccessSize, PortBus, PortHandle, PortRange } from "../bus/port-bus.js";
import { PCI, PciFunction } from "../pci/pci.js";
import { IdeChannel, type IdeDeviceSpec } from "./channel.js";

export interface PiixIdeOptions {
  /** The interrupt controller (IRQ 14 and 15). */
  irqs: IrqSink;
  primaryMaster?: IdeDeviceSpec;
  primarySlave?: IdeDeviceSpec;
  secondaryMaster?: IdeDeviceSpec;
  secondarySlave?: IdeDeviceSpec;
}

export class PiixIde extends PciFunction {
  primary: IdeChannel;
  secondary: IdeChannel;
  private readonly irqs: IrqSink;
  /** The port bus and registrations of the channels, once attached (setDrives moves them). */
  private ports: PortBus | undefined;
  private portHandles: PortHandle[] = [];
  /** Bus-master registers per channel: command, status, PRD table address. */
  private readonly bmCommand = [0, 0];
  private readonly bmStatus = [0, 0];
  private readonly bmPrd = [0, 0];

  constructor(options: PiixIdeOptions) {
    super("PIIX3 IDE", { vendor: 0x8086, device: 0x7010, classCode: 0x010180 });
    this.set16(PCI.STATUS, 0x0280); // fast back-to-back capable, DEVSEL# medium
    this.set16(0x40, 0x8000);
    this.set16(0x42, 0x8000);
    this.defineBar(4, {
      kind: "io",
      size: 16,
      sizes: 1 | 2 | 4,
      read: (off, size) => this.bmRead(off, size),
      write: (off, size, v) => this.bmWrite(off, size, v),
    });
    this.saveResetState();
    this.irqs = options.irqs;
    this.primary = this.makeChannel(0, options.primaryMaster, options.primarySlave);
    this.secondary = this.makeChannel(1, options.secondaryMaster, options.secondarySlave);
  }

  private makeChannel(ch: 0 | 1, master: IdeDeviceSpec | undefined, slave: IdeDeviceSpec | undefined): IdeChannel {
    const c = new IdeChannel({
      name: ch === 0 ? "IDE primary" : "IDE secondary",
      base: ch === 0 ? 0x1f0 : 0x170,
      ctrl: ch === 0 ? 0x3f6 : 0x376,
      irq: new IrqLine(this.irqs, ch === 0 ? 14 : 15),
      master,
      slave,
    });
    c.onInterrupt = () => {
      this.bmStatus[ch]! |= 0x04;
    };
    return c;
  }

  /** Claims the legacy ports of both channels. */
  attach(ports: PortBus): void {
    this.ports = ports;
    // The channels register their own ranges; keep the handles so that setDrives can move them.
    const recording = {
      register: (r: PortRange): PortHandle => {
        const h = ports.register(r);
        this.portHandles.push(h);
        return h;
      },
    } as unknown as PortBus;
    this.primary.attach(recording);
    this.secondary.attach(recording);
  }

  /**
   * Replaces the drives (what a machine is built with: QEMU's -hda..-hdd, -cdrom), as at power-on:
   * both channels start over with the new devices.
   */
  setDrives(drives: {
    primaryMaster?: IdeDeviceSpec;
    primarySlave?: IdeDeviceSpec;
    secondaryMaster?: IdeDeviceSpec;
    secondarySlave?: IdeDeviceSpec;
  }): void {
    for (const h of this.portHandles) h.remove();
    this.portHandles = [];
    this.primary.reset(); // lowers the old channels' interrupt lines
    this.secondary.reset();
    this.primary = this.makeChannel(0, drives.primaryMaster, drives.primarySlave);
    this.secondary = this.makeChannel(1, drives.secondaryMaster, drives.secondarySlave);
    if (this.ports) this.attach(this.ports);
  }

  override reset(): void {
    super.reset();
    this.primary.reset();
    this.secondary.reset();
    for (let i = 0; i < 2; i++) this.bmCommand[i] = this.bmStatus[i] = this.bmPrd[i] = 0;
  }

  private bmRead(off: number, size: AccessSize): number {
    let v = 0;
    for (let i = 0; i < size; i++) v |= this.bmReadByte(off + i) << (i * 8);
    return v >>> 0;
  }

  private bmReadByte(off: number): number {
    const ch = off >> 3;
    const reg = off & 7;
    if (ch > 1) return 0;
    if (reg === 0) return this.bmCommand[ch]!;
    if (reg === 2) return this.bmStatus[ch]!;
    if (reg >= 4) return (this.bmPrd[ch]! >>> ((reg - 4) * 8)) & 0xff;
    return 0;
  }

  private bmWrite(off: number, size: AccessSize, value: number): void {
    for (let i = 0; i < size; i++) this.bmWriteByte(off + i, (value >>> (i * 8)) & 0xff);
  }

  private bmWriteByte(off: number, v: number): void {
    const ch = off >> 3;
    const reg = off & 7;
    if (ch > 1) return;
    if (reg === 0) {
      this.bmCommand[ch] = v & 0x09; // start/stop, read/write control
    } else if (reg === 2) {
      // Bits 6:5 (drive DMA capable) are read/write; 2 (interrupt) and 1 (error) clear on 1.
      const s = this.bmStatus[ch]!;
      this.bmStatus[ch] = (s & ~0x60 & ~(v & 0x06)) | (v & 0x60);
    } else if (reg >= 4) {
      const shift = (reg - 4) * 8;
      const mask = (reg === 4 ? 0xfc : 0xff) << shift; // the PRD table is dword aligned
      this.bmPrd[ch] = ((this.bmPrd[ch]! & ~mask) | ((v << shift) & mask)) >>> 0;
    }
  }
}
