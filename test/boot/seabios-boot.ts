// Boots Debian's SeaBIOS (guests/seabios) with its VGA BIOS and no bootable disk until it says
// "No bootable device." on its debug port: the firmware tests and the screendump test share it.

import { readFileSync } from "node:fs";
import { BOOT_PATH } from "../../devices/fw-cfg/items.js";
import type { Vga } from "../../devices/vga/vga.js";
import { installFirmware } from "../../vmm/firmware.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { Vm, type VmStop } from "../../vmm/vm.js";

export const rom = (name: string) =>
  new Uint8Array(readFileSync(new URL(`../../guests/seabios/${name}`, import.meta.url)));

/** The VM, its VGA, SeaBIOS's debug-port log and how the run stopped. */
export async function bootSeabiosNoDisk(): Promise<{ vm: Vm; vga: Vga; log: string; stop: VmStop }> {
  let log = "";
  const vm = await Vm.create({
    module: loadCoreModule(),
    ramBytes: 32 << 20,
    onDebugConsole: (port, b) => {
      if (port === 0x402) log += String.fromCharCode(b);
    },
  });
  // vgabios.bin is Debian's vgabios-isavga.bin (guests/seabios/VERSIONS).
  const { vga } = installFirmware(vm, {
    bios: rom("bios.bin"),
    vgaBios: rom("vgabios.bin"),
    bootOrder: [BOOT_PATH.ide(0, 0)],
  });
  const stop = vm.run(200_000_000, () => {
    if (log.includes("No bootable device.")) vm.requestStop({ kind: "stopped" });
  });
  return { vm, vga: vga!, log, stop };
}
