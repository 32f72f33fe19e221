// Two ends of an in-memory migration channel for tests: what one writes the other receives, in
// order, a turn later (as a socket's data arrives); closing one end ends the other.

import type { MigrationChannel } from "../../vmm/state/channel.js";

export function memoryChannelPair(): [MigrationChannel, MigrationChannel] {
  type End = { data?: (c: Uint8Array) => void; end?: (err?: Error) => void; closed: boolean };
  const ends: [End, End] = [{ closed: false }, { closed: false }];
  const side = (me: End, peer: End): MigrationChannel => ({
    write(bytes) {
      if (me.closed) return Promise.reject(new Error("channel closed"));
      const copy = bytes.slice();
      setImmediate(() => peer.data?.(copy));
      return Promise.resolve();
    },
    listen(data, end) {
      me.data = data;
      me.end = end;
    },
    close() {
      if (me.closed) return;
      me.closed = true;
      setImmediate(() => peer.end?.());
    },
  });
  return [side(ends[0], ends[1]), side(ends[1], ends[0])];
}
