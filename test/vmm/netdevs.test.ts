// The command line's -netdev, -nic and the NICs' netdev=/mac= (vmm/node/netdevs.ts), and what
// they build: each NIC on its own wire whose host answers at the address the flags give.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { EchoHostBackend, type NetBackend } from "../../devices/net/backend.js";
import { Ne2000 } from "../../devices/net/ne2000.js";
import { bytesSource } from "../../devices/storage/block.js";
import { VirtioNet } from "../../devices/virtio/net.js";
import { parseArgs } from "../../vmm/node/args.js";
import { machinePci } from "../../vmm/node/drives.js";
import { UserInputError } from "../../vmm/node/files.js";
import { closeNetworks, infoNetwork, parseMac, parseNetdev, parseNic } from "../../vmm/node/netdevs.js";

const open = () => bytesSource(new Uint8Array(8192));
const build = (argv: string[]) => machinePci(parseArgs(argv).machine, open);
const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join(":");

/** An ARP request for `ip` from 10.0.2.15; the answer's sender address, or undefined. */
async function arpAnswer(wire: NetBackend, ip: number[]): Promise<number[] | undefined> {
  const f = new Uint8Array(42);
  f.fill(0xff, 0, 6);
  f.set([0x52, 0x54, 0, 0x12, 0x34, 0x56], 6);
  f.set([0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1], 12);
  f.set([0x52, 0x54, 0, 0x12, 0x34, 0x56, 10, 0, 2, 15], 22);
  f.set(ip, 38);
  let reply: Uint8Array | undefined;
  const was = wire.onReceive;
  wire.onReceive = (r) => {
    reply = r;
  };
  wire.transmit(f);
  await Promise.resolve(); // a network's switch forwards on a microtask
  await Promise.resolve();
  wire.onReceive = was;
  return reply ? [...reply.subarray(28, 32)] : undefined;
}

describe("-netdev and -nic", () => {
  it("parses QEMU's spellings", () => {
    expect(parseNetdev("user,id=n0")).toEqual({
      kind: "user",
      id: "n0",
      host: "10.0.2.2",
      prefix: 24,
      restrict: false,
      forwards: [],
    });
    expect(
      parseNetdev(
        "user,id=n0,restrict=on,hostfwd=tcp::2222-:22,hostfwd=tcp:0.0.0.0:8080-10.0.2.20:80,hostfwd=udp::6969-:69",
      ),
    ).toMatchObject({
      restrict: true,
      forwards: [
        { proto: "tcp", hostAddr: "127.0.0.1", hostPort: 2222, guestAddr: "10.0.2.15", guestPort: 22 },
        { proto: "tcp", hostAddr: "0.0.0.0", hostPort: 8080, guestAddr: "10.0.2.20", guestPort: 80 },
        { proto: "udp", hostAddr: "127.0.0.1", hostPort: 6969, guestAddr: "10.0.2.15", guestPort: 69 },
      ],
    });
    expect(parseNetdev("socket,id=s,connect=127.0.0.1:5555")).toEqual({
      kind: "stream",
      id: "s",
      connect: { host: "127.0.0.1", port: 5555 },
    });
    expect(parseNetdev("socket,id=s,listen=:5555")).toMatchObject({ listen: { host: "127.0.0.1", port: 5555 } });
    expect(parseNetdev("stream,id=s,server=on,addr.type=unix,addr.path=/tmp/x.sock")).toMatchObject({
      listen: { path: "/tmp/x.sock" },
    });
    expect(parseNetdev("stream,id=s,server=off,addr.type=inet,addr.host=10.1.1.1,addr.port=7")).toMatchObject({
      connect: { host: "10.1.1.1", port: 7 },
    });
    expect(parseNetdev("network,id=d,name=default")).toMatchObject({
      kind: "network",
      def: { name: "default", ip: "192.168.122.1", mode: "nat" },
    });
    expect(parseNetdev("user,id=n1,net=192.168.76.0/24")).toMatchObject({ host: "192.168.76.2" });
    expect(parseNetdev("user,id=n1,net=172.16.0.0/255.255.0.0,host=172.16.9.1")).toMatchObject({
      host: "172.16.9.1",
    });
    expect(parseNic("none", 0)).toBeUndefined();
    const nic = parseNic("user,model=ne2k_pci,mac=52:54:00:ab:cd:ef", 3);
    expect(nic?.netdev).toMatchObject({ kind: "user", id: "nic3", host: "10.0.2.2" });
    expect(nic?.nic.model).toBe("ne2k_pci");
    expect(hex(nic!.nic.mac!)).toBe("52:54:00:ab:cd:ef");
    expect(parseNic("user", 0)?.nic.model).toBe("virtio-net-pci");
    expect(hex(parseMac("x", "02-00-00-00-00-01"))).toBe("02:00:00:00:00:01");
  });

  it("refuses what this machine cannot do with a one-line error", () => {
    const bad: [() => unknown, RegExp][] = [
      [() => parseNetdev("tap,id=t0"), /user, network, socket and stream backends/],
      [() => parseNetdev("user"), /id=NAME is required/],
      [() => parseNetdev("user,id=a,hostfwd=sctp::2222-:22"), /give tcp\|udp:\[HOSTADDR/],
      [
        () => parseNetdev("user,id=a,hostfwd=tcp::x-:22"),
        /give tcp\|udp:\[HOSTADDR\]:HOSTPORT-\[GUESTADDR\]:GUESTPORT/,
      ],
      [() => parseNetdev("user,id=a,hostfwd=tcp::22-:0"), /ports 1\.\.65535/],
      [() => parseNetdev("user,id=a,restrict=yes"), /restrict=yes: give on or off/],
      [() => parseNetdev("user,id=a,smb=/tmp"), /'smb' is not supported here/],
      [() => parseNetdev("socket,id=s"), /give connect=HOST:PORT or listen/],
      [() => parseNetdev("socket,id=s,connect=:5"), /give HOST:PORT/],
      [() => parseNetdev("stream,id=s,addr.type=vsock"), /addr\.type=inet or addr\.type=unix/],
      [() => parseNetdev("socket,id=s,listen=:5,hostfwd=tcp::1-:2"), /hostfwd belongs to a user or network netdev/],
      [() => parseNetdev("network,id=n"), /give xml=FILE .* or name=default/],
      [() => parseNetdev("network,id=n,xml=/nonexistent/net.xml"), /cannot read \/nonexistent\/net\.xml: ENOENT/],
      [() => parseNetdev("user,id=a,net=10.0.2.0/33"), /net=10\.0\.2\.0\/33/],
      [() => parseNetdev("user,id=a,net=10.0.2.0/255.0.255.0"), /give ADDR\/PREFIX/],
      [() => parseNetdev("user,id=a,host=10.0.3.2"), /not in the network 10\.0\.2\.0\/24/],
      [() => parseNetdev("user,id=a,host=300.1.1.1"), /not an IPv4 address/],
      [() => parseNetdev("user,id=a,id=b"), /given twice/],
      [() => parseNic("user,model=e1000", 0), /model=e1000: this machine has virtio-net-pci and ne2k_pci/],
      [() => parseNic("tap", 0), /use -nic user/],
      [() => parseNic("user,mac=01:00:00:00:00:01", 0), /multicast/],
      [() => parseNic("user,mac=52:54:00:12:34", 0), /six hex bytes/],
      [() => parseNic("user,dns=10.0.2.3", 0), /'dns' is not supported/],
    ];
    for (const [f, msg] of bad) expect(f).toThrow(msg);
    expect(() => parseArgs(["-netdev", "user,id=a", "-netdev", "user,id=a"])).not.toThrow(); // parsing only
    expect(() => build(["-netdev", "user,id=a", "-netdev", "user,id=a"])).toThrow(/id=a is used twice/);
    expect(() => build(["-netdev", "user,id=a"])).toThrow(/no NIC uses it/);
    expect(() => build(["-device", "virtio-net-pci,netdev=b"])).toThrow(/no -netdev with id=b/);
    expect(() =>
      build(["-netdev", "user,id=a", "-device", "ne2k_pci,netdev=a", "-device", "virtio-net-pci,netdev=a"]),
    ).toThrow(/already used by another NIC/);
    expect(() => build(["-device", "virtio-rng-pci,netdev=a"])).toThrow(/unknown property 'netdev'/);
    expect(() => parseArgs(["-netdev"])).toThrow(UserInputError);
    // Two netdevs on one network: the second may not change it.
    const two = (second: string) =>
      build([
        "-netdev",
        "network,id=a,name=default",
        "-device",
        "ne2k_pci,netdev=a",
        "-netdev",
        second,
        "-device",
        "virtio-net-pci,netdev=b",
      ]);
    expect(() => two("network,id=b,name=default,hostfwd=tcp::0-:22")).toThrow(
      /network default is already made by another netdev/,
    );
    closeNetworks();
    const shared = two("network,id=b,name=default");
    expect((shared.functions![0] as Ne2000).backend).not.toBe((shared.virtio![0] as VirtioNet).backend);
    expect(infoNetwork()).toMatch(/port nic0 .*\n.*port nic1 /);
    closeNetworks();
  });

  it("builds each NIC on its own network, with QEMU's MACs in order and the gateway the flags name", async () => {
    const pci = build([
      "-netdev",
      "user,id=lan,net=192.168.7.0/24",
      "-device",
      "ne2k_pci,netdev=lan",
      "-nic",
      "user,mac=52:54:00:00:00:aa",
      "-device",
      "virtio-net-pci",
    ]);
    const [ne2k] = pci.functions as Ne2000[];
    const [nic1, nic2] = pci.virtio as VirtioNet[];
    expect(ne2k).toBeInstanceOf(Ne2000);
    expect([nic1, nic2].every((n) => n instanceof VirtioNet)).toBe(true);
    expect(hex(ne2k!.mac)).toBe("52:54:00:12:34:56");
    expect(hex(nic1!.mac)).toBe("52:54:00:00:00:aa");
    expect(hex(nic2!.mac)).toBe("52:54:00:12:34:58");
    const wire = ne2k!.backend;
    expect(await arpAnswer(wire, [192, 168, 7, 2])).toEqual([192, 168, 7, 2]);
    expect(await arpAnswer(wire, [10, 0, 2, 2])).toBeUndefined();
    expect(await arpAnswer(nic1!.backend, [10, 0, 2, 2])).toEqual([10, 0, 2, 2]);
    expect(nic1!.backend).not.toBe(nic2!.backend);
    // A NIC with no netdev= keeps its own answering wire.
    expect(nic2!.backend).toBeInstanceOf(EchoHostBackend);
    expect(await arpAnswer(nic2!.backend, [10, 0, 2, 2])).toEqual([10, 0, 2, 2]);
    expect(infoNetwork()).toMatch(/network lan: nat, 192\.168\.7\.2\/24/);
    expect(infoNetwork()).toMatch(/port nic0 \(vlan 1\): rx 2 frames/);
    closeNetworks();
    // -nic none adds nothing.
    expect(build(["-nic", "none"]).virtio).toEqual([]);
  });
});

describe("-netdev network with portgroups", () => {
  it("puts each NIC in its portgroup's VLAN and refuses a portgroup the XML lacks", () => {
    const dir = mkdtempSync(join(tmpdir(), "x86lab-pg-"));
    const xml = join(dir, "lab.xml");
    writeFileSync(
      xml,
      "<network><name>lab</name><vlan><tag id='42'/></vlan>" +
        "<portgroup name='dmz'><vlan><tag id='7'/></vlan></portgroup>" +
        "<ip address='10.42.0.1' prefix='24'/></network>",
    );
    try {
      expect(parseNetdev(`network,id=a,xml=${xml},portgroup=dmz`)).toMatchObject({ kind: "network", portgroup: "dmz" });
      expect(() => parseNetdev(`network,id=a,xml=${xml},portgroup=web`)).toThrow(
        "-netdev network: portgroup=web: lab has no such portgroup (dmz)",
      );
      build(["-netdev", `network,id=a,xml=${xml},portgroup=dmz`, "-device", "virtio-net-pci,netdev=a"]);
      build(["-netdev", `network,id=b,xml=${xml}`, "-device", "virtio-net-pci,netdev=b"]);
      const info = infoNetwork();
      expect(info).toMatch(/port nic0 \(vlan 7\)/);
      expect(info).toMatch(/port nic0-2 \(vlan 42\)/);
    } finally {
      closeNetworks();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
