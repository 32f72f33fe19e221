// The National Semiconductor PC16550D UART (the "16550A" of PCs) as COM1 (0x3F8, IRQ 4) or COM2
// (0x2F8, IRQ 3): receive and transmit FIFOs of 16 bytes, the divisor latch, line control, modem
// control with the loopback mode, line and modem status, and the scratch register.
//
// Facts from the PC16550D datasheet: the register map and DLAB, IER bits, the IIR codes and their
// priority (line status 0x06 > received data 0x04 / character timeout 0x0C > THR empty 0x02 >
// modem status 0x00), FCR (FIFO enable and reset, receiver trigger levels 1/4/8/14), the loopback
// wiring (RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD) and LSR bits. From the IBM PC/AT Technical
// Reference: the interrupt reaches the ISA bus only while MCR OUT2 is set.
//
// Transmission is instant (a written byte goes to the host at once, so THR and the shift
// register are always empty again when the guest looks). Host input is flow-controlled: bytes
// wait in a host queue and enter the receive FIFO while it has room, so the host never causes
// an overrun. The character timeout is reported after four character times of the programmed
// line speed on the virtual clock, or at once if no clock is given.

import { CLOCK_HZ } from "./bus/addresses.js";
import type { IrqLine } from "./bus/irq.js";
import type { PortBus } from "./bus/port-bus.js";
import { type Clock, NS_PER_SECOND, type TimedDevice } from "./clock.js";

const IER_RDA = 0x01;
const IER_THRE = 0x02;
const IER_RLS = 0x04;
const IER_MS = 0x08;

const LSR_DR = 0x01;
const LSR_OE = 0x02;
const LSR_PE = 0x04;
const LSR_FE = 0x08;
const LSR_BI = 0x10;
const LSR_THRE = 0x20;
const LSR_TEMT = 0x40;
const LSR_FIFO_ERROR = 0x80;
const LSR_ERRORS = LSR_OE | LSR_PE | LSR_FE | LSR_BI;

const MCR_DTR = 0x01;
const MCR_RTS = 0x02;
const MCR_OUT1 = 0x04;
const MCR_OUT2 = 0x08;
const MCR_LOOP = 0x10;

const MSR_CTS = 0x10;
const MSR_DSR = 0x20;
const MSR_RI = 0x40;
const MSR_DCD = 0x80;

export const IIR = {
  NONE: 0x01,
  LINE_STATUS: 0x06,
  RX_DATA: 0x04,
  RX_TIMEOUT: 0x0c,
  THR_EMPTY: 0x02,
  MODEM_STATUS: 0x00,
} as const;

const FIFO_SIZE = 16;
const TRIGGER_LEVELS = [1, 4, 8, 14];

export interface UartOptions {
  /** Base port (PORT.COM1, PORT.COM2, ...). */
  base: number;
  irq: IrqLine;
  /** Bytes the guest transmits (not called in loopback mode). */
  onTransmit?: (byte: number) => void;
  /** For the character timeout; without one the timeout indication is immediate. */
  clock?: Clock;
  /** Name for the bus (default "16550A UART at 0x3f8"). */
  name?: string;
}

/** Modem-status inputs from the host side; by default the other end is present and ready. */
export interface ModemInputs {
  cts: boolean;
  dsr: boolean;
  ri: boolean;
  dcd: boolean;
}

export class Uart implements TimedDevice {
  readonly base: number;
  private readonly irq: IrqLine;
  private readonly clock: Clock | undefined;
  private readonly name: string;
  onTransmit: ((byte: number) => void) | undefined;

  private ier = 0;
  private lcr = 0;
  private mcr = 0;
  private lsrErrors = 0;
  private msrDeltas = 0;
  private scr = 0;
  private divisor = 12; // 9600 baud, what BIOSes leave
  private fifoEnabled = false;
  private fcrTrigger = 1;
  private readonly rx: number[] = [];
  private readonly hostQueue: number[] = [];
  /** THR-empty interrupt condition (set when THR empties, cleared by IIR read or THR write). */
  private thrInterrupt = false;
  private modemIn: ModemInputs = { cts: true, dsr: true, ri: false, dcd: true };
  /** Last MSR bits 4-7 (to compute deltas). */
  private lastStatusLines = 0;
  /** Virtual time of the last receive FIFO activity (character in or out). */
  private rxActivityNs = 0;
  /** The character timeout has shown in IIR since the last receive FIFO activity. */
  private timeoutReported = false;
  /** Bytes transmitted (stats). */
  txCount = 0;

  constructor(options: UartOptions) {
    this.base = options.base;
    this.irq = options.irq;
    this.onTransmit = options.onTransmit;
    this.clock = options.clock;
    this.name = options.name ?? `16550A UART at 0x${options.base.toString(16)}`;
    this.reset();
  }

  reset(): void {
    this.ier = 0;
    this.lcr = 0;
    this.mcr = 0;
    this.lsrErrors = 0;
    this.msrDeltas = 0;
    this.scr = 0;
    this.fifoEnabled = false;
    this.fcrTrigger = 1;
    this.rx.length = 0;
    this.thrInterrupt = false;
    this.lastStatusLines = this.statusLines();
    this.pump();
    this.update();
  }

  attach(bus: PortBus): void {
    bus.register({
      owner: this.name,
      start: this.base,
      length: 8,
      read: (port) => this.read(port - this.base),
      write: (port, _size, v) => this.write(port - this.base, v),
    });
  }

  // --- host side ----------------------------------------------------------------------------

  /** Queues bytes from the host for the guest to receive. */
  receive(data: ArrayLike<number> | string): void {
    if (typeof data === "string") {
      for (let i = 0; i < data.length; i++) this.hostQueue.push(data.charCodeAt(i) & 0xff);
    } else {
      for (let i = 0; i < data.length; i++) this.hostQueue.push(data[i]! & 0xff);
    }
    this.pump();
    this.update();
  }

  /** Host bytes not yet taken into the receive FIFO. */
  get pendingInput(): number {
    return this.hostQueue.length;
  }

  setModemInputs(inputs: Partial<ModemInputs>): void {
    this.modemIn = { ...this.modemIn, ...inputs };
    this.statusChanged();
    this.update();
  }

  /** Baud rate programmed by the guest. */
  get baud(): number {
    return CLOCK_HZ.UART_BASE_BAUD / (this.divisor || 0x10000);
  }

  // --- TimedDevice: the character timeout ------------------------------------------------------

  advance(_nowNs: number): void {
    this.update();
  }

  nextDeadlineNs(): number {
    if (!this.clock || !(this.ier & IER_RDA) || !this.fifoEnabled || this.rx.length === 0) {
      return Number.POSITIVE_INFINITY;
    }
    if (this.rx.length >= this.fcrTrigger || this.timeoutReported) return Number.POSITIVE_INFINITY;
    // Possibly already past: the Vm advances at once, the timeout shows, and this goes quiet.
    return this.rxActivityNs + this.timeoutNs();
  }

  /** Four character times: start bit, data bits, parity, stop bits at the programmed speed. */
  private timeoutNs(): number {
    const bits = 1 + 5 + (this.lcr & 3) + (this.lcr & 0x08 ? 1 : 0) + (this.lcr & 0x04 ? 2 : 1);
    return Math.ceil((4 * bits * NS_PER_SECOND) / this.baud);
  }

  // --- guest side ---------------------------------------------------------------------------

  read(offset: number): number {
    const dlab = (this.lcr & 0x80) !== 0;
    switch (offset) {
      case 0: {
        if (dlab) return this.divisor & 0xff;
        const v = this.rx.length > 0 ? this.rx.shift()! : 0;
        this.touchRx();
        this.pump();
        this.update();
        return v;
      }
      case 1:
        return dlab ? this.divisor >> 8 : this.ier;
      case 2: {
        const id = this.interruptId();
        // Reading IIR when THR empty is the reported source clears that condition.
        if (id === IIR.THR_EMPTY) {
          this.thrInterrupt = false;
          this.update();
        }
        return id | (this.fifoEnabled ? 0xc0 : 0);
      }
      case 3:
        return this.lcr;
      case 4:
        return this.mcr;
      case 5: {
        const v = this.lsr();
        this.lsrErrors = 0;
        this.update();
        return v;
      }
      case 6: {
        const v = this.statusLines() | this.msrDeltas;
        this.msrDeltas = 0;
        this.update();
        return v;
      }
      default:
        return this.scr;
    }
  }

  write(offset: number, v: number): void {
    v &= 0xff;
    const dlab = (this.lcr & 0x80) !== 0;
    switch (offset) {
      case 0:
        if (dlab) {
          this.divisor = (this.divisor & 0xff00) | v;
          return;
        }
        this.transmit(v);
        return;
      case 1:
        if (dlab) {
          this.divisor = (this.divisor & 0xff) | (v << 8);
          return;
        }
        // Enabling the THRE interrupt while THR is empty raises it at once (datasheet).
        if (v & IER_THRE && !(this.ier & IER_THRE)) this.thrInterrupt = true;
        this.ier = v & 0x0f;
        this.update();
        return;
      case 2:
        this.writeFcr(v);
        return;
      case 3:
        this.lcr = v;
        return;
      case 4: {
        this.mcr = v & 0x1f;
        this.statusChanged();
        this.pump(); // leaving loopback reconnects the serial input
        this.update();
        return;
      }
      case 5:
      case 6:
        return; // LSR and MSR are read-only (factory test writes ignored)
      default:
        this.scr = v;
    }
  }

  private writeFcr(v: number): void {
    const enable = (v & 1) !== 0;
    if (enable !== this.fifoEnabled) {
      // Changing the FIFO enable clears both FIFOs.
      this.rx.length = 0;
      this.fifoEnabled = enable;
    }
    if (enable) {
      if (v & 0x02) this.rx.length = 0;
      // Bit 2 clears the transmit FIFO: always empty here.
      this.fcrTrigger = TRIGGER_LEVELS[v >> 6]!;
    }
    this.touchRx();
    this.pump();
    this.update();
  }

  private transmit(v: number): void {
    this.txCount++;
    if (this.mcr & MCR_LOOP) this.loopbackReceive(v);
    else this.onTransmit?.(v);
    // The byte has left THR (and the shift register): THR empty again.
    this.thrInterrupt = true;
    this.update();
  }

  private loopbackReceive(v: number): void {
    const capacity = this.fifoEnabled ? FIFO_SIZE : 1;
    if (this.rx.length >= capacity) {
      // Overrun: the character in the shift register is lost (FIFO mode) or overwrites the
      // holding register (16450 mode).
      this.lsrErrors |= LSR_OE;
      if (!this.fifoEnabled) this.rx[0] = v;
    } else this.rx.push(v);
    this.touchRx();
  }

  private pump(): void {
    if (this.mcr & MCR_LOOP) return; // the serial input is disconnected in loopback
    const capacity = this.fifoEnabled ? FIFO_SIZE : 1;
    let moved = false;
    while (this.rx.length < capacity && this.hostQueue.length > 0) {
      this.rx.push(this.hostQueue.shift()!);
      moved = true;
    }
    if (moved) this.touchRx();
  }

  private touchRx(): void {
    if (this.clock) this.rxActivityNs = this.clock.nowNs();
    this.timeoutReported = false;
  }

  private lsr(): number {
    let v = LSR_THRE | LSR_TEMT | this.lsrErrors;
    if (this.rx.length > 0) v |= LSR_DR;
    if (this.fifoEnabled && this.lsrErrors & (LSR_PE | LSR_FE | LSR_BI)) v |= LSR_FIFO_ERROR;
    return v;
  }

  /** MSR bits 4-7: the inputs, or in loopback the modem-control outputs wired back. */
  private statusLines(): number {
    const m = this.mcr;
    if (m & MCR_LOOP) {
      return (
        (m & MCR_RTS ? MSR_CTS : 0) |
        (m & MCR_DTR ? MSR_DSR : 0) |
        (m & MCR_OUT1 ? MSR_RI : 0) |
        (m & MCR_OUT2 ? MSR_DCD : 0)
      );
    }
    const i = this.modemIn;
    return (i.cts ? MSR_CTS : 0) | (i.dsr ? MSR_DSR : 0) | (i.ri ? MSR_RI : 0) | (i.dcd ? MSR_DCD : 0);
  }

  private statusChanged(): void {
    const now = this.statusLines();
    const old = this.lastStatusLines;
    const changed = now ^ old;
    if (changed & MSR_CTS) this.msrDeltas |= 0x01;
    if (changed & MSR_DSR) this.msrDeltas |= 0x02;
    if (old & MSR_RI && !(now & MSR_RI)) this.msrDeltas |= 0x04; // TERI: trailing edge only
    if (changed & MSR_DCD) this.msrDeltas |= 0x08;
    this.lastStatusLines = now;
  }

  private timedOut(): boolean {
    if (!this.clock) return true;
    return this.clock.nowNs() - this.rxActivityNs >= this.timeoutNs();
  }

  /** The highest-priority pending interrupt (IIR bits 3-0). */
  interruptId(): number {
    const ier = this.ier;
    if (ier & IER_RLS && this.lsrErrors & LSR_ERRORS) return IIR.LINE_STATUS;
    if (ier & IER_RDA && this.rx.length > 0) {
      if (!this.fifoEnabled || this.rx.length >= this.fcrTrigger) return IIR.RX_DATA;
      if (this.timedOut()) return IIR.RX_TIMEOUT;
    }
    if (ier & IER_THRE && this.thrInterrupt) return IIR.THR_EMPTY;
    if (ier & IER_MS && this.msrDeltas) return IIR.MODEM_STATUS;
    return IIR.NONE;
  }

  private update(): void {
    const id = this.interruptId();
    if (id === IIR.RX_TIMEOUT) this.timeoutReported = true;
    const pending = id !== IIR.NONE;
    // PC wiring: OUT2 enables the IRQ driver; in loopback the OUT pins are forced inactive.
    const gate = (this.mcr & (MCR_OUT2 | MCR_LOOP)) === MCR_OUT2;
    this.irq.set(pending && gate);
  }
}
