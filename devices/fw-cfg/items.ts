// Encoders for the fw_cfg contents QEMU's `pc` machine provides, and `configurePc` which fills a
// FwCfg the way QEMU does for SeaBIOS (hw/i386/fw_cfg.c, hw/i386/pc.c, hw/nvram/fw_cfg.c; what
// SeaBIOS reads is in src/fw/paravirt.c and src/boot.c).
//
// What SeaBIOS takes from where (1.16):
// - RAM below 4 GiB: CMOS 0x34/0x35 (or 0x30/0x31), NOT FW_CFG_RAM_SIZE; "etc/e820" RAM entries
//   starting below that size are ignored, higher ones extend it; RESERVED entries are added.
// - CPU count: "etc/boot-cpus" if present, else CMOS 0x5F + 1; "etc/max-cpus" is item 0x0F.
// - Boot order: "bootorder" (OpenFirmware device paths); without it, CMOS 0x3D/0x38 (`-boot`).
// - "etc/boot-fail-wait": ms before retrying when nothing boots; 0xFFFFFFFF (QEMU's default)
//   means print "No bootable device." and stop.
// - ACPI: "etc/table-loader" + "etc/acpi/*" (QEMU builds the tables). Without them SeaBIOS
//   builds its own only if it finds a PIIX4 PM function (8086:7113) on PCI, else none.
// - SMBIOS: "etc/smbios/smbios-anchor" + "-tables"; without them SeaBIOS builds its own.
// - Option ROMs: "genroms/*" (e.g. QEMU's linuxboot_dma.bin for -kernel) and "vgaroms/*" (a VGA
//   BIOS for a VGA that is not on PCI, as QEMU's isa-vga adds it).

import { FW_CFG, type FwCfg, leBytes } from "./fw-cfg.js";

/** e820 types. */
export const E820 = { RAM: 1, RESERVED: 2, ACPI: 3, NVS: 4, UNUSABLE: 5 } as const;

export interface E820Entry {
  address: number;
  length: number;
  type: number;
}

/**
 * "etc/e820": packed 20-byte entries {address u64 LE, length u64 LE, type u32 LE} (QEMU's
 * struct e820_entry, SeaBIOS' struct e820_reservation; i386 aligns u64 to 4, so no padding).
 */
export function encodeE820(entries: readonly E820Entry[]): Uint8Array {
  const out = new Uint8Array(entries.length * 20);
  entries.forEach((e, i) => {
    out.set(leBytes(e.address, 8), i * 20);
    out.set(leBytes(e.length, 8), i * 20 + 8);
    out.set(leBytes(e.type, 4), i * 20 + 16);
  });
  return out;
}

export function decodeE820(bytes: Uint8Array): E820Entry[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: E820Entry[] = [];
  for (let at = 0; at + 20 <= bytes.length; at += 20) {
    const u64 = (o: number): number => dv.getUint32(o, true) + dv.getUint32(o + 4, true) * 0x1_0000_0000;
    out.push({ address: u64(at), length: u64(at + 8), type: dv.getUint32(at + 16, true) });
  }
  return out;
}

/**
 * The legacy arch item 0x8003 (FW_CFG_E820_TABLE): u32 LE count, then the same 20-byte entries.
 * SeaBIOS reads it only when "etc/e820" is absent, and takes reservations only from it.
 */
export function encodeE820Legacy(entries: readonly E820Entry[]): Uint8Array {
  const body = encodeE820(entries);
  const out = new Uint8Array(4 + body.length);
  out.set(leBytes(entries.length, 4), 0);
  out.set(body, 4);
  return out;
}

/**
 * QEMU `pc`'s split of guest RAM (pc_init1): all of it below 4 GiB up to 0xE0000000 bytes;
 * from there on, 3 GiB below and the rest from 4 GiB up (gigabyte alignment).
 */
export function pcRamLayout(ramBytes: number): { below4g: number; above4g: number } {
  const lowmem = 0xe0000000;
  if (ramBytes < lowmem) return { below4g: ramBytes, above4g: 0 };
  const below = 0xc0000000;
  return { below4g: below, above4g: ramBytes - below };
}

/** The "etc/e820" QEMU's pc machine gives: one RAM entry below 4 GiB, one above if any. */
export function pcE820(ramBytes: number): E820Entry[] {
  const { below4g, above4g } = pcRamLayout(ramBytes);
  const entries: E820Entry[] = [{ address: 0, length: below4g, type: E820.RAM }];
  if (above4g > 0) entries.push({ address: 0x1_0000_0000, length: above4g, type: E820.RAM });
  return entries;
}

/**
 * "bootorder": device paths separated by newlines, NUL-terminated (QEMU get_boot_devices_list);
 * empty (size 0) when there are none.
 */
export function encodeBootOrder(paths: readonly string[]): Uint8Array {
  if (paths.length === 0) return new Uint8Array(0);
  const text = paths.join("\n");
  const out = new Uint8Array(text.length + 1);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

/** OpenFirmware paths of devices on QEMU's pc machine, as QEMU spells them in "bootorder". */
export const BOOT_PATH = {
  /** PIIX IDE (00:01.1): channel 0/1, unit 0 (master) / 1 (slave). -hda is 0/0, -cdrom 1/0. */
  ide: (channel: 0 | 1, unit: 0 | 1): string => `/pci@i0cf8/ide@1,1/drive@${channel}/disk@${unit}`,
  /** ISA floppy controller, drive 0/1. */
  floppy: (drive: 0 | 1): string => `/isa/fdc@03f0/floppy@${drive}`,
  /** An option ROM from fw_cfg ("genroms/linuxboot_dma.bin" for -kernel). */
  rom: (file: string): string => `/rom@${file}`,
} as const;

/** "etc/boot-fail-wait": u32 LE milliseconds; -1 (QEMU's default) means no retry. */
export function encodeBootFailWait(ms: number): Uint8Array {
  return leBytes(ms < 0 ? 0xffffffff : ms, 4);
}

/**
 * QEMU's `-boot order=` letters as the CMOS bytes SeaBIOS reads when there is no "bootorder"
 * file (QEMU pc.c set_boot_dev): a floppy, c disk, d CD-ROM, n network; up to three.
 * 0x3D = first | second << 4; 0x38 = third << 4 | (skip floppy signature check ? 1 : 0).
 */
export function cmosBootFlags(order: string, checkFloppySignature = true): { reg3d: number; reg38: number } {
  const code: Record<string, number> = { a: 1, c: 2, d: 3, n: 4 };
  const n = [0, 0, 0];
  for (let i = 0; i < Math.min(3, order.length); i++) {
    const v = code[order[i]!.toLowerCase()];
    if (v === undefined) throw new Error(`invalid boot device '${order[i]}' (use a, c, d or n)`);
    n[i] = v;
  }
  return { reg3d: n[0]! | (n[1]! << 4), reg38: (n[2]! << 4) | (checkFloppySignature ? 0 : 1) };
}

export interface PcFwCfgConfig {
  /** Guest RAM in bytes. */
  ramBytes: number;
  /** CPUs at boot (default 1). */
  cpus?: number;
  /** Maximum CPUs, the APIC ID limit (default `cpus`). */
  maxCpus?: number;
  /** OpenFirmware paths in boot priority order; omitted: no "bootorder" entries (size 0). */
  bootOrder?: readonly string[];
  /** "etc/boot-fail-wait" in ms; default -1 (no retry), as QEMU without -boot reboot-timeout. */
  bootFailWaitMs?: number;
  /** Show SeaBIOS' boot menu (-boot menu=on). */
  bootMenu?: boolean;
  /** -nographic (FW_CFG_NOGRAPHIC; SeaBIOS does not read it). */
  nographic?: boolean;
}

/**
 * Fills `cfg` with what QEMU 7.2's pc machine gives SeaBIOS, minus ACPI and SMBIOS tables:
 * RAM size, CPU counts, NUMA (no nodes), IRQ0 override, the legacy e820 reservation table,
 * "etc/e820", "etc/boot-fail-wait", "etc/boot-cpus" and "bootorder". Option ROMs and
 * kernel/initrd items are added separately (`addFile`, `setLinuxBoot`).
 */
export function configurePc(cfg: FwCfg, config: PcFwCfgConfig): void {
  const cpus = config.cpus ?? 1;
  const maxCpus = config.maxCpus ?? cpus;
  cfg.setU64(FW_CFG.RAM_SIZE, config.ramBytes);
  cfg.setU16(FW_CFG.NB_CPUS, cpus);
  cfg.setU16(FW_CFG.MAX_CPUS, maxCpus);
  cfg.setU16(FW_CFG.NOGRAPHIC, config.nographic ? 1 : 0);
  cfg.setU16(FW_CFG.BOOT_MENU, config.bootMenu ? 1 : 0);
  // NUMA: u64 node count, a u64 node per CPU (up to max), a u64 size per node; all LE.
  cfg.setItem(FW_CFG.NUMA, new Uint8Array(8 * (1 + maxCpus)));
  cfg.setU32(FW_CFG.IRQ0_OVERRIDE, 1);
  cfg.setItem(FW_CFG.E820_TABLE, encodeE820Legacy([]));
  cfg.addFile("etc/e820", encodeE820(pcE820(config.ramBytes)));
  cfg.addFile("etc/boot-fail-wait", encodeBootFailWait(config.bootFailWaitMs ?? -1));
  cfg.addFile("etc/boot-cpus", leBytes(cpus, 2));
  cfg.addFile("bootorder", encodeBootOrder(config.bootOrder ?? []));
}

export interface LinuxBootItems {
  /** The real-mode setup part of a bzImage (setup_sects + 1 sectors), possibly patched. */
  setup?: Uint8Array;
  /** The protected-mode kernel. */
  kernel?: Uint8Array;
  initrd?: Uint8Array;
  /** Command line without the NUL (one is appended). */
  cmdline?: string;
  setupAddr?: number;
  kernelAddr?: number;
  initrdAddr?: number;
  cmdlineAddr?: number;
}

/**
 * The numbered items QEMU's linuxboot option ROMs read for -kernel/-initrd/-append
 * (x86_load_linux): addresses and sizes as u32 LE, the data items as bytes. Absent parts get
 * size 0 and empty data.
 */
export function setLinuxBoot(cfg: FwCfg, items: LinuxBootItems): void {
  const data = (v: Uint8Array | undefined): Uint8Array => v ?? new Uint8Array(0);
  const cmdline = items.cmdline === undefined ? new Uint8Array(0) : encodeBootOrder([items.cmdline]);
  cfg.setU32(FW_CFG.SETUP_ADDR, items.setupAddr ?? 0);
  cfg.setU32(FW_CFG.SETUP_SIZE, data(items.setup).length);
  cfg.setItem(FW_CFG.SETUP_DATA, data(items.setup));
  cfg.setU32(FW_CFG.KERNEL_ADDR, items.kernelAddr ?? 0);
  cfg.setU32(FW_CFG.KERNEL_SIZE, data(items.kernel).length);
  cfg.setItem(FW_CFG.KERNEL_DATA, data(items.kernel));
  cfg.setU32(FW_CFG.INITRD_ADDR, items.initrdAddr ?? 0);
  cfg.setU32(FW_CFG.INITRD_SIZE, data(items.initrd).length);
  cfg.setItem(FW_CFG.INITRD_DATA, data(items.initrd));
  cfg.setU32(FW_CFG.CMDLINE_ADDR, items.cmdlineAddr ?? 0);
  cfg.setU32(FW_CFG.CMDLINE_SIZE, cmdline.length);
  cfg.setItem(FW_CFG.CMDLINE_DATA, cmdline);
}

export interface PcCmosConfig {
  ramBytes: number;
  cpus?: number;
  /** `-boot order=` letters (default "cad", QEMU's default order). */
  bootOrder?: string;
  /** Check the floppy's boot signature (QEMU's fd_bootchk, default true). */
  checkFloppySignature?: boolean;
}

/**
 * The CMOS bytes QEMU's pc_cmos_init writes that SeaBIOS reads, as [index, value] pairs for
 * the RTC's NVRAM. SeaBIOS sizes RAM below 4 GiB from these (0x34/0x35, else 0x30/0x31), not
 * from fw_cfg: without them it sees 1 MiB and ignores the "etc/e820" RAM entry at 0. Disk and
 * floppy type bytes (0x10, 0x12, 0x19-0x2D, 0x39) are left to the disk models.
 */
export function pcCmos(config: PcCmosConfig): [number, number][] {
  const { below4g, above4g } = pcRamLayout(config.ramBytes);
  const out: [number, number][] = [];
  // base memory in KiB, at most 640
  const base = Math.min(640, Math.floor(below4g / 1024));
  out.push([0x15, base & 0xff], [0x16, base >> 8]);
  // extended memory above 1 MiB in KiB, at most 65535
  const ext = Math.min(0xffff, Math.max(0, Math.floor((below4g - (1 << 20)) / 1024)));
  out.push([0x17, ext & 0xff], [0x18, ext >> 8], [0x30, ext & 0xff], [0x31, ext >> 8]);
  // memory above 16 MiB in 64 KiB units, at most 65535
  const above16 = below4g > 16 << 20 ? Math.min(0xffff, Math.floor((below4g - (16 << 20)) / 65536)) : 0;
  out.push([0x34, above16 & 0xff], [0x35, above16 >> 8]);
  // memory above 4 GiB in 64 KiB units (24 bits)
  const high = Math.floor(above4g / 65536);
  out.push([0x5b, high & 0xff], [0x5c, (high >> 8) & 0xff], [0x5d, (high >> 16) & 0xff]);
  // CPUs - 1
  out.push([0x5f, (config.cpus ?? 1) - 1]);
  // equipment byte: FPU present, PS/2 mouse port (no floppy drives)
  out.push([0x14, 0x06]);
  const boot = cmosBootFlags(config.bootOrder ?? "cad", config.checkFloppySignature ?? true);
  out.push([0x3d, boot.reg3d], [0x38, boot.reg38]);
  return out;
}
