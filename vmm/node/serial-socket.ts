// -serial unix:PATH,server[,wait=off]: COM1 on a unix socket, as QEMU's socket chardev, so
// that another process (the management layer's console, `virsh console`) reads the guest's
// output and types into it while the VM runs detached. One client at a time: a new connection
// takes the console over (virsh console --force); with none, output is dropped, as QEMU does.
// Input is held until the guest's serial driver listens, as on the terminal (terminal.ts).

import { lstatSync, rmSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import type { Machine } from "../lib/machine.js";
import { UserInputError } from "./files.js";
import { serialListening } from "./terminal.js";

export interface SerialSocket {
  /** A byte COM1 sent. */
  output(byte: number): void;
  close(): void;
}

/** `unix:PATH,server[,wait=off]` (nowait too); the path, or undefined for another spelling. */
export function serialSocketPath(v: string): string | undefined {
  const m = /^unix:([^,]+)((?:,[^,]+)*)$/.exec(v);
  if (!m) return undefined;
  for (const o of m[2]!.split(",").slice(1)) {
    if (!/^(server(=on)?|nowait|wait=off)$/.test(o))
      throw new UserInputError(`-serial ${v}: '${o}' is not supported (server, wait=off)`);
  }
  if (!/,server/.test(m[2]!)) throw new UserInputError(`-serial ${v}: this machine listens only (add ,server)`);
  return m[1];
}

export async function serveSerial(path: string, machine: Machine): Promise<SerialSocket> {
  let client: Socket | undefined;
  const held: number[] = [];
  let out: number[] = [];
  let flushQueued = false;
  const pump = () => {
    if (held.length > 0 && serialListening(machine)) machine.vm.devices.com1.receive(held.splice(0));
  };
  const flush = () => {
    flushQueued = false;
    if (out.length === 0) return;
    const bytes = Uint8Array.from(out);
    out = [];
    if (client && !client.destroyed) client.write(bytes);
  };
  const server = createServer((sock) => {
    client?.destroy();
    client = sock;
    sock.on("data", (d: Buffer) => {
      for (const b of d) held.push(b);
      pump();
    });
    sock.on("error", () => sock.destroy());
    sock.on("close", () => {
      if (client === sock) client = undefined;
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(new UserInputError(`-serial unix:${path}: ${err.code ?? err.message}`)),
    );
    try {
      if (lstatSync(path).isSocket()) rmSync(path);
    } catch {}
    server.listen(path, resolve);
  });
  machine.on("slice", () => {
    pump();
    flush();
  });
  machine.on("reset", pump);
  return {
    output: (byte) => {
      out.push(byte);
      if (!flushQueued) {
        flushQueued = true;
        setImmediate(flush);
      }
    },
    close: () => {
      flush();
      client?.end();
      server.close();
      rmSync(path, { force: true });
    },
  };
}
