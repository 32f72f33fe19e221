// Firmware boot with Debian's SeaBIOS (guests/seabios): through installFirmware it must find
// fw_cfg and its DMA interface, take the e820 map and the boot order from it, run the VGA BIOS
// from "vgaroms/", print its banner on the text screen and, with no disk attached, end with
// "No bootable device.".

import { describe, expect, it } from "vitest";
import { BOOT_PATH } from "../../devices/fw-cfg/items.js";
import { bytesSource, CowDisk } from "../../devices/storage/block.js";
import { VirtioBlk } from "../../devices/virtio/blk.js";
import { FirmwareError, installFirmware } from "../../vmm/firmware.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { Vm } from "../../vmm/vm.js";
import { bootSeabiosNoDisk, rom } from "./seabios-boot.js";

describe("SeaBIOS firmware boot", () => {
  it("finds fw_cfg with DMA, reads e820 and bootorder, runs the VGA BIOS and prints", async () => {
    const { vga, log, stop } = await bootSeabiosNoDisk();
    expect(stop.kind).toBe("stopped");
    expect(log).toContain("SeaBIOS (version 1.16");
    expect(log).toContain("Found QEMU fw_cfg\n");
    expect(log).toContain("QEMU fw_cfg DMA interface supported\n");
    expect(log).toContain("qemu/e820: addr 0x0000000000000000 len 0x0000000002000000 [RAM]");
    expect(log).toContain("1: /pci@i0cf8/ide@1,1/drive@0/disk@0\n");
    expect(log).toContain("Running option rom at c000:0003");
    const screen = vga.text();
    expect(screen.split("\n")[0]).toMatch(/^SeaBIOS \(version 1\.\d+/);
    expect(screen).toContain("No bootable device.");
  });

  it("refuses a BIOS image of the wrong size", async () => {
    const vm = await Vm.create({ module: loadCoreModule(), ramBytes: 1 << 20 });
    expect(() => installFirmware(vm, { bios: new Uint8Array(1000) })).toThrow(FirmwareError);
  });
});

/**
 * A 1 MiB disk whose boot sector prints `msg` through int 10h teletype and the debug port 0xE9,
 * then halts (CLI; HLT).
 */
function bootDisk(msg: string): Uint8Array {
  const code = [
    ...[0x31, 0xc0, 0x8e, 0xd8], // xor ax,ax; mov ds,ax
    ...[0xbe, 0x20, 0x7c], // mov si,0x7c20
    0xac, // next: lodsb
    ...[0x08, 0xc0], // or al,al
    ...[0x74, 0x0a], // jz done
    ...[0xe6, 0xe9], // out 0xe9,al
    ...[0xb4, 0x0e], // mov ah,0x0e
    ...[0x31, 0xdb], // xor bx,bx
    ...[0xcd, 0x10], // int 0x10
    ...[0xeb, 0xf1], // jmp next
    0xfa, // done: cli
    0xf4, // hlt
  ];
  const disk = new Uint8Array(1 << 20);
  disk.set(code, 0);
  disk.set(new TextEncoder().encode(msg), 0x20);
  disk[510] = 0x55;
  disk[511] = 0xaa;
  return disk;
}

const msg = "BOOT-OK";

describe("SeaBIOS boots an IDE disk", () => {
  it("loads the boot sector the test builds and runs it", async () => {
    const disk = bootDisk(msg);
    let e9 = "";
    let log = "";
    const vm = await Vm.create({
      module: loadCoreModule(),
      ramBytes: 32 << 20,
      onDebugConsole: (port, b) => {
        if (port === 0xe9) e9 += String.fromCharCode(b);
        else log += String.fromCharCode(b);
      },
    });
    const { vga } = installFirmware(vm, {
      bios: rom("bios.bin"),
      vgaBios: rom("vgabios.bin"),
      hda: new CowDisk(bytesSource(disk), { name: "boot.img" }),
      bootOrder: [BOOT_PATH.ide(0, 0)],
      bootLetters: "c",
    });
    // The boot sector ends with CLI; HLT: the machine stops as "halted".
    const stop = vm.run(300_000_000);
    expect(log).toContain("Booting from Hard Disk...");
    expect(e9).toBe(msg);
    expect(stop.kind).toBe("halted");
    expect(vga.text()).toContain(msg);
  });
  it("boots the same sector from a virtio-blk disk (SeaBIOS's own virtio driver)", async () => {
    const disk = bootDisk(msg);
    let e9 = "";
    let log = "";
    const blk = new VirtioBlk({ disk: new CowDisk(bytesSource(disk), { name: "boot.img" }) });
    const vm = await Vm.create({
      module: loadCoreModule(),
      ramBytes: 32 << 20,
      onDebugConsole: (port, b) => {
        if (port === 0xe9) e9 += String.fromCharCode(b);
        else log += String.fromCharCode(b);
      },
      pci: { virtio: [blk] },
    });
    installFirmware(vm, { bios: rom("bios.bin"), vgaBios: rom("vgabios.bin"), bootLetters: "c" });
    const stop = vm.run(300_000_000);
    expect(log).toMatch(/found virtio-blk at 00:02\.0/i);
    expect(log).toContain("Booting from Hard Disk...");
    expect(e9).toBe(msg);
    expect(stop.kind).toBe("halted");
    expect(vm.virtio[0]!.faultCount).toBe(0);
    // SeaBIOS walks the capability list and takes the modern interface in the BAR it assigned.
    expect(log).toContain("pci dev 00:02.0 virtio cap at 0x4c type 1 bar 4"); // after the MSI-X capability at 0x40
    expect(log).toContain("using modern (1.0) virtio mode");
    expect(vm.virtio[0]!.state.status).toBe(0x0f); // ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK
    expect(blk.counters.sectorsRead).toBeGreaterThan(0);
  });
});
