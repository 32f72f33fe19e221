// The legacy devices of a PC wired as on QEMU's `pc` machine (i440FX + PIIX3): i8259 pair,
// i8254 with port B, MC146818, COM1 and COM2, i8042 with a keyboard, port 0x92, POST port, the
// x87 error latch, the debug consoles at 0xE9 and 0x402, and isa-debug-exit at 0xF4. One object
// the Vm can hand to the CPU as its host, advance in time, and ask for its next deadline.
// PCI, IDE, fw_cfg and VGA attach to `ports` and `mmio` the same way when they exist.

import { IRQ, PORT } from "./bus/addresses.js";
import { MmioBus } from "./bus/mmio-bus.js";
import { type AccessSize, PortBus } from "./bus/port-bus.js";
import type { Clock, TimedDevice } from "./clock.js";
import { I8042 } from "./i8042.js";
import type { IdeDeviceSpec } from "./ide/channel.js";
import { PiixIde } from "./ide/piix-ide.js";
import { DebugConsole, DebugExit, FpuErrorLatch, PostPort, SystemControlPortA } from "./misc-ports.js";
import { I440fxHostBridge, Piix3IsaBridge } from "./pci/i440fx.js";
import { PCI, PciBus, type PciFunction } from "./pci/pci.js";
import { type PciAssignment, setupPci } from "./pci/pci-setup.js";
import { DualPic } from "./pic.js";
import { Pit } from "./pit.js";
import { Rtc } from "./rtc.js";
import { Uart } from "./uart.js";

export interface PcDevicesOptions {
  clock: Clock;
  /** Bytes the guest sends on COM1 / COM2. */
  onSerial?: (com: 1 | 2, byte: number) => void;
  /** Bytes written to the debug consoles (0xE9, 0x402). */
  onDebugConsole?: (port: number, byte: number) => void;
  /** The A20 gate changed (OR of the i8042 output port and port 0x92): wire to cpu.setA20. */
  onA20?: (enabled: boolean) => void;
  /** A reset request (i8042 0xFE or output port, port 0x92 bit 0). */
  onReset?: (source: "i8042" | "port 0x92") => void;
  /** isa-debug-exit: the guest asks to end the run with this status. */
  onDebugExit?: (status: number) => void;
  /** The PIC's INT output: wire to cpu.setIntr. */
  onIntr?: (level: boolean) => void;
  /** Wall-clock source for the RTC's start time (see RtcOptions). */
  wallClockMs?: () => number;
}

/** The PCI side of the machine (`attachPci`): drives as QEMU's -hda/-hdb/-hdc/-hdd (-cdrom is hdc). */
export interface PcPciOptions {
  hda?: IdeDeviceSpec;
  hdb?: IdeDeviceSpec;
  hdc?: IdeDeviceSpec;
  hdd?: IdeDeviceSpec;
  /** i440FX PAM register `index` (0x59 + index) written. */
  onPam?: (index: number, value: number) => void;
  onSmram?: (value: number) => void;
  /** The PIIX3 reset control register (0xCF9) asked for a reset. */
  onReset?: (hard: boolean) => void;
  /** A memory BAR started or stopped decoding (see PciBusOptions.onMemoryDecode). */
  onMemoryDecode?: (base: number, size: number, decoded: boolean) => void;
}

export interface PcPci {
  bus: PciBus;
  host: I440fxHostBridge;
  isa: Piix3IsaBridge;
  ide: PiixIde;
}

export class PcDevices {
  readonly ports = new PortBus();
  readonly mmio = new MmioBus();
  readonly pic: DualPic;
  readonly pit: Pit;
  readonly rtc: Rtc;
  readonly com1: Uart;
  readonly com2: Uart;
  readonly i8042: I8042;
  readonly portA: SystemControlPortA;
  readonly post: PostPort;
  readonly fpuError: FpuErrorLatch;
  readonly debugExit: DebugExit;
  /** Devices with deadlines, for `advance` and `nextDeadlineNs`. */
  readonly timed: TimedDevice[];
  /** Present after `attachPci`. */
  pci: PcPci | undefined;
  private a20: boolean;
  private readonly onA20: ((enabled: boolean) => void) | undefined;

  constructor(options: PcDevicesOptions) {
    const { clock } = options;
    this.onA20 = options.onA20;
    this.pic = new DualPic({ onIntr: options.onIntr });
    this.pit = new Pit({ clock, irq: this.pic.line(IRQ.PIT) });
    this.rtc = new Rtc({ clock, irq: this.pic.line(IRQ.RTC), wallClockMs: options.wallClockMs });
    const serial = options.onSerial;
    this.com1 = new Uart({ base: PORT.COM1, irq: this.pic.line(IRQ.COM1), clock, name: "COM1 (16550A)" });
    this.com2 = new Uart({ base: PORT.COM2, irq: this.pic.line(IRQ.COM2), clock, name: "COM2 (16550A)" });
    if (serial) {
      this.com1.onTransmit = (b) => serial(1, b);
      this.com2.onTransmit = (b) => serial(2, b);
    }
    this.i8042 = new I8042({
      irqKeyboard: this.pic.line(IRQ.KEYBOARD),
      irqAux: this.pic.line(IRQ.MOUSE),
      onA20: () => this.updateA20(),
      onReset: () => options.onReset?.("i8042"),
    });
    this.portA = new SystemControlPortA({
      onA20: () => this.updateA20(),
      onReset: () => options.onReset?.("port 0x92"),
    });
    this.post = new PostPort();
    this.fpuError = new FpuErrorLatch(this.pic.line(IRQ.FPU));
    const debug = options.onDebugConsole;
    const e9 = new DebugConsole(PORT.DEBUG_E9, (b) => debug?.(PORT.DEBUG_E9, b));
    const seabios = new DebugConsole(PORT.DEBUG_SEABIOS, (b) => debug?.(PORT.DEBUG_SEABIOS, b));
    this.debugExit = new DebugExit((status) => options.onDebugExit?.(status));
    for (const d of [
      this.pic,
      this.pit,
      this.rtc,
      this.com1,
      this.com2,
      this.i8042,
      this.portA,
      this.post,
      this.fpuError,
      e9,
      seabios,
      this.debugExit,
    ]) {
      d.attach(this.ports);
    }
    this.timed = [this.pit, this.rtc, this.com1, this.com2];
    this.a20 = this.i8042.a20 || this.portA.a20;
  }

  /**
   * Puts a PCI function in a slot (the first free one from 2 when not given; `fn` 0 by default)
   * and wires its INTx# pin through the PIIX3's PIRQ routing. Returns the slot.
   */
  addPciFunction(f: PciFunction, where: { slot?: number; fn?: number } = {}): number {
    const pci = this.pci;
    if (!pci) throw new Error("PCI is not attached");
    const slot = where.slot ?? pci.bus.freeSlot(2);
    if (slot === undefined) throw new Error(`no free PCI slot for "${f.name}"`);
    pci.bus.add(slot, where.fn ?? 0, f);
    const pin = f.config[PCI.INTERRUPT_PIN]!;
    if (pin >= 1 && pin <= 4) f.intxWire = pci.isa.intx(slot, pin);
    return slot;
  }

  /**
   * Does what the firmware does to PCI before an OS boots (devices/pci/pci-setup.ts): for boots
   * without firmware. Returns the BARs assigned.
   */
  setupPciLikeFirmware(): PciAssignment[] {
    const pci = this.pci;
    if (!pci) return [];
    return setupPci({
      bus: pci.bus,
      isa: pci.isa,
      writeElcr: (chip, v) => this.pic.writeElcr(chip, v),
      readElcr: (chip) => this.pic.readElcr(chip),
    });
  }

  /**
   * Adds the i440FX host bridge (00:00.0), the PIIX3 ISA bridge (00:01.0) and IDE (00:01.1)
   * with its drives, and PCI configuration mechanism #1 at 0xCF8/0xCFC.
   */
  attachPci(options: PcPciOptions = {}): PcPci {
    if (this.pci) throw new Error("PCI is already attached");
    const bus = new PciBus({
      ports: this.ports,
      mmio: this.mmio,
      onReset: options.onReset,
      onMemoryDecode: options.onMemoryDecode,
    });
    const host = new I440fxHostBridge({ onPam: options.onPam, onSmram: options.onSmram });
    const isa = new Piix3IsaBridge(this.pic);
    const ide = new PiixIde({
      irqs: this.pic,
      primaryMaster: options.hda,
      primarySlave: options.hdb,
      secondaryMaster: options.hdc,
      secondarySlave: options.hdd,
    });
    bus.add(0, 0, host);
    bus.add(1, 0, isa);
    bus.add(1, 1, ide);
    bus.attach(this.ports);
    ide.attach(this.ports);
    this.pci = { bus, host, isa, ide };
    return this.pci;
  }

  /** The A20 gate: i8042 output port bit 1 OR port 0x92 bit 1 (PIIX). */
  get a20Enabled(): boolean {
    return this.a20;
  }

  private updateA20(): void {
    const a20 = this.i8042.a20 || this.portA.a20;
    if (a20 === this.a20) return;
    this.a20 = a20;
    this.onA20?.(a20);
  }

  // CpuHost ----------------------------------------------------------------------------------

  ioRead(port: number, size: number): number {
    return this.ports.read(port, size as AccessSize);
  }

  ioWrite(port: number, size: number, value: number): void {
    this.ports.write(port, size as AccessSize, value);
  }

  mmioRead(addr: number, size: number): number {
    return this.mmio.read(addr, size as AccessSize);
  }

  mmioWrite(addr: number, size: number, value: number): void {
    this.mmio.write(addr, size as AccessSize, value);
  }

  ackInterrupt(): number {
    return this.pic.acknowledge();
  }

  fpuErrorSignal(): void {
    this.fpuError.ferr();
  }

  /**
   * The above as a plain object of bound functions, for `Cpu.create(module, ram, host)` (which
   * spreads its host argument, and spreading a class instance drops its methods).
   */
  cpuHost(): {
    ioRead(port: number, size: number): number;
    ioWrite(port: number, size: number, value: number): void;
    mmioRead(addr: number, size: number): number;
    mmioWrite(addr: number, size: number, value: number): void;
    ackInterrupt(): number;
    fpuError(): void;
  } {
    return {
      ioRead: (port, size) => this.ioRead(port, size),
      ioWrite: (port, size, value) => this.ioWrite(port, size, value),
      mmioRead: (addr, size) => this.mmioRead(addr, size),
      mmioWrite: (addr, size, value) => this.mmioWrite(addr, size, value),
      ackInterrupt: () => this.ackInterrupt(),
      fpuError: () => this.fpuErrorSignal(),
    };
  }

  // Time ------------------------------------------------------------------------------------

  /** Brings every timed device to `nowNs` (call after each slice, or at a deadline). */
  advance(nowNs: number): void {
    for (const d of this.timed) d.advance(nowNs);
  }

  /** The earliest time any device needs `advance`, or Infinity. */
  nextDeadlineNs(): number {
    let next = Number.POSITIVE_INFINITY;
    for (const d of this.timed) next = Math.min(next, d.nextDeadlineNs());
    return next;
  }

  /** System reset of the legacy devices (what QEMU's machine reset does to them). */
  reset(): void {
    this.pic.reset();
    this.pit.reset();
    this.rtc.reset();
    this.com1.reset();
    this.com2.reset();
    this.i8042.reset();
    this.portA.reset();
    this.pci?.bus.reset();
    this.updateA20();
  }
}
