// A live migration's byte channel between two Workers: a MessagePort pair (MessageChannel) that
// carries the same checked stream as a TCP socket between two processes (vmm/state/channel.ts,
// migration-stream.ts). Bytes are copied by postMessage (structured clone), not transferred: the
// source still reads a frame's length after writing it. A port has no close event of its own, so
// closing sends a last `null` first; the other side's `end` runs on it.

import type { MigrationChannel } from "../../vmm/state/channel.js";

export class PortChannel implements MigrationChannel {
  private closed = false;

  constructor(private readonly port: MessagePort) {}

  write(bytes: Uint8Array): Promise<void> {
    if (this.closed) return Promise.reject(new Error("the migration channel is closed"));
    this.port.postMessage(bytes);
    return Promise.resolve();
  }

  listen(data: (chunk: Uint8Array) => void, end: (err?: Error) => void): void {
    this.port.onmessage = (ev: MessageEvent<Uint8Array | null>) => {
      if (ev.data === null) {
        this.port.onmessage = null;
        end();
      } else data(ev.data);
    };
    this.port.onmessageerror = () => end(new Error("a message on the migration channel could not be read"));
    this.port.start();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.port.postMessage(null);
    } finally {
      // The last message is delivered even though the port closes now.
      setTimeout(() => this.port.close(), 0);
    }
  }
}
