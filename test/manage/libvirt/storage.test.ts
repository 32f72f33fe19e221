// Storage pools and volumes: dir pools, raw and qcow2 volumes made by the project's image code
// and read back by Debian's qemu-img, pool and volume XML with unknown elements kept, and
// virsh's vol-list / vol-info / pool-list output.

import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { virsh } from "../../../manage/cli/virsh-commands.js";
import { Connection, LibvirtError } from "../../../manage/libvirt/connection.js";
import { formatPoolXml, parsePoolXml, parseVolumeXml, StorageXmlError } from "../../../manage/libvirt/storage-xml.js";

const dir = mkdtempSync(join(tmpdir(), "virsh-storage-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(...args: string[]): Promise<{ code: number; out: string }> {
  let out = "";
  const code = await virsh(["-c", `x86lab://${dir}`, ...args], (t) => {
    out += t;
  });
  return { code, out };
}

describe("storage pools and volumes", () => {
  it("creates qcow2 and raw volumes that qemu-img reads", async () => {
    expect(await run("vol-create-as", "default", "a.qcow2", "1G", "--format", "qcow2")).toEqual({
      code: 0,
      out: "Vol a.qcow2 created\n\n",
    });
    expect((await run("vol-create-as", "default", "b.img", "64M")).code).toBe(0);
    const info = JSON.parse(
      execFileSync("qemu-img", ["info", "--output=json", join(dir, "images", "a.qcow2")], { encoding: "utf8" }),
    );
    expect(info).toMatchObject({ format: "qcow2", "virtual-size": 1024 ** 3 });
    execFileSync("qemu-img", ["check", join(dir, "images", "a.qcow2")]);
    const raw = JSON.parse(
      execFileSync("qemu-img", ["info", "--output=json", join(dir, "images", "b.img")], { encoding: "utf8" }),
    );
    expect(raw).toMatchObject({ format: "raw", "virtual-size": 64 * 1024 ** 2 });
    const list = await run("vol-list", "default");
    expect(list.out.split("\n").slice(0, 2)).toEqual([
      expect.stringMatching(/^ Name +Path$/),
      expect.stringMatching(/^-+$/),
    ]);
    expect(list.out).toContain(` a.qcow2   ${join(dir, "images", "a.qcow2")}`);
    const vi = await run("vol-info", "a.qcow2", "--pool", "default");
    expect(vi.out).toMatch(
      /^Name: {11}a\.qcow2\nType: {11}file\nCapacity: {7}1\.00 GiB\nAllocation: {5}\d+\.\d\d KiB\n\n$/,
    );
    expect((await run("pool-list")).out).toBe(
      " Name      State    Autostart\n-------------------------------\n default   active   no\n",
    );
  });

  it("refuses what it cannot make, and an existing volume", async () => {
    const c = new Connection({ dir });
    expect(() => c.pools.createAs("default", "a.qcow2", "1G", "qcow2")).toThrow(
      "storage volume 'a.qcow2' exists already",
    );
    expect(() => c.pools.createAs("default", "c.vmdk", "1G", "vmdk")).toThrow(LibvirtError);
    expect(() => c.pools.createAs("default", "c", "lots")).toThrow("Malformed size lots");
    expect(() => c.pools.createAs("nopool", "c", "1M")).toThrow("failed to get pool 'nopool'");
    const r = await run("vol-info", "missing", "--pool", "default");
    expect(r.code).toBe(1);
  });

  it("reads pool and volume XML, keeping what it does not know", () => {
    const pool = parsePoolXml(
      "<pool type='dir'><name>p</name><capacity unit='bytes'>1</capacity><source/><target><path>/srv/img</path><permissions><mode>0711</mode></permissions></target><x:y xmlns:x='urn:x'/></pool>",
    );
    expect(pool).toMatchObject({ name: "p", path: "/srv/img" });
    const xml = formatPoolXml(pool);
    expect(xml).toContain("<permissions>");
    expect(xml).toContain("<x:y xmlns:x='urn:x'/>");
    expect(parsePoolXml(xml)).toEqual(pool);
    expect(() => parsePoolXml("<pool type='logical'><name>p</name></pool>")).toThrow(
      "<pool>: type='logical': this machine has dir pools (a directory of images)",
    );
    expect(() => parsePoolXml("<pool type='dir'><name>p</name></pool>")).toThrow("<pool><target>: <path> is missing");
    const vol = parseVolumeXml(
      "<volume><name>v.qcow2</name><capacity unit='GiB'>2</capacity><target><format type='qcow2'/></target></volume>",
    );
    expect(vol).toEqual({ name: "v.qcow2", capacityBytes: 2 * 1024 ** 3, format: "qcow2" });
    expect(() =>
      parseVolumeXml("<volume><name>v</name><capacity>1</capacity><target><format type='vdi'/></target></volume>"),
    ).toThrow(StorageXmlError);
    expect(() => parseVolumeXml("<volume><name>v</name><capacity unit='GiB'>x</capacity></volume>")).toThrow(
      "<volume><capacity>: 'x' is not a whole number",
    );
  });

  it("creates a qcow2 volume from XML over a backing image", () => {
    const c = new Connection({ dir });
    const v = c.pools.createXML(
      "default",
      `<volume><name>over.qcow2</name><capacity unit='MiB'>64</capacity><target><format type='qcow2'/></target><backingStore><path>${join(dir, "images", "b.img")}</path><format type='raw'/></backingStore></volume>`,
    );
    expect(v).toMatchObject({ format: "qcow2", capacity: 64 * 1024 ** 2 });
    const info = JSON.parse(execFileSync("qemu-img", ["info", "--output=json", v.path], { encoding: "utf8" }));
    expect(info).toMatchObject({ "backing-filename": join(dir, "images", "b.img"), "backing-filename-format": "raw" });
  });
});
