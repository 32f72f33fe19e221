// The page's virtual network: one switch (and, for a `nat` network, its gateway: DHCP, DNS and
// the way out a page has) in the page's own thread, and one switch port per VM Worker. Each VM's
// NIC backend is the far end of a MessageChannel (vmm/net/message-port.ts); the page keeps the
// near end on the switch. Frames cross as transferred ArrayBuffers, and the guest sees the same
// NIC and the same network as in Node.

import { attachMessagePort, type PortCounters } from "../../vmm/net/message-port.js";
import { defaultNetworkDef, Network, type NetworkDef } from "../../vmm/net/network.js";
import type { Outside } from "../../vmm/net/outside.js";
import type { NicConfig } from "./protocol.js";

export interface PageNic {
  name: string;
  /** For the Worker's start message (the port is transferred with it). */
  config: NicConfig;
  /** Frames that crossed the page's end of the channel, and messages that were not frames. */
  counters: PortCounters;
}

/** Bytes of capture a page keeps at most; frames beyond it are counted, not kept. */
export const CAPTURE_LIMIT = 32 << 20;

export class PageNetwork {
  readonly net: Network;
  /** The capture of every frame the switch accepted since the page started (pcap chunks). */
  private readonly pcap: Uint8Array[] = [];
  private pcapBytes = 0;
  /** Frames left out of the capture because it reached CAPTURE_LIMIT. */
  captureDropped = 0;
  private nics = 0;

  constructor(def: NetworkDef = defaultNetworkDef(), outside?: Outside) {
    this.net = new Network(def, { outside });
    this.net.capture((bytes) => {
      if (this.pcapBytes + bytes.length > CAPTURE_LIMIT) {
        this.captureDropped++;
        return;
      }
      this.pcap.push(bytes);
      this.pcapBytes += bytes.length;
    });
  }

  /** The capture so far as a libpcap file (what tcpdump -r and Wireshark read), for a download. */
  captureFile(): Blob {
    return new Blob(this.pcap as BlobPart[], { type: "application/vnd.tcpdump.pcap" });
  }

  /**
   * A new switch port and the NIC for the VM Worker at its other end: QEMU's MAC prefix 52:54:00
   * and a suffix counted per page, so that two VMs of one page never share an address.
   */
  nic(model: NicConfig["model"], opts: { name?: string; vlan?: number } = {}): PageNic {
    const n = ++this.nics;
    const name = opts.name ?? `vnet${n - 1}`;
    const ch = new MessageChannel();
    const { counters } = attachMessagePort(this.net, { name, vlan: opts.vlan }, ch.port1);
    const mac = `52:54:00:12:${(0x34 + (n >> 8)).toString(16)}:${(n & 0xff).toString(16).padStart(2, "0")}`;
    return { name, counters, config: { model, mac, port: ch.port2 } };
  }

  /** `virsh net-dhcp-leases` of the page's network. */
  leases() {
    return this.net.leases();
  }

  /** What `info network` prints. */
  describe(): string[] {
    return this.net.describe();
  }
}
