// Live migration over a socket, as QEMU spells it: `-incoming tcp:HOST:PORT` or `unix:PATH` on the
// destination (listens, takes one connection), `migrate tcp:HOST:PORT` on the source (connects).

import { createServer, type Server, Socket } from "node:net";
import type { MigrationChannel } from "../state/channel.js";
import { MigrationError } from "../state/migration-stream.js";

export type MigrationAddress = { kind: "tcp"; host: string; port: number } | { kind: "unix"; path: string };

/** Parses tcp:HOST:PORT (HOST may be empty: all addresses; [v6] too) or unix:PATH. */
export function parseMigrationUri(uri: string): MigrationAddress {
  if (uri.startsWith("unix:") && uri.length > 5) return { kind: "unix", path: uri.slice(5) };
  const m = /^tcp:(\[[^\]]*\]|[^:]*):(\d+)$/.exec(uri);
  if (m) {
    const port = Number(m[2]);
    if (port >= 1 && port <= 65535) return { kind: "tcp", host: m[1]!.replace(/^\[|\]$/g, ""), port };
  }
  throw new MigrationError(`'${uri}' is not a migration address: use tcp:HOST:PORT or unix:PATH`);
}

export const describeAddress = (a: MigrationAddress) =>
  a.kind === "unix" ? `unix:${a.path}` : `tcp:${a.host.includes(":") ? `[${a.host}]` : a.host}:${a.port}`;

/** A socket as a migration channel (writes wait for 'drain'). */
export function socketChannel(socket: Socket): MigrationChannel {
  let closedErr: Error | undefined;
  let closed = false;
  socket.setNoDelay(true);
  socket.on("error", (e) => {
    closedErr = e;
  });
  const drains: (() => void)[] = [];
  socket.on("drain", () => {
    for (const d of drains.splice(0)) d();
  });
  socket.on("close", () => {
    closed = true;
    for (const d of drains.splice(0)) d();
  });
  return {
    write(bytes) {
      if (closed || socket.destroyed) return Promise.reject(new MigrationError("the connection is closed"));
      return new Promise<void>((resolve, reject) => {
        if (socket.write(bytes)) resolve();
        else
          drains.push(() =>
            closed
              ? reject(new MigrationError(`the connection closed${closedErr ? `: ${closedErr.message}` : ""}`))
              : resolve(),
          );
      });
    },
    listen(data, end) {
      socket.on("data", (d: Buffer) => data(new Uint8Array(d.buffer, d.byteOffset, d.length)));
      socket.on("close", () => end(closedErr));
    },
    close() {
      socket.end();
    },
  };
}

/** Connects to a destination; a refused or unreachable address is a MigrationError. */
export function connectMigration(addr: MigrationAddress, timeoutMs = 10_000): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = new Socket();
    const timer = setTimeout(() => {
      s.destroy();
      reject(new MigrationError(`${describeAddress(addr)}: no connection within ${timeoutMs} ms`));
    }, timeoutMs);
    s.once("error", (e) => {
      clearTimeout(timer);
      reject(new MigrationError(`${describeAddress(addr)}: ${e.message}`));
    });
    s.once("connect", () => {
      clearTimeout(timer);
      s.removeAllListeners("error");
      resolve(s);
    });
    if (addr.kind === "unix") s.connect(addr.path);
    else s.connect(addr.port, addr.host || "127.0.0.1");
  });
}

/** Listens on `addr`; `accepted` resolves with the first connection (the server then closes). */
export async function listenMigration(addr: MigrationAddress): Promise<{ server: Server; accepted: Promise<Socket> }> {
  const server = createServer();
  const accepted = new Promise<Socket>((resolve) => {
    server.once("connection", (s) => {
      server.close();
      resolve(s);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e) => reject(new MigrationError(`-incoming ${describeAddress(addr)}: ${e.message}`)));
    if (addr.kind === "unix") server.listen(addr.path, resolve);
    else server.listen(addr.port, addr.host || undefined, resolve);
  });
  return { server, accepted };
}
