// The gdb stub's transport: a TCP server on 127.0.0.1 (QEMU's -s / -gdb tcp::PORT, the monitor's
// gdbserver), one connection at a time, with the protocol's acknowledgements until gdb turns them
// off (QStartNoAckMode).

import { createServer, type Socket } from "node:net";
import { Breakpoints } from "../gdb/breakpoints.js";
import { frame, PacketReader } from "../gdb/packets.js";
import { GdbSession } from "../gdb/stub.js";
import type { Machine } from "../lib/machine.js";
import { exitStatus } from "./exit-status.js";
import { UserInputError } from "./files.js";

const breakpointsOf = new WeakMap<Machine, Breakpoints>();

export async function startGdbServer(machine: Machine, port: number): Promise<{ close(): void }> {
  let breakpoints = breakpointsOf.get(machine);
  if (!breakpoints) {
    breakpoints = new Breakpoints(machine);
    breakpointsOf.set(machine, breakpoints);
  }
  const bps = breakpoints;
  let current: Socket | undefined;
  const server = createServer((sock) => {
    if (current) {
      sock.end();
      return;
    }
    current = sock;
    sock.setEncoding("latin1");
    sock.setNoDelay(true);
    let ack = true;
    const send = (data: string) => sock.write(frame(data), "latin1");
    const session = new GdbSession(
      machine,
      bps,
      send,
      () => {
        sock.end();
        machine.end({ kind: "quit", by: "gdb" });
      },
      exitStatus,
    );
    const reader = new PacketReader();
    sock.on("data", (text: string) => {
      for (const msg of reader.push(text)) {
        if (msg.kind === "interrupt") session.interrupt();
        else if (msg.kind === "bad-checksum") {
          if (ack) sock.write("-");
        } else {
          if (ack) sock.write("+");
          const reply = session.handle(msg.data);
          if (msg.data === "QStartNoAckMode") ack = false;
          if (reply !== undefined) send(reply);
        }
      }
    });
    const done = () => {
      session.close();
      if (current === sock) current = undefined;
    };
    sock.on("close", done);
    sock.on("error", () => sock.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(new UserInputError(`-gdb tcp::${port}: ${err.code ?? err.message}`)),
    );
    server.listen(port, "127.0.0.1", resolve);
  });
  return {
    close: () => {
      current?.destroy();
      server.close();
    },
  };
}
