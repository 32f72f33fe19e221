// The i440FX host bridge (Intel 82441FX PMC, 00:00.0) and the PIIX3 PCI-to-ISA bridge (Intel
// 82371SB function 0, 00:01.0), with the identities QEMU's `pc` machine gives them.
//
// i440FX: 8086:1237 revision 02, class 06/00/00. The PAM registers (0x59-0x5F: read/write
// enables for the BIOS area 0xF0000-0xFFFFF and the 16 KiB segments 0xC0000-0xEFFFF) and SMRAM
// (0x72, reset 0x02: C_BASE_SEG = 010, SMRAM at 0xA0000) are stored and reported through
// `onPam`/`onSmram`; mapping RAM or ROM accordingly is the VMM's business.
//
// PIIX3: 8086:7000, class 06/01/00, multi-function (the IDE controller is function 1). Its
// reset values are QEMU's piix3_reset (PIIX3 datasheet, section 2.2). PIRQRC[A:D] (0x60-0x63,
// reset 0x80: routing disabled) steer the four PCI interrupt lines to ISA IRQs; `intx` gives a
// PCI device its INTx# wire through that routing (QEMU's i440FX slot swizzle: PIRQ =
// (pin - 1 + slot - 1) mod 4).

import type { IrqSink } from "../bus/irq.js";
import type { AccessSize } from "../bus/port-bus.js";
import { PCI, PciFunction } from "./pci.js";

export const I440FX_PAM0 = 0x59;
export const I440FX_PAM_COUNT = 7;
export const I440FX_SMRAM = 0x72;

export interface I440fxOptions {
  /** A PAM register changed: index 0-6 (0x59 + index) and its new value. */
  onPam?: (index: number, value: number) => void;
  /** The SMRAM register changed. */
  onSmram?: (value: number) => void;
}

export class I440fxHostBridge extends PciFunction {
  onPam: ((index: number, value: number) => void) | undefined;
  onSmram: ((value: number) => void) | undefined;

  constructor(options: I440fxOptions = {}) {
    super("i440FX host bridge", { vendor: 0x8086, device: 0x1237, revision: 0x02, classCode: 0x060000 });
    this.onPam = options.onPam;
    this.onSmram = options.onSmram;
    this.config[I440FX_SMRAM] = 0x02;
    // SMRAM: D_OPEN, D_CLS, D_LCK and G_SMRAME are writable; C_BASE_SEG is fixed at 010.
    this.wmask[I440FX_SMRAM] = 0x78;
    this.saveResetState();
  }

  /** PAM register `index` (0-6). */
  pam(index: number): number {
    return this.config[I440FX_PAM0 + index]!;
  }

  get smram(): number {
    return this.config[I440FX_SMRAM]!;
  }

  /** After a saved state was loaded: the memory map follows the PAM and SMRAM registers again. */
  override stateLoaded(): void {
    super.stateLoaded();
    this.configWritten(I440FX_PAM0, I440FX_PAM_COUNT as AccessSize);
    this.configWritten(I440FX_SMRAM, 1);
  }

  protected override configWritten(offset: number, size: AccessSize): void {
    for (let off = offset; off < offset + size; off++) {
      if (off >= I440FX_PAM0 && off < I440FX_PAM0 + I440FX_PAM_COUNT) {
        this.onPam?.(off - I440FX_PAM0, this.config[off]!);
      } else if (off === I440FX_SMRAM) {
        this.onSmram?.(this.config[off]!);
      }
    }
  }
}

export const PIIX3_PIRQRC = 0x60;

/** The ISA IRQs a PIRQRC register may name (PIIX3 datasheet: 3-7, 9-12, 14, 15). */
const ROUTABLE = new Set([3, 4, 5, 6, 7, 9, 10, 11, 12, 14, 15]);

export interface PciIntx {
  set(level: boolean): void;
}

export class Piix3IsaBridge extends PciFunction {
  /** Level of each device wire, per PIRQ line. */
  private readonly sources: Set<object>[] = [new Set(), new Set(), new Set(), new Set()];
  /** ISA IRQs currently driven high by the router. */
  private driven = new Set<number>();

  /** `sink`: the interrupt controller the PIRQ lines are steered to (the i8259 pair). */
  constructor(private readonly sink?: IrqSink) {
    super("PIIX3 ISA bridge", { vendor: 0x8086, device: 0x7000, classCode: 0x060100, headerType: 0x80 });
    const c = this.config;
    this.set16(PCI.COMMAND, 0x0007); // I/O, memory, bus master
    this.set16(PCI.STATUS, 0x0200); // DEVSEL# medium
    c[0x4c] = 0x4d; // IORT: ISA I/O recovery timer
    c[0x4e] = 0x03; // XBCS: RTC, keyboard controller enabled
    c.fill(0x80, PIIX3_PIRQRC, PIIX3_PIRQRC + 4); // PIRQRC[A:D]: routing disabled
    c[0x69] = 0x02; // TOM: top of memory
    c[0x70] = 0x80; // MBIRQ0: disabled
    c[0x76] = 0x0c; // MBDMA0/1: disabled
    c[0x77] = 0x0c;
    c[0x78] = 0x02; // PCSC: programmable chip select
    c[0xa0] = 0x08; // SMICNTL
    c[0xa8] = 0x0f; // SMIREQ
    this.saveResetState();
  }

  /** PIRQRC register `n` (0-3 for PIRQA-D). */
  pirqRoute(n: number): number {
    return this.config[PIIX3_PIRQRC + n]!;
  }

  /** The ISA IRQ PIRQ `n` is steered to, or -1. */
  pirqIrq(n: number): number {
    const r = this.pirqRoute(n);
    if (r & 0x80) return -1;
    return ROUTABLE.has(r & 0x0f) ? r & 0x0f : -1;
  }

  /** The INTx# wire (pin 1-4 = INTA-INTD) of the device in PCI slot `slot` (1-31). */
  intx(slot: number, pin: number): PciIntx {
    const pirq = (pin - 1 + slot - 1) & 3;
    const me = {};
    return {
      set: (level) => {
        if (level) this.sources[pirq]!.add(me);
        else this.sources[pirq]!.delete(me);
        this.updateIrqs();
      },
    };
  }

  override reset(): void {
    super.reset();
    this.updateIrqs();
  }

  protected override configWritten(offset: number, size: AccessSize): void {
    if (offset < PIIX3_PIRQRC + 4 && offset + size > PIIX3_PIRQRC) this.updateIrqs();
  }

  private updateIrqs(): void {
    const high = new Set<number>();
    for (let n = 0; n < 4; n++) {
      const irq = this.pirqIrq(n);
      if (irq >= 0 && this.sources[n]!.size > 0) high.add(irq);
    }
    for (const irq of this.driven) if (!high.has(irq)) this.sink?.setIrq(irq, false);
    for (const irq of high) if (!this.driven.has(irq)) this.sink?.setIrq(irq, true);
    this.driven = high;
  }
}
