// What the firmware does to PCI before an operating system runs, for boots that have no firmware
// (direct Linux or Multiboot loading): QEMU always runs SeaBIOS, even with -kernel, and its
// pciinit.c leaves every function with its BARs assigned, I/O and memory decoding on and
// INTERRUPT_LINE naming the ISA IRQ its INTx# pin is routed to. The same steps here, with
// SeaBIOS's choices:
//
// - PIIX3 PIRQRC[A:D] = 10, 10, 11, 11 (SeaBIOS pci_irqs) and those IRQs level-triggered in the
//   ELCR (piix_isa_bridge_setup); a device in slot S with pin P uses PIRQ (P - 1 + S - 1) mod 4,
//   the i440FX swizzle that Piix3IsaBridge.intx wires;
// - I/O BARs from 0xC000 up, memory BARs from 0xFE000000 up (below the I/O APIC's 0xFEC00000),
//   largest first so that every BAR is aligned to its size;
// - COMMAND |= I/O, memory (SeaBIOS leaves bus mastering to the drivers).
//
// Linux then finds the bus through configuration mechanism #1, keeps the assignments and asks
// each function's INTERRUPT_LINE for its IRQ (arch/x86/pci/irq.c accepts it when there is no
// routing table: "!io_apic_assign_pci_irqs && dev->irq").

import type { Piix3IsaBridge } from "./i440fx.js";
import { PCI, PCI_COMMAND_IO, PCI_COMMAND_MEMORY, type PciBus } from "./pci.js";

/** SeaBIOS's PCI interrupt lines for PIRQA-D (src/fw/pciinit.c, pci_irqs). */
export const PCI_IRQS = [10, 10, 11, 11] as const;
export const PCI_IO_START = 0xc000;
export const PCI_IO_END = 0x10000;
export const PCI_MEM_START = 0xfe000000;
export const PCI_MEM_END = 0xfec00000;

export interface PciSetupTargets {
  bus: PciBus;
  isa: Piix3IsaBridge;
  /** Sets the PIIX ELCR (chip 0: IRQ 0-7, 1: IRQ 8-15). */
  writeElcr(chip: 0 | 1, value: number): void;
  readElcr(chip: 0 | 1): number;
}

export interface PciAssignment {
  dev: number;
  fn: number;
  bar: number;
  kind: "io" | "mem";
  base: number;
  size: number;
}

/** Routes the PIRQs, assigns every BAR and turns decoding on; returns what it assigned. */
export function setupPci(t: PciSetupTargets): PciAssignment[] {
  const { bus, isa } = t;
  const elcr = [t.readElcr(0), t.readElcr(1)];
  PCI_IRQS.forEach((irq, n) => {
    isa.writeConfig(0x60 + n, 1, irq);
    elcr[irq >> 3]! |= 1 << (irq & 7);
  });
  t.writeElcr(0, elcr[0]!);
  t.writeElcr(1, elcr[1]!);

  const wanted: (PciAssignment & { order: number })[] = [];
  let order = 0;
  for (const { dev, fn, f } of bus.list()) {
    const pin = f.config[PCI.INTERRUPT_PIN]!;
    if (pin >= 1 && pin <= 4) f.writeConfig(PCI.INTERRUPT_LINE, 1, PCI_IRQS[(pin - 1 + dev - 1) & 3]!);
    f.bars.forEach((bar, i) => {
      if (bar) wanted.push({ dev, fn, bar: i, kind: bar.kind, base: 0, size: bar.size, order: order++ });
    });
  }
  // Largest first (then in bus order): each base stays aligned to its size.
  wanted.sort((a, b) => b.size - a.size || a.order - b.order);
  const next = { io: PCI_IO_START, mem: PCI_MEM_START };
  const end = { io: PCI_IO_END, mem: PCI_MEM_END };
  const done: PciAssignment[] = [];
  for (const w of wanted) {
    const base = Math.ceil(next[w.kind] / w.size) * w.size;
    if (base + w.size > end[w.kind]) continue; // no room: left unassigned, as SeaBIOS would panic
    next[w.kind] = base + w.size;
    bus.get(w.dev, w.fn)!.writeConfig(PCI.BAR0 + w.bar * 4, 4, w.kind === "io" ? base | 1 : base);
    done.push({ dev: w.dev, fn: w.fn, bar: w.bar, kind: w.kind, base, size: w.size });
  }
  for (const { f } of bus.list()) {
    const hasIo = f.bars.some((b) => b?.kind === "io");
    const hasMem = f.bars.some((b) => b?.kind === "mem");
    const cmd = f.get16(PCI.COMMAND) | (hasIo ? PCI_COMMAND_IO : 0) | (hasMem ? PCI_COMMAND_MEMORY : 0);
    f.writeConfig(PCI.COMMAND, 2, cmd);
  }
  return done.sort((a, b) => a.dev - b.dev || a.fn - b.fn || a.bar - b.bar);
}
