// virtio-console (virtio 1.2, section 5.3) with one port and no MULTIPORT: queue 0 carries bytes
// to the guest, queue 1 bytes from it. Linux makes the port hvc0, and `console=hvc0` puts the
// kernel's console and a shell there. Bytes the host sends while the guest has no receive
// buffer wait in a bounded buffer (the oldest beyond INPUT_MAX are dropped and counted).
//
// Configuration: cols, rows (with VIRTIO_CONSOLE_F_SIZE), max_nr_ports, emerg_wr (with
// EMERG_WRITE: a byte written there is output at once, for early or emergency printing).

import { bit, configBytesRead, VIRTIO_ID, type VirtioContext, type VirtioDevice } from "./device.js";

export const VIRTIO_CONSOLE_F = { SIZE: 0n, MULTIPORT: 1n, EMERG_WRITE: 2n } as const;
const RX = 0;
const TX = 1;
const INPUT_MAX = 4096;

export class VirtioConsole implements VirtioDevice {
  readonly name = "virtio-console";
  readonly deviceId = VIRTIO_ID.console;
  /** Communication controller, other (what QEMU gives virtio-serial). */
  readonly classCode = 0x078000;
  readonly features = bit(VIRTIO_CONSOLE_F.SIZE) | bit(VIRTIO_CONSOLE_F.EMERG_WRITE);
  readonly queueSizes = [64, 64];
  readonly configSize = 12;
  readonly counters = { bytesOut: 0, bytesIn: 0, inputDropped: 0 };
  private readonly config = new Uint8Array(12);
  private input: number[] = [];
  private ctx: VirtioContext | undefined;

  /** `output` gets what the guest writes to the port. */
  constructor(
    private readonly output: (bytes: Uint8Array) => void,
    size = { cols: 80, rows: 25 },
  ) {
    const dv = new DataView(this.config.buffer);
    dv.setUint16(0, size.cols, true);
    dv.setUint16(2, size.rows, true);
    dv.setUint32(4, 1, true); // max_nr_ports
  }

  attach(ctx: VirtioContext): void {
    this.ctx = ctx;
  }

  configRead(offset: number, size: 1 | 2 | 4): number {
    return configBytesRead(this.config, offset, size);
  }

  configWrite(offset: number, _size: 1 | 2 | 4, value: number): void {
    if (offset === 8) {
      this.counters.bytesOut++;
      this.output(Uint8Array.of(value & 0xff));
    }
  }

  reset(): void {}

  driverReady(): void {
    this.deliver();
  }

  /** Bytes for the guest (keyboard input on hvc0). */
  send(bytes: Uint8Array | string): void {
    const data = typeof bytes === "string" ? Array.from(bytes, (c) => c.charCodeAt(0) & 0xff) : Array.from(bytes);
    this.input.push(...data);
    if (this.input.length > INPUT_MAX) {
      this.counters.inputDropped += this.input.length - INPUT_MAX;
      this.input = this.input.slice(-INPUT_MAX);
    }
    this.deliver();
  }

  notify(index: number): void {
    const ctx = this.ctx;
    const q = ctx?.queue(index);
    if (!ctx || !q) return;
    if (index === RX) {
      this.deliver();
      return;
    }
    if (index !== TX) return;
    for (let chain = q.pop(); chain; chain = q.pop()) {
      const bytes = new Uint8Array(Math.min(chain.readLength, 65536));
      q.read(chain, 0, bytes);
      this.counters.bytesOut += bytes.length;
      this.output(bytes);
      ctx.complete(q, chain, 0);
    }
  }

  private deliver(): void {
    const ctx = this.ctx;
    const q = ctx?.queue(RX);
    if (!ctx || !q) return;
    while (this.input.length > 0 && q.pending() > 0) {
      const chain = q.pop()!;
      const n = Math.min(chain.writeLength, this.input.length);
      const written = q.write(chain, 0, Uint8Array.from(this.input.slice(0, n)));
      this.input = this.input.slice(written);
      this.counters.bytesIn += written;
      ctx.complete(q, chain, written);
    }
  }
}
