// Interrupt lines. A line is a wire from a device to an interrupt controller input: the device
// drives its level; whether the controller reacts to the rising edge or to the level is the
// controller's business (for the PC's i8259 pair that is the ELCR, see devices/pic.ts). A device
// that signals by edges (the PIT's OUT0, an ISA card) uses `pulse`.

/** What an interrupt controller offers its inputs. */
export interface IrqSink {
  setIrq(irq: number, level: boolean): void;
}

/** One interrupt request line, driven by one device. */
export class IrqLine {
  private high = false;

  constructor(
    private readonly sink: IrqSink,
    readonly irq: number,
  ) {}

  get level(): boolean {
    return this.high;
  }

  set(level: boolean): void {
    if (level === this.high) return;
    this.high = level;
    this.sink.setIrq(this.irq, level);
  }

  raise(): void {
    this.set(true);
  }

  lower(): void {
    this.set(false);
  }

  /** A rising edge that ends low again: what an edge-triggered input needs to latch a request. */
  pulse(): void {
    this.set(false);
    this.set(true);
    this.set(false);
  }
}

/** A line to nowhere, for devices left unconnected and for tests. */
export function unconnectedIrq(): IrqLine {
  return new IrqLine({ setIrq() {} }, -1);
}

/**
 * A wired-OR input (PCI INTx sharing, two devices on one ISA line with open-collector drivers):
 * each device gets its own `IrqLine` from `line()`, and the sink sees the OR of their levels.
 */
export class SharedIrq {
  private readonly levels: boolean[] = [];
  private out = false;

  constructor(
    private readonly sink: IrqSink,
    readonly irq: number,
  ) {}

  line(): IrqLine {
    const index = this.levels.length;
    this.levels.push(false);
    return new IrqLine(
      {
        setIrq: (_irq, level) => {
          this.levels[index] = level;
          const out = this.levels.some((l) => l);
          if (out !== this.out) {
            this.out = out;
            this.sink.setIrq(this.irq, out);
          }
        },
      },
      this.irq,
    );
  }
}
