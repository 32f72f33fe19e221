// The tiny Linux on a qcow2 overlay over a raw base, through the CLI's drive code: the guest
// writes 1 MiB with dd, the overlay file grows by that and one L2 table (thin provisioning), the
// base's hash does not change, qemu-img check finds the overlay clean and qemu-img convert reads
// the guest's bytes back; with snapshot=on (a temporary overlay over the chain) the same bytes
// read back and writes leave the qcow2 file as it was.

import { createHash } from "node:crypto";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import type { VirtioBlk } from "../../devices/virtio/blk.js";
import { openDiskSource } from "../../vmm/node/disk-image.js";
import { machinePci, parseDrive } from "../../vmm/node/drives.js";
import { bootToShell } from "../boot/linux-shell.js";
import { pattern, qemuImg, scratch } from "./helpers.js";

const tmp = scratch("guest-qcow2");
afterAll(tmp.done);
const sha = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

function pci(drive: string) {
  return machinePci(
    { drives: [parseDrive(drive)], devices: [], netdevs: [] },
    (path, what, writable, overlay, format) => openDiskSource(path, { what, writable, overlay, format }),
  );
}

describe("a guest on a qcow2 overlay", () => {
  it("writes to the overlay file, the raw base keeps its hash, the file grows with the data only", async () => {
    const base = tmp.path("base.raw");
    writeFileSync(base, pattern(16 << 20, 1));
    const baseHash = sha(base);
    const overlay = tmp.path("overlay.qcow2");
    expect(qemuImg("create", "-q", "-f", "qcow2", "-b", base, "-F", "raw", overlay).status).toBe(0);
    const empty = statSync(overlay).size;

    const first = await bootToShell({ pci: pci(`file=${overlay},if=virtio,snapshot=off`) });
    // The 1 MiB is "x86lab-qcow2\n" over and over (what `yes x86lab-qcow2 | head -c 1048576` gives),
    // doubled in a file and cut by dd's count: busybox's head -c costs ~280 guest instructions a
    // byte (about 300 M for the MiB, most of this test's time), dd moves 64 KiB a system call.
    const wrote = first.sh(
      "echo x86lab-qcow2 > /tmp/p && for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17; do cat /tmp/p /tmp/p > /tmp/q && mv /tmp/q /tmp/p; done && dd if=/tmp/p of=/dev/vda bs=65536 count=16 seek=64 2>/dev/null && sync && dd if=/dev/vda bs=65536 skip=64 count=16 2>/dev/null | sha256sum",
    );
    const guestHash = /([0-9a-f]{64})/.exec(wrote)?.[1];
    expect(guestHash, wrote).toBeDefined();
    const expected = Buffer.alloc(1 << 20, "x86lab-qcow2\n");
    expect(guestHash).toBe(createHash("sha256").update(expected).digest("hex"));
    // 1 MiB of data clusters and one L2 table after qemu-img's last cluster, nothing else.
    expect(statSync(overlay).size).toBe(Math.ceil(empty / 65536) * 65536 + (1 << 20) + 65536);
    expect(sha(base)).toBe(baseHash);
    expect(qemuImg("check", overlay)).toMatchObject({ status: 0 });
    const flat = tmp.path("flat.raw");
    expect(qemuImg("convert", "-O", "raw", overlay, flat).status).toBe(0);
    const region = readFileSync(flat).subarray(4 << 20, 5 << 20);
    expect(createHash("sha256").update(region).digest("hex")).toBe(guestHash);
    // The rest of the disk still reads as the base.
    expect(Buffer.compare(readFileSync(flat).subarray(0, 4 << 20), readFileSync(base).subarray(0, 4 << 20))).toBe(0);

    // snapshot=on: a temporary overlay over the chain takes the writes; the qcow2 stays as it was.
    const overlayHash = sha(overlay);
    const disk = pci(`file=${overlay},if=virtio`).virtio?.[0] as VirtioBlk;
    const viaChain = new Uint8Array(1 << 20);
    viaChain.set(disk.disk.read(8192, 2048));
    expect(createHash("sha256").update(viaChain).digest("hex")).toBe(guestHash);
    disk.disk.write(8192, new Uint8Array(1 << 20).fill(0xee));
    expect(disk.disk.read(8192, 1)).toEqual(new Uint8Array(512).fill(0xee));
    expect(sha(overlay)).toBe(overlayHash);
    expect(sha(base)).toBe(baseHash);
  });
});
