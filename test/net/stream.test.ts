import { Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { Network } from "../../vmm/net/network.js";
import { encodeFrame, FrameReader, MAX_FRAME, StreamBackend, serveNetwork } from "../../vmm/net/stream.js";
import { waitFor } from "./fake-guest.js";

const frame = (n: number, len = 60) => Uint8Array.from({ length: len }, (_, i) => (i < 6 ? 0xff : i === 6 ? 2 : n));

describe("stream framing (QEMU's -netdev stream)", () => {
  it("reassembles frames split anywhere and refuses impossible lengths", () => {
    const r = new FrameReader();
    const got: Uint8Array[] = [];
    const bytes = new Uint8Array([...encodeFrame(frame(1)), ...encodeFrame(frame(2, 1514))]);
    for (let i = 0; i < bytes.length; i += 7) expect(r.push(bytes.subarray(i, i + 7), (f) => got.push(f))).toBe(true);
    expect(got.map((f) => [f.length, f[10]])).toEqual([
      [60, 1],
      [1514, 2],
    ]);
    expect(new FrameReader().push(Uint8Array.of(0, 0, 0, 0), () => undefined)).toBe(false);
    const big = new Uint8Array(4);
    new DataView(big.buffer).setUint32(0, MAX_FRAME + 1);
    expect(new FrameReader().push(big, () => undefined)).toBe(false);
  });

  it("attaches each connection as a port, and drops a connection that sends garbage", async () => {
    const net = new Network({ name: "lab", mode: "isolated", prefix: 24, dnsHosts: [] });
    const s = await new Promise<ReturnType<typeof serveNetwork>>((res, rej) => {
      const x = serveNetwork(net, { host: "127.0.0.1", port: 0 }, (e) => (e ? rej(new Error(e)) : res(x)));
    });
    try {
      const a = new StreamBackend({ host: "127.0.0.1", port: s.port() });
      const b = new StreamBackend({ host: "127.0.0.1", port: s.port() });
      const got: Uint8Array[] = [];
      b.onReceive = (f) => got.push(f);
      await waitFor(() => a.connected && b.connected && net.switch.ports.length === 2);
      a.transmit(frame(7));
      await waitFor(() => got.length === 1);
      expect(got[0]![10]).toBe(7);
      const bad = new Socket();
      bad.connect(s.port(), "127.0.0.1");
      await waitFor(() => net.switch.ports.length === 3);
      bad.write(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 1, 2, 3));
      await waitFor(() => s.counters.badLength === 1 && net.switch.ports.length === 2);
      a.close();
      b.close();
    } finally {
      s.server.close();
    }
  });
});
