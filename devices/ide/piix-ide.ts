// The PIIX3 IDE controller (Intel 82371SB function 1, 00:01.1 on QEMU's `pc`): 8086:7010,
// class 01/01 with programming interface 0x80 (bus master capable, both channels in legacy
// "compatibility" mode, which this function cannot leave: the channels sit at the ISA addresses
// 0x1F0-0x1F7/0x3F6 with IRQ 14 and 0x170-0x177/0x376 with IRQ 15, and BAR0-3 are absent).
//
// BAR4 is the 16-byte bus-master I/O window (BMIBA): 8 bytes per channel of command, status and
// PRD table address (bus-master.ts), which move READ/WRITE DMA data through guest memory while
// the command register's bus-master bit is set. Linux's ata_piix drives the disks by multiword
// DMA through it; SeaBIOS stays on PIO.
//
// IDETIM (0x40 primary, 0x42 secondary): bit 15 enables the channel's decode. It resets to 0 on
// the real part and SeaBIOS sets it; we reset it to 0x8000 so that a guest booted without
// firmware (direct Linux boot: ata_piix checks the bit) finds its disks. The legacy ports are
// decoded either way.

import type { IrqSink } from "../bus/irq.js";
import { IrqLine } from "../bus/irq.js";
import type { AccessSize, PortBus, PortHandle, PortRange } from "../bus/port-bus.js";
import type { GuestMemory } from "../dma.js";
import { PCI, PCI_COMMAND_MASTER, PciFunction } from "../pci/pci.js";
import { BusMaster } from "./bus-master.js";
import { IdeChannel, type IdeDeviceSpec } from "./channel.js";

export interface PiixIdeOptions {
  /** The interrupt controller (IRQ 14 and 15). */
  irqs: IrqSink;
  primaryMaster?: IdeDeviceSpec;
  primarySlave?: IdeDeviceSpec;
  secondaryMaster?: IdeDeviceSpec;
  secondarySlave?: IdeDeviceSpec;
  /** Guest memory for bus-master DMA (or later, with `setMemory`). */
  memory?: GuestMemory;
}

export class PiixIde extends PciFunction {
  primary: IdeChannel;
  secondary: IdeChannel;
  private readonly irqs: IrqSink;
  /** The port bus and registrations of the channels, once attached (setDrives moves them). */
  private ports: PortBus | undefined;
  private portHandles: PortHandle[] = [];
  /** The bus-master engines of the primary and secondary channel. */
  readonly busMasters: [BusMaster, BusMaster];

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
    const mayMaster = () => (this.get16(PCI.COMMAND) & PCI_COMMAND_MASTER) !== 0;
    this.primary = this.makeChannel(0, options.primaryMaster, options.primarySlave);
    this.secondary = this.makeChannel(1, options.secondaryMaster, options.secondarySlave);
    this.busMasters = [
      new BusMaster(this.primary, options.memory, mayMaster),
      new BusMaster(this.secondary, options.memory, mayMaster),
    ];
  }

  /** Gives the bus masters guest memory (the VM's, which exists after the devices). */
  setMemory(memory: GuestMemory): void {
    for (const bm of this.busMasters) bm.memory = memory;
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
    c.onInterrupt = () => this.busMasters[ch].deviceInterrupt();
    c.onDmaRequest = () => this.busMasters[ch].run();
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
    this.busMasters[0].channel = this.primary;
    this.busMasters[1].channel = this.secondary;
    if (this.ports) this.attach(this.ports);
  }

  override reset(): void {
    super.reset();
    this.primary.reset();
    this.secondary.reset();
    for (const bm of this.busMasters) bm.reset();
  }

  /** Bus mastering enabled in the command register: a transfer waiting for it runs. */
  protected override configWritten(offset: number, size: AccessSize): void {
    if (offset <= PCI.COMMAND && offset + size > PCI.COMMAND) for (const bm of this.busMasters) bm.run();
  }

  private bmRead(off: number, size: AccessSize): number {
    let v = 0;
    for (let i = 0; i < size; i++) v |= this.bmReadByte(off + i) << (i * 8);
    return v >>> 0;
  }

  private bmReadByte(off: number): number {
    return this.busMasters[off >> 3]?.readByte(off & 7) ?? 0;
  }

  private bmWrite(off: number, size: AccessSize, value: number): void {
    for (let i = 0; i < size; i++)
      this.busMasters[(off + i) >> 3]?.writeByte((off + i) & 7, (value >>> (i * 8)) & 0xff);
  }
}
