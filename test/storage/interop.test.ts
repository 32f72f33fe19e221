// Interoperability with Debian's qemu-img both ways. Images qemu-img and qemu-io make (v2 and
// v3, zero clusters, compression, backing chains, internal snapshots) read as qemu-img itself
// reads them (its `convert -O raw` is the reference), with the same `map` and `info` JSON; images
// `img` makes and changes pass `qemu-img check` and `qemu-img compare` against expected contents.

import { readFileSync, statSync, writeFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { runImg } from "../../vmm/node/img.js";
import { HostFile, hostOpenOptions } from "../../vmm/node/storage-file.js";
import { openImage } from "../../vmm/storage/open.js";
import { pattern, qemuImg, qemuIo, scratch } from "./helpers.js";

const tmp = scratch("interop");
afterAll(tmp.done);
const p = tmp.path;

/** The whole virtual disk as our code reads it. */
function oursRead(path: string): Buffer {
  const img = openImage(new HostFile(path, false), hostOpenOptions(path));
  try {
    const out = new Uint8Array(img.size);
    img.read(0, out);
    return Buffer.from(out);
  } finally {
    img.close();
  }
}

/** The whole virtual disk as qemu-img reads it. */
function qemuRead(path: string, ...extra: string[]): Buffer {
  const raw = `${path}.ref.raw`;
  const r = qemuImg("convert", ...extra, "-O", "raw", path, raw);
  expect(r.status, r.stderr).toBe(0);
  return readFileSync(raw);
}

function img(...args: string[]): { status: number; out: string; err: string } {
  const r = runImg(args);
  return { status: r.status, out: r.stdout.join("\n"), err: r.stderr.join("\n") };
}

function ok(r: { status: number; stdout?: string; stderr?: string; err?: string }) {
  expect(r.status, `${r.stderr ?? r.err ?? ""}`).toBe(0);
}

describe("images made by qemu-img, read by ours", () => {
  for (const compat of ["0.10", "1.1"]) {
    it(`compat=${compat}: data, zero writes and discards read as qemu-img reads them; map and info JSON match`, () => {
      const f = p(`q-${compat}.qcow2`);
      ok(qemuImg("create", "-q", "-f", "qcow2", "-o", `compat=${compat},cluster_size=4096`, f, "8M"));
      qemuIo(
        f,
        "write -P 0x11 0 100k",
        "write -P 0x22 3M 5000",
        "write -z 40k 16k",
        "write -P 0x33 7M 1M",
        "discard 7M 64k",
      );
      expect(Buffer.compare(oursRead(f), qemuRead(f))).toBe(0);
      expect(img("map", "--output=json", f).out).toBe(qemuImg("map", "--output=json", f).stdout.trim());
      const ours = JSON.parse(img("info", "--output=json", f).out);
      const theirs = JSON.parse(qemuImg("info", "--output=json", f).stdout);
      expect(ours).toEqual(theirs);
    });
  }

  it("compressed clusters (qemu-img convert -c) read back exactly", () => {
    const raw = p("c-src.raw");
    const data = new Uint8Array(3 << 20);
    data.set(pattern(1 << 20, 2), 0);
    data.fill(0x41, 1 << 20, (2 << 20) + 5000); // compresses well
    writeFileSync(raw, data);
    const c = p("c.qcow2");
    ok(qemuImg("convert", "-c", "-O", "qcow2", raw, c));
    expect(JSON.parse(qemuImg("check", "--output=json", c).stdout)["compressed-clusters"]).toBeGreaterThan(0);
    expect(Buffer.compare(oursRead(c), Buffer.from(data))).toBe(0);
  });

  it("a three-layer chain (qcow2 over qcow2 over raw) reads as qemu-img reads it", () => {
    const base = p("chain-base.raw");
    writeFileSync(base, pattern(4 << 20, 3));
    const mid = p("chain-mid.qcow2");
    const top = p("chain-top.qcow2");
    ok(qemuImg("create", "-q", "-f", "qcow2", "-b", "chain-base.raw", "-F", "raw", mid));
    ok(qemuImg("create", "-q", "-f", "qcow2", "-b", "chain-mid.qcow2", "-F", "qcow2", top, "6M"));
    qemuIo(mid, "write -P 0x55 64k 200k", "write -z 1M 64k");
    qemuIo(top, "write -P 0x66 100k 10k", "write -P 0x77 5M 64k");
    expect(Buffer.compare(oursRead(top), qemuRead(top))).toBe(0);
    expect(img("map", "--output=json", top).out).toBe(qemuImg("map", "--output=json", top).stdout.trim());
  });

  it("internal snapshots: listed as qemu-img lists them, applied to the contents they had", () => {
    const f = p("snap.qcow2");
    ok(qemuImg("create", "-q", "-f", "qcow2", f, "4M"));
    qemuIo(f, "write -P 0x01 0 256k");
    ok(qemuImg("snapshot", "-c", "first", f));
    const atFirst = qemuRead(f);
    qemuIo(f, "write -P 0x02 64k 64k", "write -P 0x03 2M 64k");
    ok(qemuImg("snapshot", "-c", "second", f));
    expect(img("snapshot", "-l", f).out).toBe(qemuImg("snapshot", "-l", f).stdout.trim());
    const current = qemuRead(f);
    expect(Buffer.compare(oursRead(f), current)).toBe(0);
    ok(img("snapshot", "-a", "first", f));
    expect(Buffer.compare(oursRead(f), atFirst)).toBe(0);
    ok(qemuImg("check", f));
    ok(img("snapshot", "-d", "first", f));
    ok(qemuImg("check", f));
    expect(qemuImg("snapshot", "-l", f).stdout).not.toContain("first");
    ok(qemuImg("snapshot", "-a", "second", f));
    expect(Buffer.compare(oursRead(f), current)).toBe(0);
  });
});

describe("images made by ours, checked by qemu-img", () => {
  it("create (v2, v3, small clusters, backing) gives what qemu-img info reports", () => {
    ok(img("create", "-q", "-f", "qcow2", "-o", "compat=0.10", p("o2.qcow2"), "1G"));
    ok(img("create", "-q", "-f", "qcow2", "-o", "cluster_size=512,refcount_bits=8", p("o3.qcow2"), "64M"));
    const i2 = JSON.parse(qemuImg("info", "--output=json", p("o2.qcow2")).stdout);
    expect(i2).toMatchObject({
      "virtual-size": 1 << 30,
      format: "qcow2",
      "format-specific": { data: { compat: "0.10" } },
    });
    const i3 = JSON.parse(qemuImg("info", "--output=json", p("o3.qcow2")).stdout);
    expect(i3).toMatchObject({
      "cluster-size": 512,
      "format-specific": { data: { compat: "1.1", "refcount-bits": 8 } },
    });
    writeFileSync(p("ob.raw"), pattern(2 << 20, 4));
    ok(img("create", "-q", "-f", "qcow2", "-b", "ob.raw", "-F", "raw", p("ob.qcow2")));
    expect(JSON.parse(qemuImg("info", "--output=json", p("ob.qcow2")).stdout)).toMatchObject({
      "virtual-size": 2 << 20,
      "backing-filename": "ob.raw",
      "backing-filename-format": "raw",
    });
    for (const f of ["o2.qcow2", "o3.qcow2", "ob.qcow2"]) ok(qemuImg("check", p(f)));
    expect(qemuImg("compare", p("ob.qcow2"), p("ob.raw")).status).toBe(0);
  });

  it("convert -c, convert -B, commit, rebase and resize give images qemu-img checks clean and compares equal", () => {
    const src = p("src.raw");
    const data = new Uint8Array(4 << 20);
    data.set(pattern(1 << 20, 5), 1 << 20);
    data.fill(0x61, 3 << 20, (3 << 20) + 100_000);
    writeFileSync(src, data);
    // convert -c: compressed, smaller than the data, same contents.
    ok(img("convert", "-c", "-O", "qcow2", src, p("cc.qcow2")));
    ok(qemuImg("check", p("cc.qcow2")));
    expect(qemuImg("compare", "-F", "raw", p("cc.qcow2"), src).status).toBe(0);
    expect(JSON.parse(qemuImg("check", "--output=json", p("cc.qcow2")).stdout)["compressed-clusters"]).toBeGreaterThan(
      0,
    );
    // convert -O qcow2 -o compat=0.10, then back to raw.
    ok(img("convert", "-O", "qcow2", "-o", "compat=0.10", src, p("v2.qcow2")));
    ok(qemuImg("check", p("v2.qcow2")));
    ok(img("convert", "-O", "raw", p("v2.qcow2"), p("back.raw")));
    expect(Buffer.compare(readFileSync(p("back.raw")), Buffer.from(data))).toBe(0);
    // convert -B: only what differs from the backing file is stored.
    const changed = data.slice();
    changed.fill(0x7f, 0, 70_000);
    writeFileSync(p("changed.raw"), changed);
    ok(img("convert", "-O", "qcow2", "-B", "src.raw", "-F", "raw", p("changed.raw"), p("delta.qcow2")));
    ok(qemuImg("check", p("delta.qcow2")));
    expect(qemuImg("compare", p("delta.qcow2"), p("changed.raw")).status).toBe(0);
    expect(JSON.parse(qemuImg("check", "--output=json", p("delta.qcow2")).stdout)["allocated-clusters"]).toBe(2);
    // rebase (safe) onto nothing: the data stays, the backing goes.
    ok(img("rebase", "-b", "", p("delta.qcow2")));
    expect(JSON.parse(qemuImg("info", "--output=json", p("delta.qcow2")).stdout)["backing-filename"]).toBeUndefined();
    ok(qemuImg("check", p("delta.qcow2")));
    expect(qemuImg("compare", p("delta.qcow2"), p("changed.raw")).status).toBe(0);
    // commit: a qcow2 overlay's writes land in its raw base.
    writeFileSync(p("cbase.raw"), data);
    ok(qemuImg("create", "-q", "-f", "qcow2", "-b", "cbase.raw", "-F", "raw", p("ctop.qcow2")));
    qemuIo(p("ctop.qcow2"), "write -P 0x99 1M 300k");
    const expected = qemuRead(p("ctop.qcow2"));
    ok(img("commit", "-q", p("ctop.qcow2")));
    expect(Buffer.compare(readFileSync(p("cbase.raw")), expected)).toBe(0);
    ok(qemuImg("check", p("ctop.qcow2")));
    expect(
      JSON.parse(qemuImg("map", "--output=json", p("ctop.qcow2")).stdout).every(
        (m: { depth: number }) => m.depth === 1,
      ),
    ).toBe(true);
    // resize: grow past the L1 table's reach (512-byte clusters: 64 entries of 32 KiB).
    ok(img("create", "-q", "-f", "qcow2", "-o", "cluster_size=512", p("rs.qcow2"), "1M"));
    ok(img("resize", "-q", p("rs.qcow2"), "+7M"));
    qemuIo(p("rs.qcow2"), "write -P 0x42 7M 4k");
    ok(qemuImg("check", p("rs.qcow2")));
    expect(JSON.parse(qemuImg("info", "--output=json", p("rs.qcow2")).stdout)["virtual-size"]).toBe(8 << 20);
    ok(img("resize", "-q", "--shrink", p("rs.qcow2"), "-4M"));
    ok(qemuImg("check", p("rs.qcow2")));
    expect(statSync(p("rs.qcow2")).size).toBeGreaterThan(0);
  });

  it("snapshots made by ours are listed and applied by qemu-img", () => {
    const f = p("os.qcow2");
    ok(img("create", "-q", "-f", "qcow2", f, "2M"));
    const before = pattern(1 << 20, 6);
    const h = openImage(new HostFile(f, true), hostOpenOptions(f));
    h.write(0, before);
    h.close();
    ok(img("snapshot", "-c", "mine", f));
    qemuIo(f, "write -P 0xee 0 512k");
    ok(qemuImg("check", f));
    expect(qemuImg("snapshot", "-l", f).stdout).toContain("mine");
    ok(qemuImg("snapshot", "-a", "mine", f));
    expect(Buffer.compare(qemuRead(f).subarray(0, 1 << 20), Buffer.from(before))).toBe(0);
  });

  it("check reports leaks as qemu-img does (exit 3) and -r leaks repairs them", () => {
    const f = p("leak.qcow2");
    ok(img("create", "-q", "-f", "qcow2", f, "1M"));
    // A refcount for a cluster nobody references: one cluster past the end, counted.
    const h = openImage(new HostFile(f, true), hostOpenOptions(f)) as unknown as {
      refcounts: { set(c: number, v: number): void };
      file: { write(o: number, d: Uint8Array): void };
      close(): void;
    };
    h.file.write(5 * 65536, new Uint8Array(65536));
    h.refcounts.set(5, 1);
    h.close();
    expect(qemuImg("check", f).status).toBe(3);
    const r = img("check", f);
    expect(r.status).toBe(3);
    expect(r.err).toContain("Leaked cluster 5 refcount=1 reference=0");
    expect(r.out).toContain("1 leaked clusters were found on the image.");
    expect(JSON.parse(img("check", "--output=json", f).out)).toEqual(
      JSON.parse(qemuImg("check", "--output=json", f).stdout),
    );
    ok(img("check", "-r", "leaks", f));
    ok(qemuImg("check", f));
  });
});
