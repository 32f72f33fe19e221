// The stock Debian 686 kernel (scripts/fetch-bench-guest.sh puts it and its device-check
// initramfs in $X86LAB_CACHE/bench-guest, default ~/.cache/x86lab/bench-guest) by direct kernel
// boot: it finds the PCI bus without firmware, and the virtio drivers (all modules in Debian's
// kernel: the initramfs carries them and bench/guest/init-devices loads them) and ne2k-pci bind
// to the five virtio devices and the NE2000; each device is then used once. In every mode but
// trap: about 25-60 s of host time each with the JIT, so it lives here and not in `npm test`.

import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { EchoHostBackend } from "../../devices/net/backend.js";
import { Ne2000 } from "../../devices/net/ne2000.js";
import { CowDisk } from "../../devices/storage/block.js";
import { VirtioBalloon } from "../../devices/virtio/balloon.js";
import { VirtioBlk } from "../../devices/virtio/blk.js";
import { VirtioConsole } from "../../devices/virtio/console.js";
import { VirtioNet } from "../../devices/virtio/net.js";
import { VirtioRng } from "../../devices/virtio/rng.js";
import { loadLinux } from "../../vmm/boot/linux.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { Vm } from "../../vmm/vm.js";

const cache = process.env.X86LAB_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "x86lab");
const benchGuest = (name: string): Uint8Array => {
  const p = join(cache, "bench-guest", name);
  if (!existsSync(p)) {
    throw new Error(
      `${p} is missing: run scripts/fetch-bench-guest.sh first (it fetches Debian's kernel into ${cache})`,
    );
  }
  return new Uint8Array(readFileSync(p));
};

const RAM = 256 << 20;
/** Far more than the boot needs (the run stops at the end marker); a hang fails instead of waiting forever. */
const LIMIT = 60_000_000_000;

/** Every mode but trap (the "in every mode but trap"). */
const MODES = ["native", "bt", "hvm", "pv"] as const;

describe("the stock Debian 686 kernel on virtio (scripts/fetch-bench-guest.sh)", () => {
  it.each(MODES)(
    "%s: sees the PCI bus under direct boot and binds virtio blk, net, console, rng, balloon and ne2k-pci",
    async (mode) => {
      const kernel = benchGuest("vmlinuz-686");
      const initrd = benchGuest("initramfs-devices.cpio.gz");
      let serial = "";
      const hvc: number[] = [];
      const vnetHost = new EchoHostBackend("10.0.2.2");
      const neHost = new EchoHostBackend("10.0.3.2");
      const balloon = new VirtioBalloon({ ramBytes: RAM });
      const ne2k = new Ne2000(neHost);
      const vm = await Vm.create({
        module: loadCoreModule(),
        ramBytes: RAM,
        mode,
        onSerial: (com, b) => {
          if (com === 1) serial += String.fromCharCode(b);
        },
        pci: {
          virtio: [
            new VirtioBlk({ disk: new CowDisk({ size: 1 << 20, readAt: (_o, dest) => dest.fill(0x5a) }) }),
            new VirtioNet(vnetHost),
            new VirtioConsole((bytes) => hvc.push(...bytes)),
            new VirtioRng((dest) => dest.fill(0x42)),
            balloon,
          ],
          functions: [ne2k],
        },
      });
      loadLinux(vm.cpu, { kernel, initrd, cmdline: "console=ttyS0" });
      const stop = vm.run(LIMIT, () => {
        if (serial.includes("@@dev end")) vm.requestStop({ kind: "stopped" });
      });
      expect(stop.kind, serial.slice(-2000)).toBe("stopped");
      const lines = (kind: string) =>
        [...serial.matchAll(new RegExp(`^@@dev ${kind} (.*?)\\r?$`, "gm"))].map((m) => m[1]!.split(" "));

      // PCI through configuration mechanism #1, without firmware.
      expect(serial).not.toMatch(/PCI: Fatal|does not support PCI/);
      expect(serial).toMatch(/PCI host bridge to bus 0000:00/);
      expect(lines("insmod-failed")).toEqual([]);
      const pci = new Map(lines("pci").map(([slot, id, driver]) => [slot!, { id: id!, driver: driver! }]));
      expect(pci.get("0000:00:00.0")?.id).toBe("0x8086:0x1237"); // i440FX
      const virtioPci = [...pci.values()].filter((f) => f.id.startsWith("0x1af4:"));
      expect(virtioPci.map((f) => f.driver)).toEqual([
        "virtio-pci",
        "virtio-pci",
        "virtio-pci",
        "virtio-pci",
        "virtio-pci",
      ]);
      expect([...pci.values()].find((f) => f.id === "0x10ec:0x8029")?.driver).toBe("ne2k-pci");

      // Each virtio device bound to its driver (virtio device IDs: net 1, blk 2, console 3, rng 4, balloon 5).
      const virtio = Object.fromEntries(lines("virtio").map(([, id, driver]) => [Number(id), driver]));
      expect(virtio).toEqual({
        1: "virtio_net",
        2: "virtio_blk",
        3: "virtio_console",
        4: "virtio_rng",
        5: "virtio_balloon",
      });
      for (const fn of vm.virtio) {
        expect(fn.faultCount, fn.device.name).toBe(0);
        expect(fn.state.status & 0x0f, fn.device.name).toBe(0x0f); // modern: ACK, DRIVER, FEATURES_OK, DRIVER_OK
      }

      // And each used once.
      expect(lines("vda")).toEqual([["16384"]]);
      expect(lines("hwrng")).toEqual([["64"]]);
      expect(lines("hvc0")).toEqual([["ok"]]);
      expect(String.fromCharCode(...hvc)).toContain("hello-over-hvc0");
      const pings = Object.fromEntries(lines("ping").map(([, vendor, got]) => [vendor, Number(got)]));
      expect(pings).toEqual({ "0x1af4": 2, "0x10ec": 2 });
      expect(vnetHost.counts.echoReplies).toBe(2);
      expect(neHost.counts.echoReplies).toBe(2);
      // The balloon driver primed its statistics queue at probe: the host has the guest's figures.
      expect(balloon.counters.statsUpdates).toBeGreaterThanOrEqual(1);
      expect(Number(balloon.stats.get(5) ?? 0)).toBeGreaterThan(200 << 20); // MEMTOT
    },
  );
});
