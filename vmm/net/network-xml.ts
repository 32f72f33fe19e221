// libvirt's network XML (docs/formatnetwork.rst) read into a NetworkDef: <name>, <bridge name>,
// <forward> (none: isolated; mode nat, the default when present), <mac address>, <mtu size>,
// <domain name>, <nat><port start end/></nat>, the IPv4 <ip address netmask|prefix> with
// <dhcp><range start end/> and <host mac name ip/>, <dns><host ip><hostname/></host></dns>, and
// VLANs: <vlan [trunk='yes']><tag id [nativeMode]/>...</vlan> on the network and in each
// <portgroup name [default='yes']>.
// Anything this machine cannot honour (another forward mode, several IPv4 ranges) is an error that
// says so, never a silent difference.

import { XMLParser } from "fast-xml-parser";
import { type NetworkDef, type VlanDef, vlanPort } from "./network.js";
import { ipNumber } from "./packet.js";

export class NetworkXmlError extends Error {}

type Node = Record<string, unknown>;

const list = (v: unknown): Node[] => (v === undefined ? [] : Array.isArray(v) ? (v as Node[]) : [v as Node]);
const attr = (n: Node | undefined, k: string): string | undefined => {
  const v = n?.[k];
  return v === undefined || typeof v === "object" ? undefined : String(v);
};

function maskPrefix(mask: string): number {
  const n = ipNumber(mask);
  const p = 32 - Math.log2(2 ** 32 - n);
  if (!Number.isInteger(p)) throw new NetworkXmlError(`netmask ${mask} is not a prefix mask`);
  return p;
}

function address(s: string | undefined, what: string): string {
  if (s === undefined) throw new NetworkXmlError(`${what} is missing`);
  try {
    ipNumber(s);
  } catch {
    throw new NetworkXmlError(`${what}: '${s}' is not an IPv4 address`);
  }
  return s;
}

/** A <vlan> element, checked by libvirt's rules (vlanPort). */
function vlan(n: Node, where: string): VlanDef {
  const trunk = attr(n, "trunk");
  if (trunk !== undefined && trunk !== "yes" && trunk !== "no")
    throw new NetworkXmlError(`${where}: trunk='${trunk}': give yes or no`);
  const tags = list(n["tag"]).map((t) => {
    const id = attr(t, "id");
    if (id === undefined || !/^\d+$/.test(id))
      throw new NetworkXmlError(`${where}: <tag id='${id ?? ""}'>: give a number`);
    const mode = attr(t, "nativeMode");
    if (mode !== undefined && mode !== "untagged" && mode !== "tagged")
      throw new NetworkXmlError(`${where}: nativeMode='${mode}': give untagged or tagged`);
    return { id: Number(id), nativeMode: mode as "untagged" | "tagged" | undefined };
  });
  const def: VlanDef = { tags, trunk: trunk === "yes" };
  try {
    vlanPort(def, where);
  } catch (e) {
    throw new NetworkXmlError((e as Error).message);
  }
  return def;
}

export function parseNetworkXml(xml: string): NetworkDef {
  let doc: Node;
  try {
    doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "", parseAttributeValue: false }).parse(
      xml,
      true,
    );
  } catch (e) {
    throw new NetworkXmlError(`not well-formed XML: ${(e as Error).message}`);
  }
  const net = doc["network"] as Node | undefined;
  if (!net || typeof net !== "object") throw new NetworkXmlError("no <network> element");
  const name = net["name"];
  if (typeof name !== "string" || name.trim() === "") throw new NetworkXmlError("<name> is missing");
  const fwd = net["forward"];
  let mode: NetworkDef["mode"] = "isolated";
  if (fwd !== undefined) {
    const m = attr(fwd as Node, "mode") ?? "nat";
    if (m !== "nat")
      throw new NetworkXmlError(`<forward mode='${m}'>: this machine has nat networks and isolated ones`);
    mode = "nat";
  }
  const ips = list(net["ip"]).filter((i) => (attr(i, "family") ?? "ipv4") === "ipv4");
  if (ips.length > 1) throw new NetworkXmlError("several IPv4 <ip> elements: one is supported");
  const def: NetworkDef = { name: name.trim(), mode, prefix: 24, dnsHosts: [] };
  const bridge = attr(net["bridge"] as Node, "name");
  if (bridge) def.bridge = bridge;
  const mac = attr(net["mac"] as Node, "address");
  if (mac) def.mac = mac;
  const mtu = attr(net["mtu"] as Node, "size");
  if (mtu) {
    def.mtu = Number(mtu);
    if (!Number.isInteger(def.mtu) || def.mtu < 68 || def.mtu > 9000)
      throw new NetworkXmlError(`<mtu size='${mtu}'> is not in 68..9000`);
  }
  const domain = attr(net["domain"] as Node, "name");
  if (domain) def.domain = domain;
  const natPort = (fwd as Node | undefined)?.["nat"] as Node | undefined;
  const port = natPort?.["port"] as Node | undefined;
  if (port) {
    const s = Number(attr(port, "start"));
    const e = Number(attr(port, "end"));
    if (!(s >= 1 && e <= 65535 && s <= e))
      throw new NetworkXmlError("<nat><port start end/>: give 1 <= start <= end <= 65535");
    def.portRange = [s, e];
  }
  const ip = ips[0];
  if (ip) {
    def.ip = address(attr(ip, "address"), "<ip address>");
    const prefix = attr(ip, "prefix");
    const netmask = attr(ip, "netmask");
    def.prefix = prefix !== undefined ? Number(prefix) : netmask !== undefined ? maskPrefix(netmask) : 24;
    if (!Number.isInteger(def.prefix) || def.prefix < 8 || def.prefix > 30) {
      throw new NetworkXmlError(`<ip>: prefix ${def.prefix} is not in 8..30`);
    }
    const dhcp = ip["dhcp"] as Node | undefined;
    if (dhcp) {
      const ranges = list(dhcp["range"]);
      if (ranges.length !== 1) throw new NetworkXmlError("<dhcp>: give exactly one <range start end/>");
      const start = address(attr(ranges[0], "start"), "<range start>");
      const end = address(attr(ranges[0], "end"), "<range end>");
      if (ipNumber(start) > ipNumber(end)) throw new NetworkXmlError(`<range>: ${start} is after ${end}`);
      const hosts = list(dhcp["host"]).map((h) => {
        const hmac = attr(h, "mac");
        if (!hmac || !/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(hmac)) {
          throw new NetworkXmlError(`<host mac='${hmac ?? ""}'>: give a MAC address`);
        }
        return { mac: hmac.toLowerCase(), ip: address(attr(h, "ip"), "<host ip>"), name: attr(h, "name") };
      });
      def.dhcp = { start, end, hosts };
    }
  }
  const dns = net["dns"] as Node | undefined;
  for (const h of list(dns?.["host"])) {
    const names = list(h["hostname"]).map((n) => String(n));
    def.dnsHosts.push({ ip: address(attr(h, "ip"), "<dns><host ip>"), names });
  }
  const nv = net["vlan"];
  if (nv !== undefined) def.vlan = vlan(nv as Node, "<vlan>");
  const groups = list(net["portgroup"]);
  if (groups.length > 0) {
    def.portgroups = groups.map((g) => {
      const gname = attr(g, "name");
      if (!gname) throw new NetworkXmlError("<portgroup>: name= is missing");
      const where = `<portgroup name='${gname}'>`;
      return {
        name: gname,
        default: attr(g, "default") === "yes",
        vlan: g["vlan"] ? vlan(g["vlan"] as Node, `${where}<vlan>`) : undefined,
      };
    });
    const names = def.portgroups.map((g) => g.name);
    if (new Set(names).size !== names.length) throw new NetworkXmlError("two <portgroup> elements have the same name");
    if (def.portgroups.filter((g) => g.default).length > 1)
      throw new NetworkXmlError("several <portgroup default='yes'>: one may be the default");
  }
  if (mode === "nat" && def.ip === undefined) throw new NetworkXmlError("a nat network needs an <ip address>");
  return def;
}
