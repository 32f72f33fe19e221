// The command line's network flags, in QEMU's spelling:
//
//   -netdev user,id=NAME[,net=ADDR[/MASK]][,host=ADDR]     a backend, named for a -device
//   -device virtio-net-pci|ne2k_pci[,netdev=NAME][,mac=52:54:00:xx:xx:xx]
//   -nic user[,model=virtio-net-pci|ne2k_pci][,mac=...][,net=...][,host=...]   both at once
//   -nic none                                               no NIC (this machine's default anyway)
//
// The one backend this machine has is `user`: a wire with one host (10.0.2.2 unless host= or net=
// say otherwise) that answers ARP and ping (devices/net/backend.ts, EchoHostBackend), standing in
// for QEMU's user-mode network until a later issue brings a virtual switch. QEMU's other user
// options (hostfwd, dns, dhcpstart, restrict, smb, tftp, ...) and other backends (tap, socket,
// bridge, ...) are refused with a one-line error naming what exists, as is a netdev no NIC uses or
// two NICs share. -nic without model= gives virtio-net-pci (QEMU's pc machine defaults to e1000,
// which this machine does not have).

import { UserInputError } from "./files.js";
import { wordAndKeyValues } from "./qemu-options.js";

export const NIC_MODELS = ["virtio-net-pci", "ne2k_pci"] as const;
export type NicModel = (typeof NIC_MODELS)[number];

export interface NetdevArg {
  kind: "user";
  id: string;
  /** The answering host's address (a.b.c.d). */
  host: string;
}

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

/** The host address of a user network from net= and host= (QEMU: the network's .2 by default). */
function userHost(flag: string, net: string | undefined, host: string | undefined): string {
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
    if (!addr || p < 8 || p > 30)
      throw new UserInputError(`${flag}: net=${net}: give ADDR/PREFIX, such as 10.0.2.0/24`);
    const size = 2 ** (32 - p);
    const n = addr.reduce((a, b) => a * 256 + b, 0);
    const start = n - (n % size);
    base = [start >>> 24, (start >>> 16) & 0xff, (start >>> 8) & 0xff, start & 0xff];
    prefix = p;
  }
  if (host === undefined) return `${base[0]}.${base[1]}.${base[2]}.${base[3]! + 2}`;
  const h = octets(host);
  if (!h) throw new UserInputError(`${flag}: host=${host}: not an IPv4 address`);
  const size = 2 ** (32 - prefix);
  const hn = h.reduce((a, b) => a * 256 + b, 0);
  const bn = base.reduce((a, b) => a * 256 + b, 0);
  if (hn - (hn % size) !== bn) {
    throw new UserInputError(`${flag}: host=${host} is not in the network ${base.join(".")}/${prefix}`);
  }
  return host;
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

const USER_OPTIONS = ["id", "net", "host"];

function userBackend(flag: string, kv: Map<string, string>, allowed: string[]): { host: string } {
  for (const k of kv.keys()) {
    if (!allowed.includes(k)) {
      throw new UserInputError(`${flag} user: '${k}' is not supported here (${allowed.join(", ")})`);
    }
  }
  return { host: userHost(flag, kv.get("net"), kv.get("host")) };
}

/** One -netdev value. */
export function parseNetdev(value: string): NetdevArg {
  const { head, kv } = wordAndKeyValues("-netdev", value);
  if (head !== "user") {
    throw new UserInputError(`-netdev ${head || value}: this machine has the user backend only (-netdev user,id=NAME)`);
  }
  const id = kv.get("id");
  if (!id) throw new UserInputError("-netdev user: id=NAME is required (a -device names it with netdev=NAME)");
  return { kind: "user", id, ...userBackend("-netdev", kv, USER_OPTIONS) };
}

/** One -nic value: a NIC and its backend, or `none`. */
export function parseNic(value: string, index: number): { netdev: NetdevArg; nic: NicArg } | undefined {
  const { head, kv } = wordAndKeyValues("-nic", value);
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
    netdev: { kind: "user", id, ...userBackend("-nic", kv, ["net", "host", "id"]) },
    nic: { model: model as NicModel, netdev: id, mac: mac === undefined ? undefined : parseMac("-nic", mac) },
  };
}

/** The MAC QEMU gives the n-th NIC without mac=: 52:54:00:12:34:56, then :57, ... */
export function defaultMac(n: number): Uint8Array<ArrayBuffer> {
  return Uint8Array.of(0x52, 0x54, 0x00, 0x12, 0x34, (0x56 + n) & 0xff);
}

/**
 * Pairs NICs with their netdevs: each netdev is used by exactly one NIC, each netdev= names one.
 * Returns, per NIC, its backend's host address (undefined: the NIC has its own default wire).
 */
export function connectNics(netdevs: NetdevArg[], nics: NicArg[]): (string | undefined)[] {
  const byId = new Map<string, NetdevArg>();
  for (const n of netdevs) {
    if (byId.has(n.id)) throw new UserInputError(`-netdev id=${n.id} is used twice`);
    byId.set(n.id, n);
  }
  const used = new Set<string>();
  const hosts = nics.map((nic) => {
    if (nic.netdev === undefined) return undefined;
    const n = byId.get(nic.netdev);
    if (!n) throw new UserInputError(`-device ${nic.model}: no -netdev with id=${nic.netdev}`);
    if (used.has(n.id)) throw new UserInputError(`-netdev ${n.id} is already used by another NIC`);
    used.add(n.id);
    return n.host;
  });
  for (const n of netdevs) {
    if (!used.has(n.id)) throw new UserInputError(`-netdev id=${n.id}: no NIC uses it (-device ...,netdev=${n.id})`);
  }
  return hosts;
}
