// QMP's transports: a unix socket or a TCP port on loopback (one session per connection), or
// stdio (one session on the terminal's lines).

import { lstatSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import type { Machine } from "../lib/machine.js";
import type { Monitor } from "../monitor/monitor.js";
import { QmpSession } from "../monitor/qmp.js";
import type { Endpoint } from "./args.js";
import { UserInputError } from "./files.js";

export interface QmpServer {
  close(): void;
}

export async function startQmp(
  endpoint: Endpoint,
  machine: Machine,
  monitor: Monitor,
  quit: () => void,
  stdio: { stdin: NodeJS.ReadStream; stdout: NodeJS.WriteStream },
): Promise<QmpServer> {
  if (endpoint.kind === "stdio") {
    const session = new QmpSession(machine, monitor, (line) => stdio.stdout.write(`${line}\r\n`), quit);
    const onData = (d: Buffer) => void session.receive(d.toString("utf8"));
    stdio.stdin.on("data", onData);
    stdio.stdin.resume();
    return {
      close: () => {
        stdio.stdin.off("data", onData);
        stdio.stdin.pause();
        session.close();
      },
    };
  }
  const sessions = new Set<QmpSession>();
  const server: Server = createServer((sock) => {
    sock.setEncoding("utf8");
    const session = new QmpSession(machine, monitor, (line) => sock.write(`${line}\r\n`), quit);
    sessions.add(session);
    sock.on("data", (d: string) => void session.receive(d));
    sock.on("error", () => sock.destroy());
    sock.on("close", () => {
      session.close();
      sessions.delete(session);
    });
  });
  const where = endpoint.kind === "unix" ? `unix:${endpoint.path}` : `tcp:${endpoint.host}:${endpoint.port}`;
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(new UserInputError(`-qmp ${where}: ${err.code ?? err.message}`)),
    );
    if (endpoint.kind === "unix") {
      // A socket left by an earlier run is replaced (QEMU unlinks it too); any other file is not.
      try {
        if (lstatSync(endpoint.path).isSocket()) rmSync(endpoint.path);
      } catch {}
      server.listen(endpoint.path, resolve);
    } else server.listen(endpoint.port, endpoint.host, resolve);
  });
  return {
    close: () => {
      for (const s of sessions) s.close();
      server.close();
      if (endpoint.kind === "unix") rmSync(endpoint.path, { force: true });
    },
  };
}
