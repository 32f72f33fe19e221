import { describe, expect, it } from "vitest";
import { defaultNetworkDef, Network } from "../../vmm/net/network.js";
import { parseNetworkXml } from "../../vmm/net/network-xml.js";

// libvirt's shipped default network (src/network/default.xml.in).
const DEFAULT_XML = `<network>
  <name>default</name>
  <bridge name='virbr0'/>
  <forward/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.122.2' end='192.168.122.254'/>
    </dhcp>
  </ip>
</network>`;

// An isolated lab network: no <forward>, static leases, names in DNS.
const ISOLATED_XML = `<network>
  <name>lab</name>
  <bridge name='virbr1' stp='on' delay='0'/>
  <mac address='52:54:00:0a:0b:0c'/>
  <domain name='lab'/>
  <dns>
    <host ip='10.10.0.5'><hostname>storage</hostname><hostname>nas</hostname></host>
  </dns>
  <ip address='10.10.0.1' prefix='24'>
    <dhcp>
      <range start='10.10.0.100' end='10.10.0.199'/>
      <host mac='52:54:00:00:00:01' name='web' ip='10.10.0.10'/>
      <host mac='52:54:00:00:00:02' name='db' ip='10.10.0.11'/>
    </dhcp>
  </ip>
</network>`;

describe("libvirt network XML", () => {
  it("reads libvirt's default network as the built-in default", () => {
    const { portRange: _, ...want } = defaultNetworkDef();
    expect(parseNetworkXml(DEFAULT_XML)).toEqual(want);
  });

  it("reads an isolated network with static leases and DNS hosts", () => {
    const def = parseNetworkXml(ISOLATED_XML);
    expect(def).toMatchObject({
      name: "lab",
      mode: "isolated",
      bridge: "virbr1",
      mac: "52:54:00:0a:0b:0c",
      domain: "lab",
      ip: "10.10.0.1",
      prefix: 24,
      dhcp: {
        start: "10.10.0.100",
        end: "10.10.0.199",
        hosts: [
          { mac: "52:54:00:00:00:01", name: "web", ip: "10.10.0.10" },
          { mac: "52:54:00:00:00:02", name: "db", ip: "10.10.0.11" },
        ],
      },
      dnsHosts: [{ ip: "10.10.0.5", names: ["storage", "nas"] }],
    });
    const net = new Network(def);
    expect(net.gateway!.reachesOut).toBe(false);
    expect(net.describe()[0]).toBe("network lab: isolated, 10.10.0.1/24, bridge virbr1");
    net.close();
  });

  it("says what it cannot honour", () => {
    const bad: [string, RegExp][] = [
      ["<network", /not well-formed XML/],
      ["<domain/>", /no <network> element/],
      ["<network><forward/></network>", /<name> is missing/],
      ["<network><name>x</name><forward mode='bridge'/></network>", /mode='bridge'.*nat networks and isolated/],
      ["<network><name>x</name><forward/></network>", /a nat network needs an <ip address>/],
      ["<network><name>x</name><ip address='10.0.0.1' netmask='255.0.255.0'/></network>", /not a prefix mask/],
      ["<network><name>x</name><ip address='10.0.0.300'/></network>", /'10\.0\.0\.300' is not an IPv4 address/],
      [
        "<network><name>x</name><ip address='10.0.0.1'><dhcp><range start='10.0.0.9' end='10.0.0.2'/></dhcp></ip></network>",
        /10\.0\.0\.9 is after 10\.0\.0\.2/,
      ],
      [
        "<network><name>x</name><ip address='10.0.0.1'><dhcp><range start='10.0.0.2' end='10.0.0.9'/><host mac='zz' ip='10.0.0.3'/></dhcp></ip></network>",
        /<host mac='zz'>/,
      ],
      ["<network><name>x</name><mtu size='20'/></network>", /not in 68\.\.9000/],
    ];
    for (const [xml, msg] of bad) expect(() => parseNetworkXml(xml), xml).toThrow(msg);
  });
});
