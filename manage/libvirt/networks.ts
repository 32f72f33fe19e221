// A connection's networks: definitions are libvirt's network XML (read by vmm/net/network-xml.ts,
// kept as given), started ones are network-daemon.ts processes (network-process.ts). A fresh
// state directory gets libvirt's `default` network (192.168.122.0/24, NAT), not started.

import { existsSync } from "node:fs";
import { NetworkXmlError, parseNetworkXml } from "../../vmm/net/network-xml.js";
import {
  findNetworkProcess,
  type Lease,
  networkLeases,
  networkRunPaths,
  startNetworkProcess,
  stopNetworkProcess,
} from "./network-process.js";
import { LibvirtError, type StateDir } from "./state-dir.js";

/** libvirt's src/network/default.xml.in. */
export const DEFAULT_NETWORK_XML = `<network>
  <name>default</name>
  <forward mode='nat'/>
  <bridge name='virbr0' stp='on' delay='0'/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.122.2' end='192.168.122.254'/>
    </dhcp>
  </ip>
</network>
`;

export interface NetworkStatus {
  name: string;
  active: boolean;
  autostart: boolean;
  persistent: boolean;
}

export class Networks {
  constructor(private readonly store: StateDir) {
    if (!existsSync(store.path("networks"))) store.write("networks", "default", DEFAULT_NETWORK_XML);
  }

  defined(name: string): boolean {
    return this.store.has("networks", name);
  }

  /** The stream socket of an active network, or undefined. */
  socket(name: string): string | undefined {
    return findNetworkProcess(this.store.run, name) === undefined
      ? undefined
      : networkRunPaths(this.store.run, name).sock;
  }

  define(xml: string): string {
    let name: string;
    try {
      name = parseNetworkXml(xml).name;
    } catch (e) {
      if (e instanceof NetworkXmlError) throw new LibvirtError(`XML error: ${e.message}`);
      throw e;
    }
    if (name.includes("/")) throw new LibvirtError(`XML error: network name '${name}' contains '/'`);
    this.store.write("networks", name, xml);
    return name;
  }

  private need(name: string): void {
    if (!this.defined(name)) throw new LibvirtError(`failed to get network '${name}'`);
  }

  async start(name: string): Promise<void> {
    this.need(name);
    if (this.socket(name)) throw new LibvirtError("Requested operation is not valid: network is already active");
    try {
      await startNetworkProcess(this.store.run, name, this.store.path("networks", `${name}.xml`));
    } catch (e) {
      throw new LibvirtError(`internal error: ${(e as Error).message}`);
    }
  }

  async destroy(name: string): Promise<void> {
    this.need(name);
    if (!this.socket(name)) throw new LibvirtError(`Requested operation is not valid: network '${name}' is not active`);
    await stopNetworkProcess(this.store.run, name);
  }

  undefine(name: string): void {
    this.need(name);
    if (this.socket(name))
      throw new LibvirtError(`Requested operation is not valid: network '${name}' is still active`);
    this.store.remove("networks", name);
  }

  list(all: boolean): NetworkStatus[] {
    return this.store
      .names("networks")
      .map((name) => ({ name, active: this.socket(name) !== undefined, autostart: false, persistent: true }))
      .filter((n) => all || n.active);
  }

  leases(name: string): Lease[] {
    this.need(name);
    if (!this.socket(name)) throw new LibvirtError(`Requested operation is not valid: network '${name}' is not active`);
    return networkLeases(this.store.run, name);
  }

  xml(name: string): string {
    this.need(name);
    return this.store.read("networks", name)!;
  }
}
