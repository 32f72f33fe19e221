// The monitor's info pci / info virtio / info io.

import { describe, expect, it } from "vitest";
import { bytesSource, CowDisk } from "../../devices/storage/block.js";
import { VirtioBlk } from "../../devices/virtio/blk.js";
import { infoIo, infoPci, infoVirtio } from "../../vmm/info.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { Vm } from "../../vmm/vm.js";

describe("monitor info commands", () => {
  it("lists the PCI functions with IRQs and BARs, the virtio queues, and accesses per device", async () => {
    const disk = new CowDisk(bytesSource(new Uint8Array(1 << 20)));
    const vm = await Vm.create({
      module: loadCoreModule(),
      ramBytes: 4 << 20,
      pci: { virtio: [new VirtioBlk({ disk })] },
    });
    vm.devices.setupPciLikeFirmware();
    const pci = infoPci(vm);
    expect(pci).toContain("00:00.0 8086:1237 class 060000 i440FX host bridge");
    expect(pci).toContain("00:02.0 1af4:1001 class 010000 virtio-blk, INTA# IRQ 10");
    expect(pci).toContain("  BAR4 mem 16384 bytes at 0xfe000000");
    expect(pci).toContain("  BAR0 io 128 bytes at 0xc000");
    expect(pci).toContain("  BAR1 mem 4096 bytes at 0xfe004000"); // MSI-X table and PBA
    expect(infoVirtio(vm)).toMatch(
      /virtio-blk: status 0x0 .*\n {2}MSI-X disabled: 2 vectors, 0 messages .*\n {2}queue 0: size 128 disabled/,
    );
    // Two reads of the status register through the MMIO window: the core would send them here.
    vm.devices.mmioRead(0xfe000014, 1);
    vm.devices.mmioRead(0xfe000014, 1);
    vm.devices.ioRead(0x1f7, 1);
    const io = infoIo(vm);
    expect(io).toMatch(/ {13}2 {2}mmio {2}virtio-blk BAR4/);
    expect(io).toMatch(/ {13}1 {2}port {2}IDE primary \(command block\)/);
    const none = await Vm.create({ module: loadCoreModule(), ramBytes: 1 << 20, pci: false });
    expect(infoPci(none)).toBe("no PCI bus\n");
    expect(infoVirtio(none)).toBe("no virtio devices\n");
  });
});
