// A user's File as a disk (web/src/opfs-disk.ts fileDisk), in Node (whose Blob reads slices
// asynchronously as the browser's does): SeaBIOS boots a boot sector read from it on the IDE disk
// (PIO: BSY until each read's data is there) and on virtio-blk (its driver polls the used ring
// while the request is in flight); the guest's writes stay in the overlay and the File is never
// changed; a read past the file's end is an I/O error, not an exception.

import { describe, expect, it } from "vitest";
import { BOOT_PATH } from "../../devices/fw-cfg/items.js";
import { BlockQueue, type BlockResult, backendOf } from "../../devices/storage/request.js";
import { VirtioBlk } from "../../devices/virtio/blk.js";
import { installFirmware } from "../../vmm/firmware.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { Vm, type VmStop } from "../../vmm/vm.js";
import { blobSource, fileDisk } from "../../web/src/opfs-disk.js";
import { rom } from "../boot/seabios-boot.js";
import { bootSector } from "../browser/harness.js";

/** A 1 MiB disk whose boot sector prints `msg` on COM1 and ends the run (harness.ts bootSector). */
function bootDisk(msg: string): Uint8Array<ArrayBuffer> {
  const disk = new Uint8Array(1 << 20);
  disk.set(bootSector(msg), 0);
  return disk;
}

/** Runs until the guest stops, letting the host answer disk reads between slices. */
async function runAsync(vm: Vm, limitMs = 60_000): Promise<VmStop> {
  const t0 = performance.now();
  for (;;) {
    const stop = vm.run(2_000_000);
    if (stop.kind !== "limit") return stop;
    if (performance.now() - t0 > limitMs) return stop;
    await new Promise<void>((r) => setImmediate(r));
  }
}

async function seabios(pci: "ide" | "virtio", image: Uint8Array<ArrayBuffer>) {
  const file = new Blob([image]);
  const disk = fileDisk(Object.assign(file, { name: "boot.img" }));
  let com1 = "";
  let log = "";
  const blk = pci === "virtio" ? new VirtioBlk({ disk }) : undefined;
  const vm = await Vm.create({
    module: loadCoreModule(),
    ramBytes: 32 << 20,
    onSerial: (com, b) => {
      if (com === 1) com1 += String.fromCharCode(b);
    },
    onDebugConsole: (port, b) => {
      if (port === 0x402) log += String.fromCharCode(b);
    },
    pci: blk ? { virtio: [blk] } : undefined,
  });
  installFirmware(vm, {
    bios: rom("bios.bin"),
    vgaBios: rom("vgabios.bin"),
    hda: blk ? undefined : disk,
    bootOrder: blk ? undefined : [BOOT_PATH.ide(0, 0)],
    bootLetters: "c",
  });
  const stop = await runAsync(vm);
  return { stop, com1, log, disk, blk, file };
}

describe("a user's File as a disk", () => {
  it("SeaBIOS boots it on the IDE disk, every sector read from the File when asked", async () => {
    const { stop, com1, log } = await seabios("ide", bootDisk("FILE-IDE-OK"));
    expect(log).toContain("Booting from Hard Disk...");
    expect(com1).toContain("FILE-IDE-OK\r\n");
    expect(stop.kind).not.toBe("limit");
  });

  it("SeaBIOS boots it on virtio-blk, whose requests complete after the notify", async () => {
    const { stop, com1, blk } = await seabios("virtio", bootDisk("FILE-BLK-OK"));
    expect(com1).toContain("FILE-BLK-OK\r\n");
    expect(stop.kind).not.toBe("limit");
    expect(blk!.queueCounters.late).toBeGreaterThan(0);
    expect(blk!.queueCounters.errors).toBe(0);
  });

  it("keeps writes in the overlay, leaves the File as it was, and reports a short file as an I/O error", async () => {
    const image = bootDisk("x");
    const file = new Blob([image]);
    const q = new BlockQueue(backendOf(fileDisk(file)));
    const result = (req: Parameters<BlockQueue["submit"]>[0]) =>
      new Promise<BlockResult>((res) => expect(q.submit(req, res)).toBe(true));
    expect(await result({ op: "write", sector: 1, count: 1, data: new Uint8Array(512).fill(7) })).toEqual({
      status: "ok",
    });
    const back = new Uint8Array(1024);
    expect((await result({ op: "read", sector: 0, count: 2, data: back })).status).toBe("ok");
    expect(back.subarray(0, 512)).toEqual(image.subarray(0, 512));
    expect(back[512]).toBe(7);
    expect(Buffer.compare(new Uint8Array(await file.arrayBuffer()), image)).toBe(0);

    // A source that promises more than the Blob holds: its read fails as a value.
    const short = blobSource(new Blob([new Uint8Array(100)]));
    await expect(short.readAt(0, new Uint8Array(512))).rejects.toThrow(/read 100 of 512 bytes/);
  });
});
