// The core's part of a saved VM: the CPU state block (registers, segment caches, control and
// debug registers, MSRs, x87, counters, the VMCS fields), the hypervisor's own memory that is
// state (VMX I/O and MSR bitmaps, crossing counters, the trace ring, the trap VMM's tables), and
// guest RAM. The hypervisor's caches (TLB, shadow page tables, EPT, the binary translator's
// cache, compiled JIT code, the decoder's fetch window) are not saved: restore empties them and
// the core rebuilds them on demand, as after a CR3 load (docs/state.md has the audit).

import type { Cpu } from "../cpu.js";
import * as L from "../generated/layout.js";
import { concat, VmStateError } from "./container.js";

/** Words of the state block that belong to the receiving instance, not to the saved machine. */
const KEEP_LIVE = new Set([
  "JIT_ON", // how this host runs the guest (a host option)
  "JIT_THRESHOLD",
  "JIT_TABLE_BASE", // this instance's function table
  "RUN_RETIRED", // zero between run() calls
  "RUN_LIMIT",
  "STOP_REQUEST",
  "VMCS_EPTP", // host address of the new EPT root the reset allocated
  "SHADOW_CR3", // host address of a shadow root: rebuilt on the first walk
  "SHADOW_PAGES", // occupancy of the emptied caches
  "BT_CACHE_USED",
  "JIT_LIVE",
  "TLB_COUNT",
]);

/** Hypervisor regions saved as they are (everything else outside RAM is a cache or the ROM). */
const REGIONS: [string, number, number][] = [
  ["HV_IO_BITMAP", L.HV_IO_BITMAP_BASE, L.HV_IO_BITMAP_BYTES],
  ["HV_MSR_BITMAP", L.HV_MSR_BITMAP_BASE, L.HV_MSR_BITMAP_BYTES],
  ["HV_EVENTS", L.HV_EVENTS_BASE, L.HV_EVENTS_BYTES],
  ["HV_TRACE", L.HV_TRACE_BASE, L.HV_TRACE_BYTES],
  ["HV_TRAP", L.HV_TRAP_BASE, L.HV_TRAP_BYTES],
];

const PAGE = 4096;

/**
 * Pages of `bytes` with zero pages left out: u32 length, a bitmap of the pages present, then
 * those pages in order. (The container compresses the result.)
 */
export function packPages(bytes: Uint8Array): Uint8Array {
  const pages = Math.ceil(bytes.length / PAGE);
  const bitmap = new Uint8Array(Math.ceil(pages / 8));
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, Math.floor(bytes.length / 4));
  let present = 0;
  for (let p = 0; p < pages; p++) {
    const start = p * 1024;
    const end = Math.min(words.length, start + 1024);
    let zero = true;
    for (let i = start; i < end; i++) {
      if (words[i] !== 0) {
        zero = false;
        break;
      }
    }
    for (let i = end * 4; zero && i < Math.min(bytes.length, (p + 1) * PAGE); i++) if (bytes[i] !== 0) zero = false;
    if (!zero) {
      bitmap[p >> 3]! |= 1 << (p & 7);
      present++;
    }
  }
  const out = new Uint8Array(4 + bitmap.length + present * PAGE);
  new DataView(out.buffer).setUint32(0, bytes.length, true);
  out.set(bitmap, 4);
  let at = 4 + bitmap.length;
  for (let p = 0; p < pages; p++) {
    if (!(bitmap[p >> 3]! & (1 << (p & 7)))) continue;
    out.set(bytes.subarray(p * PAGE, Math.min(bytes.length, (p + 1) * PAGE)), at);
    at += PAGE;
  }
  return out;
}

/** Writes packed pages into `target` (same length); pages left out become zero. */
export function unpackPages(packed: Uint8Array, target: Uint8Array, what: string): void {
  if (packed.length < 4) throw new VmStateError(`${what}: truncated`);
  const length = new DataView(packed.buffer, packed.byteOffset, packed.byteLength).getUint32(0, true);
  if (length !== target.length) {
    throw new VmStateError(`${what}: saved ${length} bytes, this machine has ${target.length}`);
  }
  const pages = Math.ceil(length / PAGE);
  const bitmap = packed.subarray(4, 4 + Math.ceil(pages / 8));
  let present = 0;
  for (let p = 0; p < pages; p++) if (bitmap[p >> 3]! & (1 << (p & 7))) present++;
  if (packed.length !== 4 + bitmap.length + present * PAGE) throw new VmStateError(`${what}: wrong length`);
  let at = 4 + bitmap.length;
  for (let p = 0; p < pages; p++) {
    const end = Math.min(length, (p + 1) * PAGE);
    if (bitmap[p >> 3]! & (1 << (p & 7))) {
      target.set(packed.subarray(at, at + end - p * PAGE), p * PAGE);
      at += PAGE;
    } else {
      target.fill(0, p * PAGE, end);
    }
  }
}

/** The state block, field by field: a JSON index of names and sizes, then the bytes. */
export function saveCpuState(cpu: Cpu): Uint8Array {
  const mem = new Uint8Array(cpu.memory.buffer);
  const index: [string, number][] = [];
  const chunks: Uint8Array[] = [];
  for (const f of L.STATE_FIELDS) {
    const size = (f.type === "u64" ? 8 : 4) * f.count;
    index.push([f.name, size]);
    chunks.push(mem.slice(f.addr, f.addr + size));
  }
  const regions: Uint8Array[] = REGIONS.map(([, base, bytes]) => packPages(mem.subarray(base, base + bytes)));
  const json = new TextEncoder().encode(JSON.stringify({ fields: index, regions: REGIONS.map(([n]) => n) }));
  const parts = [u32(json.length), json, ...chunks, ...regions.flatMap((r) => [u32(r.length), r])];
  return concat(parts);
}

/**
 * Loads a saved state block into a core configured like the saved one (same mode and MMU mode,
 * which the machine check has compared): the caches are emptied and rebuilt on demand.
 */
export function loadCpuState(cpu: Cpu, bytes: Uint8Array, virt: { mode: number; mmu: number }): void {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4) throw new VmStateError("cpu state: truncated");
  const jsonLen = dv.getUint32(0, true);
  let header: { fields: [string, number][]; regions: string[] };
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + jsonLen)));
  } catch {
    throw new VmStateError("cpu state: malformed index");
  }
  const live = new Map<string, (typeof L.STATE_FIELDS)[number]>(L.STATE_FIELDS.map((f) => [f.name, f]));
  const savedNames = new Set(header.fields.map(([n]) => n));
  for (const f of L.STATE_FIELDS) {
    if (!savedNames.has(f.name)) throw new VmStateError(`cpu state: field ${f.name} of this core is not in the file`);
  }
  let at = 4 + jsonLen;
  const values = new Map<string, Uint8Array>();
  for (const [name, size] of header.fields) {
    const f = live.get(name);
    if (!f) throw new VmStateError(`cpu state: the file has field ${name}, which this core does not`);
    if ((f.type === "u64" ? 8 : 4) * f.count !== size) throw new VmStateError(`cpu state: field ${name} changed size`);
    if (at + size > bytes.length) throw new VmStateError("cpu state: truncated");
    values.set(name, bytes.subarray(at, at + size));
    at += size;
  }
  const regions = new Map<string, Uint8Array>();
  for (const name of header.regions) {
    if (at + 4 > bytes.length) throw new VmStateError("cpu state: truncated");
    const n = dv.getUint32(at, true);
    if (at + 4 + n > bytes.length) throw new VmStateError("cpu state: truncated");
    regions.set(name, bytes.subarray(at + 4, at + 4 + n));
    at += 4 + n;
  }
  const regionBytes = REGIONS.map(([name, , size]) => {
    const packed = regions.get(name);
    if (!packed) throw new VmStateError(`cpu state: region ${name} missing`);
    const out = new Uint8Array(size);
    unpackPages(packed, out, name);
    return out;
  });

  const mem = () => new Uint8Array(cpu.memory.buffer);
  const write = (keep: (name: string) => boolean) => {
    const m = mem();
    for (const f of L.STATE_FIELDS) if (!keep(f.name)) m.set(values.get(f.name)!, f.addr);
  };
  // 1. The saved state, then an empty TLB list and no shadow root: the resets below walk their
  //    own bookkeeping and read the saved control registers (CR4.PSE for shadow paging).
  write((name) => KEEP_LIVE.has(name));
  // TLB_COUNT stays live: the flush below walks this instance's list of filled entries, so a VM
  // restored while it runs drops its own translations (zeroing the count left them all valid).
  cpu.setU32(L.S_SHADOW_CR3, 0);
  // 2. Empty every cache (TLB, shadow tables, EPT, translations, compiled code) for this mode.
  cpu.setVirtualization(virt.mode, virt.mmu);
  // 3. What the reset set aside from the mode (a pending vector, the pv shared page) comes back;
  //    the words that describe this instance's caches stay as the reset left them.
  write((name) => KEEP_LIVE.has(name));
  REGIONS.forEach(([, base], i) => {
    mem().set(regionBytes[i]!, base);
  });
  // The decoder's fetch window is keyed by the TLB's generation, which the reset's flush bumped:
  // it holds no page of the state that was there before.
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}
