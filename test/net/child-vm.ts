// A tiny Linux guest in a process of its own, its NIC on a stream to another process's network
// (QEMU's -netdev stream framing): the cross-process test starts it with the port to connect to
// and the shell command lines to run, and reads each command's output back as a JSON line.
//
//   node --import tsx test/net/child-vm.ts PORT NAME MACBYTE 'cmd1' 'cmd2' ...

import { StreamBackend } from "../../vmm/net/stream.js";
import { bootGuest, guestMac, Runner } from "./guests.js";

const [port, name, macByte, ...cmds] = process.argv.slice(2);
const backend = new StreamBackend({ host: "127.0.0.1", port: Number(port) });
const g = await bootGuest(name!, backend, guestMac(Number(macByte)), "virtio");
const runner = new Runner([g]);
await runner.until(g, "~ # ");
for (const cmd of cmds) {
  const out = await runner.sh(g, cmd);
  process.stdout.write(`${JSON.stringify({ cmd, out, counters: backend.counters })}\n`);
}
backend.close();
process.exit(0);
