// Frames over a byte stream between processes, framed as QEMU's `-netdev stream` and
// `-netdev socket` (TCP or Unix) frame them: each Ethernet frame preceded by its length as a 32-bit
// big-endian number. One end is a NIC's backend (StreamBackend) or a switch port (serveNetwork
// makes each accepted connection a new port), so VMs in several processes share one network.
//
// A length of 0 or above MAX_FRAME is not a frame this side would send: the stream is out of step
// or not ours, so the connection is closed and counted (nothing after it could be trusted).

import { createServer, type Server, Socket } from "node:net";
import type { NetBackend } from "../../devices/net/backend.js";
import type { Network } from "./network.js";

/** The largest frame taken from a stream (a jumbo frame plus a tag). */
export const MAX_FRAME = 9018 + 4;
/** Frames waiting for a slow stream before more are dropped. */
const WRITE_QUEUE_BYTES = 1 << 20;

export interface StreamCounters {
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Frames not written because the other side was too slow or gone. */
  dropped: number;
  /** Connections closed because a length made no sense. */
  badLength: number;
}

/** Splits a byte stream into frames; returns false when a length is impossible. */
export class FrameReader {
  private buf = new Uint8Array(0);

  push(chunk: Uint8Array, frame: (f: Uint8Array) => void): boolean {
    const b = new Uint8Array(this.buf.length + chunk.length);
    b.set(this.buf);
    b.set(chunk, this.buf.length);
    let at = 0;
    while (b.length - at >= 4) {
      const len = ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
      if (len === 0 || len > MAX_FRAME) return false;
      if (b.length - at - 4 < len) break;
      frame(b.slice(at + 4, at + 4 + len));
      at += 4 + len;
    }
    this.buf = b.slice(at);
    return true;
  }
}

export function encodeFrame(f: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + f.length);
  new DataView(out.buffer).setUint32(0, f.length);
  out.set(f, 4);
  return out;
}

/** Joins an endpoint (a NIC backend's other side, or a switch port) to a socket. */
export function joinStream(
  socket: Socket,
  deliver: (frame: Uint8Array) => void,
  counters: StreamCounters,
  onClose: () => void,
): (frame: Uint8Array) => void {
  const reader = new FrameReader();
  socket.setNoDelay(true);
  socket.on("data", (d) => {
    const ok = reader.push(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), (f) => {
      counters.framesIn++;
      counters.bytesIn += f.length;
      deliver(f);
    });
    if (!ok) {
      counters.badLength++;
      socket.destroy();
    }
  });
  socket.on("error", () => undefined);
  socket.on("close", onClose);
  return (frame) => {
    if (socket.destroyed || socket.connecting || socket.writableLength > WRITE_QUEUE_BYTES) {
      counters.dropped++;
      return;
    }
    counters.framesOut++;
    counters.bytesOut += frame.length;
    socket.write(encodeFrame(frame));
  };
}

const zero = (): StreamCounters => ({ framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0, dropped: 0, badLength: 0 });

/**
 * A NIC backend at the connecting end of a stream (QEMU's `-netdev stream,server=off,addr...` or
 * `-netdev socket,connect=HOST:PORT`). Frames sent before the connection is up are dropped, as
 * on a cable not yet plugged in.
 */
export class StreamBackend implements NetBackend {
  onReceive: ((frame: Uint8Array) => void) | undefined;
  readonly counters = zero();
  readonly socket: Socket;
  connected = false;
  private readonly send: (frame: Uint8Array) => void;

  constructor(target: { host: string; port: number } | { path: string }) {
    this.socket = new Socket();
    this.send = joinStream(
      this.socket,
      (f) => this.onReceive?.(f),
      this.counters,
      () => {
        this.connected = false;
      },
    );
    this.socket.on("connect", () => {
      this.connected = true;
    });
    this.socket.connect("path" in target ? { path: target.path } : { host: target.host, port: target.port });
  }

  transmit(frame: Uint8Array): void {
    this.send(frame);
  }

  close(): void {
    this.socket.destroy();
  }
}

/**
 * Listens for streams (QEMU's `-netdev stream,server=on` or `socket,listen=`) and attaches each
 * connection to the network as a port named `stream0`, `stream1`, ...
 */
export function serveNetwork(
  net: Network,
  where: { host: string; port: number } | { path: string },
  ready: (err?: string) => void = () => undefined,
): { server: Server; counters: StreamCounters; port: () => number } {
  const counters = zero();
  let n = 0;
  const server = createServer((socket) => {
    const port = net.attach(`stream${n++}`);
    const send = joinStream(
      socket,
      (f) => port.transmit(f),
      counters,
      () => port.detach(),
    );
    port.onReceive = send;
  });
  server.on("error", (e) => ready(e.message));
  if ("path" in where) server.listen(where.path, () => ready());
  else server.listen({ host: where.host, port: where.port }, () => ready());
  return {
    server,
    counters,
    port: () => {
      const a = server.address();
      return a && typeof a === "object" ? a.port : 0;
    },
  };
}
