// Firmware boot with Debian's SeaBIOS (guests/seabios): through installFirmware it must find
// fw_cfg and its DMA interface, take the e820 map and the boot order from it, run the VGA BIOS
// from "vgaroms/", print its banner on the text screen and, with no disk attached, end with
// "No bootable device.".

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { BOOT_PATH } from "../../devices/fw-cfg/items.js";
import { FirmwareError, installFirmware } from "../../vmm/firmware.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { Vm } from "../../vmm/vm.js";

const rom = (name: string) => new Uint8Array(readFileSync(new URL(`../../guests/seabios/${name}`, import.meta.url)));

describe("SeaBIOS firmware boot", () => {
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
    // vgabios.bin is Debian's vgabios-isavga.bin (guests/seabios/VERSIONS).
    const { vga } = installFirmware(vm.cpu, vm.devices, {
      bios: rom("bios.bin"),
      vgaBios: rom("vgabios.bin"),
      bootOrder: [BOOT_PATH.ide(0, 0)],
    });
    const stop = vm.run(200_000_000, () => {
      if (log.includes("No bootable device.")) vm.requestStop({ kind: "stopped" });
    });
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
    expect(() => installFirmware(vm.cpu, vm.devices, { bios: new Uint8Array(1000) })).toThrow(FirmwareError);
  });
});
