// virtio-rng (virtio 1.2, section 5.4): one queue of device-writable buffers that the device
// fills with random bytes. The bytes come from an injected source: the host's Web Crypto
// (crypto.getRandomValues, in Node and in browsers alike) by default, a seeded generator in
// tests that need reproducible runs. Linux's hw_random core feeds them to its entropy pool, so
// getrandom() stops waiting for entropy early in boot.

import { VIRTIO_ID, type VirtioContext, type VirtioDevice } from "./device.js";

export type EntropySource = (dest: Uint8Array) => void;

/** Web Crypto's generator (at most 65536 bytes a call, as the API requires). */
export const webCryptoEntropy: EntropySource = (dest) => {
  for (let at = 0; at < dest.length; at += 65536) {
    globalThis.crypto.getRandomValues(dest.subarray(at, Math.min(dest.length, at + 65536)));
  }
};

/** Bytes handed out in one request at most (Linux asks for 64 at a time). */
const REQUEST_MAX = 4096;

export class VirtioRng implements VirtioDevice {
  readonly name = "virtio-rng";
  readonly deviceId = VIRTIO_ID.rng;
  /** Class 00/FF: "other" (what QEMU gives virtio-rng). */
  readonly classCode = 0x00ff00;
  readonly features = 0n;
  readonly queueSizes = [64];
  readonly configSize = 0;
  /** Random bytes delivered. */
  bytes = 0;
  private ctx: VirtioContext | undefined;

  constructor(private readonly source: EntropySource = webCryptoEntropy) {}

  attach(ctx: VirtioContext): void {
    this.ctx = ctx;
  }

  configRead(): number {
    return 0;
  }

  reset(): void {}

  notify(index: number): void {
    const ctx = this.ctx;
    const q = ctx?.queue(index);
    if (!ctx || !q) return;
    for (let chain = q.pop(); chain; chain = q.pop()) {
      const buf = new Uint8Array(Math.min(chain.writeLength, REQUEST_MAX));
      this.source(buf);
      const n = q.write(chain, 0, buf);
      this.bytes += n;
      ctx.complete(q, chain, n);
    }
  }
}
