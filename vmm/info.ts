// The monitor's `info pci`, `info virtio` and `info io`: what the machine has on its PCI bus, the
// state and traffic of each virtio device, and the I/O accesses each device's ranges took (the
// device side of every port and MMIO crossing, in every mode).

import { PCI } from "../devices/pci/pci.js";
import type { Vm } from "./vm.js";

const hex = (n: number, w: number) => n.toString(16).padStart(w, "0");

export function infoPci(vm: Vm): string {
  const pci = vm.devices.pci;
  if (!pci) return "no PCI bus\n";
  const lines: string[] = [];
  for (const { dev, fn, f } of pci.bus.list()) {
    const c = f.config;
    const cls = (c[PCI.CLASS]! << 16) | (c[PCI.SUBCLASS]! << 8) | c[PCI.PROG_IF]!;
    const pin = c[PCI.INTERRUPT_PIN]!;
    let line = `00:${hex(dev, 2)}.${fn} ${hex(f.get16(PCI.VENDOR_ID), 4)}:${hex(f.get16(PCI.DEVICE_ID), 4)} class ${hex(cls, 6)} ${f.name}`;
    if (pin) line += `, INT${"ABCD"[pin - 1]}# IRQ ${c[PCI.INTERRUPT_LINE]}`;
    lines.push(line);
    f.bars.forEach((bar, i) => {
      if (!bar) return;
      const base = f.barBase(i);
      lines.push(
        `  BAR${i} ${bar.kind} ${bar.size} bytes ${base === undefined ? "not decoded" : `at 0x${base.toString(16)}`}`,
      );
    });
  }
  return `${lines.join("\n")}\n`;
}

export function infoVirtio(vm: Vm): string {
  if (vm.virtio.length === 0) return "no virtio devices\n";
  return `${vm.virtio.flatMap((d) => d.describe()).join("\n")}\n`;
}

/** Port and MMIO accesses by owner, most first. */
export function infoIo(vm: Vm): string {
  const rows = [
    ...[...vm.devices.ports.accessCounts()].map(([owner, n]) => ({ owner, n, bus: "port" })),
    ...[...vm.devices.mmio.accessCounts()].map(([owner, n]) => ({ owner, n, bus: "mmio" })),
  ]
    .filter((r) => r.n > 0)
    .sort((a, b) => b.n - a.n);
  if (rows.length === 0) return "no device accesses\n";
  return `${rows.map((r) => `${r.n.toLocaleString("en-US").padStart(14)}  ${r.bus}  ${r.owner}`).join("\n")}\n`;
}
