// The tiny Linux on virtio: virtio_pci binds the block device (and the rng, which spares mke2fs
// the wait for entropy), a file system made on /dev/vda in one boot is read back in a second
// boot, and with the disk copy-on-write the image file stays byte for byte what it was. Then one
// boot per mode but trap with all five virtio devices and ne2k-pci: each binds to its driver and
// is used once, and the balloon inflates to the host's target, reports the guest's free memory
// on its statistics queue and deflates again.

import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { EchoHostBackend } from "../../devices/net/backend.js";
import { Ne2000 } from "../../devices/net/ne2000.js";
import type { PciFunction } from "../../devices/pci/pci.js";
import { CowDisk } from "../../devices/storage/block.js";
import { BALLOON_STAT, VirtioBalloon } from "../../devices/virtio/balloon.js";
import { VirtioBlk } from "../../devices/virtio/blk.js";
import { VirtioConsole } from "../../devices/virtio/console.js";
import type { VirtioDevice } from "../../devices/virtio/device.js";
import { VirtioNet } from "../../devices/virtio/net.js";
import { VirtioRng } from "../../devices/virtio/rng.js";
import { fileSource } from "../../vmm/node/image-file.js";
import type { MmuMode, VirtMode } from "../../vmm/virt/vmcs.js";
import type { Vm } from "../../vmm/vm.js";
import { bootToShell } from "./linux-shell.js";

const RAM = 64 << 20; // bootToShell's default
const dir = mkdtempSync(join(tmpdir(), "x86lab-virtio-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A deterministic entropy source (the runs stay reproducible). */
function seeded(): (dest: Uint8Array) => void {
  let x = 0x12345678;
  return (dest) => {
    for (let i = 0; i < dest.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      dest[i] = x & 0xff;
    }
  };
}

async function boot(
  disk: CowDisk,
  mode: VirtMode = "native",
  more: VirtioDevice[] = [],
  append = "",
  functions: PciFunction[] = [],
  mmu?: MmuMode,
) {
  return bootToShell(
    {
      mode,
      mmu,
      pci: { virtio: [new VirtioBlk({ disk, serial: "x86lab-vda" }), new VirtioRng(seeded()), ...more], functions },
    },
    append,
  );
}

const sha = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

describe("tiny Linux on virtio", () => {
  it("makes an ext2 file system in one boot and reads it back in a second, copy-on-write", async () => {
    const image = join(dir, "disk.img");
    writeFileSync(image, new Uint8Array(4 << 20));
    // Boot 1: writes go through to the file.
    const writable = new CowDisk(fileSource(image, "disk image", true), { writeThrough: true });
    const first = await boot(writable);
    expect(first.out.text).toContain("virtio_blk virtio0: [vda] 8192 512-byte logical blocks");
    expect(first.out.text).toMatch(/pci 0000:00:02\.0: \[1af4:1001\] type 00 class 0x010000/);
    expect(first.sh("cat /sys/block/vda/serial")).toContain("x86lab-vda");
    const made = first.sh(
      "mkdir -p /mnt && mke2fs /dev/vda >/dev/null && mount /dev/vda /mnt && echo written-in-boot-1 > /mnt/hello && umount /mnt && echo made-ok",
    );
    expect(made).toContain("made-ok");
    const blk = first.vm.virtio[0]!;
    expect(blk.faultCount).toBe(0);
    expect(blk.counters.completed[0]).toBeGreaterThan(10);
    // Every request was one kick at most; event index spares some of them.
    expect(blk.counters.notifications[0]).toBeLessThanOrEqual(blk.counters.completed[0]!);
    const file = readFileSync(image);
    expect(file.readUInt16LE(1024 + 56)).toBe(0xef53); // ext2 superblock magic, in the file
    const before = sha(image);

    // Boot 2: copy-on-write over the same file.
    const cow = new CowDisk(fileSource(image, "disk image"));
    const second = await boot(cow);
    const read = second.sh(
      "mkdir -p /mnt && mount /dev/vda /mnt && cat /mnt/hello && echo boot-2 > /mnt/second && sync && ls /mnt && umount /mnt",
    );
    expect(read).toContain("written-in-boot-1");
    expect(read).toContain("second");
    expect(cow.dirtySectors).toBeGreaterThan(0);
    expect(sha(image)).toBe(before);
  });
});

/** Runs the guest until `done()` holds; fails after `slices` run slices (idle time counts as run). */
function runUntil(vm: Vm, done: () => boolean, what: string, slices = 200): void {
  for (let i = 0; !done(); i++) {
    if (i === slices) throw new Error(`${what}: not after ${slices} slices of 2M instructions`);
    const stop = vm.run(2_000_000);
    if (stop.kind !== "limit") throw new Error(`${what}: guest stopped: ${JSON.stringify(stop)}`);
  }
}

/** MemFree of the guest's /proc/meminfo, in bytes. */
const memFree = (text: string) => Number(/MemFree:\s+(\d+) kB/.exec(text)?.[1]) * 1024;

// One boot per mode with every device on it: the five virtio devices and the emulated NIC.
// hvm with EPT drives the legacy interface (virtio_pci.force_legacy=1), the others the modern one.
const MODES: { name: string; mode: VirtMode; mmu?: MmuMode; legacy?: boolean }[] = [
  { name: "native", mode: "native" },
  { name: "bt", mode: "bt" },
  { name: "hvm with shadow paging", mode: "hvm", mmu: "shadow" },
  { name: "hvm with EPT, legacy interface", mode: "hvm", mmu: "ept", legacy: true },
  { name: "pv", mode: "pv" },
];

describe.each(MODES)("tiny Linux with every device, $name", ({ mode, mmu, legacy }) => {
  it("binds blk, net, console, rng, balloon and ne2k-pci; uses each; the balloon inflates and deflates", async () => {
    const disk = new CowDisk({ size: 1 << 20, readAt: (_o, dest) => dest.fill(0x5a) });
    const host = new EchoHostBackend("10.0.2.2");
    const hvc: number[] = [];
    const net = new VirtioNet(host);
    const con = new VirtioConsole((bytes) => hvc.push(...bytes));
    const balloon = new VirtioBalloon({ ramBytes: RAM });
    // And the emulated NIC beside it, on its own wire.
    const wire2 = new EchoHostBackend("10.0.3.2");
    const ne2k = new Ne2000(wire2);
    const { sh, vm, out } = await boot(
      disk,
      mode,
      [net, con, balloon],
      legacy ? "virtio_pci.force_legacy=1" : "",
      [ne2k],
      mmu,
    );
    expect(out.text).toMatch(
      /ne2k-pci 0000:00:0\d\.0 eth\d: RealTek RTL-8029\(AS\) found at 0xc\w+, IRQ 1\d, 52:54:00:12:34:57/,
    );
    expect(out.text).toContain("virtio_blk virtio0: [vda] 2048 512-byte logical blocks");
    // Each virtio device bound to its driver: device ID (net 1, blk 2, console 3, rng 4, balloon 5) and driver.
    const bound = sh(
      "for d in /sys/bus/virtio/devices/*; do echo @$(cat $d/device)=$(basename $(readlink $d/driver)); done",
    );
    expect([...bound.matchAll(/@(0x\w+)=(\w+)/g)].map((m) => `${m[1]} ${m[2]}`).sort()).toEqual([
      "0x0001 virtio_net",
      "0x0002 virtio_blk",
      "0x0003 virtio_console",
      "0x0004 virtio_rng",
      "0x0005 virtio_balloon",
    ]);
    expect(sh("basename $(readlink /sys/bus/pci/devices/0000:00:07.0/driver)")).toContain("ne2k-pci");
    expect(sh("dd if=/dev/vda bs=512 count=1 2>/dev/null | hexdump -C | head -1")).toContain("5a 5a 5a 5a 5a 5a 5a 5a");
    expect(sh("head -c 32 /dev/hwrng | wc -c")).toMatch(/^\s*32\s*$/m);
    // Which ethN is which: the vendor of the device behind it.
    const vendors = sh("cat /sys/class/net/eth0/device/vendor /sys/class/net/eth1/device/vendor");
    const [vio, emu] = vendors.indexOf("0x1af4") < vendors.indexOf("0x10ec") ? ["eth0", "eth1"] : ["eth1", "eth0"];
    const ping = sh(`ip link set ${vio} up && ip addr add 10.0.2.15/24 dev ${vio} && ping -c 2 10.0.2.2`);
    expect(ping).toContain("2 packets transmitted, 2 packets received");
    const ping2 = sh(`ip link set ${emu} up && ip addr add 10.0.3.15/24 dev ${emu} && ping -c 2 10.0.3.2`);
    expect(ping2).toContain("2 packets transmitted, 2 packets received");
    expect(wire2.counts.echoReplies).toBe(2);
    expect(ne2k.counters.rxFrames).toBeGreaterThanOrEqual(3);
    expect(host.counts.echoReplies).toBe(2);
    expect(net.counters.rxFrames).toBeGreaterThanOrEqual(3);
    sh("echo hello-over-hvc0 > /dev/hvc0");
    expect(String.fromCharCode(...hvc)).toContain("hello-over-hvc0");

    // The balloon: the host asks for 4 MiB through num_pages; the driver gives that many pages back.
    const pages = 1024;
    const freeBefore = memFree(sh("cat /proc/meminfo"));
    balloon.setTarget(pages);
    runUntil(vm, () => balloon.actual === pages, "inflate");
    expect(balloon.pages.size).toBe(pages);
    expect(balloon.counters.inflated).toBe(pages);
    expect(balloon.counters.badPfns).toBe(0);
    expect(Math.max(...balloon.pages)).toBeLessThan(RAM / 4096);
    const freeInflated = memFree(sh("cat /proc/meminfo"));
    expect(freeBefore - freeInflated).toBeGreaterThanOrEqual(pages * 4096 * 0.9);
    // Fresh statistics on request: the guest's free memory as its /proc/meminfo says.
    const updates = balloon.counters.statsUpdates;
    expect(updates).toBeGreaterThanOrEqual(1); // the buffer the driver primed at probe
    expect(balloon.requestStats()).toBe(true);
    runUntil(vm, () => balloon.counters.statsUpdates > updates, "statistics");
    const reportedFree = Number(balloon.stats.get(BALLOON_STAT.MEMFREE));
    expect(Math.abs(reportedFree - freeInflated)).toBeLessThan(1 << 20);
    expect(Number(balloon.stats.get(BALLOON_STAT.MEMTOT))).toBeGreaterThan(RAM / 2);
    // Deflate: every page comes back to the guest.
    balloon.setTarget(0);
    runUntil(vm, () => balloon.actual === 0, "deflate");
    expect(balloon.pages.size).toBe(0);
    expect(balloon.counters.deflated).toBe(pages);
    expect(balloon.counters.badPfns).toBe(0);
    expect(memFree(sh("cat /proc/meminfo"))).toBeGreaterThan(freeInflated + pages * 4096 * 0.9);

    for (const d of vm.virtio) {
      expect(d.faultCount, d.device.name).toBe(0);
      expect(d.state.status & 8, d.device.name).toBe(legacy ? 0 : 8); // FEATURES_OK is modern only
      expect(d.state.status & 4, d.device.name).toBe(4); // DRIVER_OK
      // MSI-X is offered, but with no local APIC in the CPU, Linux keeps INTx#.
      expect(d.msix.enabled).toBe(false);
    }
  });
});
