import { describe, expect, it } from "vitest";
import { ETH_VLAN, put16, u16 } from "../../vmm/net/packet.js";
import { Switch, type SwitchPort } from "../../vmm/net/switch.js";

const mac = (n: number) => Uint8Array.of(0x52, 0x54, 0, 0, 0, n);

function frame(dst: Uint8Array, src: Uint8Array, len = 60, type = 0x0800): Uint8Array {
  const f = new Uint8Array(len);
  f.set(dst, 0);
  f.set(src, 6);
  put16(f, 12, type);
  return f;
}

function tagged(dst: Uint8Array, src: Uint8Array, vid: number, len = 64): Uint8Array {
  const f = frame(dst, src, len, ETH_VLAN);
  put16(f, 14, vid);
  put16(f, 16, 0x0800);
  return f;
}

const BCAST = Uint8Array.of(255, 255, 255, 255, 255, 255);

function rig(opts: ConstructorParameters<typeof Switch>[0] = {}) {
  let t = 0;
  const sw = new Switch({ now: () => t, ...opts });
  sw.autoPump = false;
  const got = new Map<string, Uint8Array[]>();
  const add = (name: string, o: Partial<Parameters<Switch["attach"]>[0]> = {}): SwitchPort => {
    const p = sw.attach({ name, ...o });
    got.set(name, []);
    p.onReceive = (f) => got.get(name)!.push(f);
    return p;
  };
  return { sw, got, add, tick: (ms: number) => (t += ms) };
}

describe("learning switch", () => {
  it("floods unknown and broadcast frames, then sends learned unicast to one port", () => {
    const { sw, got, add } = rig();
    const a = add("a");
    add("b");
    add("c");
    a.transmit(frame(mac(2), mac(1)));
    sw.pump();
    expect(got.get("a")).toHaveLength(0);
    expect(got.get("b")).toHaveLength(1);
    expect(got.get("c")).toHaveLength(1);
    // b answers a: a is known, so only a gets it, and b is learned.
    sw.ports[1]!.transmit(frame(mac(1), mac(2)));
    sw.pump();
    expect(got.get("a")).toHaveLength(1);
    expect(got.get("c")).toHaveLength(1);
    a.transmit(frame(mac(2), mac(1)));
    sw.pump();
    expect(got.get("b")).toHaveLength(2);
    expect(got.get("c")).toHaveLength(1);
    a.transmit(frame(BCAST, mac(1)));
    sw.pump();
    expect(got.get("b")).toHaveLength(3);
    expect(got.get("c")).toHaveLength(2);
    expect(sw.macTable().map((r) => [r.mac, r.port])).toEqual([
      ["52:54:00:00:00:01", "a"],
      ["52:54:00:00:00:02", "b"],
    ]);
    expect(a.counters).toMatchObject({ rxFrames: 3, rxBytes: 180, txFrames: 1, txBytes: 60, drops: 0 });
  });

  it("ages learned addresses out after ageingMs and floods again", () => {
    const { sw, got, add, tick } = rig({ ageingMs: 1000 });
    const a = add("a");
    const b = add("b");
    add("c");
    b.transmit(frame(BCAST, mac(2)));
    sw.pump();
    tick(999);
    a.transmit(frame(mac(2), mac(1)));
    sw.pump();
    expect(got.get("c")).toHaveLength(1); // only b's broadcast
    tick(1);
    a.transmit(frame(mac(2), mac(1)));
    sw.pump();
    expect(got.get("c")).toHaveLength(2); // aged: flooded
    expect(sw.macTable().map((r) => r.mac)).toEqual(["52:54:00:00:00:01"]);
  });

  it("moves an address to the port it is heard on next (a migrated VM)", () => {
    const { sw, got, add } = rig();
    const a = add("a");
    const b = add("b");
    const c = add("c");
    b.transmit(frame(BCAST, mac(9)));
    c.transmit(frame(BCAST, mac(9)));
    sw.pump();
    a.transmit(frame(mac(9), mac(1)));
    sw.pump();
    expect(got.get("c")!.length).toBe(2);
    expect(got.get("b")!.length).toBe(1);
  });

  it("keeps access VLANs apart and tags frames on trunks", () => {
    const { sw, got, add } = rig();
    const a10 = add("a10", { vlan: 10 });
    add("b10", { vlan: 10 });
    add("c20", { vlan: 20 });
    add("t", { trunk: [10, 20], native: 30 });
    add("d30", { vlan: 30 });
    a10.transmit(frame(BCAST, mac(1)));
    sw.pump();
    expect(got.get("b10")).toHaveLength(1);
    expect(got.get("c20")).toHaveLength(0);
    expect(got.get("d30")).toHaveLength(0);
    const onTrunk = got.get("t")![0]!;
    expect(u16(onTrunk, 12)).toBe(ETH_VLAN);
    expect(u16(onTrunk, 14) & 0xfff).toBe(10);
    expect(onTrunk.length).toBe(64);
    // From the trunk: a tagged frame for VLAN 20 reaches c20 untagged; untagged means native 30.
    sw.ports[3]!.transmit(tagged(BCAST, mac(5), 20));
    sw.ports[3]!.transmit(frame(BCAST, mac(6)));
    sw.pump();
    expect(got.get("c20")).toHaveLength(1);
    expect(u16(got.get("c20")![0]!, 12)).toBe(0x0800);
    expect(got.get("c20")![0]!.length).toBe(60);
    expect(got.get("d30")).toHaveLength(1);
    expect(got.get("a10")).toHaveLength(0);
  });

  it("drops tags an access port does not take and VLANs a trunk does not carry", () => {
    const { sw, got, add } = rig();
    const a = add("a", { vlan: 10 });
    const t = add("t", { trunk: [10] });
    add("b", { vlan: 10 });
    a.transmit(tagged(BCAST, mac(1), 20));
    t.transmit(tagged(BCAST, mac(2), 20));
    t.transmit(frame(BCAST, mac(3))); // no native VLAN
    // A priority tag (VID 0) is the access port's own VLAN.
    a.transmit(tagged(BCAST, mac(1), 0));
    sw.pump();
    expect(a.counters.dropped.vlan).toBe(1);
    expect(t.counters.dropped.vlan).toBe(2);
    expect(got.get("b")).toHaveLength(1);
  });

  it("counts and drops runts, truncated tags, giants and multicast sources", () => {
    const { sw, got, add } = rig();
    const a = add("a");
    const t = add("t", { trunk: [5] });
    add("b");
    a.transmit(new Uint8Array(13));
    a.transmit(new Uint8Array(0));
    t.transmit(frame(BCAST, mac(1), 16, ETH_VLAN));
    a.transmit(frame(BCAST, mac(1), 1515));
    t.transmit(tagged(BCAST, mac(1), 5, 1519));
    a.transmit(frame(BCAST, Uint8Array.of(1, 0, 0x5e, 0, 0, 1)));
    a.transmit(frame(BCAST, mac(1), 1514)); // the largest untagged frame passes
    t.transmit(tagged(BCAST, mac(2), 5, 1518));
    sw.pump();
    expect(a.counters.dropped).toMatchObject({ runt: 2, giant: 1, badSource: 1 });
    expect(t.counters.dropped).toMatchObject({ truncated: 1, giant: 1 });
    expect(got.get("b")).toHaveLength(1);
    expect(a.counters.drops + t.counters.drops).toBe(6);
  });

  it("bounds each port's queue: a flooding port loses its own frames, others get through", () => {
    const { sw, got, add } = rig({ queueLimit: 8, burst: 2 });
    const flood = add("flood");
    const quiet = add("quiet");
    add("sink");
    for (let i = 0; i < 100; i++) flood.transmit(frame(BCAST, mac(1)));
    quiet.transmit(frame(BCAST, mac(2)));
    expect(flood.queue.length).toBe(8);
    expect(flood.counters.dropped.queueFull).toBe(92);
    // The first round takes 2 from each port: the quiet port's frame is not behind the flood.
    let order: string[] = [];
    sw.ports[2]!.onReceive = (f) => order.push(f[11] === 2 ? "quiet" : "flood");
    sw.pump();
    expect(order.indexOf("quiet")).toBeLessThan(3);
    expect(order).toHaveLength(9);
    order = [];
    expect(sw.pending).toBe(0);
    expect(got.get("quiet")!.length).toBe(8);
  });

  it("schedules its own pump when autoPump is on", async () => {
    const sw = new Switch();
    const a = sw.attach({ name: "a" });
    const b = sw.attach({ name: "b" });
    const got: Uint8Array[] = [];
    b.onReceive = (f) => got.push(f);
    a.transmit(frame(BCAST, mac(1)));
    expect(got).toHaveLength(0);
    await Promise.resolve();
    expect(got).toHaveLength(1);
  });

  it("forgets a detached port's addresses and refuses bad VLAN numbers", () => {
    const { sw, add } = rig();
    const a = add("a");
    a.transmit(frame(BCAST, mac(1)));
    sw.pump();
    a.detach();
    expect(sw.macTable()).toHaveLength(0);
    a.transmit(frame(BCAST, mac(1)));
    expect(a.counters.dropped.down).toBe(1);
    expect(() => sw.attach({ name: "x", vlan: 4095 })).toThrow(/VLAN 4095/);
    expect(() => sw.attach({ name: "y", trunk: [0] })).toThrow(/VLAN 0/);
  });
});
