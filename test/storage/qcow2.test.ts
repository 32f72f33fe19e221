// qcow2 read and write against a reference copy in memory, checked by Debian's qemu-img (check
// and compare), and crash safety: every update is cut short after each of its writes in turn,
// and qemu-img check must then find at most leaked clusters, with all earlier data intact.

import { readFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { HostFile, hostOpenOptions, zlibCodec } from "../../vmm/node/storage-file.js";
import { MemoryFile } from "../../vmm/storage/file.js";
import { openImage } from "../../vmm/storage/open.js";
import type { Qcow2Image } from "../../vmm/storage/qcow2.js";
import { checkQcow2 } from "../../vmm/storage/qcow2-check.js";
import { createQcow2 } from "../../vmm/storage/qcow2-create.js";
import {
  applySnapshot,
  createSnapshot,
  deleteSnapshot,
  readSnapshots,
  readVmState,
  vmStateOffset,
} from "../../vmm/storage/qcow2-snapshot.js";
import { CrashError, CutShortFile, pattern, qemuImg, saveFile, scratch } from "./helpers.js";

const tmp = scratch("qcow2");
afterAll(tmp.done);

function newImage(file: MemoryFile, size: number, clusterSize: number, version: 2 | 3): Qcow2Image {
  createQcow2(file, { size, clusterSize, version });
  return openImage(file, { codec: zlibCodec }) as Qcow2Image;
}

describe("qcow2 read and write", () => {
  for (const [version, clusterSize] of [
    [3, 65536],
    [2, 65536],
    [3, 512],
    [2, 4096],
  ] as const) {
    it(`v${version}, ${clusterSize}-byte clusters: random writes read back and pass qemu-img check and compare`, () => {
      const size = 24 << 20; // past the first refcount table's 8 MiB with 512-byte clusters
      const file = new MemoryFile("t.qcow2");
      const img = newImage(file, size, clusterSize, version);
      const ref = new Uint8Array(size);
      let seed = 1;
      for (let i = 0; i < 60; i++) {
        const len = 1 + ((seed * 7919) % 200_000);
        const off = (seed * 104729) % (size - len);
        const data = i % 9 === 0 ? new Uint8Array(len) : pattern(len, seed);
        img.write(off, data);
        ref.set(data, off);
        seed++;
      }
      const back = new Uint8Array(size);
      img.read(0, back);
      expect(Buffer.compare(back, ref)).toBe(0);
      const result = checkQcow2(img);
      expect(result.corruptions + result.leaks).toBe(0);
      const q = saveFile(tmp.path(`rw-${version}-${clusterSize}.qcow2`), file.contents());
      const raw = saveFile(tmp.path(`rw-${version}-${clusterSize}.raw`), ref);
      expect(qemuImg("check", q)).toMatchObject({ status: 0 });
      expect(qemuImg("compare", "-f", "qcow2", "-F", "raw", q, raw)).toMatchObject({ status: 0 });
    });
  }

  it("grows only with written data (thin provisioning) and writes of zeros allocate nothing", () => {
    const file = new MemoryFile("thin.qcow2");
    const img = newImage(file, 1 << 30, 65536, 3);
    const empty = file.size();
    expect(empty).toBeLessThan(4 * 65536 + 8192);
    img.write(0, new Uint8Array(1 << 20));
    expect(file.size()).toBe(empty);
    img.write(500 << 20, pattern(1 << 20, 5));
    // 16 data clusters and one L2 table.
    expect(file.size()).toBe(empty + 17 * 65536);
  });

  it("reads through a backing file and copies on a partial write, leaving the backing untouched", () => {
    const base = pattern(4 << 20, 9);
    const baseCopy = base.slice();
    const p = tmp.path("base.raw");
    saveFile(p, base);
    const overlay = tmp.path("overlay.qcow2");
    const of = new HostFile(overlay, true, true);
    createQcow2(of, { size: 4 << 20, backingFile: "base.raw", backingFormat: "raw" });
    of.close();
    const img = openImage(new HostFile(overlay, true), hostOpenOptions(overlay));
    img.write(1000, new Uint8Array(10).fill(0xab));
    const out = new Uint8Array(4 << 20);
    img.read(0, out);
    const want = baseCopy.slice();
    want.fill(0xab, 1000, 1010);
    expect(Buffer.compare(out, want)).toBe(0);
    img.close();
    expect(Buffer.compare(readFileSync(p), baseCopy)).toBe(0);
    expect(qemuImg("check", overlay).status).toBe(0);
    // One cluster copied up: the rest still reads from the base.
    const map = JSON.parse(qemuImg("map", "--output=json", overlay).stdout) as { depth: number }[];
    expect(map.filter((m) => m.depth === 0)).toHaveLength(1);
  });
});

/** Runs `op` on a fresh copy of `start`, cut after 0, 1, 2, ... writes until it completes. */
function cutEverywhere(
  start: Uint8Array,
  op: (img: Qcow2Image) => void,
  verify: (img: Qcow2Image) => void,
  allowFlags = false,
): number {
  for (let limit = 0; ; limit++) {
    const file = new CutShortFile("crash.qcow2", start.slice());
    file.limit = limit;
    let finished = false;
    try {
      op(openImage(file, { codec: zlibCodec }) as Qcow2Image);
      finished = true;
    } catch (e) {
      if (!(e instanceof CrashError)) throw e;
    }
    const path = saveFile(tmp.path(`crash-${limit}.qcow2`), file.contents());
    const check = qemuImg("check", path);
    // 0: clean; 3: leaked clusters only. 2 is corruption, unless every error is a COPIED flag
    // missing on a cluster with a count of 1 (snapshot operations: it costs a copy, no data).
    const harmful = check.stdout
      .split("\n")
      .filter((l) => l.startsWith("ERROR") && !/^ERROR OFLAG_COPIED .*=([0-7][0-9a-f]*) refcount=1$/.test(l));
    expect(harmful, `cut after ${limit} writes:\n${check.stdout}${check.stderr}`).toEqual([]);
    if (!allowFlags)
      expect([0, 3], `cut after ${limit} writes:\n${check.stdout}${check.stderr}`).toContain(check.status);
    const after = openImage(new MemoryFile("after.qcow2", file.contents()), { codec: zlibCodec }) as Qcow2Image;
    const ours = checkQcow2(after);
    const oursHarmful = ours.messages.filter((m) => m.startsWith("ERROR") && !/ refcount=1$/.test(m));
    expect(oursHarmful, `cut after ${limit} writes`).toEqual([]);
    verify(after);
    if (finished) return limit;
  }
}

describe("crash safety: updates cut short after every write", () => {
  const old = pattern(3 * 65536, 3);
  function start(clusterSize: number, size: number): Uint8Array {
    const file = new MemoryFile("s.qcow2");
    const img = newImage(file, size, clusterSize, 3);
    img.write(0, old);
    return file.contents();
  }
  const keepsOld = (img: Qcow2Image) => {
    const back = new Uint8Array(old.length);
    img.read(0, back);
    expect(Buffer.compare(back, old)).toBe(0);
  };

  it("allocating writes (new L2 table, new data clusters) leak at worst", () => {
    const writes = cutEverywhere(start(65536, 1 << 30), (img) => img.write(700 << 20, pattern(200_000, 4)), keepsOld);
    expect(writes).toBeGreaterThan(8);
  });

  it("a write that grows the refcount table (512-byte clusters) leaks at worst", () => {
    // 64 entries of 256 clusters: the first table covers 8 MiB, the write goes past it.
    const writes = cutEverywhere(start(512, 32 << 20), (img) => img.write(12 << 20, pattern(3000, 6)), keepsOld);
    expect(writes).toBeGreaterThan(10);
  });

  it("snapshot create, a copy-on-write of a shared cluster and snapshot delete leak at worst", () => {
    cutEverywhere(
      start(65536, 64 << 20),
      (img) => {
        createSnapshot(img, "s1");
        img.write(100, pattern(1000, 8));
        deleteSnapshot(img, "s1");
      },
      (img) => {
        const back = new Uint8Array(old.length);
        img.read(0, back);
        // Either before or after the overwrite, never anything else.
        const updated = old.slice();
        updated.set(pattern(1000, 8), 100);
        expect(Buffer.compare(back, old) === 0 || Buffer.compare(back, updated) === 0).toBe(true);
      },
      true,
    );
  });

  it("a snapshot with a VM state (savevm's), then apply and delete, leak at worst", () => {
    // Two data clusters of state: the vmstate area's L2 table and data beside the disk's.
    const state = pattern(70_000, 9);
    cutEverywhere(
      start(65536, 64 << 20),
      (img) => {
        createSnapshot(img, "vm", 1_800_000_000_000, { state, vmClockNsec: 5e9, icount: 77 });
        applySnapshot(img, "vm");
        deleteSnapshot(img, "vm");
      },
      (img) => {
        keepsOld(img);
        for (const s of readSnapshots(img)) expect(readVmState(img, s)).toEqual(state);
      },
      true,
    );
  });
});

describe("savevm's VM state in a snapshot (the vmstate area past the disk)", () => {
  it("is read back whole across several L2 tables; qemu-img lists and checks it; the disk part applies", () => {
    // 512-byte clusters: an L2 table reaches 32 KiB, so 300 KB of state needs ten of them.
    const file = new MemoryFile("vm.qcow2");
    const img = newImage(file, 1 << 20, 512, 3);
    const before = pattern(40_000, 1);
    img.write(0, before);
    const state = pattern(300_000, 2);
    const s = createSnapshot(img, "A", 1_800_000_000_000, { state, vmClockNsec: 3_723_456_000_000, icount: 123456 });
    expect(vmStateOffset(img)).toBe(1 << 20);
    expect(s.l1Size).toBe((1 << 20) / (512 * 64) + Math.ceil(300_000 / (512 * 64)));
    img.write(0, pattern(40_000, 3));
    expect(readVmState(img, readSnapshots(img)[0]!)).toEqual(state);
    applySnapshot(img, "A");
    const back = new Uint8Array(40_000);
    img.read(0, back);
    expect(back).toEqual(before);
    // The state is still the snapshot's after the apply (its entries are not the disk's).
    expect(readVmState(img, readSnapshots(img)[0]!)).toEqual(state);
    const path = saveFile(tmp.path("vmstate.qcow2"), file.contents());
    const check = qemuImg("check", path);
    expect(check.status, check.stdout).toBe(0);
    const list = qemuImg("snapshot", "-l", path).stdout;
    // 300,000 bytes, 1 h 2 min 3.456 s of guest clock, icount 123456.
    expect(list).toMatch(/^1\s+A\s+293 KiB \d{4}-\d\d-\d\d \d\d:\d\d:\d\d 01:02:03\.456\s+123456$/m);
    const info = JSON.parse(qemuImg("info", "--output=json", path).stdout);
    expect(info.snapshots[0]).toMatchObject({ name: "A", "vm-state-size": 300_000, icount: 123456 });
    deleteSnapshot(img, "A");
    const clean = qemuImg("check", saveFile(tmp.path("vmstate-deleted.qcow2"), file.contents()));
    expect(clean.status, clean.stdout).toBe(0);
    expect(clean.stdout).not.toMatch(/leaked/);
  });
});
