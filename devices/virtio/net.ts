// virtio-net (virtio 1.2, section 5.1): queue 0 receives, queue 1 transmits; every frame is
// preceded by a virtio_net_hdr (12 bytes with VERSION_1 or MRG_RXBUF, 10 for a legacy driver
// without them). Features: MAC, STATUS (link up) and MRG_RXBUF (a received frame may span
// several receive chains, num_buffers saying how many). No checksum or segmentation offload:
// the driver sends whole frames with their checksums, and receives them the same way.
//
// Frames go to and come from a NetBackend (devices/net/backend.ts). A frame that arrives while
// the driver has no receive buffer posted waits in a short queue (at most RX_BACKLOG frames, then
// the oldest are dropped and counted) until the driver kicks the receive queue.

import type { NetBackend } from "../net/backend.js";
import { bit, configBytesRead, VIRTIO_F, VIRTIO_ID, type VirtioContext, type VirtioDevice } from "./device.js";
import type { DescChain } from "./virtqueue.js";

export const VIRTIO_NET_F = { MAC: 5n, MRG_RXBUF: 15n, STATUS: 16n } as const;
export const VIRTIO_NET_S_LINK_UP = 1;
const RX = 0;
const TX = 1;
const QUEUE_SIZE = 256;
const RX_BACKLOG = 64;
/** Largest frame taken from the guest (a 1514-byte frame plus slack for a VLAN tag). */
const FRAME_MAX = 1518 + 4;

export interface VirtioNetCounters {
  txFrames: number;
  rxFrames: number;
  rxDropped: number;
  txDropped: number;
  /** Receive chains used (more than rxFrames when frames were merged across buffers). */
  rxBuffers: number;
}

export class VirtioNet implements VirtioDevice {
  readonly name = "virtio-net";
  readonly deviceId = VIRTIO_ID.net;
  readonly classCode = 0x020000;
  readonly features = bit(VIRTIO_NET_F.MAC) | bit(VIRTIO_NET_F.STATUS) | bit(VIRTIO_NET_F.MRG_RXBUF);
  readonly queueSizes = [QUEUE_SIZE, QUEUE_SIZE];
  readonly configSize = 8;
  readonly counters: VirtioNetCounters = { txFrames: 0, rxFrames: 0, rxDropped: 0, txDropped: 0, rxBuffers: 0 };
  private readonly config = new Uint8Array(8);
  private readonly backlog: Uint8Array[] = [];
  private ctx: VirtioContext | undefined;

  constructor(
    readonly backend: NetBackend,
    readonly mac = Uint8Array.of(0x52, 0x54, 0x00, 0x12, 0x34, 0x56),
  ) {
    this.config.set(mac, 0);
    this.setLink(true);
    backend.onReceive = (frame) => this.receive(frame);
  }

  /** Link status as the driver reads it (a change interrupts the driver). */
  setLink(up: boolean): void {
    const was = this.config[6]! & VIRTIO_NET_S_LINK_UP;
    this.config[6] = up ? VIRTIO_NET_S_LINK_UP : 0;
    if (was !== (this.config[6] & VIRTIO_NET_S_LINK_UP)) this.ctx?.configChanged();
  }

  attach(ctx: VirtioContext): void {
    this.ctx = ctx;
  }

  configRead(offset: number, size: 1 | 2 | 4): number {
    return configBytesRead(this.config, offset, size);
  }

  reset(): void {
    this.backlog.length = 0;
  }

  driverReady(): void {
    this.deliver();
  }

  private get headerSize(): number {
    const f = this.ctx?.features ?? 0n;
    return f & (bit(VIRTIO_F.VERSION_1) | bit(VIRTIO_NET_F.MRG_RXBUF)) ? 12 : 10;
  }

  notify(index: number): void {
    if (index === TX) this.transmit();
    else if (index === RX) this.deliver();
  }

  private transmit(): void {
    const ctx = this.ctx;
    const q = ctx?.queue(TX);
    if (!ctx || !q) return;
    const hdr = this.headerSize;
    for (let chain = q.pop(); chain; chain = q.pop()) {
      const len = chain.readLength - hdr;
      if (len < 14 || len > FRAME_MAX) {
        this.counters.txDropped++;
      } else {
        const frame = new Uint8Array(len);
        q.read(chain, hdr, frame);
        this.counters.txFrames++;
        this.backend.transmit(frame);
      }
      ctx.complete(q, chain, 0);
    }
  }

  /** A frame from the backend: to the guest now if it has buffers, else to the backlog. */
  receive(frame: Uint8Array): void {
    if (this.backlog.length >= RX_BACKLOG) {
      this.backlog.shift();
      this.counters.rxDropped++;
    }
    this.backlog.push(frame);
    this.deliver();
  }

  private deliver(): void {
    const ctx = this.ctx;
    const q = ctx?.queue(RX);
    if (!ctx || !q) return;
    const mergeable = (ctx.features & bit(VIRTIO_NET_F.MRG_RXBUF)) !== 0n;
    const hdrSize = this.headerSize;
    while (this.backlog.length > 0) {
      const frame = this.backlog[0]!;
      const data = new Uint8Array(hdrSize + frame.length);
      data.set(frame, hdrSize);
      // Take chains until the header and frame fit (one chain unless the buffers are merged).
      const chains: DescChain[] = [];
      let room = 0;
      while (room < data.length && (chains.length === 0 || mergeable)) {
        if (q.pending() === 0) break;
        const c = q.pop()!;
        chains.push(c);
        room += c.writeLength;
      }
      if (room < data.length) {
        if (chains.length === 0) return; // no buffers yet: wait for the driver's kick
        // The driver's buffers cannot hold the frame: return them empty and drop it.
        for (const c of chains) ctx.complete(q, c, 0);
        this.backlog.shift();
        this.counters.rxDropped++;
        continue;
      }
      if (hdrSize === 12) {
        data[10] = chains.length & 0xff; // num_buffers, le16
        data[11] = chains.length >> 8;
      }
      let at = 0;
      for (const c of chains) {
        const n = Math.min(c.writeLength, data.length - at);
        q.write(c, 0, data.subarray(at, at + n));
        at += n;
        ctx.complete(q, c, n);
      }
      this.backlog.shift();
      this.counters.rxFrames++;
      this.counters.rxBuffers += chains.length;
    }
  }
}
