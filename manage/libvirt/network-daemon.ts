// The process `net-start` runs for one network: the project's switch and gateway (vmm/net:
// DHCP, DNS, NAT through this host's sockets for a nat network) with a stream listener on a unix
// socket, where each domain's NIC connects as a port (QEMU's -netdev stream framing). The DHCP
// leases are written to a JSON file whenever they change, for `net-dhcp-leases`. SIGTERM ends it.
//
//   node --import tsx manage/libvirt/network-daemon.ts NETWORK.xml SOCKET LEASES.json

import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { Network } from "../../vmm/net/network.js";
import { parseNetworkXml } from "../../vmm/net/network-xml.js";
import { NodeOutside } from "../../vmm/net/node-outside.js";
import { serveNetwork } from "../../vmm/net/stream.js";

const [xmlPath, socketPath, leasesPath] = process.argv.slice(2);
if (!xmlPath || !socketPath || !leasesPath) {
  process.stderr.write("usage: network-daemon NETWORK.xml SOCKET LEASES.json\n");
  process.exit(2);
}
const def = parseNetworkXml(readFileSync(xmlPath, "utf8"));
const net = new Network(def, { outside: def.mode === "nat" ? new NodeOutside() : undefined });
rmSync(socketPath, { force: true });
const served = serveNetwork(net, { path: socketPath }, (err) => {
  if (err) {
    process.stderr.write(`network ${def.name}: cannot listen on ${socketPath}: ${err}\n`);
    process.exit(1);
  }
  process.stdout.write(`network ${def.name} listening on ${socketPath}\n`);
});

let last = "";
const writeLeases = () => {
  const text = JSON.stringify(net.leases());
  if (text === last) return;
  last = text;
  writeFileSync(`${leasesPath}.tmp`, text);
  renameSync(`${leasesPath}.tmp`, leasesPath);
};
writeLeases();
const timer = setInterval(writeLeases, 250);

const stop = () => {
  clearInterval(timer);
  served.server.close();
  net.close();
  rmSync(socketPath, { force: true });
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
