// VLANs in libvirt's network XML: <vlan> on the network and in portgroups, chosen for each port
// by libvirt's order (the port's own, its portgroup's, the default portgroup's, the network's),
// then the switch keeping them apart; and every malformed <vlan> refused with a message.

import { describe, expect, it } from "vitest";
import { Network } from "../../vmm/net/network.js";
import { NetworkXmlError, parseNetworkXml } from "../../vmm/net/network-xml.js";

// A lab network in VLAN 42 (the gateway, DHCP and every port without a portgroup), a "dmz"
// portgroup in VLAN 7, and a "monitor" portgroup trunking 7 and 42, with 42 native.
const XML = `<network>
  <name>vlans</name>
  <bridge name='virbr5'/>
  <vlan><tag id='42'/></vlan>
  <portgroup name='lab' default='yes'/>
  <portgroup name='dmz'><vlan><tag id='7'/></vlan></portgroup>
  <portgroup name='monitor'>
    <vlan trunk='yes'><tag id='7'/><tag id='42' nativeMode='untagged'/></vlan>
  </portgroup>
  <portgroup name='tagged'>
    <vlan trunk='yes'><tag id='7'/><tag id='42' nativeMode='tagged'/></vlan>
  </portgroup>
  <ip address='10.42.0.1' prefix='24'>
    <dhcp><range start='10.42.0.10' end='10.42.0.20'/></dhcp>
  </ip>
</network>`;

const frame = (src: number, dst = 0xff, tag?: number): Uint8Array => {
  const head = [dst, dst, dst, dst, dst, dst, 0x52, 0x54, 0, 0, 0, src];
  const body = new Array(46).fill(0);
  return Uint8Array.from(
    tag === undefined ? [...head, 0x08, 0x00, ...body] : [...head, 0x81, 0, 0, tag, 0x08, 0x00, ...body],
  );
};

describe("VLANs in libvirt's network XML", () => {
  it("reads <vlan> on the network and in portgroups", () => {
    const def = parseNetworkXml(XML);
    expect(def.vlan).toEqual({ tags: [{ id: 42, nativeMode: undefined }], trunk: false });
    expect(def.portgroups!.map((g) => [g.name, g.default, g.vlan?.tags.map((t) => t.id), g.vlan?.trunk])).toEqual([
      ["lab", true, undefined, undefined],
      ["dmz", false, [7], false],
      ["monitor", false, [7, 42], true],
      ["tagged", false, [7, 42], true],
    ]);
  });

  it("gives each port its VLANs by libvirt's order and keeps the VLANs apart", () => {
    const net = new Network(parseNetworkXml(XML));
    const a = net.attach("a"); // the default portgroup has no <vlan>: the network's, 42
    const b = net.attach({ name: "b", portgroup: "lab" });
    const d = net.attach({ name: "d", portgroup: "dmz" });
    const m = net.attach({ name: "m", portgroup: "monitor" });
    const t = net.attach({ name: "t", portgroup: "tagged" });
    const own = net.attach({ name: "own", vlan: 7, portgroup: "lab" }); // the port's own wins
    expect([a.vlan, b.vlan, d.vlan, own.vlan]).toEqual([42, 42, 7, 7]);
    expect([m.trunk && [...m.trunk], m.native, m.nativeTagged]).toEqual([[7], 42, false]);
    expect([t.trunk && [...t.trunk], t.native, t.nativeTagged]).toEqual([[7], 42, true]);
    // The gateway sits in the network's VLAN, so DHCP answers there.
    expect(net.switch.ports.find((p) => p.name === "virbr5")!.vlan).toBe(42);
    const got = new Map<string, Uint8Array[]>();
    for (const p of [a, b, d, m, t, own]) {
      got.set(p.name, []);
      p.onReceive = (f) => got.get(p.name)!.push(f);
    }
    a.transmit(frame(1)); // broadcast in 42
    d.transmit(frame(2)); // broadcast in 7
    net.switch.pump();
    const seen = (n: string) => got.get(n)!.map((f) => (f[12] === 0x81 ? `tag${f[15]}:${f[11]}` : `untagged:${f[11]}`));
    expect(seen("b")).toEqual(["untagged:1"]);
    expect(seen("d")).toEqual([]);
    expect(seen("own")).toEqual(["untagged:2"]);
    expect(seen("a")).toEqual([]);
    // The trunks: 42 native (untagged) on "monitor", 42 tagged on "tagged"; 7 tagged on both.
    expect(seen("m")).toEqual(["untagged:1", "tag7:2"]);
    expect(seen("t")).toEqual(["tag42:1", "tag7:2"]);
    // "tagged" takes 42 in tagged and untagged; "monitor" takes 42 only untagged.
    for (const g of got.values()) g.length = 0;
    t.transmit(frame(5, 0xff, 42));
    t.transmit(frame(6));
    m.transmit(frame(7, 0xff, 42));
    net.switch.pump();
    expect(seen("a")).toEqual(["untagged:5", "untagged:6"]);
    expect(m.counters.dropped.vlan).toBe(1);
    expect(() => net.attach({ name: "x", portgroup: "nope" })).toThrow(
      "network vlans has no portgroup 'nope' (lab, dmz, monitor, tagged)",
    );
    net.close();
  });

  it("refuses malformed <vlan> elements with a message", () => {
    const wrap = (inner: string) => `<network><name>v</name>${inner}</network>`;
    const bad: [string, RegExp][] = [
      ["<vlan/>", /<vlan>: give at least one <tag id\/>/],
      ["<vlan><tag id='4095'/></vlan>", /tag id 4095 is not in 1\.\.4094/],
      ["<vlan><tag id='x'/></vlan>", /<tag id='x'>: give a number/],
      ["<vlan><tag id='5' nativeMode='untagged'/></vlan>", /nativeMode needs a trunk/],
      ["<vlan trunk='maybe'><tag id='5'/></vlan>", /trunk='maybe': give yes or no/],
      ["<vlan><tag id='5' nativeMode='odd'/><tag id='6'/></vlan>", /nativeMode='odd': give untagged or tagged/],
      [
        "<vlan><tag id='5' nativeMode='untagged'/><tag id='6' nativeMode='tagged'/></vlan>",
        /at most one tag may have nativeMode/,
      ],
      ["<portgroup name='p'><vlan><tag id='0'/></vlan></portgroup>", /<portgroup name='p'><vlan>: tag id 0/],
      ["<portgroup/>", /<portgroup>: name= is missing/],
      ["<portgroup name='p'/><portgroup name='p'/>", /same name/],
      ["<portgroup name='p' default='yes'/><portgroup name='q' default='yes'/>", /one may be the default/],
    ];
    for (const [inner, want] of bad) {
      expect(() => parseNetworkXml(wrap(inner)), inner).toThrow(NetworkXmlError);
      expect(() => parseNetworkXml(wrap(inner)), inner).toThrow(want);
    }
  });
});
