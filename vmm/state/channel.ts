// The byte channel a live migration runs over (a TCP or Unix socket in Node: vmm/node/
// migration-socket.ts), and a frame reader on top of it that turns
// the channel's end, an error and a bad frame into one MigrationError with a clear message.

import { type Frame, FrameParser, FrameType, MigrationError } from "./migration-stream.js";

export interface MigrationChannel {
  /** Queues bytes; resolves when the channel can take more (backpressure); rejects once it is closed. */
  write(bytes: Uint8Array): Promise<void>;
  /** Incoming bytes; `end` is called once when the channel closes (with the error, if any). */
  listen(data: (chunk: Uint8Array) => void, end: (err?: Error) => void): void;
  /** Closes the channel (after what was written has gone, where the channel can tell). */
  close(): void;
}

/** Reads frames from a channel; `next` waits for the next one. */
export class FrameReceiver {
  private readonly parser = new FrameParser();
  private readonly queue: Frame[] = [];
  private failure: MigrationError | undefined;
  private wake: (() => void) | undefined;
  closed = false;

  constructor(
    channel: MigrationChannel,
    private readonly peer: string,
  ) {
    channel.listen(
      (chunk) => {
        if (this.failure) return;
        try {
          this.queue.push(...this.parser.push(chunk));
        } catch (e) {
          this.failure = e as MigrationError;
        }
        this.poke();
      },
      (err) => {
        this.closed = true;
        if (!this.failure) {
          const where = `after ${this.parser.frames} frames and ${this.parser.bytes} bytes`;
          const how = err ? `failed (${err.message})` : this.parser.partial ? "was cut inside a frame" : "closed";
          this.failure = new MigrationError(`the connection to the ${this.peer} ${how} ${where}`);
        }
        this.poke();
      },
    );
  }

  private poke(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** A frame if one is waiting (never waits); throws once the stream failed and nothing is left. */
  poll(): Frame | undefined {
    const f = this.queue.shift();
    if (f) return f;
    if (this.failure) throw this.failure;
    return undefined;
  }

  /** An Error or Cancel frame from the other side as a MigrationError; any other frame as it is. */
  checked(f: Frame): Frame {
    if (f.type === FrameType.Error)
      throw new MigrationError(`the ${this.peer} refused: ${new TextDecoder().decode(f.payload)}`);
    if (f.type === FrameType.Cancel) throw new MigrationError(`the ${this.peer} cancelled the migration`);
    return f;
  }

  /** The next frame; an Error frame from the other side becomes a MigrationError. */
  async next(timeoutMs: number): Promise<Frame> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const f = this.poll();
      if (f) return this.checked(f);
      const left = end - Date.now();
      if (left <= 0) throw new MigrationError(`the ${this.peer} did not answer within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }
}
