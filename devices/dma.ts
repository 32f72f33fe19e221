// Guest memory as a device sees it when it does DMA (bus mastering): guest-physical addresses,
// bounds-checked against the machine's RAM. A device never touches the core's memory directly:
// the VMM's implementation (vmm/guest-memory.ts) sends every write through the CPU's host-write
// path, so that write tracking (shadow page tables), the EPT dirty log and the binary
// translator's invalidation see DMA exactly as they see stores by the CPU.
//
// An address outside RAM (or in a hole that is not RAM, such as the VGA window) is a `DmaError`,
// never a host exception of another kind: the device model turns it into its own error (fw_cfg's
// ERROR bit, a virtqueue marked broken, an IDE bus-master error).

/** A DMA access outside guest RAM. */
export class DmaError extends RangeError {
  override name = "DmaError";
}

export interface GuestMemory {
  /** Bytes of RAM from guest-physical 0. */
  readonly size: number;
  /** Whether [addr, addr + length) is RAM a device may read (or, with `write`, write). */
  check(addr: number, length: number, write?: boolean): boolean;
  /** A copy of guest bytes; throws DmaError outside RAM. */
  read(addr: number, length: number): Uint8Array;
  /** Fills `dest` from guest memory at `addr`; throws DmaError outside RAM. */
  readInto(addr: number, dest: Uint8Array): void;
  /** Writes guest bytes (seen by write tracking and dirty logging); throws DmaError outside RAM. */
  write(addr: number, bytes: Uint8Array): void;
  /** Little-endian loads and stores (virtio rings, PRD tables). Same checks. */
  readU16(addr: number): number;
  readU32(addr: number): number;
  writeU16(addr: number, value: number): void;
  writeU32(addr: number, value: number): void;
}

const MAX_ADDRESS = 2 ** 32;

/** Shared by the implementations: the range check with integer and overflow guards. */
export function inRange(addr: number, length: number, size: number): boolean {
  return (
    Number.isInteger(addr) &&
    Number.isInteger(length) &&
    addr >= 0 &&
    length >= 0 &&
    addr + length <= size &&
    addr + length <= MAX_ADDRESS
  );
}

export function dmaFault(addr: number, length: number): DmaError {
  return new DmaError(`DMA to guest-physical 0x${addr.toString(16)}+${length} is outside RAM`);
}

/**
 * Guest memory over a plain byte array (unit tests, tools). `onWrite` sees every write, as the
 * VMM's write tracking would.
 */
export class ArrayGuestMemory implements GuestMemory {
  readonly size: number;
  private readonly dv: DataView;
  readonly writes: { addr: number; length: number }[] = [];

  constructor(readonly bytes: Uint8Array) {
    this.size = bytes.length;
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  check(addr: number, length: number): boolean {
    return inRange(addr, length, this.size);
  }

  private need(addr: number, length: number): void {
    if (!inRange(addr, length, this.size)) throw dmaFault(addr, length);
  }

  read(addr: number, length: number): Uint8Array {
    this.need(addr, length);
    return this.bytes.slice(addr, addr + length);
  }

  readInto(addr: number, dest: Uint8Array): void {
    this.need(addr, dest.length);
    dest.set(this.bytes.subarray(addr, addr + dest.length));
  }

  write(addr: number, data: Uint8Array): void {
    this.need(addr, data.length);
    this.bytes.set(data, addr);
    this.writes.push({ addr, length: data.length });
  }

  readU16(addr: number): number {
    this.need(addr, 2);
    return this.dv.getUint16(addr, true);
  }

  readU32(addr: number): number {
    this.need(addr, 4);
    return this.dv.getUint32(addr, true);
  }

  writeU16(addr: number, value: number): void {
    this.need(addr, 2);
    this.dv.setUint16(addr, value, true);
    this.writes.push({ addr, length: 2 });
  }

  writeU32(addr: number, value: number): void {
    this.need(addr, 4);
    this.dv.setUint32(addr, value >>> 0, true);
    this.writes.push({ addr, length: 4 });
  }
}
