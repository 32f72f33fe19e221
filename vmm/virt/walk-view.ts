// A read-only view of one address translation, for the page's page-walk view: the guest's own
// two-level walk (32-bit paging, SDM vol. 3A 4.3), the shadow MMU's entries for the same linear
// address (shadow mode), or the two-dimensional walk of EPT (every guest-physical address the
// walk uses, the guest's own table entries and the final one, translated by a four-level EPT
// walk: SDM vol. 3C 28.2; 2 + 3 x 4 = 14 references with 4 KiB guest pages, 9 with a 4 MiB one).
//
// It reads the state block, guest RAM and the hypervisor's tables; it changes nothing (no
// accessed bits, no faults, no counters), so looking never perturbs what is measured.

import type { Cpu } from "../cpu.js";
import * as L from "../generated/layout.js";
import type { MmuMode } from "./vmcs.js";

export interface WalkEntry {
  /** "PDE", "PTE", "shadow PDE", "EPT PML4E", ... */
  level: string;
  /** Where the entry is: a guest-physical address (guest tables) or a core-memory address. */
  at: number;
  space: "guest-physical" | "host";
  /** The entry's low 32 bits. */
  entry: number;
  present: boolean;
  /** A large page ends the walk here. */
  large?: boolean;
}

export interface EptWalk {
  /** The guest-physical address this walk translates, and why ("PDE", "PTE", "data"). */
  gpa: number;
  for: string;
  entries: WalkEntry[];
  /** The host page it maps to (core memory), or null where the walk stopped. */
  hostPage: number | null;
}

export interface PageWalkView {
  linear: number;
  mmu: MmuMode;
  paging: boolean;
  /** The guest's own walk (empty with paging off). */
  guest: WalkEntry[];
  /** The guest-physical address, or null when the guest's tables do not map the address. */
  gpa: number | null;
  /** The shadow MMU's entries for the linear address (shadow mode; empty before any fill). */
  shadow?: WalkEntry[];
  /** The 2-D walk (EPT mode): one EPT walk per guest reference, then the final one. */
  ept?: EptWalk[];
  /** Memory references a TLB fill of this address makes (guest table entries + EPT entries). */
  references: number;
}

const PRESENT = 1;
const PS = 0x80;

function readGuest(cpu: Cpu, gpa: number): number | null {
  if (gpa < 0 || gpa + 4 > cpu.ramBytes) return null;
  return new DataView(cpu.memory.buffer, L.RAM_BASE, cpu.ramBytes).getUint32(gpa, true);
}

function readHost(cpu: Cpu, addr: number): number {
  return new DataView(cpu.memory.buffer).getUint32(addr, true);
}

function eptWalk(cpu: Cpu, gpa: number, why: string): EptWalk {
  const view = new DataView(cpu.memory.buffer);
  const eptp = view.getUint32(L.S_VMCS_EPTP, true);
  let table = eptp & ~0xfff;
  const entries: WalkEntry[] = [];
  const names = ["EPT PML4E", "EPT PDPTE", "EPT PDE", "EPT PTE"];
  if (table === 0) return { gpa, for: why, entries, hostPage: null };
  for (let level = 0; level < 4; level++) {
    const index =
      level === 0 ? 0 : level === 1 ? gpa >>> 30 : level === 2 ? (gpa >>> 21) & 0x1ff : (gpa >>> 12) & 0x1ff;
    const at = table + index * 8;
    const e = view.getUint32(at, true);
    const present = (e & 7) !== 0;
    entries.push({ level: names[level]!, at, space: "host", entry: e, present });
    if (!present) return { gpa, for: why, entries, hostPage: null };
    table = e & ~0xfff;
  }
  return { gpa, for: why, entries, hostPage: table };
}

export function pageWalkView(cpu: Cpu, mmu: MmuMode, linear: number): PageWalkView {
  const lin = linear >>> 0;
  const paging = (cpu.cr(0) & 0x80000000) !== 0;
  const view: PageWalkView = { linear: lin, mmu, paging, guest: [], gpa: null, references: 0 };
  const gpaRefs: [number, string][] = [];
  if (!paging) {
    view.gpa = lin;
  } else {
    const pdeAt = (cpu.cr(3) & ~0xfff) + (lin >>> 22) * 4;
    const pde = readGuest(cpu, pdeAt);
    gpaRefs.push([pdeAt, "PDE"]);
    const pdePresent = pde !== null && (pde & PRESENT) !== 0;
    const large = pdePresent && (pde & PS) !== 0 && (cpu.cr(4) & 0x10) !== 0;
    view.guest.push({ level: "PDE", at: pdeAt, space: "guest-physical", entry: pde ?? 0, present: pdePresent, large });
    if (pdePresent && large) {
      view.gpa = ((pde & 0xffc00000) | (lin & 0x3fffff)) >>> 0;
    } else if (pdePresent) {
      const pteAt = (pde & ~0xfff) + ((lin >>> 12) & 0x3ff) * 4;
      const pte = readGuest(cpu, pteAt);
      gpaRefs.push([pteAt, "PTE"]);
      const ptePresent = pte !== null && (pte & PRESENT) !== 0;
      view.guest.push({ level: "PTE", at: pteAt, space: "guest-physical", entry: pte ?? 0, present: ptePresent });
      if (ptePresent) view.gpa = ((pte & ~0xfff) | (lin & 0xfff)) >>> 0;
    }
  }
  view.references = view.guest.length;
  if (mmu === "shadow" && paging) {
    view.shadow = [];
    const root = readHost(cpu, L.S_SHADOW_CR3);
    if (root !== 0) {
      const pdeAt = root + (lin >>> 22) * 4;
      const spde = readHost(cpu, pdeAt);
      const present = (spde & PRESENT) !== 0;
      const large = present && (spde & PS) !== 0;
      view.shadow.push({ level: "shadow PDE", at: pdeAt, space: "host", entry: spde, present, large });
      if (present && !large) {
        const pteAt = (spde & ~0xfff) + ((lin >>> 12) & 0x3ff) * 4;
        const spte = readHost(cpu, pteAt);
        view.shadow.push({
          level: "shadow PTE",
          at: pteAt,
          space: "host",
          entry: spte,
          present: (spte & PRESENT) !== 0,
        });
      }
    }
  }
  if (mmu === "ept") {
    view.ept = gpaRefs.map(([gpa, why]) => eptWalk(cpu, gpa, why));
    if (view.gpa !== null) view.ept.push(eptWalk(cpu, view.gpa, "data"));
    view.references += view.ept.reduce((n, w) => n + w.entries.length, 0);
  }
  return view;
}
