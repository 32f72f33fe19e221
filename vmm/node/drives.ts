// The command line's storage and device flags, in QEMU's spelling, turned into the Vm's PCI
// options:
//
//   -hda F / -hdb F / -hdc F / -hdd F, -cdrom F      IDE drives (hdc is the CD-ROM with -cdrom)
//   -drive file=F[,if=ide|virtio|none][,format=raw|qcow2][,media=disk|cdrom][,readonly=on|off]
//          [,snapshot=on|off][,index=N][,id=NAME]
//   -device virtio-blk-pci,drive=NAME | virtio-rng-pci | virtio-net-pci | ne2k_pci
//           | virtio-balloon-pci | virtio-serial-pci | virtconsole,chardev=ID
//          (NICs take netdev=NAME and mac=, with -netdev and -nic: vmm/node/netdevs.ts)
//
// Disks are copy-on-write over the image (snapshot=on, this project's default: a temporary qcow2
// overlay, vmm/node/disk-image.ts); snapshot=off sends writes to the file. The format is
// format= or the file's magic (raw or qcow2, with its backing chain). if=virtio makes its own virtio-blk-pci, as in QEMU; if=none leaves
// the drive for a -device to name. A NIC's (virtio-net-pci, ne2k_pci) wire has one host, 10.0.2.2
// unless its -netdev says otherwise, that answers ARP and ping (devices/net/backend.ts) until a
// later issue brings a virtual switch; NICs get QEMU's MACs 52:54:00:12:34:56, :57, ... in order.
// virtio-serial-pci is a virtio console with one port (hvc0); a virtconsole names the -chardev
// its bytes go to (vmm/node/chardevs.ts), the first virtconsole for the first virtio-serial-pci.
// Every mistake is a one-line UserInputError.

import type { IdeDeviceSpec } from "../../devices/ide/channel.js";
import { Ne2000 } from "../../devices/net/ne2000.js";
import type { PciFunction } from "../../devices/pci/pci.js";
import { type BlockDevice, CowDisk, type ImageSource } from "../../devices/storage/block.js";
import { VirtioBalloon } from "../../devices/virtio/balloon.js";
import { VirtioBlk } from "../../devices/virtio/blk.js";
import { VirtioConsole } from "../../devices/virtio/console.js";
import type { VirtioDevice } from "../../devices/virtio/device.js";
import { VirtioNet } from "../../devices/virtio/net.js";
import { VirtioRng } from "../../devices/virtio/rng.js";
import type { ImageFormat } from "../storage/image.js";
import type { VmPciOptions } from "../vm.js";
import type { ChardevArg, ConsolePort, ConsolePorts } from "./chardevs.js";
import { UserInputError } from "./files.js";
import { connectNics, defaultMac, type NetdevArg, type NicArg, nicBackend, parseMac } from "./netdevs.js";
import { keyValues } from "./qemu-options.js";

export interface DriveArg {
  file: string;
  /** format=; otherwise the file's magic decides. */
  format?: ImageFormat;
  interface: "ide" | "virtio" | "none";
  media: "disk" | "cdrom";
  readOnly: boolean;
  /** false: writes go to the file (QEMU's snapshot=off). */
  snapshot: boolean;
  /** IDE position 0-3 (hda-hdd). */
  index?: number;
  id?: string;
}

export interface DeviceArg {
  driver:
    | "virtio-blk-pci"
    | "virtio-rng-pci"
    | "virtio-net-pci"
    | "ne2k_pci"
    | "virtio-balloon-pci"
    | "virtio-serial-pci"
    | "virtconsole";
  drive?: string;
  /** virtconsole: the -chardev id. */
  chardev?: string;
  /** NICs: the -netdev id, and the MAC address. */
  netdev?: string;
  mac?: Uint8Array<ArrayBuffer>;
}

/** What the storage and network flags collected. */
export interface MachineArgs {
  drives: DriveArg[];
  devices: DeviceArg[];
  netdevs: NetdevArg[];
  /** -chardev (vmm/node/chardevs.ts). */
  chardevs?: ChardevArg[];
}

export function emptyMachineArgs(): MachineArgs {
  return { drives: [], devices: [], netdevs: [], chardevs: [] };
}

/**
 * Each virtio-serial-pci's port: the chardev id its virtconsole names (in order), or undefined.
 * One port per device here, so each virtconsole needs a virtio-serial-pci of its own.
 */
export function consoleBindings(args: MachineArgs): (string | undefined)[] {
  const serials = args.devices.filter((d) => d.driver === "virtio-serial-pci").length;
  const consoles = args.devices.filter((d) => d.driver === "virtconsole");
  if (consoles.length > serials) {
    throw new UserInputError(
      serials === 0
        ? "-device virtconsole: add -device virtio-serial-pci for it to sit on"
        : `-device virtconsole: ${consoles.length} consoles, ${serials} virtio-serial-pci (each has one port here)`,
    );
  }
  return Array.from({ length: serials }, (_, i) => consoles[i]?.chardev);
}

function onOff(flag: string, key: string, v: string): boolean {
  if (v === "on" || v === "yes" || v === "true") return true;
  if (v === "off" || v === "no" || v === "false") return false;
  throw new UserInputError(`${flag}: ${key}=${v}: use on or off`);
}

/** One -drive value. */
export function parseDrive(value: string): DriveArg {
  const kv = keyValues("-drive", value);
  const known = new Set(["file", "if", "format", "media", "readonly", "snapshot", "index", "id"]);
  for (const k of kv.keys()) {
    if (!known.has(k)) throw new UserInputError(`-drive: unknown property '${k}' (${[...known].join(", ")})`);
  }
  const file = kv.get("file");
  if (!file) throw new UserInputError("-drive: file=PATH is required");
  const iface = kv.get("if") ?? "ide";
  if (iface !== "ide" && iface !== "virtio" && iface !== "none") {
    throw new UserInputError(`-drive: if=${iface}: use ide, virtio or none`);
  }
  const format = kv.get("format");
  if (format !== undefined && format !== "raw" && format !== "qcow2") {
    throw new UserInputError(`-drive: format=${format}: use raw or qcow2`);
  }
  const media = kv.get("media") ?? "disk";
  if (media !== "disk" && media !== "cdrom") throw new UserInputError(`-drive: media=${media}: use disk or cdrom`);
  if (media === "cdrom" && iface !== "ide") throw new UserInputError("-drive: media=cdrom needs if=ide");
  const drive: DriveArg = {
    file,
    interface: iface,
    ...(format ? { format } : {}),
    media,
    readOnly: media === "cdrom" || onOff("-drive", "readonly", kv.get("readonly") ?? "off"),
    snapshot: onOff("-drive", "snapshot", kv.get("snapshot") ?? "on"),
  };
  const index = kv.get("index");
  if (index !== undefined) {
    const n = Number(index);
    if (!Number.isInteger(n) || n < 0 || n > 3 || iface !== "ide") {
      throw new UserInputError(`-drive: index=${index}: an IDE position 0-3 (with if=ide)`);
    }
    drive.index = n;
  }
  const id = kv.get("id");
  if (id !== undefined) drive.id = id;
  if (iface === "none" && !drive.id) throw new UserInputError("-drive: if=none needs id=NAME for a -device to use");
  return drive;
}

/** One -device value. */
export function parseDevice(value: string): DeviceArg {
  const [driver, ...rest] = value.split(",");
  if (
    driver !== "virtio-blk-pci" &&
    driver !== "virtio-rng-pci" &&
    driver !== "virtio-net-pci" &&
    driver !== "ne2k_pci" &&
    driver !== "virtio-balloon-pci" &&
    driver !== "virtio-serial-pci" &&
    driver !== "virtconsole"
  ) {
    throw new UserInputError(
      `-device ${driver}: this machine has virtio-blk-pci, virtio-rng-pci, virtio-net-pci, ne2k_pci and virtio-balloon-pci; virtio-serial-pci with virtconsole`,
    );
  }
  const kv = keyValues("-device", rest.join(","));
  const device: DeviceArg = { driver };
  const nic = driver === "virtio-net-pci" || driver === "ne2k_pci";
  for (const [k, v] of kv) {
    if (k === "drive" && driver === "virtio-blk-pci") device.drive = v;
    else if (k === "netdev" && nic) device.netdev = v;
    else if (k === "mac" && nic) device.mac = parseMac(`-device ${driver}`, v);
    else if (k === "chardev" && driver === "virtconsole") device.chardev = v;
    else if ((k === "id" || k === "name") && (driver === "virtconsole" || driver === "virtio-serial-pci")) continue;
    else throw new UserInputError(`-device ${driver}: unknown property '${k}'`);
  }
  if (driver === "virtio-blk-pci" && !device.drive) {
    throw new UserInputError("-device virtio-blk-pci: drive=NAME is required (a -drive if=none,id=NAME)");
  }
  if (driver === "virtconsole" && !device.chardev) {
    throw new UserInputError("-device virtconsole: chardev=ID is required (a -chardev ...,id=ID)");
  }
  return device;
}

/** The -hda..-hdd / -cdrom shorthands as -drive entries. */
export function legacyDrives(opts: {
  hda?: string;
  hdb?: string;
  hdc?: string;
  hdd?: string;
  cdrom?: string;
}): DriveArg[] {
  const out: DriveArg[] = [];
  const disk = (file: string, index: number): DriveArg => ({
    file,
    interface: "ide",
    media: "disk",
    readOnly: false,
    snapshot: true,
    index,
  });
  if (opts.hda) out.push(disk(opts.hda, 0));
  if (opts.hdb) out.push(disk(opts.hdb, 1));
  if (opts.hdc) out.push(disk(opts.hdc, 2));
  if (opts.hdd) out.push(disk(opts.hdd, 3));
  if (opts.cdrom) out.push({ ...disk(opts.cdrom, 2), media: "cdrom", readOnly: true });
  return out;
}

/**
 * Opens an image: `writable` only when writes go to the file; `overlay` when guest writes go to
 * a throwaway copy-on-write layer instead (snapshot=on on a writable drive).
 */
export type OpenImage = (
  path: string,
  what: string,
  writable: boolean,
  overlay: boolean,
  format?: ImageFormat,
) => ImageSource;

/** The source under each disk machinePci made (vmm/node/disk-image.ts knows its image). */
export const diskSources = new WeakMap<BlockDevice, ImageSource>();

/**
 * Builds the Vm's PCI options: IDE positions, virtio devices, each disk over its image. `disks`
 * keeps each drive's disk across calls: a reboot builds new devices over the same disks, so the
 * guest's writes in snapshot mode stay until the process exits, as with QEMU's -snapshot.
 */
export function machinePci(
  args: MachineArgs,
  open: OpenImage,
  ramBytes = 64 << 20,
  disks = new Map<DriveArg, CowDisk>(),
  consoles?: ConsolePorts,
): VmPciOptions {
  const ide: (IdeDeviceSpec | undefined)[] = [undefined, undefined, undefined, undefined];
  const virtio: VirtioDevice[] = [];
  const functions: PciFunction[] = [];
  const byId = new Map<string, DriveArg>();
  const used = new Set<DriveArg>();
  const disk = (d: DriveArg) => {
    const what = d.media === "cdrom" ? "CD image" : "disk image";
    const writeThrough = !d.snapshot && !d.readOnly;
    let cow = disks.get(d);
    if (!cow) {
      const overlay = d.snapshot && !d.readOnly;
      const source = open(d.file, what, writeThrough, overlay, d.format);
      cow = new CowDisk(source, {
        name: d.file,
        readOnly: d.readOnly,
        // An overlay the opener made takes the writes (not the host's memory).
        writeThrough: writeThrough || (overlay && source.throwaway === true),
        granularity: d.media === "cdrom" ? 2048 : 512,
      });
      disks.set(d, cow);
      diskSources.set(cow, source);
    }
    return cow;
  };
  for (const d of args.drives) {
    if (d.id !== undefined) {
      if (byId.has(d.id)) throw new UserInputError(`-drive: id=${d.id} is used twice`);
      byId.set(d.id, d);
    }
  }
  let serial = 0;
  const blk = (d: DriveArg) => {
    used.add(d);
    virtio.push(new VirtioBlk({ disk: disk(d), serial: `x86lab-vd${String.fromCharCode(97 + serial++)}` }));
  };
  for (const d of args.drives) {
    if (d.interface === "virtio") blk(d);
    if (d.interface !== "ide") continue;
    const index = d.index ?? ide.findIndex((x, i) => x === undefined && !(i === 2 && hasCdrom(args)));
    if (index < 0 || ide[index]) throw new UserInputError(`-drive ${d.file}: IDE position ${index} is taken`);
    ide[index] = d.media === "cdrom" ? { kind: "cdrom", medium: disk(d) } : { kind: "disk", disk: disk(d) };
  }
  const nics = args.devices.filter((d) => d.driver === "virtio-net-pci" || d.driver === "ne2k_pci");
  const hosts = connectNics(
    args.netdevs,
    nics.map((d): NicArg => ({ model: d.driver as NicArg["model"], netdev: d.netdev })),
  );
  let consolePort = 0;
  for (const dev of args.devices) {
    if (dev.driver === "virtconsole") continue;
    if (dev.driver === "virtio-serial-pci") {
      const n = consolePort++;
      let port: ConsolePort | undefined;
      const hvc = new VirtioConsole((bytes) => port?.output(bytes));
      port = consoles?.attach(n, hvc);
      virtio.push(hvc);
      continue;
    }
    if (dev.driver === "virtio-rng-pci") {
      virtio.push(new VirtioRng());
      continue;
    }
    if (dev.driver === "virtio-balloon-pci") {
      virtio.push(new VirtioBalloon({ ramBytes }));
      continue;
    }
    const n = nics.indexOf(dev);
    if (n >= 0) {
      const wire = nicBackend(hosts[n], n);
      const mac = dev.mac ?? defaultMac(n);
      if (dev.driver === "virtio-net-pci") virtio.push(new VirtioNet(wire, mac));
      else functions.push(new Ne2000(wire, mac));
      continue;
    }
    const d = byId.get(dev.drive!);
    if (!d) throw new UserInputError(`-device virtio-blk-pci: no -drive with id=${dev.drive}`);
    if (d.interface !== "none" || used.has(d)) {
      throw new UserInputError(`-device virtio-blk-pci: drive ${dev.drive} is already in use (give it if=none)`);
    }
    blk(d);
  }
  for (const d of args.drives) {
    if (d.interface === "none" && !used.has(d)) throw new UserInputError(`-drive id=${d.id}: no -device uses it`);
  }
  return {
    hda: ide[0],
    hdb: ide[1],
    // QEMU's default empty CD-ROM drive, unless something else sits there.
    hdc: ide[2] ?? { kind: "cdrom" },
    hdd: ide[3],
    virtio,
    functions,
  };
}

function hasCdrom(args: MachineArgs): boolean {
  return args.drives.some((d) => d.interface === "ide" && d.media === "cdrom" && (d.index ?? 2) === 2);
}

/** Whether any drive was given (then, without -kernel, the firmware boots from the drives). */
export function hasDrives(args: MachineArgs): boolean {
  return args.drives.length > 0;
}
