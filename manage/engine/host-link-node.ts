// HostLinks over sockets (TCP or unix), one JSON message per line, for both ends: the engine
// listens (listenForHosts) and each host agent connects (manage/host/agent.ts).

import { createServer, type Server, type Socket } from "node:net";
import type { Engine } from "./engine.js";
import type { FromHost, HostLink, ToHost } from "./host-protocol.js";

/** The common part: a socket that sends `Out` and receives `In` as JSON lines. */
export interface JsonLink<Out, In> {
  send(m: Out): void;
  onMessage(cb: (m: In) => void): void;
  onClose(cb: () => void): void;
  close(): void;
}

export function jsonLines<Out, In>(sock: Socket): JsonLink<Out, In> {
  const listeners: ((m: In) => void)[] = [];
  const closers: (() => void)[] = [];
  let buf = "";
  let closed = false;
  sock.setEncoding("utf8");
  sock.setNoDelay(true);
  sock.on("data", (d: string) => {
    buf += d;
    for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.trim()) continue;
      let m: In;
      try {
        m = JSON.parse(line) as In;
      } catch {
        // A peer that sends something other than JSON is not one of ours.
        sock.destroy();
        return;
      }
      for (const cb of listeners) cb(m);
    }
  });
  const end = () => {
    if (closed) return;
    closed = true;
    for (const cb of closers) cb();
  };
  sock.on("close", end);
  sock.on("error", () => sock.destroy());
  return {
    send: (m) => {
      if (!closed && sock.writable) sock.write(`${JSON.stringify(m)}\n`);
    },
    onMessage: (cb) => {
      listeners.push(cb);
    },
    onClose: (cb) => {
      closers.push(cb);
    },
    close: () => sock.destroy(),
  };
}

/** Accepts host agents on a TCP port (0: any free one); resolves once listening. */
export async function listenForHosts(engine: Engine, port: number, host = "127.0.0.1"): Promise<Server> {
  const server = createServer((sock) => engine.acceptHost(jsonLines<ToHost, FromHost>(sock) as HostLink));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
