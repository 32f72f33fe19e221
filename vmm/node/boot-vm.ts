// Builds the VM the command line describes: reads the images (each checked before a byte is
// read), attaches the drives and devices, loads the kernel or installs the firmware. The machine
// calls the builder again on every reboot, so a reset boots the same way (QEMU reloads -kernel).

import { toAnsi } from "../../devices/vga/render.js";
import { loadKernel } from "../boot/kernel.js";
import { loadMultiboot } from "../boot/multiboot.js";
import { installFirmware } from "../firmware.js";
import type { BuildVm } from "../lib/machine.js";
import { Vm } from "../vm.js";
import type { Args } from "./args.js";
import { ConsolePorts, resolveConsoles } from "./chardevs.js";
import { openDiskSource } from "./disk-image.js";
import { consoleBindings, legacyDrives, machinePci, type OpenImage } from "./drives.js";
import { projectFile, readGuestFile, type SizeLimit, UserInputError } from "./files.js";
import { ATA_DISK_LIMIT, ATAPI_CD_LIMIT } from "./image-file.js";
import { checkKernelImage } from "./kernel-check.js";
import { loadCoreModule } from "./load-core.js";

/** A BIOS image sits below 4 GiB in at most 1 MiB (installFirmware's own limit). */
const BIOS_LIMIT: SizeLimit = { bytes: 1 << 20, why: "the BIOS area below 4 GiB" };
/** The VGA BIOS is an option ROM: at most the 128 KiB window from 0xC0000 to 0xDFFFF. */
const OPTION_ROM_LIMIT: SizeLimit = { bytes: 128 << 10, why: "the option ROM window (0xC0000-0xDFFFF)" };

export interface BootPlan {
  build: BuildVm;
  /** Draws the VGA text screen when it changed (firmware boot), else undefined. */
  screen?: (out: NodeJS.WritableStream) => void;
  /** The virtio console ports (hvc0) and their chardevs, kept across reboots. */
  consoles: ConsolePorts;
}

/** Reads every file once (a bad one fails before the machine exists) and returns the builder. */
export function planBoot(args: Args, stdout: NodeJS.WritableStream = process.stdout): BootPlan {
  // Every image is loaded into guest RAM (the BIOS into its 1 MiB at the top of 4 GiB).
  const ram: SizeLimit = { bytes: args.memMiB * 2 ** 20, why: `the guest's RAM (-m ${args.memMiB})` };
  const kernel = args.firmwareBoot ? undefined : readGuestFile(args.kernel, "kernel", ram);
  const format = kernel ? checkKernelImage(args, kernel) : undefined;
  const initrd = args.initrd ? readGuestFile(args.initrd, "initrd", ram) : undefined;
  if (initrd?.length === 0) throw new UserInputError(`initrd '${args.initrd}' is empty (0 bytes)`);
  const bios = args.bios ? readGuestFile(args.bios, "BIOS image", BIOS_LIMIT) : undefined;
  const vgaBios =
    bios && args.firmwareBoot
      ? readGuestFile(projectFile("guests/seabios/vgabios.bin"), "VGA BIOS", OPTION_ROM_LIMIT)
      : undefined;
  const open: OpenImage = (path, what, writable, overlay, format) =>
    openDiskSource(path, {
      what,
      writable,
      overlay,
      format,
      limit: what === "CD image" ? ATAPI_CD_LIMIT : ATA_DISK_LIMIT,
    });
  const drives = [...legacyDrives(args), ...args.machine.drives];
  // Checked now: machinePci opens every image (type and size) and names a bad one. The disks
  // (and their copy-on-write overlays) outlive reboots.
  const disks = new Map();
  const consoles = new ConsolePorts(
    resolveConsoles(args.machine.chardevs ?? [], consoleBindings(args.machine)),
    stdout,
  );
  const pciNow = machinePci({ ...args.machine, drives }, open, args.memMiB * 2 ** 20, disks, consoles);
  let firstPci: typeof pciNow | undefined = pciNow;
  let vga: Vm["vga"];
  let drawn = -1;
  const build: BuildVm = async (io) => {
    // Devices hold state: a reboot gets new ones, over the same disks.
    const pci = firstPci ?? machinePci({ ...args.machine, drives }, open, args.memMiB * 2 ** 20, disks, consoles);
    firstPci = undefined;
    const vm = await Vm.create({
      module: loadCoreModule(),
      ramBytes: args.memMiB * 2 ** 20,
      clock: args.clock,
      wallClockSeconds: args.rtcBase === "now" ? Math.floor(Date.now() / 1000) : args.rtcBase,
      mode: args.mode,
      mmu: args.mmu,
      jit: args.jit,
      onSerial: io.onSerial,
      onDebugConsole: io.onDebugConsole,
      pci,
    });
    if (bios && vgaBios) {
      vga = installFirmware(vm, {
        bios,
        vgaBios,
        bootLetters: args.bootLetters,
        onReset: () => vm.requestStop({ kind: "reset", source: "PIIX3 0xCF9" }),
      }).vga;
      drawn = -1;
    } else if (kernel && format === "multiboot") {
      // As GRUB and QEMU pass it: the kernel's path, then -append's words; a module's command
      // line is its path.
      loadMultiboot(vm.cpu, {
        kernel,
        cmdline: args.appendGiven ? `${args.kernel} ${args.append}` : args.kernel,
        modules: initrd ? [{ data: initrd, cmdline: args.initrd }] : [],
      });
    } else if (kernel) {
      loadKernel(vm.cpu, kernel, initrd, args.append);
    }
    return vm;
  };
  const screen =
    bios && args.firmwareBoot
      ? (out: NodeJS.WritableStream) => {
          if (!vga || vga.changed === drawn) return;
          drawn = vga.changed;
          out.write(`\x1b[H\x1b[2J${toAnsi(vga.textScreen())}`);
        }
      : undefined;
  return { build, screen, consoles };
}
