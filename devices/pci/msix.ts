// MSI-X (PCI Local Bus Specification 3.0, 6.8.2): a capability in configuration space (ID 0x11:
// message control with the table size, function mask and enable bits; the table's and the
// pending bit array's BAR and offset) and, in a memory BAR, the table of vectors (16 bytes each:
// message address low/high, message data, vector control with its mask bit) and the pending bit
// array (PBA).
//
// `notify(vector)` is the function asking for an interrupt on a vector. With MSI-X enabled and
// neither the function nor the vector masked, the message (a dword write of the data to the
// address, 0xFEEx_xxxx for an x86 local APIC) goes to the `MsiSink`; masked, the vector's pending
// bit is set and the message goes out when it is unmasked, as the spec requires. While MSI-X is
// enabled the function must not use INTx#; the caller checks `enabled` and keeps INTx otherwise.
//
// Where messages go is the machine's business: this machine has no local APIC yet, so the VMM's
// sink counts them as undeliverable (a guest only enables MSI-X when it found an APIC, and the
// CPU here reports none, so Linux keeps INTx).

import type { AccessSize } from "../bus/port-bus.js";
import type { PciFunction } from "./pci.js";

export const MSIX_CAP_ID = 0x11;
/** Message control bits. */
export const MSIX_ENABLE = 0x8000;
export const MSIX_FUNCTION_MASK = 0x4000;
export const MSIX_ENTRY_SIZE = 16;
/** Vector control: masked. */
const VECTOR_MASKED = 1;

/** Where MSI-X messages go (an interrupt controller, or a counter when there is none). */
export interface MsiSink {
  message(address: number, data: number): void;
}

/**
 * The sink of a machine without a local APIC: messages are counted and go nowhere (a real
 * chipset would write them to 0xFEEx_xxxx, where nothing answers).
 */
export class UndeliveredMsi implements MsiSink {
  count = 0;
  last: { address: number; data: number } | undefined;
  message(address: number, data: number): void {
    this.count++;
    this.last = { address, data };
  }
}

export interface MsixOptions {
  vectors: number;
  /** The BAR holding the table and the PBA (a memory BAR the function defines). */
  bar: number;
  tableOffset: number;
  pbaOffset: number;
  sink: MsiSink;
}

/** What crossed this capability, for the stats. */
export interface MsixCounters {
  /** Messages sent to the sink. */
  messages: number;
  /** Interrupts held as pending because the vector or the function was masked. */
  pended: number;
}

export class Msix {
  readonly vectors: number;
  readonly cap: number;
  readonly tableOffset: number;
  readonly pbaOffset: number;
  /** The table (guest-visible bytes) and the pending bits. */
  readonly table: Uint8Array;
  private readonly tableView: DataView;
  readonly pending: Uint8Array;
  readonly counters: MsixCounters = { messages: 0, pended: 0 };
  sink: MsiSink;

  constructor(
    private readonly fn: PciFunction,
    options: MsixOptions,
  ) {
    const { vectors, bar } = options;
    if (vectors < 1 || vectors > 2048) throw new RangeError(`MSI-X: ${vectors} vectors`);
    this.vectors = vectors;
    this.tableOffset = options.tableOffset;
    this.pbaOffset = options.pbaOffset;
    this.sink = options.sink;
    this.table = new Uint8Array(vectors * MSIX_ENTRY_SIZE);
    this.tableView = new DataView(this.table.buffer);
    this.pending = new Uint8Array(Math.ceil(vectors / 64) * 8);
    this.cap = fn.addCapability(MSIX_CAP_ID, 12);
    fn.set16(this.cap + 2, vectors - 1);
    fn.setMask16(this.cap + 2, MSIX_ENABLE | MSIX_FUNCTION_MASK);
    fn.set32(this.cap + 4, (this.tableOffset | bar) >>> 0);
    fn.set32(this.cap + 8, (this.pbaOffset | bar) >>> 0);
    this.reset();
  }

  /** Bytes of the BAR the table and PBA take from `tableOffset` (for sizing the BAR). */
  static span(vectors: number, pbaOffset: number): number {
    return pbaOffset + Math.ceil(vectors / 64) * 8;
  }

  /** Every vector masked with a zero message, nothing pending (the reset state). */
  reset(): void {
    this.table.fill(0);
    for (let v = 0; v < this.vectors; v++) this.tableView.setUint32(v * MSIX_ENTRY_SIZE + 12, VECTOR_MASKED, true);
    this.pending.fill(0);
  }

  private get control(): number {
    return this.fn.get16(this.cap + 2);
  }

  /** MSI-X enabled: the function signals by messages, not INTx#. */
  get enabled(): boolean {
    return (this.control & MSIX_ENABLE) !== 0;
  }

  get functionMasked(): boolean {
    return (this.control & MSIX_FUNCTION_MASK) !== 0;
  }

  vectorMasked(v: number): boolean {
    return (this.tableView.getUint32(v * MSIX_ENTRY_SIZE + 12, true) & VECTOR_MASKED) !== 0;
  }

  isPending(v: number): boolean {
    return ((this.pending[v >> 3]! >> (v & 7)) & 1) !== 0;
  }

  /** The message of vector `v`: its 32-bit address (the high dword must be 0 here) and data. */
  entry(v: number): { address: number; addressHigh: number; data: number } {
    const o = v * MSIX_ENTRY_SIZE;
    return {
      address: this.tableView.getUint32(o, true),
      addressHigh: this.tableView.getUint32(o + 4, true),
      data: this.tableView.getUint32(o + 8, true),
    };
  }

  /**
   * The function asks for an interrupt on vector `v`. Returns false when MSI-X is disabled (the
   * caller uses INTx#); a vector beyond the table is dropped, as the spec leaves it undefined.
   */
  notify(v: number): boolean {
    if (!this.enabled) return false;
    if (v < 0 || v >= this.vectors) return true;
    if (this.functionMasked || this.vectorMasked(v)) {
      if (!this.isPending(v)) this.counters.pended++;
      this.pending[v >> 3]! |= 1 << (v & 7);
      return true;
    }
    this.send(v);
    return true;
  }

  private send(v: number): void {
    const e = this.entry(v);
    this.counters.messages++;
    // A message above 4 GiB cannot reach this 32-bit machine's interrupt controller.
    if (e.addressHigh === 0) this.sink.message(e.address, e.data);
  }

  /** Sends the pending messages that masking no longer holds back. */
  private flush(): void {
    if (!this.enabled || this.functionMasked) return;
    for (let v = 0; v < this.vectors; v++) {
      if (this.isPending(v) && !this.vectorMasked(v)) {
        this.pending[v >> 3]! &= ~(1 << (v & 7));
        this.send(v);
      }
    }
  }

  /** The function's configuration write reached message control (call from configWritten). */
  controlWritten(offset: number, size: AccessSize): void {
    if (offset <= this.cap + 3 && offset + size > this.cap + 2) this.flush();
  }

  /** A read at `off` of the BAR (the table or the PBA; elsewhere undefined). */
  read(off: number, size: AccessSize): number | undefined {
    const t = off - this.tableOffset;
    if (t >= 0 && t + size <= this.table.length) return readLe(this.table, t, size);
    const p = off - this.pbaOffset;
    if (p >= 0 && p + size <= this.pending.length) return readLe(this.pending, p, size);
    return undefined;
  }

  /** A write at `off` of the BAR; true when it was the table's or the PBA's (read-only). */
  write(off: number, size: AccessSize, value: number): boolean {
    const t = off - this.tableOffset;
    if (t >= 0 && t + size <= this.table.length) {
      for (let i = 0; i < size; i++) {
        const o = t + i;
        // Vector control: only the mask bit is writable.
        const b = (value >>> (i * 8)) & 0xff;
        this.table[o] = o % MSIX_ENTRY_SIZE === 12 ? b & VECTOR_MASKED : o % MSIX_ENTRY_SIZE > 12 ? 0 : b;
      }
      this.flush();
      return true;
    }
    const p = off - this.pbaOffset;
    return p >= 0 && p + size <= this.pending.length;
  }
}

function readLe(b: Uint8Array, off: number, size: number): number {
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = (v << 8) | b[off + i]!;
  return v >>> 0;
}
