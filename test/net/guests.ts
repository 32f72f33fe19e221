// Several tiny Linux guests in one Node process, each with one NIC on a network port, run in turn
// in equal slices of virtual time (so their icount clocks stay together), with the event loop
// turning between rounds so that host sockets (NAT, forwards) make progress.

import { readFileSync } from "node:fs";
import type { NetBackend } from "../../devices/net/backend.js";
import { Ne2000 } from "../../devices/net/ne2000.js";
import { VirtioNet } from "../../devices/virtio/net.js";
import { loadLinux } from "../../vmm/boot/linux.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { Vm } from "../../vmm/vm.js";

const image = (name: string) => new Uint8Array(readFileSync(new URL(`../../guests/linux/${name}`, import.meta.url)));

export interface Guest {
  name: string;
  vm: Vm;
  out: { text: string };
  nic: VirtioNet | Ne2000;
}

export const guestMac = (n: number) => Uint8Array.of(0x52, 0x54, 0x00, 0xab, 0x00, n);

/** Boots a guest with one NIC (virtio-net or ne2k-pci) on `backend`, up to its shell prompt. */
export async function bootGuest(
  name: string,
  backend: NetBackend,
  mac: Uint8Array<ArrayBuffer>,
  nic: "virtio" | "ne2k",
): Promise<Guest> {
  const out = { text: "" };
  const dev = nic === "virtio" ? new VirtioNet(backend, mac) : new Ne2000(backend, mac);
  const vm = await Vm.create({
    ramBytes: 64 << 20,
    module: loadCoreModule(),
    pci: nic === "virtio" ? { virtio: [dev as VirtioNet] } : { functions: [dev as Ne2000] },
    onSerial: (com, b) => {
      if (com === 1) out.text += String.fromCharCode(b);
    },
  });
  loadLinux(vm.cpu, { kernel: image("bzImage"), initrd: image("initramfs.cpio.gz"), cmdline: "console=ttyS0 quiet" });
  return { name, vm, out, nic: dev };
}

/** Runs guests in rounds; waits for output while the host's event loop keeps turning. */
export class Runner {
  /** Progress (instructions, idle time included) each guest gets per round. */
  slice = 2_000_000;

  constructor(
    readonly guests: Guest[],
    /** Called after each round (a switch's pump, for instance). */
    private readonly between: () => void = () => undefined,
  ) {}

  async round(): Promise<void> {
    for (const g of this.guests) {
      const stop = g.vm.run(this.slice);
      if (stop.kind !== "limit")
        throw new Error(`${g.name} stopped: ${JSON.stringify(stop)}\n${g.out.text.slice(-600)}`);
    }
    this.between();
    await new Promise((r) => setImmediate(r));
  }

  /** Runs until `g` printed `text` after offset `from`, for at most `rounds` rounds. */
  async until(g: Guest, text: string, from = 0, rounds = 3000): Promise<void> {
    for (let i = 0; i < rounds; i++) {
      if (g.out.text.includes(text, from)) return;
      await this.round();
    }
    throw new Error(`${g.name}: no '${text}' after ${rounds} rounds; output ends with:\n${g.out.text.slice(-800)}`);
  }

  /** Runs a shell command line on `g` and returns its output. */
  async sh(g: Guest, cmd: string, rounds = 3000): Promise<string> {
    const from = g.out.text.length;
    g.vm.devices.com1.receive(`${cmd}; echo @@; echo done\r`);
    await this.until(g, "@@\r\ndone", from, rounds);
    const end = g.out.text.indexOf("@@\r\ndone", from);
    await this.until(g, "~ # ", end, rounds);
    return g.out.text.slice(from, end);
  }

  /** Runs the guests until `p` settles. */
  async during<T>(p: Promise<T>, rounds = 3000): Promise<T> {
    let settled = false;
    const done = p.finally(() => {
      settled = true;
    });
    for (let i = 0; i < rounds && !settled; i++) await this.round();
    if (!settled) throw new Error(`the host side did not finish in ${rounds} rounds`);
    return done;
  }
}

/** The udhcpc script the tiny Linux lacks (its initramfs has no /usr/share/udhcpc). */
export const DHCP_SCRIPT =
  "printf '#!/bin/sh\\ncase $1 in bound|renew) ifconfig $interface $ip netmask $subnet; " +
  '[ -n "$router" ] && route add default gw $router; echo nameserver $dns > /etc/resolv.conf;; esac\\n\' > /tmp/dhcp.sh && chmod +x /tmp/dhcp.sh';
