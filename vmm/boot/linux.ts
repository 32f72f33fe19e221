// The Linux/x86 boot protocol (Documentation/arch/x86/boot.rst), 32-bit entry: the loader
// plays the part of the real-mode setup code. It copies the protected-mode kernel to 1 MiB,
// fills a zero page (boot_params) with the setup header, an e820 map, the command line and the
// initrd, and starts the CPU at code32_start in flat 32-bit protected mode with ESI pointing at
// the zero page.

import { type Cpu, REG, SEG } from "../cpu.js";

/** Where the loader puts things in guest-physical memory (all below 640 KiB but the kernel). */
export const LINUX_LAYOUT = {
  gdt: 0x1000,
  bootParams: 0x10000,
  cmdline: 0x20000,
  kernel: 0x100000,
} as const;

/** Room for the command line: from LINUX_LAYOUT.cmdline up to the EBDA at 0x9FC00. */
const CMDLINE_AREA_BYTES = 0x9fc00 - LINUX_LAYOUT.cmdline;
const HDR_MAGIC = 0x53726448; // "HdrS"
const MIN_PROTOCOL = 0x0202;
const LOADED_HIGH = 0x01;
const CAN_USE_HEAP = 0x80;
const E820_RAM = 1;
const E820_RESERVED = 2;

export class BootImageError extends Error {}

export interface LinuxBootOptions {
  kernel: Uint8Array;
  initrd?: Uint8Array;
  cmdline?: string;
  /**
   * The machine has a VGA in text mode 3: say so in screen_info, as the real-mode setup code
   * would after the BIOS, so the kernel uses vgacon (with it zeroed, it picks the dummy console).
   */
  vgaText?: boolean;
}

export interface SetupHeader {
  setupSects: number;
  version: number;
  loadflags: number;
  code32Start: number;
  initrdAddrMax: number;
  cmdlineSize: number;
  initSize: number;
  prefAddress: number;
}

/** Reads and checks a bzImage's setup header; throws BootImageError with a clear message. */
export function parseSetupHeader(image: Uint8Array): SetupHeader {
  if (image.length < 0x1000) throw new BootImageError(`kernel image is too small (${image.length} bytes)`);
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  if (dv.getUint16(0x1fe, true) !== 0xaa55) throw new BootImageError("not a Linux kernel: no 0xAA55 boot signature");
  if (dv.getUint32(0x202, true) !== HDR_MAGIC) throw new BootImageError("not a bzImage: no HdrS setup header");
  const version = dv.getUint16(0x206, true);
  if (version < MIN_PROTOCOL) {
    throw new BootImageError(
      `boot protocol ${(version >> 8).toString()}.${(version & 0xff).toString(16)} is older than 2.02`,
    );
  }
  const loadflags = dv.getUint8(0x211);
  if ((loadflags & LOADED_HIGH) === 0) throw new BootImageError("zImage kernels (not loaded high) are not supported");
  let setupSects = dv.getUint8(0x1f1);
  if (setupSects === 0) setupSects = 4;
  if ((setupSects + 1) * 512 >= image.length)
    throw new BootImageError("kernel image is truncated (no protected-mode part)");
  // The 32-bit entry cannot reach past 4 GiB (read as a BigInt, so the message shows the value).
  const prefAddress = version >= 0x020a ? dv.getBigUint64(0x258, true) : 0x100000n;
  if (prefAddress >= 1n << 32n) {
    throw new BootImageError(
      `bzImage header: pref_address 0x${prefAddress.toString(16)} is above 4 GiB, out of reach of the 32-bit boot protocol`,
    );
  }
  return {
    setupSects,
    version,
    loadflags,
    code32Start: dv.getUint32(0x214, true),
    initrdAddrMax: version >= 0x0203 ? dv.getUint32(0x22c, true) : 0x37ffffff,
    cmdlineSize: version >= 0x0206 ? dv.getUint32(0x238, true) : 255,
    initSize: version >= 0x020a ? dv.getUint32(0x260, true) : 0,
    prefAddress: Number(prefAddress),
  };
}

/** Loads a bzImage (and initrd) into the VM and sets the CPU at the 32-bit entry point. */
export function loadLinux(cpu: Cpu, opts: LinuxBootOptions): SetupHeader {
  const hdr = parseSetupHeader(opts.kernel);
  const ram = cpu.ramBytes;
  const pm = opts.kernel.subarray((hdr.setupSects + 1) * 512);
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
  // The kernel is copied to 1 MiB; a kernel that cannot relocate itself then moves to
  // pref_address and needs init_size bytes there.
  const base = Math.max(hdr.prefAddress, LINUX_LAYOUT.kernel);
  const needed = base + Math.max(hdr.initSize, pm.length);
  if (needed > ram) {
    throw new BootImageError(
      `the kernel runs at 0x${base.toString(16)} (pref_address) and needs ${mib(Math.max(hdr.initSize, pm.length))} there (init_size), ${mib(needed)} of RAM in all; the VM has ${mib(ram)}`,
    );
  }
  const initrdBytes = opts.initrd?.length ?? 0;
  if (needed + initrdBytes > ram) {
    throw new BootImageError(
      `the kernel (${mib(needed)} of RAM) and the initrd (${mib(initrdBytes)}) need ${mib(needed + initrdBytes)}; the VM has ${mib(ram)}`,
    );
  }
  if (hdr.code32Start < LINUX_LAYOUT.kernel || hdr.code32Start >= LINUX_LAYOUT.kernel + pm.length) {
    throw new BootImageError(
      `bzImage header: code32_start 0x${hdr.code32Start.toString(16)} is outside the protected-mode kernel (0x100000-0x${(LINUX_LAYOUT.kernel + pm.length).toString(16)})`,
    );
  }
  cpu.writePhysical(LINUX_LAYOUT.kernel, pm);

  // Zero page: the setup header as the image has it, then what the loader fills in.
  const bp = new Uint8Array(4096);
  const hdrEnd = 0x202 + opts.kernel[0x201];
  bp.set(opts.kernel.subarray(0x1f1, hdrEnd), 0x1f1);
  const dv = new DataView(bp.buffer);
  dv.setUint8(0x210, 0xff); // type_of_loader: undefined loader
  dv.setUint8(0x211, hdr.loadflags | CAN_USE_HEAP);
  dv.setUint16(0x224, 0xde00, true); // heap_end_ptr (setup code heap; unused by the 32-bit entry)

  // cmdline_size is the longest command line the kernel copies, without its terminating zero
  // (boot.rst); the loader's own area ends below the EBDA.
  const cmdline = new TextEncoder().encode(opts.cmdline ?? "");
  const maxCmdline = Math.min(hdr.cmdlineSize, CMDLINE_AREA_BYTES - 1);
  if (cmdline.length > maxCmdline) {
    throw new BootImageError(
      maxCmdline === 0
        ? `command line is ${cmdline.length} bytes; this kernel takes none (cmdline_size is 0)`
        : `command line is ${cmdline.length} bytes; this kernel takes at most ${maxCmdline}`,
    );
  }
  const cl = new Uint8Array(cmdline.length + 1);
  cl.set(cmdline);
  cpu.writePhysical(LINUX_LAYOUT.cmdline, cl);
  dv.setUint32(0x228, LINUX_LAYOUT.cmdline, true); // cmd_line_ptr

  if (opts.initrd && opts.initrd.length > 0) {
    const top = Math.min(hdr.initrdAddrMax + 1, ram);
    const addr = Math.floor((top - opts.initrd.length) / 4096) * 4096;
    if (addr < needed) throw new BootImageError("no room for the initrd below initrd_addr_max: give the VM more RAM");
    cpu.writePhysical(addr, opts.initrd);
    dv.setUint32(0x218, addr, true); // ramdisk_image
    dv.setUint32(0x21c, opts.initrd.length, true); // ramdisk_size
  }

  // e820 map: conventional memory, the EBDA/ROM hole, extended memory.
  const e820: [number, number, number][] = [
    [0, 0x9fc00, E820_RAM],
    [0x9fc00, 0x400, E820_RESERVED],
    [0xf0000, 0x10000, E820_RESERVED],
    [0x100000, ram - 0x100000, E820_RAM],
  ];
  e820.forEach(([addr, size, type], i) => {
    const o = 0x2d0 + i * 20;
    dv.setBigUint64(o, BigInt(addr), true);
    dv.setBigUint64(o + 8, BigInt(size), true);
    dv.setUint32(o + 16, type, true);
  });
  dv.setUint8(0x1e8, e820.length);
  dv.setUint16(0x2, Math.min(0xffff, (ram - 0x100000) / 1024), true); // ext_mem_k
  dv.setUint32(0x1e0, (ram - 0x100000) / 1024, true); // alt_mem_k
  if (opts.vgaText) {
    // struct screen_info at the start of the zero page: cursor at 0,0; mode 3, 80 columns;
    // orig_video_ega_bx 3 (colour, not CGA); 25 lines; isVGA; 16-pixel characters.
    bp.set([0, 0], 0x00);
    bp.set([3, 80], 0x06);
    bp.set([0x03, 0x00], 0x0a);
    bp.set([25, 1, 16, 0], 0x0e);
  }
  cpu.writePhysical(LINUX_LAYOUT.bootParams, bp);

  // A GDT with the flat __BOOT_CS (0x10) and __BOOT_DS (0x18) the protocol requires.
  const gdt = new Uint8Array(32);
  const gv = new DataView(gdt.buffer);
  gv.setBigUint64(0x10, 0x00cf9a000000ffffn, true);
  gv.setBigUint64(0x18, 0x00cf92000000ffffn, true);
  cpu.writePhysical(LINUX_LAYOUT.gdt, gdt);
  cpu.setGdtr(LINUX_LAYOUT.gdt, 0x1f);

  cpu.setCr(0, 0x11); // PE, ET; paging off
  cpu.setSegment(SEG.CS, { selector: 0x10, base: 0, limit: 0xffffffff, attr: 0xc09b });
  for (const s of [SEG.DS, SEG.ES, SEG.SS, SEG.FS, SEG.GS]) {
    cpu.setSegment(s, { selector: 0x18, base: 0, limit: 0xffffffff, attr: 0xc093 });
  }
  for (let r = 0; r < 8; r++) cpu.setReg(r, 0);
  cpu.setReg(REG.ESI, LINUX_LAYOUT.bootParams);
  cpu.eflags = 0x2; // interrupts off
  cpu.eip = hdr.code32Start;
  return hdr;
}
