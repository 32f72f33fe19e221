// Multiboot v1 loading (GNU Multiboot Specification 0.6.96, sections 3.1-3.3): the a.out kludge
// and ELF forms, the machine state at entry, the information structure, modules, bad images.

import { describe, expect, it } from "vitest";
import { BootImageError } from "../../vmm/boot/linux.js";
import { findMultibootHeader, loadMultiboot } from "../../vmm/boot/multiboot.js";
import { Cpu, REG } from "../../vmm/cpu.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";

const LOAD = 0x100000;
// mov esi,[ebx+16] (cmdline); mov al,[esi]; mov ecx,[ebx+20] (mods_count); mov edx,[ebx+24];
// mov edx,[edx] (first module start); mov dl? keep; hlt
const CODE = [0x8b, 0x73, 0x10, 0x8a, 0x06, 0x8b, 0x4b, 0x14, 0x8b, 0x53, 0x18, 0x8b, 0x12, 0xf4];

function header(flags: number, aout?: { entry: number }): number[] {
  const words = [0x1badb002, flags, -(0x1badb002 + flags) >>> 0];
  if (aout) words.push(LOAD, LOAD, 0, 0, aout.entry);
  return words.flatMap((w) => [w & 0xff, (w >>> 8) & 0xff, (w >>> 16) & 0xff, w >>> 24]);
}

function aoutKernel(): Uint8Array {
  const h = header(0x10003, { entry: LOAD + 48 });
  const img = new Uint8Array(48 + CODE.length);
  img.set(h);
  img.set(CODE, 48);
  return img;
}

function elfKernel(): Uint8Array {
  const img = new Uint8Array(0x1000 + 64);
  const dv = new DataView(img.buffer);
  img.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]);
  dv.setUint16(16, 2, true); // ET_EXEC
  dv.setUint16(18, 3, true); // EM_386
  dv.setUint32(20, 1, true);
  dv.setUint32(24, LOAD + 12, true); // entry after the header
  dv.setUint32(28, 52, true); // phoff
  dv.setUint16(42, 32, true);
  dv.setUint16(44, 1, true);
  dv.setUint32(52, 1, true); // PT_LOAD
  dv.setUint32(56, 0x1000, true); // offset
  dv.setUint32(64, LOAD, true); // paddr
  dv.setUint32(68, 64, true); // filesz
  dv.setUint32(72, 0x2000, true); // memsz (bss follows)
  img.set(header(0x3), 0x1000);
  img.set(CODE, 0x1000 + 12);
  return img;
}

async function boot(kernel: Uint8Array) {
  const cpu = await Cpu.create(loadCoreModule(), 8 << 20);
  const info = loadMultiboot(cpu, {
    kernel,
    cmdline: "lab=nanobench",
    modules: [{ data: new Uint8Array([1, 2, 3, 4]), cmdline: "mod0" }],
  });
  expect(cpu.reg(REG.EAX)).toBe(0x2badb002);
  expect(cpu.reg(REG.EBX)).toBe(info.infoAddr);
  expect(cpu.run(100)).toBe("halt");
  return { cpu, info };
}

describe("Multiboot v1", () => {
  it("boots an a.out-kludge kernel with command line, modules and memory map", async () => {
    const { cpu, info } = await boot(aoutKernel());
    expect(cpu.reg(REG.EAX) & 0xff).toBe("l".charCodeAt(0));
    expect(cpu.reg(REG.ECX)).toBe(1);
    expect(cpu.reg(REG.EDX) % 4096).toBe(0); // flags bit 0: modules page-aligned
    const mi = new DataView(cpu.readPhysical(info.infoAddr, 88).buffer);
    expect(mi.getUint32(0, true) & 0x4d).toBe(0x4d); // mem, cmdline, mods, mmap
    expect(mi.getUint32(8, true)).toBe((8 * 1024 * 1024 - 0x100000) / 1024);
    const mmapLen = mi.getUint32(44, true);
    expect(mmapLen % 24).toBe(0);
  });

  it("boots an ELF kernel and clears its bss", async () => {
    const { cpu } = await boot(elfKernel());
    expect(cpu.reg(REG.ECX)).toBe(1);
    expect(cpu.readPhysical(LOAD + 0x1ff0, 16).every((b) => b === 0)).toBe(true);
  });

  it("refuses images without a valid header, with a reason", async () => {
    expect(() => findMultibootHeader(new Uint8Array(4096))).toThrow(/no valid header/);
    const bad = aoutKernel();
    bad[8] ^= 1; // checksum
    expect(() => findMultibootHeader(bad)).toThrow(BootImageError);
    const cpu = await Cpu.create(loadCoreModule(), 1 << 20);
    expect(() => loadMultiboot(cpu, { kernel: aoutKernel() })).toThrow(/beyond the VM/);
  });
});
