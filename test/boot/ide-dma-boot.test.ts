// The tiny Linux on the PIIX3 IDE disk: ata_piix programs multiword DMA 2 (the PIIX3's best mode),
// and reads and writes of /dev/sda go through the bus master (PRD tables in guest memory), under
// hvm with EPT, where the bus-master registers are port exits (the unit tests cover the rest:
// test/devices/ide-dma.test.ts).

import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { bytesSource, CowDisk } from "../../devices/storage/block.js";
import { bootToShell } from "./linux-shell.js";

/** 2 MiB whose every byte depends on its offset (so a misplaced sector shows in the hash). */
function patterned(bytes: number): Uint8Array {
  const b = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) b[i] = (i * 31 + (i >>> 9) * 7) & 0xff;
  return b;
}

const md5 = (b: Uint8Array) => createHash("md5").update(b).digest("hex");

describe("tiny Linux on IDE with bus-master DMA", () => {
  for (const mode of ["hvm"] as const) {
    it(`ata_piix uses MWDMA2; dd reads and writes /dev/sda through PRD tables (${mode})`, async () => {
      const image = patterned(2 << 20);
      const disk = new CowDisk(bytesSource(image.slice()));
      const { vm, out, sh } = await bootToShell({ mode, pci: { hda: { kind: "disk", disk } } });
      // The drive offers UDMA/100; the PIIX3 (ata_piix's piix_pata_mwdma) stops at MWDMA2.
      expect(out.text).toContain("ata1.00: ATA-6: QEMU HARDDISK, 2.5+, max UDMA/100");
      expect(sh("cat /sys/class/ata_device/dev1.0/xfer_mode")).toContain("XFER_MW_DMA_2");
      const bm = vm.devices.pci!.ide.busMasters[0];
      const before = bm.counters.transfers;
      expect(before).toBeGreaterThan(0); // the partition scan already read by DMA
      // Read 1 MiB from 512 KiB on, past what the partition scan cached.
      const read = sh("dd if=/dev/sda bs=4096 skip=128 count=256 2>/dev/null | md5sum");
      expect(read).toContain(md5(image.subarray(512 << 10, 1536 << 10)));
      // Write 64 KiB at 1.5 MiB, flushed to the disk.
      // (The line doubled in a file and cut by dd's count: busybox's head -c costs the guest ~280
      // instructions a byte.)
      sh(
        "echo x86lab-dma > /tmp/p && for i in 1 2 3 4 5 6 7 8 9 10 11 12 13; do cat /tmp/p /tmp/p > /tmp/q && mv /tmp/q /tmp/p; done && dd if=/tmp/p of=/dev/sda bs=4096 count=16 seek=384 conv=fsync 2>/dev/null",
      );
      const expected = new TextEncoder().encode("x86lab-dma\n".repeat(6000)).subarray(0, 65536);
      expect(disk.read(3072, 128)).toEqual(expected);
      expect(bm.counters.transfers).toBeGreaterThan(before);
      expect(bm.counters.busErrors + bm.counters.short).toBe(0);
      expect(out.text).not.toMatch(/ata1.*(timeout|failed command|BMDMA stat)/);
    });
  }
});
