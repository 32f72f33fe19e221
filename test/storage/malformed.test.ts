// Malformed images are refused with a clear message and never modified, whether `img` or a VM
// drive (opened for writing) meets them: bad magic, tables past the end or in the header, an L2
// entry past the end, refcount overflow, a backing chain that loops, an absurd size.

import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { BlockIoError, CowDisk } from "../../devices/storage/block.js";
import { openDiskSource } from "../../vmm/node/disk-image.js";
import { UserInputError } from "../../vmm/node/files.js";
import { runImg } from "../../vmm/node/img.js";
import { HostFile, hostOpenOptions } from "../../vmm/node/storage-file.js";
import { MemoryFile } from "../../vmm/storage/file.js";
import { openImage } from "../../vmm/storage/open.js";
import { createQcow2 } from "../../vmm/storage/qcow2-create.js";
import { pattern, scratch } from "./helpers.js";

const tmp = scratch("malformed");
afterAll(tmp.done);
const sha = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

/** A small valid image with one data cluster, patched by `edit`. */
function image(name: string, edit: (bytes: Uint8Array, view: DataView) => void, options = {}): string {
  const file = new MemoryFile(name);
  createQcow2(file, { size: 4 << 20, ...options });
  const img = openImage(file);
  img.write(65536, pattern(65536, 1));
  const bytes = file.contents();
  edit(bytes, new DataView(bytes.buffer));
  const path = tmp.path(name);
  writeFileSync(path, bytes);
  return path;
}

const put64 = (v: DataView, at: number, n: number) => {
  v.setUint32(at, Math.floor(n / 2 ** 32));
  v.setUint32(at + 4, n >>> 0);
};

/** Every way in refuses `path` with `message`, and the file keeps its bytes. */
function refused(path: string, message: RegExp, format?: "qcow2"): void {
  const before = sha(path);
  const info = runImg(["info", ...(format ? ["-f", format] : []), path]);
  expect(info.status).toBe(1);
  expect(info.stderr.join("\n")).toMatch(message);
  expect(runImg(["check", ...(format ? ["-f", format] : []), path]).status).toBe(1);
  const open = () => openDiskSource(path, { what: "disk image", writable: true, overlay: false, format });
  expect(open).toThrow(UserInputError);
  expect(open).toThrow(message);
  expect(sha(path)).toBe(before);
}

describe("malformed images are refused and left as they were", () => {
  it("bad magic (format=qcow2 on something else) and an unknown version", () => {
    const raw = tmp.path("not-qcow2.img");
    writeFileSync(raw, pattern(1 << 20, 2));
    refused(raw, /bad magic/, "qcow2");
    refused(
      image("v4.qcow2", (_b, v) => v.setUint32(4, 4)),
      /version 4/,
    );
  });

  it("an L1 table past the end of the file or in the header", () => {
    refused(
      image("l1-past.qcow2", (_b, v) => put64(v, 40, 1 << 30)),
      /L1 table .* past the end of the file/,
    );
    refused(
      image("l1-header.qcow2", (_b, v) => put64(v, 40, 0)),
      /L1 table points into the header/,
    );
  });

  it("a refcount table in the header, and an L1 entry pointing past the end", () => {
    refused(
      image("rt-header.qcow2", (_b, v) => put64(v, 48, 0)),
      /refcount table points into the header/,
    );
    refused(
      image("l2-past.qcow2", (b, v) => {
        const l1 = v.getUint32(44);
        put64(v, l1, 2 ** 40);
        b[l1] |= 0x80;
      }),
      /L2 table of L1 entry 0 at \d+ lies past the end of the file/,
    );
  });

  it("a data cluster pointing past the end is an error on read, and nothing is written", () => {
    const path = image("data-past.qcow2", (b, v) => {
      const l1 = v.getUint32(44);
      const l2 = v.getUint32(l1 + 4);
      put64(v, l2 + 8, 2 ** 36);
      b[l2 + 8] |= 0x80;
    });
    const before = sha(path);
    const img = openImage(new HostFile(path, true), hostOpenOptions(path));
    expect(() => img.read(65536, new Uint8Array(512))).toThrow(/data cluster at \d+ lies past the end of the file/);
    expect(() => img.write(65536, new Uint8Array(512))).toThrow(/past the end of the file/);
    img.close();
    // Under a disk model: an I/O error for the guest, not an exception out of the host.
    const disk = new CowDisk(openDiskSource(path, { what: "disk image", writable: true, overlay: false }), {
      writeThrough: true,
      name: path,
    });
    expect(() => disk.read(128, 1)).toThrow(BlockIoError);
    expect(() => disk.write(128, new Uint8Array(512))).toThrow(BlockIoError);
    expect(sha(path)).toBe(before);
  });

  it("refcount overflow: an order past 64 bits, and a snapshot that 1-bit refcounts cannot count", () => {
    refused(
      image("order.qcow2", (_b, v) => v.setUint32(96, 7)),
      /refcount_order 7/,
    );
    const path = image("onebit.qcow2", () => {}, { refcountBits: 1 });
    const before = sha(path);
    const r = runImg(["snapshot", "-c", "s", path]);
    expect(r.status).toBe(1);
    expect(r.stderr.join("\n")).toMatch(/refcount overflow: cluster \d+ would be referenced 2 times \(at most 1\)/);
    expect(sha(path)).toBe(before);
  });

  it("a backing chain that loops", () => {
    const a = tmp.path("loop-a.qcow2");
    const b = tmp.path("loop-b.qcow2");
    for (const [self, other] of [
      [a, "loop-b.qcow2"],
      [b, "loop-a.qcow2"],
    ] as const) {
      const f = new HostFile(self, true, true);
      createQcow2(f, { size: 1 << 20, backingFile: other, backingFormat: "qcow2" });
      f.close();
    }
    refused(a, /the backing chain loops: .*loop-a\.qcow2 -> .*loop-b\.qcow2 -> .*loop-a\.qcow2/);
    const self = tmp.path("loop-self.qcow2");
    const f = new HostFile(self, true, true);
    createQcow2(f, { size: 1 << 20, backingFile: "loop-self.qcow2" });
    f.close();
    refused(self, /the backing chain loops/);
  });

  it("an absurd size", () => {
    refused(
      image("huge.qcow2", (_b, v) => put64(v, 24, 2 ** 52)),
      /needs an L1 table larger than 32 MiB/,
    );
    refused(
      image("absurd.qcow2", (_b, v) => {
        v.setUint32(24, 0x7fffffff);
      }),
      /virtual size .* is absurdly large/,
    );
  });
});
