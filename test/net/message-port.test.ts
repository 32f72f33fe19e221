// Two NIC backends in the places of two Workers' VMs, joined to one network by MessageChannels:
// frames cross both ways, transferred; what is not a frame is counted and dropped.

import { describe, expect, it } from "vitest";
import { attachMessagePort, MessagePortBackend } from "../../vmm/net/message-port.js";
import { Network } from "../../vmm/net/network.js";
import { waitFor } from "./fake-guest.js";

const frame = (src: number, dst = 0xff) =>
  Uint8Array.from({ length: 60 }, (_, i) => (i < 6 ? dst : i === 6 ? 0x52 : i < 12 ? src : i === 12 ? 8 : 0));

describe("MessagePort transport", () => {
  it("joins two Workers' NICs through one network", async () => {
    const net = new Network({ name: "page", mode: "isolated", prefix: 24, dnsHosts: [] });
    const a = new MessageChannel();
    const b = new MessageChannel();
    const ea = attachMessagePort(net, "worker-a", a.port1);
    attachMessagePort(net, "worker-b", b.port1);
    const nicA = new MessagePortBackend(a.port2);
    const nicB = new MessagePortBackend(b.port2);
    const gotA: Uint8Array[] = [];
    const gotB: Uint8Array[] = [];
    nicA.onReceive = (f) => gotA.push(f);
    nicB.onReceive = (f) => gotB.push(f);
    try {
      const sent = frame(1);
      nicA.transmit(sent);
      await waitFor(() => gotB.length === 1);
      expect(gotB[0]).toEqual(sent);
      expect(sent.length).toBe(60); // the sender's buffer stays its own
      nicB.transmit(frame(2, 1)); // unicast back to the address the switch learned
      await waitFor(() => gotA.length === 1);
      expect(gotA[0]![11]).toBe(2);
      a.port2.postMessage("not a frame");
      a.port2.postMessage(new ArrayBuffer(0));
      await waitFor(() => ea.counters.garbage === 2);
      expect(
        net.switch
          .macTable()
          .map((m) => m.port)
          .sort(),
      ).toEqual(["worker-a", "worker-b"]);
    } finally {
      for (const p of [a.port1, a.port2, b.port1, b.port2]) p.close();
    }
  });
});
