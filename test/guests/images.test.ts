// The committed guest images (guests/linux, guests/seabios) are what their VERSIONS files
// say they are, and have the shape the boot paths rely on: a bzImage with a Linux boot
// protocol header, a gzip'd newc cpio with /init and busybox, SeaBIOS images of the sizes
// the memory map expects, VGA option ROMs with a valid signature and checksum.

import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";

const GUESTS = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "guests");

function sha256(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** "sha256  name  size" lines of a VERSIONS file. */
function recorded(versions: string): Map<string, { sha: string; size: number }> {
  const out = new Map<string, { sha: string; size: number }>();
  for (const line of readFileSync(versions, "utf8").split("\n")) {
    const m = /^([0-9a-f]{64}) {2}(\S+) {2}(\d+)$/.exec(line);
    if (m) out.set(m[2], { sha: m[1], size: Number(m[3]) });
  }
  return out;
}

/** Names in a newc ("070701") cpio archive. */
function cpioNames(buf: Buffer): string[] {
  const names: string[] = [];
  let off = 0;
  while (off + 110 <= buf.length) {
    expect(buf.toString("latin1", off, off + 6)).toBe("070701");
    const field = (i: number) => Number.parseInt(buf.toString("latin1", off + 6 + i * 8, off + 14 + i * 8), 16);
    const fileSize = field(6);
    const nameSize = field(11);
    const name = buf.toString("latin1", off + 110, off + 110 + nameSize - 1);
    if (name === "TRAILER!!!") break;
    names.push(name);
    off = (off + 110 + nameSize + 3) & ~3;
    off = (off + fileSize + 3) & ~3;
  }
  return names;
}

describe("guests/linux", () => {
  const dir = join(GUESTS, "linux");
  const kernel = join(dir, "bzImage");
  const initrd = join(dir, "initramfs.cpio.gz");

  it("matches VERSIONS and stays under 4 MB together", () => {
    const rec = recorded(join(dir, "VERSIONS"));
    for (const name of ["bzImage", "initramfs.cpio.gz"]) {
      const r = rec.get(name);
      expect(r, name).toBeDefined();
      expect(sha256(join(dir, name)), name).toBe(r?.sha);
      expect(statSync(join(dir, name)).size, name).toBe(r?.size);
    }
    expect(statSync(kernel).size + statSync(initrd).size).toBeLessThan(4 * 1024 * 1024);
    const text = readFileSync(join(dir, "VERSIONS"), "utf8");
    expect(text).toMatch(/^linux-source-6\.1 \S+$/m);
    expect(text).toMatch(/^busybox-static:i386 \S+$/m);
  });

  it("bzImage has a Linux boot protocol header (2.02 or later, loads high)", () => {
    const k = readFileSync(kernel);
    expect(k.readUInt16LE(0x1fe)).toBe(0xaa55); // boot_flag
    expect(k.toString("latin1", 0x202, 0x206)).toBe("HdrS");
    expect(k.readUInt16LE(0x206)).toBeGreaterThanOrEqual(0x0202); // protocol version
    expect(k[0x211] & 0x01).toBe(0x01); // loadflags: LOADED_HIGH
    const setupSects = k[0x1f1] || 4;
    expect(k.length).toBeGreaterThan((setupSects + 1) * 512);
  });

  it("the initramfs is a gzip'd newc cpio with /init and busybox", () => {
    const names = cpioNames(gunzipSync(readFileSync(initrd)));
    expect(names).toContain("init");
    expect(names).toContain("bin/busybox");
  });

  it("every option of the config fragment is in the committed kernel config", () => {
    const config = join(dir, "kernel.config");
    if (!existsSync(config)) return;
    const have = new Set(readFileSync(config, "utf8").split("\n"));
    for (const line of readFileSync(join(dir, "tiny-i386.fragment"), "utf8").split("\n")) {
      if (line.startsWith("CONFIG_")) expect(have.has(line), line).toBe(true);
    }
  });
});

describe("guests/seabios", () => {
  const dir = join(GUESTS, "seabios");

  it("matches VERSIONS and ships its license", () => {
    const rec = recorded(join(dir, "VERSIONS"));
    for (const name of ["bios-256k.bin", "bios.bin", "vgabios-stdvga.bin", "vgabios.bin"]) {
      expect(sha256(join(dir, name)), name).toBe(rec.get(name)?.sha);
    }
    expect(readFileSync(join(dir, "COPYING"), "utf8")).toContain("LGPL v3");
    expect(existsSync(join(dir, "LGPL-3"))).toBe(true);
  });

  it("BIOS images are 128 KiB and 256 KiB with a reset vector at the top", () => {
    for (const [name, size] of [
      ["bios.bin", 128 * 1024],
      ["bios-256k.bin", 256 * 1024],
    ] as const) {
      const b = readFileSync(join(dir, name));
      expect(b.length, name).toBe(size);
      // the reset vector (F000:FFF0) is the image's 16th-from-last byte: a far or near jump
      expect([0xea, 0xe9], name).toContain(b[b.length - 16]);
      expect(b.includes(Buffer.from("SeaBIOS")), name).toBe(true);
    }
  });

  it("VGA BIOS images are option ROMs with a valid checksum", () => {
    for (const name of ["vgabios-stdvga.bin", "vgabios.bin"]) {
      const r = readFileSync(join(dir, name));
      expect(r.readUInt16LE(0), name).toBe(0xaa55);
      const len = r[2] * 512;
      expect(len, name).toBeLessThanOrEqual(r.length);
      let sum = 0;
      for (let i = 0; i < len; i++) sum = (sum + r[i]) & 0xff;
      expect(sum, name).toBe(0);
    }
  });
});
