// The monitor's device views: `info pic` (the 8259A pair) and `info mtree` (what each range of
// guest-physical memory is, from the core's physical map).

import { PHYS_NONE, PHYS_TRACKED, PHYSMAP_BASE } from "../generated/layout.js";
import type { Vm } from "../vm.js";

const h = (n: number, w = 2) => n.toString(16).padStart(w, "0");

export function infoPic(vm: Vm): string {
  return `${vm.devices.pic
    .debugState()
    .map(
      (c, i) =>
        `pic${i}: irr=${h(c.irr)} imr=${h(c.imr)} isr=${h(c.isr)} irq_base=${h(c.vectorBase)} elcr=${h(c.elcr)}`,
    )
    .join("\n")}\n`;
}

const KIND = ["ram", "rom", "i/o (device memory)", "unassigned"];

/** Guest-physical ranges of one kind, merged, over the whole 4 GiB. */
export function infoMtree(vm: Vm): string {
  const words = new Uint32Array(vm.cpu.memory.buffer, PHYSMAP_BASE, 1 << 20);
  const lines: string[] = [];
  let start = 0;
  let kind = -1;
  const flush = (end: number) => {
    if (kind >= 0 && kind !== PHYS_NONE) {
      lines.push(`  ${h(start * 4096, 8)}-${h(end * 4096 - 1, 8)} (${KIND[kind] ?? `kind ${kind}`})`);
    }
  };
  for (let page = 0; page < 1 << 20; page++) {
    const k = words[page]! & 0xf & ~PHYS_TRACKED;
    if (k !== kind) {
      flush(page);
      start = page;
      kind = k;
    }
  }
  flush(1 << 20);
  return `address-space: memory (${vm.cpu.ramBytes >> 20} MiB RAM)\n${lines.join("\n")}\n`;
}
