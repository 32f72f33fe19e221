// UDP port forwards (hostfwd=udp:...): host peers reach a guest's UDP port through a bound host
// port, each peer at a gateway port of its own; the guest's answers go back to that peer only.

import { createSocket, type Socket } from "node:dgram";
import { afterEach, describe, expect, it } from "vitest";
import { defaultNetworkDef, Network } from "../../vmm/net/network.js";
import { NodeOutside } from "../../vmm/net/node-outside.js";
import { ipNumber } from "../../vmm/net/packet.js";
import { FakeGuest, turns, waitFor } from "./fake-guest.js";

const GW = ipNumber("192.168.122.1");
const GUEST = "192.168.122.9";
const MAC = Uint8Array.of(0x52, 0x54, 0, 1, 2, 3);
const closing: { close(): void }[] = [];
afterEach(() => {
  for (const c of closing.splice(0)) c.close();
});

async function peer(): Promise<{ sock: Socket; got: { text: string; port: number }[] }> {
  const sock = createSocket("udp4");
  const got: { text: string; port: number }[] = [];
  sock.on("message", (m, r) => got.push({ text: m.toString(), port: r.port }));
  await new Promise<void>((r) => sock.bind(0, "127.0.0.1", r));
  closing.push(sock);
  return { sock, got };
}

async function forwarded(restrict: boolean): Promise<{ net: Network; g: FakeGuest; port: number }> {
  const net = new Network(
    {
      ...defaultNetworkDef(),
      restrict,
      forwards: [{ proto: "udp", hostAddr: "127.0.0.1", hostPort: 0, guestAddr: GUEST, guestPort: 69 }],
    },
    { outside: new NodeOutside() },
  );
  closing.push(net);
  await waitFor(() => net.gateway!.forwards[0]!.listener.port !== 0);
  const g = new FakeGuest(net, MAC, ipNumber(GUEST));
  // The gateway learns the guest's MAC from its first frame (as from any guest's traffic).
  g.udp(GW, 9999, 7, new Uint8Array(1));
  g.got.length = 0;
  return { net, g, port: net.gateway!.forwards[0]!.listener.port };
}

describe("UDP port forwards", () => {
  for (const restrict of [false, true]) {
    it(`carries host peers' datagrams to the guest port and its answers back${restrict ? " (under restrict)" : ""}`, async () => {
      const { net, g, port } = await forwarded(restrict);
      const a = await peer();
      const b = await peer();
      a.sock.send("from-a", port, "127.0.0.1");
      await waitFor(() => g.got.length > 0);
      const [da] = g.takeUdp();
      expect([da!.src, da!.dstPort, new TextDecoder().decode(da!.data)]).toEqual([GW, 69, "from-a"]);
      b.sock.send("from-b", port, "127.0.0.1");
      await waitFor(() => g.got.length > 0);
      const [db] = g.takeUdp();
      // Each peer is a gateway port of its own.
      expect(db!.srcPort).not.toBe(da!.srcPort);
      g.udp(GW, 69, da!.srcPort, new TextEncoder().encode("to-a"));
      g.udp(GW, 69, db!.srcPort, new TextEncoder().encode("to-b"));
      await waitFor(() => a.got.length === 1 && b.got.length === 1);
      expect(a.got).toEqual([{ text: "to-a", port }]);
      expect(b.got).toEqual([{ text: "to-b", port }]);
      // From another guest port: not an answer to the forward, and it does not reach the peer.
      g.udp(GW, 70, da!.srcPort, new TextEncoder().encode("stray"));
      await turns(40);
      expect(a.got).toHaveLength(1);
      expect(net.gateway!.udpForwards!.counters).toMatchObject({ in: 2, out: 2 });
      const info = net.describe().join("\n");
      expect(info).toContain(`hostfwd udp 127.0.0.1:0 -> ${GUEST}:69, bound to 127.0.0.1:${port}`);
      expect(info).toMatch(/udp forward 127\.0\.0\.1:\d+ -> 192\.168\.122\.1:\d+ -> guest port 69/);
    });
  }

  it("reports a port it cannot bind, and binds nothing the user did not ask for", async () => {
    const taken = await peer();
    const busy = taken.sock.address().port;
    const net = new Network(
      {
        ...defaultNetworkDef(),
        forwards: [{ proto: "udp", hostAddr: "127.0.0.1", hostPort: busy, guestAddr: GUEST, guestPort: 69 }],
      },
      { outside: new NodeOutside() },
    );
    closing.push(net);
    await waitFor(() => net.gateway!.forwards[0]!.error !== undefined);
    expect(net.describe().join("\n")).toMatch(
      /hostfwd udp 127\.0\.0\.1:\d+ -> 192\.168\.122\.9:69, error: .*EADDRINUSE/,
    );
  });
});
