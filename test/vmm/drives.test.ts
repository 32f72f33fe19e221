// The command line's -drive/-device/-hda flags (vmm/node/drives.ts) and what they build.

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Ne2000 } from "../../devices/net/ne2000.js";
import { bytesSource } from "../../devices/storage/block.js";
import { VirtioBalloon } from "../../devices/virtio/balloon.js";
import { VirtioBlk } from "../../devices/virtio/blk.js";
import { VirtioRng } from "../../devices/virtio/rng.js";
import { legacyDrives, machinePci, parseDevice, parseDrive } from "../../vmm/node/drives.js";
import { UserInputError } from "../../vmm/node/files.js";

const opened: { path: string; writable: boolean }[] = [];
const open = (path: string, _what: string, writable: boolean) => {
  opened.push({ path, writable });
  return bytesSource(new Uint8Array(path.endsWith(".iso") ? 4096 : 8192));
};

describe("-drive and -device", () => {
  it("parses QEMU's spellings and refuses what this machine cannot do", () => {
    expect(parseDrive("file=a.img,if=virtio,format=raw,readonly=on")).toEqual({
      file: "a.img",
      format: "raw",
      interface: "virtio",
      media: "disk",
      readOnly: true,
      snapshot: true,
    });
    expect(parseDrive("file=c.iso,media=cdrom,index=2")).toMatchObject({ interface: "ide", readOnly: true, index: 2 });
    expect(parseDrive("file=d.img,if=none,id=d0,snapshot=off")).toMatchObject({ id: "d0", snapshot: false });
    const bad: [string, RegExp][] = [
      ["if=virtio", /file=PATH is required/],
      ["file=a,format=vmdk", /use raw or qcow2/],
      ["file=a,if=scsi", /use ide, virtio or none/],
      ["file=a,readonly=maybe", /use on or off/],
      ["file=a,cache=none", /unknown property 'cache'/],
      ["file=a,if=none", /needs id=NAME/],
      ["file=a,if=virtio,media=cdrom", /media=cdrom needs if=ide/],
      ["file=a,index=7", /IDE position 0-3/],
      ["file=a,file=b", /given twice/],
      ["file", /not key=value/],
    ];
    for (const [v, msg] of bad) expect(() => parseDrive(v), v).toThrow(msg);
    expect(() => parseDrive("file=a,if=floppy")).toThrow(UserInputError);
    expect(parseDevice("virtio-blk-pci,drive=d0")).toEqual({ driver: "virtio-blk-pci", drive: "d0" });
    expect(parseDevice("virtio-rng-pci")).toEqual({ driver: "virtio-rng-pci" });
    expect(() => parseDevice("virtio-blk-pci")).toThrow(/drive=NAME is required/);
    expect(() => parseDevice("e1000")).toThrow(
      /virtio-blk-pci, virtio-rng-pci, virtio-net-pci, ne2k_pci and virtio-balloon-pci/,
    );
    expect(parseDevice("virtio-balloon-pci")).toEqual({ driver: "virtio-balloon-pci" });
    expect(parseDevice("ne2k_pci")).toEqual({ driver: "ne2k_pci" });
    expect(parseDevice("virtio-net-pci")).toEqual({ driver: "virtio-net-pci" });
    expect(() => parseDevice("virtio-rng-pci,drive=x")).toThrow(/unknown property/);
  });

  it("builds IDE positions and virtio devices, copy-on-write unless snapshot=off", () => {
    opened.length = 0;
    const pci = machinePci(
      {
        drives: [
          ...legacyDrives({ hda: "hda.img", cdrom: "cd.iso" }),
          parseDrive("file=v.img,if=virtio"),
          parseDrive("file=w.img,if=none,id=w,snapshot=off"),
          parseDrive("file=e.img"), // next free IDE position: hdb
        ],
        devices: [
          parseDevice("virtio-blk-pci,drive=w"),
          parseDevice("virtio-rng-pci"),
          parseDevice("ne2k_pci"),
          parseDevice("virtio-balloon-pci"),
        ],
        netdevs: [],
      },
      open,
    );
    expect(pci.hda?.kind).toBe("disk");
    expect(pci.hdb?.kind).toBe("disk");
    expect(pci.hdc?.kind).toBe("cdrom");
    expect(pci.hdd).toBeUndefined();
    expect(pci.virtio?.map((d) => d.constructor)).toEqual([VirtioBlk, VirtioBlk, VirtioRng, VirtioBalloon]);
    expect(pci.functions?.map((f) => f.constructor)).toEqual([Ne2000]);
    expect(opened).toEqual([
      { path: "hda.img", writable: false },
      { path: "cd.iso", writable: false },
      { path: "v.img", writable: false },
      { path: "e.img", writable: false },
      { path: "w.img", writable: true },
    ]);
    // QEMU's default CD-ROM drive stays on hdc when nothing else is there.
    expect(machinePci({ drives: [], devices: [], netdevs: [] }, open).hdc).toEqual({ kind: "cdrom" });
  });

  it("refuses drives that clash or dangle", () => {
    const m =
      (drives: string[], devices: string[] = []) =>
      () =>
        machinePci({ drives: drives.map(parseDrive), devices: devices.map(parseDevice), netdevs: [] }, open);
    expect(m(["file=a,index=0", "file=b,index=0"])).toThrow(/position 0 is taken/);
    expect(m(["file=a,if=none,id=x"])).toThrow(/no -device uses it/);
    expect(m([], ["virtio-blk-pci,drive=x"])).toThrow(/no -drive with id=x/);
    expect(m(["file=a,if=virtio,id=x"], ["virtio-blk-pci,drive=x"])).toThrow(/already in use/);
    expect(m(["file=a,if=none,id=x", "file=b,if=none,id=x"], ["virtio-blk-pci,drive=x"])).toThrow(/used twice/);
  });
});

describe("npm start with -kernel and disks", () => {
  const dir = mkdtempSync(join(tmpdir(), "x86lab-drives-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("attaches -hda, a virtio -drive and a -nic to a directly booted kernel", async () => {
    const ide = join(dir, "ide.img");
    const vd = join(dir, "vd.img");
    writeFileSync(ide, new Uint8Array(1 << 20));
    writeFileSync(vd, new Uint8Array(2 << 20));
    // stdin stays open (its end would quit the emulator); --max-instructions ends the run.
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "vmm/node/cli.ts",
        "-kernel",
        "guests/linux/bzImage",
        "-append",
        "console=ttyS0",
        "-hda",
        ide,
        "-drive",
        `file=${vd},if=virtio,format=raw`,
        "-nic",
        "user,model=ne2k_pci,mac=52:54:00:00:00:42",
        "--max-instructions",
        "400000000",
      ],
      { cwd: new URL("../../", import.meta.url).pathname },
    );
    const r = { stdout: "", stderr: "" };
    child.stdout.on("data", (d) => {
      r.stdout += d;
    });
    child.stderr.on("data", (d) => {
      r.stderr += d;
    });
    await new Promise((resolve) => child.on("exit", resolve));
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("virtio_blk virtio0: [vda] 4096 512-byte logical blocks");
    expect(r.stdout).toMatch(/ata1\.00: ATA-6: QEMU HARDDISK/);
    expect(r.stdout).toMatch(/sd 0:0:0:0: \[sda\] 2048 512-byte logical blocks/);
    expect(r.stdout).toMatch(/ne2k-pci 0000:00:0\d\.0 eth0: RealTek RTL-8029\(AS\) found at .*, 52:54:00:00:00:42/);
  });
});
