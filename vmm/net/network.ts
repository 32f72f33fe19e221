// A virtual network as libvirt defines one: a switch, and unless the network is a bare switch a
// gateway port at the network's address (DHCP, DNS, and for `nat` the way out). NICs, sockets to
// other processes and captures attach to it. `defaultNetworkDef` is libvirt's shipped `default`.

import { Gateway, type PortForward } from "./gateway.js";
import type { Outside } from "./outside.js";
import { ipNumber, ipString, macString, parseMac } from "./packet.js";
import { PcapWriter } from "./pcap.js";
import { type PortOptions, Switch, type SwitchPort } from "./switch.js";

export interface NetworkDef {
  name: string;
  /** libvirt's <bridge name=>: a label here (there is no host bridge). */
  bridge?: string;
  /** `nat`: <forward/> or <forward mode='nat'/>; `isolated`: no <forward>. */
  mode: "nat" | "isolated";
  /** The gateway's address; absent: a bare switch (no DHCP, DNS or NAT). */
  ip?: string;
  prefix: number;
  mac?: string;
  dhcp?: { start: string; end: string; hosts: { mac: string; ip: string; name?: string }[] };
  domain?: string;
  dnsHosts: { ip: string; names: string[] }[];
  portRange?: [number, number];
  /** QEMU's restrict=on: no guest flow leaves the network (forwards still come in). */
  restrict?: boolean;
  forwards?: PortForward[];
  mtu?: number;
  /** libvirt's <vlan> on the network: the VLANs of its ports unless a portgroup or the port says otherwise. */
  vlan?: VlanDef;
  /** libvirt's <portgroup name default><vlan/></portgroup>: named VLAN settings for ports. */
  portgroups?: PortGroupDef[];
}

/** <vlan [trunk='yes']><tag id [nativeMode='untagged|tagged']/>...</vlan> */
export interface VlanDef {
  tags: { id: number; nativeMode?: "untagged" | "tagged" }[];
  trunk?: boolean;
}

export interface PortGroupDef {
  name: string;
  default?: boolean;
  vlan?: VlanDef;
}

/** What a port asks for: a name, and an explicit VLAN (as a domain's <interface><vlan>) or a portgroup. */
export type NetworkPortOptions = PortOptions & { portgroup?: string };

/**
 * A VLAN definition as a switch port's settings, by libvirt's rules: one tag and no trunk='yes'
 * is an access port in that VLAN; trunk='yes' or several tags a trunk carrying them tagged, the
 * tag with nativeMode (at most one) its native VLAN.
 */
export function vlanPort(
  v: VlanDef,
  where = "<vlan>",
): Pick<PortOptions, "vlan" | "trunk" | "native" | "nativeTagged"> {
  if (v.tags.length === 0) throw new RangeError(`${where}: give at least one <tag id/>`);
  for (const t of v.tags)
    if (!Number.isInteger(t.id) || t.id < 1 || t.id > 4094)
      throw new RangeError(`${where}: tag id ${t.id} is not in 1..4094`);
  const natives = v.tags.filter((t) => t.nativeMode !== undefined);
  const trunk = v.trunk === true || v.tags.length > 1;
  if (!trunk) {
    if (natives.length > 0) throw new RangeError(`${where}: nativeMode needs a trunk (trunk='yes' or several tags)`);
    return { vlan: v.tags[0]!.id };
  }
  if (natives.length > 1) throw new RangeError(`${where}: at most one tag may have nativeMode`);
  const native = natives[0];
  return {
    trunk: v.tags.filter((t) => t !== native).map((t) => t.id),
    native: native?.id,
    nativeTagged: native?.nativeMode === "tagged",
  };
}

/** libvirt's `default` network (src/network/default.xml.in), as `net-dumpxml` shows it filled in. */
export function defaultNetworkDef(): NetworkDef {
  return {
    name: "default",
    bridge: "virbr0",
    mode: "nat",
    ip: "192.168.122.1",
    prefix: 24,
    dhcp: { start: "192.168.122.2", end: "192.168.122.254", hosts: [] },
    dnsHosts: [],
    portRange: [1024, 65535],
  };
}

/** A stable locally administered-looking MAC in QEMU's 52:54:00 range, from the network's name. */
function macFor(name: string): Uint8Array {
  let h = 2166136261;
  for (const c of name) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
  return Uint8Array.of(0x52, 0x54, 0x00, (h >>> 16) & 0xff, (h >>> 8) & 0xff, h & 0xff);
}

export interface NetworkOptions {
  /** The host side of NAT and forwards (NodeOutside in Node); none: guests reach nothing beyond. */
  outside?: Outside;
  /** Monotonic milliseconds for MAC ageing and leases (the host's clock unless given). */
  now?: () => number;
}

export class Network {
  readonly switch: Switch;
  readonly gateway: Gateway | undefined;
  private captures: { writer: PcapWriter; close?: () => void }[] = [];
  private readonly outside: Outside | undefined;

  constructor(
    readonly def: NetworkDef,
    opts: NetworkOptions = {},
  ) {
    this.outside = opts.outside;
    this.switch = new Switch({ name: def.name, mtu: def.mtu, now: opts.now });
    if (def.vlan) vlanPort(def.vlan);
    for (const g of def.portgroups ?? []) if (g.vlan) vlanPort(g.vlan, `<portgroup name='${g.name}'>`);
    if (def.ip !== undefined) {
      // The gateway is in the network's own VLAN: its access tag or its trunk's native VLAN (else 1).
      const nv = def.vlan && vlanPort(def.vlan);
      const port = this.switch.attach({ name: def.bridge ?? `${def.name}-gw`, vlan: nv?.vlan ?? nv?.native });
      const ip = ipNumber(def.ip);
      this.gateway = new Gateway(
        {
          ip,
          prefix: def.prefix,
          mac: def.mac ? parseMac(def.mac) : macFor(def.name),
          mode: def.mode,
          restrict: def.restrict ?? false,
          dhcp: def.dhcp && {
            rangeStart: ipNumber(def.dhcp.start),
            rangeEnd: ipNumber(def.dhcp.end),
            hosts: def.dhcp.hosts.map((h) => ({ mac: h.mac.toLowerCase(), ip: ipNumber(h.ip), name: h.name })),
          },
          domain: def.domain,
          dnsHosts: def.dnsHosts.map((h) => ({ ip: ipNumber(h.ip), names: h.names })),
          portRange: def.portRange,
        },
        port,
        opts.outside,
        opts.now,
      );
      for (const f of def.forwards ?? []) this.gateway.addForward(f);
    }
  }

  get name(): string {
    return this.def.name;
  }

  /**
   * A new port (a NIC's backend: give it to VirtioNet or Ne2000). Its VLANs, by libvirt's order:
   * the port's own (vlan or trunk given), else its portgroup's, else the default portgroup's,
   * else the network's <vlan>, else VLAN 1.
   */
  attach(opts: NetworkPortOptions | string): SwitchPort {
    const o = typeof opts === "string" ? { name: opts } : opts;
    if (o.vlan !== undefined || o.trunk !== undefined) return this.switch.attach(o);
    const groups = this.def.portgroups ?? [];
    const group =
      o.portgroup !== undefined ? groups.find((g) => g.name === o.portgroup) : groups.find((g) => g.default);
    if (o.portgroup !== undefined && !group)
      throw new RangeError(
        `network ${this.name} has no portgroup '${o.portgroup}' (${groups.map((g) => g.name).join(", ") || "none"})`,
      );
    const vlan = group?.vlan ?? this.def.vlan;
    return this.switch.attach({ name: o.name, ...(vlan ? vlanPort(vlan) : {}) });
  }

  /** Every frame the switch accepts goes to a pcap stream from now on. */
  capture(write: (bytes: Uint8Array) => void, close?: () => void): PcapWriter {
    const writer = new PcapWriter(write);
    this.switch.taps.push((f) => writer.frame(f));
    this.captures.push({ writer, close });
    return writer;
  }

  /** `virsh net-dhcp-leases NAME`. */
  leases() {
    return this.gateway?.dhcp?.table() ?? [];
  }

  /** What `info network` prints for this network. */
  describe(): string[] {
    const d = this.def;
    const out = [
      `network ${d.name}: ${d.mode}${d.restrict ? " (restrict)" : ""}${d.ip ? `, ${d.ip}/${d.prefix}` : ", no address"}${d.bridge ? `, bridge ${d.bridge}` : ""}`,
    ];
    for (const p of this.switch.ports) {
      const c = p.counters;
      const vlan = p.trunk
        ? `trunk ${[...p.trunk].join(",")}${p.native ? ` native ${p.native}` : ""}`
        : `vlan ${p.vlan}`;
      const why = Object.entries(c.dropped)
        .filter(([, n]) => n > 0)
        .map(([k, n]) => `${k} ${n}`)
        .join(", ");
      out.push(
        `  port ${p.name} (${vlan}): rx ${c.rxFrames} frames ${c.rxBytes} bytes, tx ${c.txFrames} frames ${c.txBytes} bytes, drops ${c.drops}${why ? ` (${why})` : ""}`,
      );
    }
    for (const m of this.switch.macTable())
      out.push(`  mac ${m.mac} vlan ${m.vlan} on ${m.port}, age ${m.ageS.toFixed(1)} s`);
    const g = this.gateway;
    if (g) {
      out.push(`  gateway ${ipString(g.config.ip)} ${macString(g.config.mac)}`);
      for (const l of this.leases())
        out.push(`  lease ${l.expiry}  ${l.mac}  ${l.protocol}  ${l.address}  ${l.hostname}`);
      for (const f of g.forwards) {
        const state = f.error
          ? `error: ${f.error}`
          : `${f.fwd.proto === "udp" ? "bound to" : "listening on"} ${f.fwd.hostAddr}:${f.listener.port}`;
        out.push(
          `  hostfwd ${f.fwd.proto} ${f.fwd.hostAddr}:${f.fwd.hostPort} -> ${f.fwd.guestAddr ?? "(first lease)"}:${f.fwd.guestPort}, ${state}`,
        );
      }
      for (const c of g.connections()) out.push(`  ${c}`);
      const gc = g.counters;
      const dc = g.dhcp?.counters;
      const nc = g.dns.counters;
      out.push(
        `  dropped by the gateway: truncated ${gc.truncated}, bad checksums ${gc.checksum}, fragments ${gc.fragments}, restricted ${gc.restricted}, dhcp garbage ${dc?.garbage ?? 0}, dns garbage ${nc.garbage}`,
      );
      if (g.reachesOut) out.push(...(this.outside?.describe?.() ?? []));
    }
    return out;
  }

  close(): void {
    this.gateway?.close();
    for (const c of this.captures) c.close?.();
    this.captures = [];
  }
}
