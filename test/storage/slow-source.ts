// Image sources that answer later, for the block layer's tests: `HeldSource` keeps every access
// until the test releases it (in any order it likes), `DelayedSource` answers after a timer.
// Either can be told to fail accesses that touch a byte range (an I/O error of the host).

import type { AsyncImageSource } from "../../devices/storage/block.js";

export interface HeldAccess {
  kind: "read" | "write" | "flush";
  offset: number;
  length: number;
  /** Does the access (copies the bytes) and settles its promise. */
  release(): void;
}

/** Bytes in memory whose accesses wait in `held` until released. */
export class HeldSource implements AsyncImageSource {
  readonly held: HeldAccess[] = [];
  /** Accesses touching [from, to) fail when released. */
  failing: [number, number] | undefined;

  constructor(readonly bytes: Uint8Array) {}

  get size(): number {
    return this.bytes.length;
  }

  private hold(kind: HeldAccess["kind"], offset: number, length: number, act: () => void): Promise<void> {
    return new Promise((resolve, reject) => {
      this.held.push({
        kind,
        offset,
        length,
        release: () => {
          const f = this.failing;
          if (f && kind !== "flush" && offset < f[1] && f[0] < offset + length) {
            reject(new Error(`host I/O error at byte ${offset}`));
            return;
          }
          act();
          resolve();
        },
      });
    });
  }

  readAt(offset: number, dest: Uint8Array): Promise<void> {
    return this.hold("read", offset, dest.length, () => dest.set(this.bytes.subarray(offset, offset + dest.length)));
  }

  writeAt(offset: number, data: Uint8Array): Promise<void> {
    const copy = data.slice();
    return this.hold("write", offset, data.length, () => this.bytes.set(copy, offset));
  }

  flush(): Promise<void> {
    return this.hold("flush", 0, 0, () => {});
  }

  /** Releases the held access at `index` (default: the oldest). */
  release(index = 0): HeldAccess {
    const [a] = this.held.splice(index, 1);
    if (!a) throw new Error("nothing held");
    a.release();
    return a;
  }

  releaseAll(): void {
    while (this.held.length > 0) this.release(0);
  }
}

/** Lets settled promises and their callbacks run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}

/** Bytes in memory whose accesses answer after `ms` (a slow disk the guest must wait for). */
export class DelayedSource implements AsyncImageSource {
  failing: [number, number] | undefined;
  accesses = 0;

  constructor(
    readonly bytes: Uint8Array,
    readonly ms: number,
  ) {}

  get size(): number {
    return this.bytes.length;
  }

  private later(offset: number, length: number, act: () => void): Promise<void> {
    this.accesses++;
    return new Promise((resolve, reject) =>
      setTimeout(() => {
        const f = this.failing;
        if (f && offset < f[1] && f[0] < offset + length) reject(new Error(`host I/O error at byte ${offset}`));
        else {
          act();
          resolve();
        }
      }, this.ms),
    );
  }

  readAt(offset: number, dest: Uint8Array): Promise<void> {
    return this.later(offset, dest.length, () => dest.set(this.bytes.subarray(offset, offset + dest.length)));
  }

  writeAt(offset: number, data: Uint8Array): Promise<void> {
    const copy = data.slice();
    return this.later(offset, data.length, () => this.bytes.set(copy, offset));
  }

  flush(): Promise<void> {
    return this.later(0, 0, () => {});
  }
}
