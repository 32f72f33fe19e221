// Firmware boot as on QEMU's pc machine: the BIOS image at the top of the 4 GiB space (ROM)
// with its last 128 KiB also below 1 MiB (shadow RAM, writable, as the PAM registers leave it
// while the BIOS runs), the i440FX/PIIX3 PCI functions with IDE disks and a CD-ROM, a VGA whose
// BIOS SeaBIOS finds under "vgaroms/" in fw_cfg, fw_cfg with
// DMA, and the CMOS bytes SeaBIOS sizes memory from. The CPU then starts at the reset vector.

import { FwCfg } from "../devices/fw-cfg/fw-cfg.js";
import { configurePc, pcCmos } from "../devices/fw-cfg/items.js";
import type { BlockDevice } from "../devices/storage/block.js";
import type { Vga } from "../devices/vga/vga.js";
import type { Vm } from "./vm.js";

export interface FirmwareOptions {
  /** The BIOS image (e.g. SeaBIOS bios.bin): a multiple of 64 KiB, at most 1 MiB. */
  bios: Uint8Array;
  /** An ISA VGA BIOS (e.g. vgabios-isavga.bin), run by SeaBIOS from fw_cfg "vgaroms/". */
  vgaBios?: Uint8Array;
  /** OpenFirmware boot paths for fw_cfg "bootorder", in order. */
  bootOrder?: readonly string[];
  /** QEMU -boot letters for the CMOS boot flags (default "cad"). */
  bootLetters?: string;
  /**
   * IDE primary master (QEMU -hda). Given with or without `cdrom`, the two replace the IDE drives
   * the Vm was created with (Vm.create's `pci` option is the general way to give drives).
   */
  hda?: BlockDevice;
  /** ATAPI CD-ROM on the secondary master (QEMU -cdrom); an empty drive when absent. */
  cdrom?: BlockDevice;
  /** The PIIX3 reset register (0xCF9) asked for a reset. */
  onReset?: () => void;
}

export interface Firmware {
  fwCfg: FwCfg;
  vga: Vga;
}

export class FirmwareError extends Error {}

const LOW_BIOS_BYTES = 0x20000;

/** Firmware boot on a Vm: its VGA (attached if it has none), fw_cfg, PCI/IDE, the BIOS. */
export function installFirmware(vm: Vm, opts: FirmwareOptions): Firmware {
  const { cpu, devices } = vm;
  const { bios } = opts;
  if (bios.length === 0 || bios.length % 0x10000 !== 0 || bios.length > 0x100000) {
    throw new FirmwareError(`BIOS image must be a multiple of 64 KiB up to 1 MiB, got ${bios.length} bytes`);
  }
  const drives = {
    hda: opts.hda ? ({ kind: "disk", disk: opts.hda } as const) : undefined,
    hdc: { kind: "cdrom", medium: opts.cdrom } as const,
  };
  if (!devices.pci) {
    devices.attachPci({ ...drives, onReset: opts.onReset }).ide.setMemory(vm.memory);
  } else {
    // The Vm was built with PCI (its default): the firmware finds it in its power-on state.
    if (opts.hda || opts.cdrom) {
      devices.pci.ide.setDrives({ primaryMaster: drives.hda, secondaryMaster: drives.hdc });
    }
    if (opts.onReset) devices.pci.bus.onReset = opts.onReset;
    devices.pci.bus.reset();
    devices.pic.writeElcr(0, 0);
    devices.pic.writeElcr(1, 0);
  }
  // SeaBIOS assigns BARs and routes interrupts itself.
  vm.pciSetupPending = false;
  const vga = vm.attachVga();

  const fwCfg = new FwCfg({ memory: vm.memory });
  configurePc(fwCfg, { ramBytes: cpu.ramBytes, bootOrder: opts.bootOrder ?? [] });
  if (opts.vgaBios) fwCfg.addFile("vgaroms/vgabios-isavga.bin", opts.vgaBios);
  fwCfg.attach(devices.ports);
  vm.fwCfg = fwCfg;
  for (const [index, value] of pcCmos({ ramBytes: cpu.ramBytes, bootOrder: opts.bootLetters })) {
    devices.rtc.nvram[index] = value;
  }

  cpu.loadRom(0x1_0000_0000 - bios.length, bios);
  const low = bios.subarray(Math.max(0, bios.length - LOW_BIOS_BYTES));
  cpu.writePhysical(0x100000 - low.length, low);
  cpu.reset();
  return { fwCfg, vga };
}
