// `npm run img`: the program's wiring (stdout, stderr, exit status) once through tsx, then the
// commands' messages in process: create's line as qemu-img prints it, sizes, usage mistakes.

import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { parseArgs } from "../../vmm/node/args.js";
import { openDiskSource } from "../../vmm/node/disk-image.js";
import { runImg } from "../../vmm/node/img.js";
import { sizeToStr } from "../../vmm/node/img-output.js";
import { qemuImg, scratch } from "./helpers.js";

const tmp = scratch("img-cli");
afterAll(tmp.done);

describe("npm run img", () => {
  it("runs as a program: output on stdout, errors on stderr, qemu-img's exit status", () => {
    const f = tmp.path("p.qcow2");
    const tsx = new URL("../../node_modules/.bin/tsx", import.meta.url).pathname;
    const script = new URL("../../vmm/node/img.ts", import.meta.url).pathname;
    const made = spawnSync(tsx, [script, "create", "-f", "qcow2", f, "1G"], { encoding: "utf8" });
    expect(made.status).toBe(0);
    expect(made.stdout).toBe(
      `${qemuImg("create", "-f", "qcow2", tmp.path("q.qcow2"), "1G").stdout.replace("q.qcow2", "p.qcow2")}`,
    );
    const missing = spawnSync(tsx, [script, "info", tmp.path("none.qcow2")], { encoding: "utf8" });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/^img: .*none\.qcow2: cannot open: ENOENT\n$/);
  });

  it("create prints qemu-img's line for v2, backing files and options", () => {
    const base = tmp.path("b.raw");
    expect(runImg(["create", "-f", "raw", base, "3M"]).stdout).toEqual([`Formatting '${base}', fmt=raw size=3145728`]);
    const options = ["-f", "qcow2", "-o", "compat=0.10", "-b", "b.raw", "-F", "raw"];
    const mine = runImg(["create", ...options, tmp.path("v2.qcow2")]);
    const theirs = qemuImg("create", ...options, tmp.path("v2q.qcow2"));
    expect(mine.stdout.join("\n")).toBe(theirs.stdout.trim().replace("v2q.qcow2", "v2.qcow2"));
  });

  it("sizes read and print as qemu-img's", () => {
    expect(sizeToStr(0)).toBe("0 B");
    expect(sizeToStr(405504)).toBe("396 KiB");
    expect(sizeToStr(1098240)).toBe("1.05 MiB");
    expect(sizeToStr(1 << 30)).toBe("1 GiB");
    expect(sizeToStr(1023 * 1024)).toBe("0.999 MiB");
  });

  it("refuses mistakes with one line and status 1", () => {
    const cases: [string[], RegExp][] = [
      [["frobnicate"], /Command not found: frobnicate/],
      [["create", "-f", "vmdk", tmp.path("x"), "1M"], /format 'vmdk': use raw or qcow2/],
      [["create", "-f", "qcow2", tmp.path("x"), "12Q"], /Invalid image size specified/],
      [["create", "-f", "qcow2", "-o", "cluster_size=1000", tmp.path("x"), "1M"], /cluster size 1000/],
      [["create", "-f", "qcow2", "-o", "lazy_refcounts=on", tmp.path("x"), "1M"], /lazy_refcounts=on is not supported/],
      [["check", "-r", "some", tmp.path("x")], /expecting 'leaks' or 'all'/],
      [["snapshot", "-l", "-c", "s", tmp.path("x")], /Cannot mix/],
      [["resize", tmp.path("x")], /Expecting image file name and size/],
      [["info", "--bogus", tmp.path("x")], /Unknown option '--bogus'/],
    ];
    for (const [argv, msg] of cases) {
      const r = runImg(argv);
      expect(r.status, argv.join(" ")).toBe(1);
      expect(r.stderr.join("\n"), argv.join(" ")).toMatch(msg);
    }
    const small = tmp.path("small.qcow2");
    runImg(["create", "-q", "-f", "qcow2", small, "4M"]);
    expect(runImg(["resize", small, "-1M"]).stderr.join("")).toMatch(/--shrink/);
    expect(runImg(["resize", "--shrink", small, "-1M"]).status).toBe(0);
    expect(runImg(["info", small]).stdout.join("\n")).toContain("virtual size: 3 MiB (3145728 bytes)");
  });
});

describe("the VM's drive flags", () => {
  it("-snapshot makes every drive copy-on-write; format=qcow2 is kept for the opener", () => {
    const a = parseArgs(["-drive", "file=a.qcow2,format=qcow2,snapshot=off,if=virtio", "-snapshot"]);
    expect(a.machine.drives[0]).toMatchObject({ format: "qcow2", snapshot: true });
    const b = parseArgs(["-drive", "file=a.qcow2,snapshot=off,if=virtio"]);
    expect(b.machine.drives[0]).toMatchObject({ snapshot: false });
    expect(b.machine.drives[0]?.format).toBeUndefined();
  });

  it("a drive's image is opened by its magic: a qcow2 under a raw name still reads as qcow2", () => {
    const f = tmp.path("disk.img");
    runImg(["create", "-q", "-f", "qcow2", f, "1M"]);
    const source = openDiskSource(f, { what: "disk image", writable: false, overlay: false });
    expect(source.size).toBe(1 << 20);
    const raw = openDiskSource(f, { what: "disk image", writable: false, overlay: false, format: "raw" });
    expect(raw.size).toBeLessThan(1 << 20);
  });
});

describe("vmm/storage runs in the page too", () => {
  it("imports no Node module", () => {
    const dir = new URL("../../vmm/storage/", import.meta.url);
    for (const name of readdirSync(dir)) {
      const text = readFileSync(new URL(name, dir), "utf8");
      expect(text, name).not.toMatch(/from "node:|require\(/);
    }
  });
});
