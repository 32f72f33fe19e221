// Multiboot v1 (the GNU Multiboot Specification 0.6.96): loads a kernel image whose header
// (magic 0x1BADB002 in its first 8 KiB) is either an ELF32 executable or uses the a.out kludge
// (flags bit 16: load addresses in the header), plus modules and a command line; builds the
// Multiboot information structure with the memory map, and starts the CPU in flat 32-bit
// protected mode with EAX = 0x2BADB002 and EBX = the information structure.

import { type Cpu, REG, SEG } from "../cpu.js";
import { BootImageError } from "./linux.js";

const HEADER_MAGIC = 0x1badb002;
const BOOTLOADER_MAGIC = 0x2badb002;
const FLAG_PAGE_ALIGN = 1 << 0;
const FLAG_AOUT_KLUDGE = 1 << 16;
const INFO_MEM = 1 << 0;
const INFO_CMDLINE = 1 << 2;
const INFO_MODS = 1 << 3;
const INFO_MMAP = 1 << 6;
const INFO_LOADER_NAME = 1 << 9;

/**
 * The loader's own structures (its GDT, the information structure, the module list and the
 * memory map) go above the kernel, its modules and their strings, where no kernel segment is:
 * a kernel may load anywhere in conventional memory (as QEMU's loader allows), but not over the
 * EBDA, the VGA window and the BIOS area from 0x9FC00 to 1 MiB.
 */
const LOW_RAM_END = 0x9fc00;

export interface MultibootModule {
  data: Uint8Array;
  cmdline?: string;
}

export interface MultibootOptions {
  kernel: Uint8Array;
  cmdline?: string;
  modules?: MultibootModule[];
}

interface Segment {
  addr: number;
  bytes: Uint8Array;
  memSize: number;
}

interface LoadedImage {
  entry: number;
  segments: Segment[];
  flags: number;
}

/** Finds and checks the Multiboot header; throws BootImageError with a reason. */
export function findMultibootHeader(image: Uint8Array): { offset: number; flags: number } {
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const end = Math.min(8192, image.length) - 12;
  for (let off = 0; off <= end; off += 4) {
    if (dv.getUint32(off, true) !== HEADER_MAGIC) continue;
    const flags = dv.getUint32(off + 4, true);
    const checksum = dv.getUint32(off + 8, true);
    if ((HEADER_MAGIC + flags + checksum) >>> 0 !== 0) continue;
    if (flags & 0x4) throw new BootImageError("Multiboot kernel asks for a video mode, which is not supported");
    return { offset: off, flags };
  }
  throw new BootImageError("not a Multiboot kernel: no valid header in the first 8 KiB");
}

function loadAout(image: Uint8Array, headerOffset: number, flags: number): LoadedImage {
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  if (headerOffset + 32 > image.length) throw new BootImageError("Multiboot header is truncated");
  const headerAddr = dv.getUint32(headerOffset + 12, true);
  const loadAddr = dv.getUint32(headerOffset + 16, true);
  const loadEndAddr = dv.getUint32(headerOffset + 20, true);
  const bssEndAddr = dv.getUint32(headerOffset + 24, true);
  const entry = dv.getUint32(headerOffset + 28, true);
  if (loadAddr > headerAddr) throw new BootImageError("Multiboot header: load_addr is above header_addr");
  const fileStart = headerOffset - (headerAddr - loadAddr);
  if (fileStart < 0) throw new BootImageError("Multiboot header: load_addr is before the start of the file");
  const length = loadEndAddr === 0 ? image.length - fileStart : loadEndAddr - loadAddr;
  if (length < 0 || fileStart + length > image.length)
    throw new BootImageError("Multiboot header: load range is outside the file");
  const memSize = bssEndAddr === 0 ? length : Math.max(length, bssEndAddr - loadAddr);
  return {
    entry,
    flags,
    segments: [{ addr: loadAddr, bytes: image.subarray(fileStart, fileStart + length), memSize }],
  };
}

const ELF_HEADER_BYTES = 52;
/** Elf32_Phdr: the smallest program header entry an ELF32 file can declare. */
const PHDR_BYTES = 32;
/** e_phnum's escape value (PN_XNUM): the real count is in section header 0, which we do not read. */
const PN_XNUM = 0xffff;
const PT_LOAD = 1;

function loadElf(image: Uint8Array, flags: number): LoadedImage {
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  if (image.length < ELF_HEADER_BYTES || dv.getUint32(0, false) !== 0x7f454c46) {
    throw new BootImageError("Multiboot kernel is not ELF and does not set the a.out-kludge flag (bit 16)");
  }
  if (image[4] !== 1 || image[5] !== 1) throw new BootImageError("Multiboot ELF kernel must be 32-bit little-endian");
  if (dv.getUint16(18, true) !== 3) throw new BootImageError("Multiboot ELF kernel is not for i386");
  const phoff = dv.getUint32(28, true);
  const phentsize = dv.getUint16(42, true);
  const phnum = dv.getUint16(44, true);
  // Every entry must be a whole Elf32_Phdr of its own and the table must lie in the file: a zero
  // or short e_phentsize would read the same bytes again and again as new segments.
  if (phnum === 0) throw new BootImageError("Multiboot ELF kernel has no program headers (e_phnum is 0)");
  if (phnum === PN_XNUM) throw new BootImageError("Multiboot ELF kernel uses extended program header numbering");
  if (phentsize < PHDR_BYTES) {
    throw new BootImageError(`Multiboot ELF kernel: e_phentsize ${phentsize} is smaller than a program header (32)`);
  }
  if (phoff + phnum * phentsize > image.length) {
    throw new BootImageError(
      `Multiboot ELF kernel: program header table (${phnum} x ${phentsize} bytes at ${phoff}) ends beyond the file (${image.length} bytes)`,
    );
  }
  const segments: Segment[] = [];
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize;
    if (dv.getUint32(p, true) !== PT_LOAD) continue;
    const offset = dv.getUint32(p + 4, true);
    const paddr = dv.getUint32(p + 12, true);
    const filesz = dv.getUint32(p + 16, true);
    const memsz = dv.getUint32(p + 20, true);
    if (offset + filesz > image.length) {
      throw new BootImageError(
        `Multiboot ELF kernel: segment ${i} (${filesz} bytes at file offset ${offset}) ends beyond the file (${image.length} bytes)`,
      );
    }
    segments.push({ addr: paddr, bytes: image.subarray(offset, offset + filesz), memSize: Math.max(memsz, filesz) });
  }
  if (segments.length === 0) throw new BootImageError("Multiboot ELF kernel has no loadable segment");
  return { entry: dv.getUint32(24, true), flags, segments };
}

/** Zeroes guest RAM in bounded chunks (a segment's bss can be as large as the VM). */
function zeroPhysical(cpu: Cpu, addr: number, length: number): void {
  const chunk = new Uint8Array(Math.min(length, 1 << 20));
  for (let done = 0; done < length; done += chunk.length) {
    cpu.writePhysical(addr + done, chunk.subarray(0, Math.min(chunk.length, length - done)));
  }
}

/** Loads a Multiboot kernel and modules into the VM and sets the CPU at the entry point. */
export function loadMultiboot(cpu: Cpu, opts: MultibootOptions): { entry: number; infoAddr: number } {
  const { offset, flags } = findMultibootHeader(opts.kernel);
  const img = flags & FLAG_AOUT_KLUDGE ? loadAout(opts.kernel, offset, flags) : loadElf(opts.kernel, flags);
  const ram = cpu.ramBytes;
  let top = 0;
  // Segments may overlap, but together they can never need more than the VM has: this bounds
  // the loader's work by the RAM size whatever the headers say.
  const total = img.segments.reduce((sum, s) => sum + s.memSize, 0);
  if (total > ram) {
    throw new BootImageError(
      `Multiboot kernel's ${img.segments.length} segments add up to ${total} bytes, more than the VM's ${ram / 2 ** 20} MiB`,
    );
  }
  for (const s of img.segments) {
    if (s.addr < 0x100000 && s.addr + s.memSize > LOW_RAM_END) {
      throw new BootImageError(
        `Multiboot segment at 0x${s.addr.toString(16)} (${s.memSize} bytes) overlaps the EBDA, VGA and BIOS area (0x9FC00-0xFFFFF)`,
      );
    }
    if (s.addr + s.memSize > ram) {
      throw new BootImageError(
        `Multiboot segment at 0x${s.addr.toString(16)} ends beyond the VM's ${ram / 2 ** 20} MiB`,
      );
    }
    cpu.writePhysical(s.addr, s.bytes);
    zeroPhysical(cpu, s.addr + s.bytes.length, s.memSize - s.bytes.length);
    top = Math.max(top, s.addr + s.memSize);
  }

  // Strings and modules above the kernel, page-aligned when the kernel asks.
  const enc = new TextEncoder();
  let next = Math.ceil(top / 4096) * 4096;
  const place = (bytes: Uint8Array, align: number): number => {
    next = Math.ceil(next / align) * align;
    if (next + bytes.length > ram) throw new BootImageError("no room for the Multiboot modules: give the VM more RAM");
    const at = next;
    cpu.writePhysical(at, bytes);
    next += bytes.length;
    return at;
  };
  const cstring = (s: string) => place(Uint8Array.from([...enc.encode(s), 0]), 1);
  const modAlign = flags & FLAG_PAGE_ALIGN ? 4096 : 4;
  const mods = (opts.modules ?? []).map((m) => {
    const start = place(m.data, modAlign);
    return { start, end: start + m.data.length, cmdline: cstring(m.cmdline ?? "") };
  });
  const cmdline = cstring(opts.cmdline ?? "");
  const loaderName = cstring("x86lab");

  // Information structure, module list and memory map in the loader's area.
  const info = new DataView(new ArrayBuffer(88));
  const modList = new DataView(new ArrayBuffer(16 * mods.length));
  mods.forEach((m, i) => {
    modList.setUint32(i * 16, m.start, true);
    modList.setUint32(i * 16 + 4, m.end, true);
    modList.setUint32(i * 16 + 8, m.cmdline, true);
  });
  const mmap: [number, number, number][] = [
    [0, 0x9fc00, 1],
    [0x9fc00, 0x400, 2],
    [0xf0000, 0x10000, 2],
    [0x100000, ram - 0x100000, 1],
  ];
  const mm = new DataView(new ArrayBuffer(24 * mmap.length));
  mmap.forEach(([base, len, type], i) => {
    mm.setUint32(i * 24, 20, true);
    mm.setBigUint64(i * 24 + 4, BigInt(base), true);
    mm.setBigUint64(i * 24 + 12, BigInt(len), true);
    mm.setUint32(i * 24 + 20, type, true);
  });
  // The loader's area: GDT (24 bytes), then the information structure, modules and memory map.
  next = Math.ceil(next / 16) * 16;
  const gdtAddr = next;
  const infoAddr = gdtAddr + 32;
  const modsAddr = infoAddr + 128;
  const mmapAddr = modsAddr + modList.byteLength;
  if (mmapAddr + mm.byteLength > ram) {
    throw new BootImageError("no room for the Multiboot information structure: give the VM more RAM");
  }
  info.setUint32(0, INFO_MEM | INFO_CMDLINE | INFO_MODS | INFO_MMAP | INFO_LOADER_NAME, true);
  info.setUint32(4, 639, true); // mem_lower (KiB)
  info.setUint32(8, (ram - 0x100000) / 1024, true); // mem_upper (KiB above 1 MiB)
  info.setUint32(16, cmdline, true);
  info.setUint32(20, mods.length, true);
  info.setUint32(24, modsAddr, true);
  info.setUint32(44, mm.byteLength, true);
  info.setUint32(48, mmapAddr, true);
  info.setUint32(64, loaderName, true);
  cpu.writePhysical(infoAddr, new Uint8Array(info.buffer));
  cpu.writePhysical(modsAddr, new Uint8Array(modList.buffer));
  cpu.writePhysical(mmapAddr, new Uint8Array(mm.buffer));

  // Machine state (spec section 3.2): flat segments, PE without paging, IF clear, A20 on.
  const gdt = new DataView(new ArrayBuffer(24));
  gdt.setBigUint64(8, 0x00cf9a000000ffffn, true);
  gdt.setBigUint64(16, 0x00cf92000000ffffn, true);
  cpu.writePhysical(gdtAddr, new Uint8Array(gdt.buffer));
  cpu.setGdtr(gdtAddr, 23);
  cpu.setA20(true);
  cpu.setCr(0, 0x11);
  cpu.setSegment(SEG.CS, { selector: 0x08, base: 0, limit: 0xffffffff, attr: 0xc09b });
  for (const s of [SEG.DS, SEG.ES, SEG.SS, SEG.FS, SEG.GS]) {
    cpu.setSegment(s, { selector: 0x10, base: 0, limit: 0xffffffff, attr: 0xc093 });
  }
  cpu.eflags = 0x2;
  cpu.setReg(REG.EAX, BOOTLOADER_MAGIC);
  cpu.setReg(REG.EBX, infoAddr);
  cpu.eip = img.entry;
  return { entry: img.entry, infoAddr };
}
