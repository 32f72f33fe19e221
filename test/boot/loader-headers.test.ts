// Loader header checks (issue 8): fields that do not fit the image or the VM are refused with a
// precise one-line BootImageError before anything is copied, and the work a loader does is
// bounded by the file and RAM sizes whatever the headers say.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { BootImageError, loadLinux } from "../../vmm/boot/linux.js";
import { loadMultiboot } from "../../vmm/boot/multiboot.js";
import { Cpu } from "../../vmm/cpu.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";

const LOAD = 0x100000;
const module = loadCoreModule();
const newCpu = (mib = 16) => Cpu.create(module, mib << 20);

/** An ELF32 Multiboot kernel: one PT_LOAD of 64 bytes at 1 MiB, the Multiboot header at 0x1000. */
function elfKernel(): Uint8Array {
  const img = new Uint8Array(0x1000 + 64);
  const dv = new DataView(img.buffer);
  img.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]);
  dv.setUint16(16, 2, true); // ET_EXEC
  dv.setUint16(18, 3, true); // EM_386
  dv.setUint32(24, LOAD + 12, true);
  dv.setUint32(28, 52, true); // e_phoff
  dv.setUint16(42, 32, true); // e_phentsize
  dv.setUint16(44, 1, true); // e_phnum
  dv.setUint32(52, 1, true); // PT_LOAD
  dv.setUint32(56, 0x1000, true); // p_offset
  dv.setUint32(64, LOAD, true); // p_paddr
  dv.setUint32(68, 64, true); // p_filesz
  dv.setUint32(72, 64, true); // p_memsz
  dv.setUint32(0x1000, 0x1badb002, true);
  dv.setUint32(0x1004, 0, true);
  dv.setUint32(0x1008, -0x1badb002 >>> 0, true);
  img[0x100c] = 0xf4;
  return img;
}

function patched(base: Uint8Array, patch: (dv: DataView) => void): Uint8Array {
  const img = base.slice();
  patch(new DataView(img.buffer));
  return img;
}

describe("Multiboot ELF headers", () => {
  it("loads the well-formed kernel", async () => {
    const cpu = await newCpu();
    expect(loadMultiboot(cpu, { kernel: elfKernel() }).entry).toBe(LOAD + 12);
  });

  it("refuses e_phentsize 0 with e_phnum 65535 at once (it used to load one segment 65,535 times)", async () => {
    const cpu = await newCpu();
    const kernel = patched(elfKernel(), (dv) => {
      dv.setUint16(42, 0, true);
      dv.setUint16(44, 0xffff, true);
    });
    const t0 = performance.now();
    expect(() => loadMultiboot(cpu, { kernel })).toThrow(BootImageError);
    expect(performance.now() - t0).toBeLessThan(100);
    const small = patched(elfKernel(), (dv) => dv.setUint16(42, 0, true));
    expect(() => loadMultiboot(cpu, { kernel: small })).toThrow(/e_phentsize 0 is smaller than a program header/);
    const xnum = patched(elfKernel(), (dv) => dv.setUint16(44, 0xffff, true));
    expect(() => loadMultiboot(cpu, { kernel: xnum })).toThrow(/extended program header numbering/);
  });

  it("refuses a program header table or a segment outside the file", async () => {
    const cpu = await newCpu();
    const table = patched(elfKernel(), (dv) => dv.setUint16(44, 200, true));
    expect(() => loadMultiboot(cpu, { kernel: table })).toThrow(/program header table \(200 x 32 bytes at 52\)/);
    const seg = patched(elfKernel(), (dv) => dv.setUint32(68, 0x10000, true));
    expect(() => loadMultiboot(cpu, { kernel: seg })).toThrow(/segment 0 \(65536 bytes at file offset 4096\)/);
  });

  it("bounds the work by the RAM: segments that add up to more than the VM are refused", async () => {
    const cpu = await newCpu();
    // 120 copies of a 1 MiB-bss segment fit the file (table at 0x40, 32 bytes each) but not 16 MiB.
    const img = new Uint8Array(0x2000);
    img.set(elfKernel().subarray(0, 0x1010));
    const dv = new DataView(img.buffer);
    dv.setUint16(44, 120, true);
    for (let i = 0; i < 120; i++) {
      const p = 52 + i * 32;
      if (p + 32 > 0x1000) break;
      dv.setUint32(p, 1, true);
      dv.setUint32(p + 4, 0x1000, true);
      dv.setUint32(p + 12, LOAD, true);
      dv.setUint32(p + 16, 16, true);
      dv.setUint32(p + 20, 1 << 20, true);
    }
    expect(() => loadMultiboot(cpu, { kernel: img })).toThrow(
      /segments add up to \d+ bytes, more than the VM's 16 MiB/,
    );
  });
});

describe("bzImage setup header", () => {
  const bzImage = new Uint8Array(readFileSync(new URL("../../guests/linux/bzImage", import.meta.url)));

  it("cmdline_size 0: no command line fits, and the message says so", async () => {
    const cpu = await newCpu(64);
    const kernel = patched(bzImage, (dv) => dv.setUint32(0x238, 0, true));
    expect(() => loadLinux(cpu, { kernel, cmdline: "console=ttyS0" })).toThrow(
      /command line is 13 bytes; this kernel takes none \(cmdline_size is 0\)/,
    );
    expect(() => loadLinux(cpu, { kernel, cmdline: "" })).not.toThrow();
    const short = patched(bzImage, (dv) => dv.setUint32(0x238, 13, true));
    expect(() => loadLinux(cpu, { kernel: short, cmdline: "console=ttyS0" })).not.toThrow();
    expect(() => loadLinux(cpu, { kernel: short, cmdline: "console=ttyS0 " })).toThrow(/takes at most 13/);
  });

  it("pref_address: above 4 GiB, or past the VM's RAM, is named as such", async () => {
    const cpu = await newCpu(64);
    const garbage = patched(bzImage, (dv) => dv.setBigUint64(0x258, 0x1000_0000_0000_0006n, true));
    expect(() => loadLinux(cpu, { kernel: garbage })).toThrow(
      /pref_address 0x1000000000000006 is above 4 GiB, out of reach of the 32-bit boot protocol/,
    );
    const high = patched(bzImage, (dv) => dv.setBigUint64(0x258, 0x8000000n, true));
    expect(() => loadLinux(cpu, { kernel: high })).toThrow(
      /the kernel runs at 0x8000000 \(pref_address\) and needs [\d.]+ MiB there \(init_size\), [\d.]+ MiB of RAM in all; the VM has 64.0 MiB/,
    );
  });

  it("code32_start outside the protected-mode kernel is refused", async () => {
    const cpu = await newCpu(64);
    const kernel = patched(bzImage, (dv) => dv.setUint32(0x214, 0xfff00000, true));
    expect(() => loadLinux(cpu, { kernel })).toThrow(/code32_start 0xfff00000 is outside the protected-mode kernel/);
  });
});
