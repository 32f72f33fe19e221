// The command line's network flags, in QEMU's spelling:
//
//   -netdev user,id=NAME[,net=ADDR[/MASK]][,host=ADDR][,restrict=on|off]
//           [,hostfwd=tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT ...]
//        a NAT network of its own (vmm/net/): the gateway at host= (the network's .2), DHCP from
//        .15 for 16 addresses (QEMU's slirp), DNS at the gateway, guest TCP and UDP out through the
//        host's sockets, forwards in. Differences from slirp: DNS answers at the gateway (not .3),
//        and a forward listens on 127.0.0.1 unless HOSTADDR says otherwise (slirp: every address).
//   -netdev network,id=NAME,xml=FILE|name=default[,portgroup=NAME][,hostfwd=...][,restrict=on]
//        a network defined in libvirt's network XML (or libvirt's `default`, 192.168.122.0/24);
//        several NICs may share one (the same xml=FILE or name= joins the same network);
//        portgroup= puts the NIC in one of the XML's <portgroup>s (its VLANs).
//   -netdev socket,id=NAME,connect=HOST:PORT | listen=[HOST]:PORT
//   -netdev stream,id=NAME,server=on|off,addr.type=inet,addr.host=HOST,addr.port=PORT
//   -netdev stream,id=NAME,server=on|off,addr.type=unix,addr.path=PATH
//        frames over a stream in QEMU's framing (vmm/net/stream.ts): connecting makes the stream
//        the NIC's wire; listening puts the NIC on a switch that takes every connection as a port.
//   -device virtio-net-pci|ne2k_pci[,netdev=NAME][,mac=52:54:00:xx:xx:xx]
//   -nic user[,model=virtio-net-pci|ne2k_pci][,mac=...][,net=...][,host=...][,restrict=..][,hostfwd=..]
//   -nic none                                               no NIC (this machine's default anyway)
//
// A NIC with no netdev= is on a wire with one host that answers ARP and ping (EchoHostBackend).
// Other backends (tap, bridge, vde, ...) and slirp options this machine lacks are refused with a
// one-line error naming what exists, as is a netdev no NIC uses or two NICs share. -nic without
// model= gives virtio-net-pci (QEMU's pc machine defaults to e1000, which this machine lacks).

import { readFileSync } from "node:fs";
import { EchoHostBackend, type NetBackend } from "../../devices/net/backend.js";
import type { PortForward } from "../net/gateway.js";
import { defaultNetworkDef, Network, type NetworkDef } from "../net/network.js";
import { NetworkXmlError, parseNetworkXml } from "../net/network-xml.js";
import { NodeOutside } from "../net/node-outside.js";
import { StreamBackend, serveNetwork } from "../net/stream.js";
import { UserInputError } from "./files.js";
import { wordAndKeyValues } from "./qemu-options.js";

export const NIC_MODELS = ["virtio-net-pci", "ne2k_pci"] as const;
export type NicModel = (typeof NIC_MODELS)[number];

export type StreamTarget = { host: string; port: number } | { path: string };

export type NetdevArg =
  | {
      kind: "user";
      id: string;
      /** The gateway's address (a.b.c.d). */
      host: string;
      prefix: number;
      restrict: boolean;
      forwards: PortForward[];
    }
  | { kind: "network"; id: string; def: NetworkDef; source: string; portgroup?: string }
  | { kind: "stream"; id: string; connect?: StreamTarget; listen?: StreamTarget };

export interface NicArg {
  model: NicModel;
  netdev?: string;
  /** Six bytes, unicast. */
  mac?: Uint8Array<ArrayBuffer>;
}

function octets(s: string): number[] | undefined {
  const parts = s.split(".");
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return undefined;
  return parts.map(Number);
}

/** The host address and prefix of a user network from net= and host= (QEMU: the network's .2). */
function userHost(flag: string, net: string | undefined, host: string | undefined): { host: string; prefix: number } {
  let base = [10, 0, 2, 0];
  let prefix = 24;
  if (net !== undefined) {
    const m = /^([^/]+)(?:\/(\d{1,2}|[\d.]+))?$/.exec(net);
    const addr = m ? octets(m[1]!) : undefined;
    let p = 24;
    if (m?.[2] !== undefined) {
      const mask = octets(m[2]);
      if (mask) {
        const bits = mask.reduce((a, b) => a * 256 + b, 0);
        p = 32 - Math.log2(2 ** 32 - bits);
        if (!Number.isInteger(p)) p = -1;
      } else p = Number(m[2]);
    }
    if (!addr || p < 8 || p > 27)
      throw new UserInputError(`${flag}: net=${net}: give ADDR/PREFIX (prefix 8..27), such as 10.0.2.0/24`);
    const size = 2 ** (32 - p);
    const n = addr.reduce((a, b) => a * 256 + b, 0);
    const start = n - (n % size);
    base = [start >>> 24, (start >>> 16) & 0xff, (start >>> 8) & 0xff, start & 0xff];
    prefix = p;
  }
  if (host === undefined) return { host: `${base[0]}.${base[1]}.${base[2]}.${base[3]! + 2}`, prefix };
  const h = octets(host);
  if (!h) throw new UserInputError(`${flag}: host=${host}: not an IPv4 address`);
  const size = 2 ** (32 - prefix);
  const hn = h.reduce((a, b) => a * 256 + b, 0);
  const bn = base.reduce((a, b) => a * 256 + b, 0);
  if (hn - (hn % size) !== bn) {
    throw new UserInputError(`${flag}: host=${host} is not in the network ${base.join(".")}/${prefix}`);
  }
  return { host, prefix };
}

/** QEMU's mac=52:54:00:12:34:56 (colons or dashes); a multicast address is refused. */
export function parseMac(flag: string, v: string): Uint8Array<ArrayBuffer> {
  const parts = v.split(/[:-]/);
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) {
    throw new UserInputError(`${flag}: mac=${v}: give six hex bytes, such as 52:54:00:12:34:56`);
  }
  const mac = Uint8Array.from(parts.map((p) => Number.parseInt(p, 16)));
  if (mac[0]! & 1) throw new UserInputError(`${flag}: mac=${v} is a multicast address`);
  return mac;
}

/** hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT (QEMU's spelling). */
export function parseHostfwd(flag: string, v: string): PortForward {
  const m = /^(tcp|udp)?:([^:]*):(\d+)-([^:]*):(\d+)$/.exec(v);
  const usage = `${flag}: hostfwd=${v}: give tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT`;
  if (!m) throw new UserInputError(usage);
  const [hostAddr, guestAddr] = [m[2]!, m[4]!];
  for (const a of [hostAddr, guestAddr]) if (a !== "" && !octets(a)) throw new UserInputError(usage);
  const hostPort = Number(m[3]);
  const guestPort = Number(m[5]);
  if (hostPort > 65535 || guestPort < 1 || guestPort > 65535) throw new UserInputError(`${usage} (ports 1..65535)`);
  const proto = m[1] === "udp" ? "udp" : "tcp";
  return { proto, hostAddr: hostAddr || "127.0.0.1", hostPort, guestAddr: guestAddr || undefined, guestPort };
}

const onOff = (flag: string, k: string, v: string | undefined): boolean => {
  if (v === undefined || v === "off") return false;
  if (v === "on") return true;
  throw new UserInputError(`${flag}: ${k}=${v}: give on or off`);
};

/** Takes the repeatable hostfwd= parts out of an option string (keyValues refuses repeats). */
function splitForwards(flag: string, value: string): { rest: string; forwards: PortForward[] } {
  const parts = value.split(",");
  const forwards = parts.filter((p) => p.startsWith("hostfwd=")).map((p) => parseHostfwd(flag, p.slice(8)));
  return { rest: parts.filter((p) => !p.startsWith("hostfwd=")).join(","), forwards };
}

function refuseOthers(flag: string, kv: Map<string, string>, allowed: string[]): void {
  for (const k of kv.keys()) {
    if (!allowed.includes(k)) {
      throw new UserInputError(`${flag}: '${k}' is not supported here (${allowed.join(", ")}, hostfwd)`);
    }
  }
}

function userNetdev(flag: string, id: string, kv: Map<string, string>, forwards: PortForward[], allowed: string[]) {
  refuseOthers(`${flag} user`, kv, allowed);
  const { host, prefix } = userHost(flag, kv.get("net"), kv.get("host"));
  const base = (octets(host)!.reduce((a, b) => a * 256 + b, 0) & ~(2 ** (32 - prefix) - 1)) >>> 0;
  // QEMU: a forward without GUESTADDR goes to the first DHCP address (the network's .15).
  const first = `${base >>> 24}.${(base >>> 16) & 0xff}.${(base >>> 8) & 0xff}.${(base & 0xff) + 15}`;
  return {
    kind: "user" as const,
    id,
    host,
    prefix,
    restrict: onOff(flag, "restrict", kv.get("restrict")),
    forwards: forwards.map((f) => ({ ...f, guestAddr: f.guestAddr ?? first })),
  };
}

function target(flag: string, v: string, listen: boolean): StreamTarget {
  const m = /^([^:]*):(\d+)$/.exec(v);
  if (!m || Number(m[2]) > 65535 || (!listen && m[1] === "")) {
    throw new UserInputError(`${flag}: '${v}': give ${listen ? "[HOST]" : "HOST"}:PORT`);
  }
  return { host: m[1] || "127.0.0.1", port: Number(m[2]) };
}

function streamNetdev(flag: string, head: string, id: string, kv: Map<string, string>): NetdevArg {
  if (head === "socket") {
    refuseOthers(`${flag} socket`, kv, ["id", "connect", "listen"]);
    const c = kv.get("connect");
    const l = kv.get("listen");
    if ((c === undefined) === (l === undefined))
      throw new UserInputError(`${flag} socket: give connect=HOST:PORT or listen=[HOST]:PORT`);
    return c !== undefined
      ? { kind: "stream", id, connect: target(flag, c, false) }
      : { kind: "stream", id, listen: target(flag, l!, true) };
  }
  refuseOthers(`${flag} stream`, kv, ["id", "server", "addr.type", "addr.host", "addr.port", "addr.path"]);
  const server = onOff(flag, "server", kv.get("server"));
  const type = kv.get("addr.type");
  let where: StreamTarget;
  if (type === "unix") {
    const path = kv.get("addr.path");
    if (!path) throw new UserInputError(`${flag} stream: addr.type=unix needs addr.path=PATH`);
    where = { path };
  } else if (type === "inet") {
    where = target(flag, `${kv.get("addr.host") ?? ""}:${kv.get("addr.port") ?? ""}`, server);
  } else throw new UserInputError(`${flag} stream: give addr.type=inet or addr.type=unix`);
  return server ? { kind: "stream", id, listen: where } : { kind: "stream", id, connect: where };
}

function networkNetdev(flag: string, id: string, kv: Map<string, string>, forwards: PortForward[]): NetdevArg {
  refuseOthers(`${flag} network`, kv, ["id", "xml", "name", "restrict", "portgroup"]);
  const xml = kv.get("xml");
  const name = kv.get("name");
  let def: NetworkDef;
  let source: string;
  if (xml !== undefined && name === undefined) {
    let text: string;
    try {
      text = readFileSync(xml, "utf8");
    } catch (e) {
      throw new UserInputError(`${flag} network: cannot read ${xml}: ${(e as NodeJS.ErrnoException).code ?? e}`);
    }
    try {
      def = parseNetworkXml(text);
    } catch (e) {
      if (e instanceof NetworkXmlError || e instanceof RangeError)
        throw new UserInputError(`${flag} network: ${xml}: ${e.message}`);
      throw e;
    }
    source = `xml:${xml}`;
  } else if (name === "default" && xml === undefined) {
    def = defaultNetworkDef();
    source = "name:default";
  } else throw new UserInputError(`${flag} network: give xml=FILE (libvirt's network XML) or name=default`);
  if (onOff(flag, "restrict", kv.get("restrict"))) def.restrict = true;
  if (forwards.length > 0) {
    if (def.mode !== "nat")
      throw new UserInputError(`${flag} network: hostfwd needs a nat network (${def.name} is isolated)`);
    def.forwards = [...(def.forwards ?? []), ...forwards];
  }
  const portgroup = kv.get("portgroup");
  if (portgroup !== undefined && !(def.portgroups ?? []).some((g) => g.name === portgroup)) {
    const have = (def.portgroups ?? []).map((g) => g.name).join(", ") || "none";
    throw new UserInputError(`${flag} network: portgroup=${portgroup}: ${def.name} has no such portgroup (${have})`);
  }
  return { kind: "network", id, def, source, portgroup };
}

/** One -netdev value. */
export function parseNetdev(value: string): NetdevArg {
  const { rest, forwards } = splitForwards("-netdev", value);
  const { head, kv } = wordAndKeyValues("-netdev", rest);
  if (!["user", "network", "socket", "stream"].includes(head)) {
    throw new UserInputError(
      `-netdev ${head || value}: this machine has the user, network, socket and stream backends`,
    );
  }
  const id = kv.get("id");
  if (!id) throw new UserInputError(`-netdev ${head}: id=NAME is required (a -device names it with netdev=NAME)`);
  if (head === "user") return userNetdev("-netdev", id, kv, forwards, ["id", "net", "host", "restrict"]);
  if (head === "network") return networkNetdev("-netdev", id, kv, forwards);
  if (forwards.length > 0) throw new UserInputError(`-netdev ${head}: hostfwd belongs to a user or network netdev`);
  return streamNetdev("-netdev", head, id, kv);
}

/** One -nic value: a NIC and its backend, or `none`. */
export function parseNic(value: string, index: number): { netdev: NetdevArg; nic: NicArg } | undefined {
  const { rest, forwards } = splitForwards("-nic", value);
  const { head, kv } = wordAndKeyValues("-nic", rest);
  if (head === "none" && kv.size === 0) return undefined;
  if (head !== "user") throw new UserInputError(`-nic ${head || value}: use -nic user[,model=...] or -nic none`);
  const model = kv.get("model") ?? "virtio-net-pci";
  if (!(NIC_MODELS as readonly string[]).includes(model)) {
    throw new UserInputError(`-nic: model=${model}: this machine has ${NIC_MODELS.join(" and ")}`);
  }
  const mac = kv.get("mac");
  kv.delete("model");
  kv.delete("mac");
  const id = `nic${index}`;
  return {
    netdev: userNetdev("-nic", id, kv, forwards, ["net", "host", "id", "restrict"]),
    nic: { model: model as NicModel, netdev: id, mac: mac === undefined ? undefined : parseMac("-nic", mac) },
  };
}

/** The MAC QEMU gives the n-th NIC without mac=: 52:54:00:12:34:56, then :57, ... */
export function defaultMac(n: number): Uint8Array<ArrayBuffer> {
  return Uint8Array.of(0x52, 0x54, 0x00, 0x12, 0x34, (0x56 + n) & 0xff);
}

/**
 * Pairs NICs with their netdevs: each netdev is used by exactly one NIC, each netdev= names one.
 * Returns, per NIC, its netdev (undefined: the NIC has its own default wire).
 */
export function connectNics(netdevs: NetdevArg[], nics: NicArg[]): (NetdevArg | undefined)[] {
  const byId = new Map<string, NetdevArg>();
  for (const n of netdevs) {
    if (byId.has(n.id)) throw new UserInputError(`-netdev id=${n.id} is used twice`);
    byId.set(n.id, n);
  }
  const used = new Set<string>();
  const chosen = nics.map((nic) => {
    if (nic.netdev === undefined) return undefined;
    const n = byId.get(nic.netdev);
    if (!n) throw new UserInputError(`-device ${nic.model}: no -netdev with id=${nic.netdev}`);
    if (used.has(n.id)) throw new UserInputError(`-netdev ${n.id} is already used by another NIC`);
    used.add(n.id);
    return n;
  });
  for (const n of netdevs) {
    if (!used.has(n.id)) throw new UserInputError(`-netdev id=${n.id}: no NIC uses it (-device ...,netdev=${n.id})`);
  }
  return chosen;
}

/** The networks and stream listeners this process made, for `info network`. */
const made: {
  networks: Map<string, Network>;
  listeners: { id: string; where: string; counters: () => string; close: () => void }[];
} = {
  networks: new Map(),
  listeners: [],
};

function streamWhere(t: StreamTarget): string {
  return "path" in t ? t.path : `${t.host}:${t.port}`;
}

/**
 * The backend of the n-th NIC: its netdev's network (made on first use; NICs naming the same
 * network XML or name=default share one), a stream, or the default wire.
 */
export function nicBackend(netdev: NetdevArg | undefined, n: number): NetBackend {
  if (netdev === undefined) return new EchoHostBackend();
  const port = `nic${n}`;
  if (netdev.kind === "stream") {
    if (netdev.connect) return new StreamBackend(netdev.connect);
    const net = new Network({ name: netdev.id, mode: "isolated", prefix: 24, dnsHosts: [] });
    made.networks.set(`stream:${netdev.id}`, net);
    const where = netdev.listen!;
    const s = serveNetwork(net, where, (err) => {
      if (err) process.stderr.write(`-netdev ${netdev.id}: cannot listen on ${streamWhere(where)}: ${err}\n`);
    });
    made.listeners.push({
      id: netdev.id,
      where: streamWhere(where),
      counters: () => JSON.stringify(s.counters),
      close: () => s.server.close(),
    });
    return net.attach(port);
  }
  const key = netdev.kind === "network" ? netdev.source : `user:${netdev.id}`;
  let net = made.networks.get(key);
  if (!net) {
    const def: NetworkDef = netdev.kind === "network" ? netdev.def : userNetworkDef(netdev);
    net = new Network(def, { outside: new NodeOutside() });
    made.networks.set(key, net);
  } else if (
    netdev.kind === "network" &&
    (JSON.stringify(netdev.def.forwards ?? []) !== JSON.stringify(net.def.forwards ?? []) ||
      (netdev.def.restrict ?? false) !== (net.def.restrict ?? false))
  ) {
    // A second netdev joins the network the first made; its options cannot change it.
    throw new UserInputError(
      `-netdev ${netdev.id}: network ${net.name} is already made by another netdev; give hostfwd and restrict there only, or the same on each`,
    );
  }
  // Port names are the NICs' (nic0, nic1, ...); a second machine in this process gets nic0-2, ...
  let name = port;
  for (let k = 2; net.switch.ports.some((p) => p.name === name); k++) name = `${port}-${k}`;
  return net.attach({ name, portgroup: netdev.kind === "network" ? netdev.portgroup : undefined });
}

function userNetworkDef(u: Extract<NetdevArg, { kind: "user" }>): NetworkDef {
  const h = octets(u.host)!.reduce((a, b) => a * 256 + b, 0);
  const base = (h & ~(2 ** (32 - u.prefix) - 1)) >>> 0;
  const ip = (n: number) => `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
  return {
    name: u.id,
    mode: "nat",
    ip: u.host,
    prefix: u.prefix,
    // slirp's pool: 16 addresses from the network's .15.
    dhcp: { start: ip(base + 15), end: ip(base + 30), hosts: [] },
    dnsHosts: [],
    restrict: u.restrict,
    forwards: u.forwards,
  };
}

/** `info network`: each network this process made (ports, MAC table, leases, forwards, flows). */
export function infoNetwork(): string {
  const lines: string[] = [];
  for (const net of made.networks.values()) lines.push(...net.describe());
  for (const l of made.listeners) lines.push(`stream listener ${l.id} on ${l.where}: ${l.counters()}`);
  return lines.length > 0 ? `${lines.join("\n")}\n` : "no networks (NICs on their own wires only)\n";
}

/** Closes every network and listener (sockets, forwards) this process made. */
export function closeNetworks(): void {
  for (const n of made.networks.values()) n.close();
  made.networks.clear();
  for (const l of made.listeners) l.close();
  made.listeners.length = 0;
}
