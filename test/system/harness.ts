// Test harness for system-instruction tests: a core with a debug console on port 0xE9 and the
// isa-debug-exit port 0xF4, helpers to place code and to set up protected mode from the host.

import { Cpu, type RunReason, SEG } from "../../vmm/cpu.js";
import * as L from "../../vmm/generated/layout.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";

/** Physical address small unit-test snippets are loaded at (and CS:IP 0000:7C00 in real mode). */
export const CODE = 0x7c00;

export interface Machine {
  cpu: Cpu;
  /** Bytes written to port 0xE9. */
  console: number[];
  /** Value written to port 0xF4 (isa-debug-exit), or null. */
  exitCode: number | null;
  /** Every port write: [port, size, value]. */
  writes: [number, number, number][];
}

export async function machine(ramBytes = 4 << 20): Promise<Machine> {
  const m: Machine = { cpu: undefined as unknown as Cpu, console: [], exitCode: null, writes: [] };
  m.cpu = await Cpu.create(loadCoreModule(), ramBytes, {
    ioWrite(port, size, value) {
      m.writes.push([port, size, value]);
      if (port === 0xe9) m.console.push(value & 0xff);
      if (port === 0xf4) {
        m.exitCode = value;
        m.cpu.setU32(L.S_STOP_REQUEST, 1);
      }
    },
  });
  return m;
}

/** The console output as text. */
export function text(m: Machine): string {
  return String.fromCharCode(...m.console);
}

/** Loads `bytes` at CODE and starts real mode at 0000:7C00 with SS:SP = 0000:7000. */
export function loadReal(m: Machine, bytes: number[] | Uint8Array, at = CODE): void {
  const cpu = m.cpu;
  cpu.writePhysical(at, bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));
  for (const s of [SEG.ES, SEG.SS, SEG.DS, SEG.FS, SEG.GS]) cpu.setRealSegment(s, 0);
  cpu.setRealSegment(SEG.CS, 0);
  cpu.eip = at;
  cpu.setReg(4, 0x7000);
}

/** Flat 4 GiB segment attributes (SEG_ATTR form): P, S, type, DPL, D/B and G. */
export function flatAttr(code: boolean, dpl: number): number {
  return (code ? 0x9b : 0x93) | (dpl << 5) | 0xc000;
}

/**
 * Switches the machine to 32-bit protected mode from the host, with flat segments at `cpl`
 * (selectors 0x08/0x10 for CPL 0, 0x1B/0x23 for CPL 3), code at CODE and ESP = 0x7000.
 */
export function enterFlat32(m: Machine, bytes: number[] | Uint8Array, cpl = 0, at = CODE): void {
  const cpu = m.cpu;
  cpu.writePhysical(at, bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));
  cpu.setCr(0, cpu.cr(0) | 1);
  const cs = cpl === 0 ? 0x08 : 0x1b;
  const ds = cpl === 0 ? 0x10 : 0x23;
  for (const s of [SEG.ES, SEG.SS, SEG.DS, SEG.FS, SEG.GS]) {
    cpu.setSegment(s, { selector: ds, base: 0, limit: 0xffffffff, attr: flatAttr(false, cpl) });
  }
  cpu.setSegment(SEG.CS, { selector: cs, base: 0, limit: 0xffffffff, attr: flatAttr(true, cpl) });
  cpu.cpl = cpl;
  cpu.eip = at;
  cpu.setReg(4, 0x7000);
}

/** Runs until HLT (or an exception when stopOnException is set); fails on anything else. */
export function runToHalt(m: Machine, budget = 100_000): RunReason {
  return m.cpu.run(budget);
}

/** Little-endian bytes of a 32-bit value. */
export function d32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}
export function d16(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff];
}

/** An 8-byte segment descriptor (base, limit in units, access byte, flags nibble G/DB/L/AVL). */
export function descriptor(base: number, limit: number, access: number, flags: number): number[] {
  const lo = ((base & 0xffff) << 16) | (limit & 0xffff);
  const hi =
    (base & 0xff000000) | ((flags & 0xf) << 20) | (limit & 0xf0000) | ((access & 0xff) << 8) | ((base >>> 16) & 0xff);
  return [...d32(lo >>> 0), ...d32(hi >>> 0)];
}

/** Writes a GDT at `base` from descriptors (entry 0 included) and loads GDTR from the host. */
export function loadGdt(m: Machine, base: number, entries: number[][]): void {
  const bytes = entries.flat();
  m.cpu.writePhysical(base, new Uint8Array(bytes));
  m.cpu.setGdtr(base, bytes.length - 1);
}
