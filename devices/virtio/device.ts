// What a virtio device type (blk, net, console, rng) gives the PCI transport: its identity, its
// feature bits, its queues, its configuration space, and what it does when the driver kicks a
// queue. The transport (virtio-pci.ts) owns status, features, queue setup and interrupts; the
// device only moves data through the queues it is handed.

import type { DescChain, Virtqueue } from "./virtqueue.js";

/** Device IDs (virtio 1.2, section 5). */
export const VIRTIO_ID = { net: 1, blk: 2, console: 3, rng: 4, balloon: 5 } as const;

/** Device-independent feature bits (virtio 1.2, section 6). */
export const VIRTIO_F = {
  INDIRECT_DESC: 28n,
  EVENT_IDX: 29n,
  VERSION_1: 32n,
} as const;

export const bit = (n: bigint): bigint => 1n << n;

/** The transport's side as a device sees it. */
export interface VirtioContext {
  /** The queue `index` (only while the driver has it enabled). */
  queue(index: number): Virtqueue | undefined;
  /** Returns a chain to the driver and interrupts it if the queue asks for that. */
  complete(queue: Virtqueue, chain: DescChain, written: number): void;
  /** Tells the driver that the device configuration changed. */
  configChanged(): void;
  /** Features the driver accepted. */
  readonly features: bigint;
}

export interface VirtioDevice {
  readonly name: string;
  readonly deviceId: number;
  /** PCI class code (class << 16 | subclass << 8 | prog-if). */
  readonly classCode: number;
  /** Device-specific features offered (the transport adds VERSION_1, INDIRECT_DESC, EVENT_IDX). */
  readonly features: bigint;
  /** The largest size of each queue (powers of two). */
  readonly queueSizes: readonly number[];
  /** Bytes of device configuration. */
  readonly configSize: number;
  /** Wiring the transport gives it (once). */
  attach(ctx: VirtioContext): void;
  configRead(offset: number, size: 1 | 2 | 4): number;
  configWrite?(offset: number, size: 1 | 2 | 4, value: number): void;
  /** The driver kicked queue `index`: take what it made available. */
  notify(index: number): void;
  /** DRIVER_OK was set (the driver is ready: receive queues may start filling). */
  driverReady?(): void;
  /** Device reset (status written as 0): forget requests in flight. */
  reset(): void;
}

/** Little-endian field reads out of a configuration image. */
export function configBytesRead(bytes: Uint8Array, offset: number, size: 1 | 2 | 4): number {
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = (v << 8) | (bytes[offset + i] ?? 0);
  return v >>> 0;
}
