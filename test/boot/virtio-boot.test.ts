// The tiny Linux on virtio: virtio_pci binds the block device (and the rng, which spares mke2fs
// the wait for entropy), a file system made on /dev/vda in one boot is read back in a second
// boot, and with the disk copy-on-write the image file stays byte for byte what it was.

import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { EchoHostBackend } from "../../devices/net/backend.js";
import { Ne2000 } from "../../devices/net/ne2000.js";
import type { PciFunction } from "../../devices/pci/pci.js";
import { CowDisk } from "../../devices/storage/block.js";
import { VirtioBlk } from "../../devices/virtio/blk.js";
import { VirtioConsole } from "../../devices/virtio/console.js";
import type { VirtioDevice } from "../../devices/virtio/device.js";
import { VirtioNet } from "../../devices/virtio/net.js";
import { VirtioRng } from "../../devices/virtio/rng.js";
import { fileSource } from "../../vmm/node/image-file.js";
import type { VirtMode } from "../../vmm/virt/vmcs.js";
import { bootToShell } from "./linux-shell.js";

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
) {
  return bootToShell(
    {
      mode,
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

  it("binds blk, net, console and rng (legacy interface) and ne2k-pci under hvm with EPT", async () => {
    const disk = new CowDisk({ size: 1 << 20, readAt: (_o, dest) => dest.fill(0x5a) });
    const host = new EchoHostBackend("10.0.2.2");
    const hvc: number[] = [];
    const net = new VirtioNet(host);
    const con = new VirtioConsole((bytes) => hvc.push(...bytes));
    // And the emulated NIC beside it, on its own wire.
    const wire2 = new EchoHostBackend("10.0.3.2");
    const ne2k = new Ne2000(wire2);
    const { sh, vm, out } = await boot(disk, "hvm", [net, con], "virtio_pci.force_legacy=1", [ne2k]);
    expect(out.text).toMatch(
      /ne2k-pci 0000:00:06\.0 eth\d: RealTek RTL-8029\(AS\) found at 0xc\w+, IRQ 1\d, 52:54:00:12:34:57/,
    );
    expect(out.text).toContain("virtio_blk virtio0: [vda] 2048 512-byte logical blocks");
    // Each device bound to its driver: the driver's directory links the device.
    const bound = sh("ls /sys/bus/virtio/drivers/*/ | grep -E '^(/|virtio)'");
    for (const [driver, devs] of [
      ["virtio_blk", "virtio0"],
      ["virtio_rng", "virtio1"],
      ["virtio_net", "virtio2"],
      ["virtio_console", "virtio3"],
    ]) {
      expect(bound).toMatch(new RegExp(`/sys/bus/virtio/drivers/${driver}/:\\s+${devs}`));
    }
    expect(sh("dd if=/dev/vda bs=512 count=1 2>/dev/null | hexdump -C | head -1")).toContain("5a 5a 5a 5a 5a 5a 5a 5a");
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
    expect(host.counts.arpReplies).toBeGreaterThanOrEqual(1);
    expect(net.counters.rxFrames).toBeGreaterThanOrEqual(3);
    sh("echo hello-over-hvc0 > /dev/hvc0");
    expect(String.fromCharCode(...hvc)).toContain("hello-over-hvc0");
    for (const d of vm.virtio) {
      expect(d.faultCount).toBe(0);
      expect(d.state.status & 8).toBe(0); // legacy: no FEATURES_OK
      expect(d.state.status & 4).toBe(4); // DRIVER_OK
      // MSI-X is offered, but with no local APIC in the CPU, Linux keeps INTx#.
      expect(d.msix.enabled).toBe(false);
    }
  });
});
