// Debian's SeaBIOS (bios.bin) against the fw_cfg and VGA models on the Vm's legacy devices:
// it must find fw_cfg and its DMA interface, take the e820 map and the boot order from it, run
// the VGA BIOS from "vgaroms/", print its banner on the text screen and end with "No bootable
// device." (there are no disks here). The ROMs are the committed ones in guests/seabios.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { FwCfg } from "../../devices/fw-cfg/fw-cfg.js";
import { BOOT_PATH, configurePc, pcCmos } from "../../devices/fw-cfg/items.js";
import { Vga } from "../../devices/vga/vga.js";
import { PHYS_MMIO } from "../../vmm/generated/layout.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { Vm } from "../../vmm/vm.js";

const BIOS = new URL("../../guests/seabios/bios.bin", import.meta.url);
// vgabios.bin is Debian's vgabios-isavga.bin (guests/seabios/VERSIONS).
const VGA_BIOS = new URL("../../guests/seabios/vgabios.bin", import.meta.url);

describe("SeaBIOS with fw_cfg and the VGA", () => {
  it("finds fw_cfg with DMA, reads e820 and bootorder, runs the VGA BIOS and prints", async () => {
    const ram = 32 << 20;
    let log = "";
    const vm = await Vm.create({
      module: loadCoreModule(),
      ramBytes: ram,
      onDebugConsole: (port, b) => {
        if (port === 0x402) log += String.fromCharCode(b);
      },
    });
    const { ports, mmio } = vm.devices;
    const vga = new Vga();
    vga.attach(ports, mmio);
    vm.cpu.mapPhysical(0xa0000, 0x20000, PHYS_MMIO);
    const cfg = new FwCfg({
      memory: { read: (a, l) => vm.cpu.readPhysical(a, l), write: (a, b) => vm.cpu.writePhysical(a, b) },
    });
    configurePc(cfg, { ramBytes: ram, bootOrder: [BOOT_PATH.ide(0, 0)] });
    cfg.addFile("vgaroms/vgabios-isavga.bin", new Uint8Array(readFileSync(VGA_BIOS)));
    cfg.attach(ports);
    for (const [index, value] of pcCmos({ ramBytes: ram })) vm.devices.rtc.nvram[index] = value;
    // the 128 KiB BIOS as RAM below 1 MiB, entered at F000:FFF0
    const bios = new Uint8Array(readFileSync(BIOS));
    vm.cpu.writePhysical(0x100000 - bios.length, bios);
    vm.cpu.setRealSegment(1, 0xf000);
    vm.cpu.eip = 0xfff0;
    const stop = vm.run(200_000_000, () => {
      if (log.includes("No bootable device.")) vm.requestStop({ kind: "stopped" });
    });
    expect(stop.kind).toBe("stopped");
    expect(log).toContain("Found QEMU fw_cfg\n");
    expect(log).toContain("QEMU fw_cfg DMA interface supported\n");
    expect(log).toContain("qemu/e820: addr 0x0000000000000000 len 0x0000000002000000 [RAM]");
    expect(log).toContain("1: /pci@i0cf8/ide@1,1/drive@0/disk@0\n");
    expect(log).toContain("Running option rom at c000:0003");
    expect(log).toContain("  3: 0000000000100000 - 0000000002000000 = 1 RAM");
    const screen = vga.text();
    expect(screen.split("\n")[0]).toMatch(/^SeaBIOS \(version 1\.\d+/);
    expect(screen).toContain("No bootable device.");
  });
});
