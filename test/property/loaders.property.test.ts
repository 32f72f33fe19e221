// Property tests for the loaders' header parsing (issue 8): whatever the bytes of a bzImage setup
// header, a Multiboot ELF or a.out-kludge header, or a BIOS image, the loader either loads the
// image or throws its one-line error class (BootImageError, FirmwareError); never another
// exception, and never work beyond what the file and the RAM bound.

import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { loadKernel } from "../../vmm/boot/kernel.js";
import { BootImageError } from "../../vmm/boot/linux.js";
import { Cpu } from "../../vmm/cpu.js";
import { FirmwareError, installFirmware } from "../../vmm/firmware.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { Vm } from "../../vmm/vm.js";

const RAM = 16 << 20;
let cpu: Cpu;
/** Bytes the loaders copied into guest RAM since the last reset: their work, which RAM bounds. */
let written = 0;
beforeAll(async () => {
  cpu = await Cpu.create(loadCoreModule(), RAM);
  const write = cpu.writePhysical.bind(cpu);
  cpu.writePhysical = (addr, bytes) => {
    written += bytes.length;
    write(addr, bytes);
  };
});
/** Kernel + initrd + command line + the loader's own structures: never more than RAM and a page. */
const WORK_BOUND = RAM + 4096;

/** u32 values around the loaders' boundaries, and any u32. */
const word = fc.oneof(
  fc.constantFrom(0, 1, 32, 52, 0xfff, 0x1000, 0x8000, 0x100000, RAM, RAM - 1, 0x7fffffff, 0x80000000, 0xffffffff),
  fc.integer({ min: 0, max: 0xffffffff }),
  fc.integer({ min: 0, max: 0x20000 }),
);
const half = fc.oneof(fc.constantFrom(0, 1, 31, 32, 33, 0xffff), fc.integer({ min: 0, max: 0xffff }));

/** Loads an image; returns "loaded", or the error after checking its class and message. */
function loadOrRefuse(load: () => void, errorClass: new (...a: never[]) => Error): "loaded" | "refused" {
  try {
    load();
    return "loaded";
  } catch (err) {
    expect(err).toBeInstanceOf(errorClass);
    const message = (err as Error).message;
    expect(message.length).toBeGreaterThan(0);
    expect(message).not.toContain("\n");
    return "refused";
  }
}

function put32(dv: DataView, at: number, v: number) {
  if (at + 4 <= dv.byteLength) dv.setUint32(at, v >>> 0, true);
}

const MB_MAGIC = 0x1badb002;

describe("loaders (property)", () => {
  it("any bytes at all: loaded or a one-line BootImageError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 0x3000 }), fc.string({ maxLength: 40 }), (image, cmdline) => {
        loadOrRefuse(() => loadKernel(cpu, image, undefined, cmdline), BootImageError);
      }),
      { numRuns: 300 },
    );
  });

  it("Multiboot ELF headers with any field values", () => {
    const elf = fc.record({
      length: fc.integer({ min: 52, max: 0x3000 }),
      entry: word,
      phoff: fc.oneof(fc.constant(52), word), // right after the ELF header, as linkers put it
      phentsize: fc.oneof(fc.constantFrom(0, 32), half),
      phnum: fc.oneof(fc.constantFrom(1, 0xfffe, 0xffff), half),
      segments: fc.array(
        fc.record({
          type: fc.constantFrom(1, 1, 0, 6),
          offset: word,
          paddr: fc.oneof(fc.constant(0x100000), word),
          filesz: word,
          memsz: word,
        }),
        {
          maxLength: 4,
        },
      ),
      mbFlags: fc.constantFrom(0, 1, 2, 3, 4, 0x10000),
      mbAt: fc.integer({ min: 0, max: 0x7ff }).map((n) => n * 4),
      initrd: fc.constantFrom(0, 1, 4096, 1 << 20),
    });
    let loaded = 0;
    fc.assert(
      fc.property(elf, (e) => {
        const img = new Uint8Array(e.length);
        const dv = new DataView(img.buffer);
        img.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]);
        dv.setUint16(16, 2, true);
        dv.setUint16(18, 3, true);
        put32(dv, 24, e.entry);
        put32(dv, 28, e.phoff);
        dv.setUint16(42, e.phentsize, true);
        dv.setUint16(44, e.phnum, true);
        // Program headers where e_phoff says (when that is inside the file), 32 bytes apart.
        e.segments.forEach((s, i) => {
          const p = e.phoff + i * 32;
          put32(dv, p, s.type);
          put32(dv, p + 4, s.offset);
          put32(dv, p + 12, s.paddr);
          put32(dv, p + 16, s.filesz);
          put32(dv, p + 20, s.memsz);
        });
        if (e.mbAt + 12 <= img.length && e.mbAt >= 52) {
          put32(dv, e.mbAt, MB_MAGIC);
          put32(dv, e.mbAt + 4, e.mbFlags);
          put32(dv, e.mbAt + 8, -(MB_MAGIC + e.mbFlags));
        }
        const initrd = e.initrd ? new Uint8Array(e.initrd) : undefined;
        written = 0;
        if (loadOrRefuse(() => loadKernel(cpu, img, initrd, "x"), BootImageError) === "loaded") loaded++;
        expect(written).toBeLessThanOrEqual(WORK_BOUND);
      }),
      { numRuns: 400 },
    );
    expect(loaded).toBeGreaterThan(0);
  });

  it("Multiboot ELF program header counts and sizes never multiply the work", () => {
    // One PT_LOAD right after the ELF header; e_phentsize below 32 made every entry read it again.
    const table = fc.record({
      phentsize: fc.integer({ min: 0, max: 64 }),
      phnum: fc.oneof(fc.integer({ min: 0, max: 0xffff }), fc.constantFrom(0xfffe, 0xffff)),
      memsz: fc.integer({ min: 0, max: RAM - 0x100000 }),
    });
    fc.assert(
      fc.property(table, (t) => {
        const img = new Uint8Array(0x1100);
        const dv = new DataView(img.buffer);
        img.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]);
        dv.setUint16(18, 3, true);
        dv.setUint32(24, 0x100000, true);
        dv.setUint32(28, 52, true);
        dv.setUint16(42, t.phentsize, true);
        dv.setUint16(44, t.phnum, true);
        for (const [at, v] of [
          [52, 1],
          [56, 0x1000],
          [64, 0x100000],
          [68, 16],
          [72, t.memsz],
        ]) {
          dv.setUint32(at, v, true);
        }
        put32(dv, 0x1000, MB_MAGIC);
        put32(dv, 0x1008, -MB_MAGIC);
        written = 0;
        loadOrRefuse(() => loadKernel(cpu, img, undefined, ""), BootImageError);
        expect(written).toBeLessThanOrEqual(WORK_BOUND);
      }),
      { numRuns: 200 },
    );
  });

  it("Multiboot a.out-kludge headers with any addresses", () => {
    const aout = fc.record({
      at: fc.integer({ min: 0, max: 64 }).map((n) => n * 4),
      length: fc.integer({ min: 0, max: 0x2000 }),
      header: word,
      load: word,
      loadEnd: word,
      bssEnd: word,
      entry: word,
    });
    fc.assert(
      fc.property(aout, (a) => {
        const img = new Uint8Array(a.length);
        const dv = new DataView(img.buffer);
        const flags = 0x10000;
        put32(dv, a.at, MB_MAGIC);
        put32(dv, a.at + 4, flags);
        put32(dv, a.at + 8, -(MB_MAGIC + flags));
        put32(dv, a.at + 12, a.header);
        put32(dv, a.at + 16, a.load);
        put32(dv, a.at + 20, a.loadEnd);
        put32(dv, a.at + 24, a.bssEnd);
        put32(dv, a.at + 28, a.entry);
        written = 0;
        loadOrRefuse(() => loadKernel(cpu, img, undefined, ""), BootImageError);
        expect(written).toBeLessThanOrEqual(WORK_BOUND);
      }),
      { numRuns: 400 },
    );
  });

  it("bzImage setup headers with any field values", () => {
    const bz = fc.record({
      length: fc.integer({ min: 0x1000, max: 0x4000 }),
      setupSects: fc.integer({ min: 0, max: 40 }),
      version: fc.constantFrom(0x0100, 0x0201, 0x0202, 0x0203, 0x0206, 0x020a, 0x020f, 0xffff),
      loadflags: fc.oneof(fc.constant(1), fc.integer({ min: 0, max: 255 })),
      code32Start: fc.oneof(fc.constant(0x100000), word), // where the protected-mode part lands
      initrdAddrMax: word,
      cmdlineSize: word,
      prefAddress: fc.oneof(word.map(BigInt), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })),
      initSize: word,
      cmdline: fc.constantFrom("", "console=ttyS0", "x".repeat(300)),
      initrd: fc.constantFrom(0, 1, 4096, 1 << 20, RAM),
    });
    let loaded = 0;
    fc.assert(
      fc.property(bz, (b) => {
        const img = new Uint8Array(b.length);
        const dv = new DataView(img.buffer);
        img[0x1f1] = b.setupSects;
        dv.setUint16(0x1fe, 0xaa55, true);
        img[0x201] = 0x6c; // jump past the header, as real images have it
        dv.setUint32(0x202, 0x53726448, true);
        dv.setUint16(0x206, b.version, true);
        img[0x211] = b.loadflags;
        dv.setUint32(0x214, b.code32Start, true);
        dv.setUint32(0x22c, b.initrdAddrMax, true);
        dv.setUint32(0x238, b.cmdlineSize, true);
        dv.setBigUint64(0x258, b.prefAddress, true);
        dv.setUint32(0x260, b.initSize, true);
        const initrd = b.initrd ? new Uint8Array(b.initrd) : undefined;
        written = 0;
        if (loadOrRefuse(() => loadKernel(cpu, img, initrd, b.cmdline), BootImageError) === "loaded") loaded++;
        expect(written).toBeLessThanOrEqual(WORK_BOUND);
      }),
      { numRuns: 400 },
    );
    expect(loaded).toBeGreaterThan(0);
  });

  it("BIOS images of any size: installed or a one-line FirmwareError", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.constantFrom(0, 0x10000, 0x20000, 0x100000, 0x100001, 0x110000),
          fc.integer({ min: 0, max: 0x120000 }),
        ),
        async (size) => {
          const vm = await Vm.create({ module: loadCoreModule(), ramBytes: RAM });
          const r = loadOrRefuse(() => installFirmware(vm, { bios: new Uint8Array(size) }), FirmwareError);
          expect(r === "loaded").toBe(size > 0 && size % 0x10000 === 0 && size <= 0x100000);
        },
      ),
      { numRuns: 30 },
    );
  });
});
