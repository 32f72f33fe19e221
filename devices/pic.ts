// The PC/AT's pair of Intel 8259A programmable interrupt controllers: the master at 0x20/0x21
// takes IRQ 0-7 and the slave's INT output on IR2; the slave at 0xA0/0xA1 takes IRQ 8-15. The
// PIIX's ELCR registers (0x4D0/0x4D1) choose edge or level triggering per line.
//
// Facts from the Intel 8259A datasheet (ICW1-4, OCW1-3, priority rotation, special mask mode,
// poll command, spurious IR7) and the Intel PIIX/PIIX3 datasheet (ELCR, and which bits of it are
// writable: IRQ 0, 1, 2, 8 and 13 are always edge triggered).

import { PORT } from "./bus/addresses.js";
import { IrqLine, type IrqSink } from "./bus/irq.js";
import type { PortBus } from "./bus/port-bus.js";

/** One 8259A. */
export class I8259 {
  /** Input levels as last seen (to find rising edges). */
  lastLevels = 0;
  irr = 0;
  isr = 0;
  imr = 0;
  /** The IR with the lowest priority is (priorityBase + 7) & 7; IR priorityBase has the highest. */
  priorityBase = 0;
  vectorBase = 0;
  readIsr = false;
  poll = false;
  specialMask = false;
  autoEoi = false;
  rotateOnAutoEoi = false;
  specialFullyNested = false;
  /** ICW1 LTIM: every input level-triggered, whatever the ELCR says. */
  levelAll = false;
  single = false;
  needIcw4 = false;
  /** 0: ready for OCWs; 2, 3, 4: expecting ICW2, ICW3, ICW4. */
  initStep = 0;
  icw3 = 0;
  elcr = 0;

  constructor(
    readonly isMaster: boolean,
    readonly elcrMask: number,
  ) {}

  private levelMask(): number {
    return this.levelAll ? 0xff : this.elcr;
  }

  setInput(irq: number, level: boolean): void {
    const bit = 1 << irq;
    if (this.levelMask() & bit) {
      // Level triggered: the request follows the line.
      if (level) this.irr |= bit;
      else this.irr &= ~bit;
    } else if (level && !(this.lastLevels & bit)) {
      // Edge triggered: latch on the rising edge; the request stays until acknowledged.
      this.irr |= bit;
    }
    if (level) this.lastLevels |= bit;
    else this.lastLevels &= ~bit;
  }

  /** Priority rank (0 highest) of the highest-priority bit set in mask, or 8 when none. */
  private rank(mask: number): number {
    if ((mask & 0xff) === 0) return 8;
    let r = 0;
    while ((mask & (1 << ((r + this.priorityBase) & 7))) === 0) r++;
    return r;
  }

  /** The IR that would be delivered now, or -1. */
  pending(): number {
    const req = this.irr & ~this.imr;
    const r = this.rank(req);
    if (r === 8) return -1;
    let inService = this.isr;
    // Special mask mode: a masked in-service level no longer blocks lower priorities.
    if (this.specialMask) inService &= ~this.imr;
    // Special fully nested mode: the slave may interrupt again while its IR is in service.
    if (this.specialFullyNested && this.isMaster) inService &= ~(1 << 2);
    return r < this.rank(inService) ? (r + this.priorityBase) & 7 : -1;
  }

  /** INTA for `irq`: moves it from IRR to ISR (or only clears IRR in auto-EOI mode). */
  acknowledge(irq: number): void {
    const bit = 1 << irq;
    if (this.autoEoi) {
      if (this.rotateOnAutoEoi) this.priorityBase = (irq + 1) & 7;
    } else {
      this.isr |= bit;
    }
    // A level-triggered request stays in IRR while its line is high.
    if (!(this.levelMask() & bit) || !(this.lastLevels & bit)) this.irr &= ~bit;
  }

  reset(): void {
    this.lastLevels = 0;
    this.irr = 0;
    this.isr = 0;
    this.imr = 0;
    this.priorityBase = 0;
    this.vectorBase = 0;
    this.readIsr = false;
    this.poll = false;
    this.specialMask = false;
    this.autoEoi = false;
    this.rotateOnAutoEoi = false;
    this.specialFullyNested = false;
    this.levelAll = false;
    this.single = false;
    this.needIcw4 = false;
    this.initStep = 0;
    this.icw3 = 0;
  }

  writeCommand(v: number): void {
    if (v & 0x10) {
      // ICW1: starts initialization. IMR and ISR clear, IR7 gets the lowest priority, special
      // mask mode off, status read set to IRR. Edge detection restarts: a line already high
      // must go low and high again to be seen (datasheet, "Initialization Command Words").
      this.isr = 0;
      this.imr = 0;
      this.priorityBase = 0;
      this.readIsr = false;
      this.poll = false;
      this.specialMask = false;
      this.autoEoi = false;
      this.rotateOnAutoEoi = false;
      this.specialFullyNested = false;
      this.levelAll = (v & 0x08) !== 0;
      this.single = (v & 0x02) !== 0;
      this.needIcw4 = (v & 0x01) !== 0;
      this.irr &= this.levelMask() & this.lastLevels;
      this.lastLevels &= this.levelMask();
      this.initStep = 2;
    } else if (v & 0x08) {
      // OCW3
      if (v & 0x04) this.poll = true;
      if (v & 0x02) this.readIsr = (v & 0x01) !== 0;
      if (v & 0x40) this.specialMask = (v & 0x20) !== 0;
    } else {
      // OCW2: R SL EOI in bits 7-5, level in bits 2-0.
      const level = v & 7;
      switch (v >> 5) {
        case 0: // rotate in automatic EOI mode: clear
          this.rotateOnAutoEoi = false;
          break;
        case 4: // rotate in automatic EOI mode: set
          this.rotateOnAutoEoi = true;
          break;
        case 1: // non-specific EOI
        case 5: {
          // rotate on non-specific EOI
          const r = this.rank(this.isr);
          if (r !== 8) {
            const irq = (r + this.priorityBase) & 7;
            this.isr &= ~(1 << irq);
            if (v >> 5 === 5) this.priorityBase = (irq + 1) & 7;
          }
          break;
        }
        case 3: // specific EOI
          this.isr &= ~(1 << level);
          break;
        case 7: // rotate on specific EOI
          this.isr &= ~(1 << level);
          this.priorityBase = (level + 1) & 7;
          break;
        case 6: // set priority: `level` becomes the lowest
          this.priorityBase = (level + 1) & 7;
          break;
        default: // 2: no operation
          break;
      }
    }
  }

  writeData(v: number): void {
    switch (this.initStep) {
      case 2: // ICW2: vector base (T7-T3 in 8086 mode)
        this.vectorBase = v & 0xf8;
        this.initStep = this.single ? (this.needIcw4 ? 4 : 0) : 3;
        break;
      case 3: // ICW3: cascade wiring (master: slave bitmap; slave: its ID). Fixed on a PC.
        this.icw3 = v;
        this.initStep = this.needIcw4 ? 4 : 0;
        break;
      case 4: // ICW4: SFNM bit 4, AEOI bit 1 (uPM bit 0 assumed 8086, BUF/MS ignored)
        this.specialFullyNested = (v & 0x10) !== 0;
        this.autoEoi = (v & 0x02) !== 0;
        this.initStep = 0;
        break;
      default: // OCW1
        this.imr = v;
        break;
    }
  }

  readCommand(): number {
    return this.readIsr ? this.isr : this.irr;
  }
}

export interface DualPicOptions {
  /** The master's INT output: the Vm wires it to cpu.setIntr. */
  onIntr?: (level: boolean) => void;
}

/**
 * The master/slave pair with the PC's wiring. Devices drive IRQ 0-15 through `line(n)` or
 * `setIrq`; the CPU asks `intrPending()` and, on INTA, `acknowledge()` for the vector.
 */
export class DualPic implements IrqSink {
  private readonly master = new I8259(true, 0xf8);
  private readonly slave = new I8259(false, 0xde);
  private readonly lines: IrqLine[] = [];
  private intr = false;
  private onIntr: ((level: boolean) => void) | undefined;
  /** Counts spurious acknowledges (IRQ 7 / 15 with nothing in service), for stats. */
  spurious = 0;

  constructor(options: DualPicOptions = {}) {
    this.onIntr = options.onIntr;
    for (let i = 0; i < 16; i++) this.lines.push(new IrqLine(this, i));
  }

  /** Sets the INT output callback (the Vm's cpu.setIntr). Called at once with the current level. */
  connect(onIntr: (level: boolean) => void): void {
    this.onIntr = onIntr;
    onIntr(this.intr);
  }

  /** The wire for ISA IRQ n (0-15). Each line has one driver; share through bus/irq SharedIrq. */
  line(irq: number): IrqLine {
    const l = this.lines[irq];
    if (!l) throw new RangeError(`no IRQ ${irq} on the PC's i8259 pair`);
    return l;
  }

  /** IrqSink: the level of ISA IRQ `irq` changed. */
  setIrq(irq: number, level: boolean): void {
    if (irq < 8) this.master.setInput(irq, level);
    else this.slave.setInput(irq - 8, level);
    this.update();
  }

  /** The master's INT output: an unmasked request beats everything in service. */
  intrPending(): boolean {
    return this.intr;
  }

  /**
   * The two INTA cycles: returns the vector and moves the request in service. With nothing to
   * deliver (the request went away) the 8259A answers with IR7 of the asked chip: the spurious
   * vector, IRQ 7 or IRQ 15, without setting ISR.
   */
  acknowledge(): number {
    const m = this.master;
    const s = this.slave;
    let vector: number;
    const irq = m.pending();
    if (irq < 0) {
      this.spurious++;
      vector = m.vectorBase | 7;
    } else if (irq === 2 && !m.single) {
      const irq2 = s.pending();
      if (irq2 >= 0) {
        s.acknowledge(irq2);
        vector = s.vectorBase | irq2;
      } else {
        this.spurious++;
        vector = s.vectorBase | 7;
      }
      m.acknowledge(2);
      // The slave's INT drops during INTA; if it still has a deliverable request (auto-EOI,
      // special fully nested mode) it rises again and the master latches a new IR2 edge.
      m.lastLevels &= ~(1 << 2);
    } else {
      m.acknowledge(irq);
      vector = m.vectorBase | irq;
    }
    this.update();
    return vector;
  }

  /** Power-on / RESET: both chips uninitialized, ELCR all edge. */
  reset(): void {
    this.master.reset();
    this.slave.reset();
    this.master.elcr = 0;
    this.slave.elcr = 0;
    this.update();
  }

  /** Registers 0x20-0x21, 0xA0-0xA1 and 0x4D0-0x4D1. */
  attach(bus: PortBus): void {
    bus.register({
      owner: "i8259 master",
      start: PORT.PIC_MASTER,
      length: 2,
      read: (port) => this.readPort(this.master, port & 1),
      write: (port, _size, v) => this.writePort(this.master, port & 1, v),
    });
    bus.register({
      owner: "i8259 slave",
      start: PORT.PIC_SLAVE,
      length: 2,
      read: (port) => this.readPort(this.slave, port & 1),
      write: (port, _size, v) => this.writePort(this.slave, port & 1, v),
    });
    bus.register({
      owner: "PIIX ELCR",
      start: PORT.ELCR_MASTER,
      length: 2,
      read: (port) => (port === PORT.ELCR_MASTER ? this.master.elcr : this.slave.elcr),
      write: (port, _size, v) => this.writeElcr(port === PORT.ELCR_MASTER ? 0 : 1, v),
    });
  }

  /** Sets the ELCR (chip 0: IRQ 0-7, 1: IRQ 8-15); bits the PIIX fixes to edge stay 0. */
  writeElcr(chip: 0 | 1, value: number): void {
    const c = chip === 0 ? this.master : this.slave;
    c.elcr = value & c.elcrMask;
    // A line now level-triggered requests service while it is high; one now edge-triggered
    // keeps what it latched.
    c.irr |= c.elcr & c.lastLevels;
    this.update();
  }

  readElcr(chip: 0 | 1): number {
    return (chip === 0 ? this.master : this.slave).elcr;
  }

  /** State for monitors and tests: [master, slave] registers. */
  debugState(): { irr: number; isr: number; imr: number; vectorBase: number; elcr: number }[] {
    return [this.master, this.slave].map((c) => ({
      irr: c.irr,
      isr: c.isr,
      imr: c.imr,
      vectorBase: c.vectorBase,
      elcr: c.elcr,
    }));
  }

  private readPort(c: I8259, a0: number): number {
    if (c.poll) {
      // Poll command: the next read of either port is the poll word and counts as INTA.
      c.poll = false;
      return this.pollRead(c);
    }
    return a0 === 0 ? c.readCommand() : c.imr;
  }

  private pollRead(c: I8259): number {
    const irq = c.pending();
    if (irq < 0) return 0;
    c.acknowledge(irq);
    if (c === this.slave) {
      // The slave's output drops now that its request is in service; so does the master's IR2
      // request if nothing else asserted it.
      this.updateCascade();
    }
    this.update();
    return 0x80 | irq;
  }

  private writePort(c: I8259, a0: number, v: number): void {
    if (a0 === 0) c.writeCommand(v);
    else c.writeData(v);
    this.update();
  }

  private updateCascade(): void {
    this.master.setInput(2, this.slave.pending() >= 0);
  }

  private update(): void {
    this.updateCascade();
    const intr = this.master.pending() >= 0;
    if (intr !== this.intr) {
      this.intr = intr;
      this.onIntr?.(intr);
    }
  }
}
