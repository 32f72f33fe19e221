// The pv mode's virtio notify hypercall (71: EBX = devfn, ECX = queue) on the host side: it kicks
// the queue as a write to the notify register would, and refuses what is not a virtio queue.
// (The core does not forward 71 to the host yet, so a guest's VMCALL 71 still answers
// -KVM_ENOSYS: this test calls the host's handler as the core's forwarding would.)

import { describe, expect, it } from "vitest";
import { VirtioRng } from "../../devices/virtio/rng.js";
import { EINVAL, PV_HC_VIRTIO_NOTIFY } from "../../vmm/generated/abi.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { Vm } from "../../vmm/vm.js";

const RAM = 4 << 20;

async function machine(mode: "pv" | "hvm" = "pv") {
  const rng = new VirtioRng((d) => d.fill(0xab));
  const vm = await Vm.create({ module: loadCoreModule(), ramBytes: RAM, mode, pci: { virtio: [rng] } });
  vm.devices.setupPciLikeFirmware();
  const fn = vm.virtio[0]!;
  const slot = vm.devices.pci!.bus.list().find((x) => x.f === fn)!.dev;
  const bar = fn.barBase(4)!;
  const common = (off: number, size: 1 | 2 | 4, v: number) => vm.devices.mmioWrite(bar + off, size, v);
  // Modern setup of queue 0 (8 entries): descriptors at 0x10000, avail 0x11000, used 0x12000.
  common(0x14, 1, 3);
  common(0x08, 4, 1);
  common(0x0c, 4, 1); // VERSION_1
  common(0x14, 1, 11);
  common(0x16, 2, 0);
  common(0x18, 2, 8);
  common(0x20, 4, 0x10000);
  common(0x28, 4, 0x11000);
  common(0x30, 4, 0x12000);
  common(0x1c, 2, 1);
  common(0x14, 1, 15);
  // One 16-byte device-writable buffer at 0x20000, made available.
  const dv = new DataView(new ArrayBuffer(16));
  dv.setUint32(0, 0x20000, true);
  dv.setUint32(8, 16, true);
  dv.setUint16(12, 2, true); // WRITE
  vm.cpu.writePhysical(0x10000, new Uint8Array(dv.buffer));
  vm.cpu.writePhysical(0x11000, Uint8Array.of(0, 0, 1, 0, 0, 0));
  const call = (devfn: number, queue: number) => {
    vm.cpu.setReg(3, devfn); // EBX
    vm.cpu.setReg(1, queue); // ECX
    return vm.pvHost!.hypercall(PV_HC_VIRTIO_NOTIFY);
  };
  return { vm, fn, rng, devfn: slot << 3, call };
}

describe("pv virtio notify hypercall (71), host side", () => {
  it("kicks the queue: the device fills the buffer and counts the notification", async () => {
    const { vm, fn, rng, devfn, call } = await machine();
    expect(call(devfn, 0)).toBe(0);
    expect(rng.bytes).toBe(16);
    expect(fn.counters.notifications[0]).toBe(1);
    expect(vm.memory.read(0x20000, 16).every((b) => b === 0xab)).toBe(true);
    expect(vm.memory.readU16(0x12002)).toBe(1); // used index
  });

  it("refuses a devfn without a virtio function, a queue it does not have, and wild registers", async () => {
    const { rng, devfn, call } = await machine();
    expect(call(0x08, 0)).toBe(-EINVAL); // 00:01.0, the ISA bridge
    expect(call(devfn, 1)).toBe(-EINVAL);
    expect(call(0x1234, 0)).toBe(-EINVAL);
    expect(call(devfn, 0x10000)).toBe(-EINVAL);
    expect(rng.bytes).toBe(0);
  });

  it("exists in the pv mode only", async () => {
    const { vm } = await machine("hvm");
    expect(vm.pvHost).toBeUndefined();
  });
});
