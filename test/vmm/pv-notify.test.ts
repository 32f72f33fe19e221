// The pv mode's virtio notify hypercall (71: EBX = devfn, ECX = queue). A hand-built guest in flat
// 32-bit protected mode issues VMCALL 71: the core forwards it to the host (counted as a host
// hypercall, not as a VMCALL exit), which kicks the queue as a write to the notify register
// would, and refuses what is not a virtio queue with -EINVAL. The host's handler is also called
// directly for arguments a guest register cannot hold apart (devfn above 0xff).

import { describe, expect, it } from "vitest";
import { VirtioRng } from "../../devices/virtio/rng.js";
import { REG, SEG } from "../../vmm/cpu.js";
import { EINVAL, KVM_ENOSYS, KVM_EPERM, PV_HC_VIRTIO_NOTIFY } from "../../vmm/generated/abi.js";
import * as L from "../../vmm/generated/layout.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { readCoreStats } from "../../vmm/stats/core-stats.js";
import type { VirtMode } from "../../vmm/virt/vmcs.js";
import { Vm } from "../../vmm/vm.js";

const RAM = 4 << 20;
const CODE = 0x7000;
const OUT = 0x5000; // the guest stores each hypercall's EAX here, one u32 each
const EXIT_IO = 30;
const EXIT_VMCALL = 18;

const u32le = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
/** MOV EAX, 71; MOV EBX, devfn; MOV ECX, queue; VMCALL; MOV [OUT + 4 * slot], EAX. */
const notify = (devfn: number, queue: number, slot: number) => [
  ...[0xb8, ...u32le(PV_HC_VIRTIO_NOTIFY)],
  ...[0xbb, ...u32le(devfn)],
  ...[0xb9, ...u32le(queue)],
  ...[0x0f, 0x01, 0xc1],
  ...[0xa3, ...u32le(OUT + 4 * slot)],
];
const HLT = [0xf4];
const JMP_SELF = [0xeb, 0xfe];

/**
 * A VM with one virtio-rng whose queue 0 (8 entries) the "driver" (this test, through the
 * modern common configuration) has set up, with one 16-byte device-writable buffer at 0x20000
 * made available and not yet kicked.
 */
async function machine(mode: VirtMode = "pv") {
  const rng = new VirtioRng((d) => d.fill(0xab));
  const vm = await Vm.create({ module: loadCoreModule(), ramBytes: RAM, mode, pci: { virtio: [rng] } });
  vm.devices.setupPciLikeFirmware();
  const fn = vm.virtio[0]!;
  const slot = vm.devices.pci!.bus.list().find((x) => x.f === fn)!.dev;
  const bar = fn.barBase(4)!;
  const common = (off: number, size: 1 | 2 | 4, v: number) => vm.devices.mmioWrite(bar + off, size, v);
  // Descriptors at 0x10000, avail 0x11000, used 0x12000.
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
  const dv = new DataView(new ArrayBuffer(16));
  dv.setUint32(0, 0x20000, true);
  dv.setUint32(8, 16, true);
  dv.setUint16(12, 2, true); // WRITE
  vm.cpu.writePhysical(0x10000, new Uint8Array(dv.buffer));
  vm.cpu.writePhysical(0x11000, Uint8Array.of(0, 0, 1, 0, 0, 0));
  /** The host's handler with EBX and ECX set, as the core's forwarding calls it. */
  const hostCall = (devfn: number, queue: number) => {
    vm.cpu.setReg(REG.EBX, devfn);
    vm.cpu.setReg(REG.ECX, queue);
    return vm.pvHost!.hypercall(PV_HC_VIRTIO_NOTIFY);
  };
  /** Loads `code` at CODE and starts it in flat protected mode at `cpl` (no paging). */
  const start = (code: number[], cpl = 0) => {
    const { cpu } = vm;
    cpu.writePhysical(CODE, Uint8Array.from(code));
    cpu.setCr(0, 0x11);
    cpu.setU32(L.S_VMCS_CR0_SHADOW, cpu.cr(0));
    const user = cpl === 3;
    cpu.setSegment(SEG.CS, { selector: user ? 0x1b : 0x08, base: 0, limit: 0xffffffff, attr: user ? 0xc0fb : 0xc09b });
    for (const s of [SEG.DS, SEG.ES, SEG.SS, SEG.FS, SEG.GS]) {
      cpu.setSegment(s, { selector: user ? 0x23 : 0x10, base: 0, limit: 0xffffffff, attr: user ? 0xc0f3 : 0xc093 });
    }
    cpu.cpl = cpl;
    cpu.eip = CODE;
    cpu.eflags = 0x2;
  };
  const result = (slot: number) => vm.memory.readU32(OUT + 4 * slot) | 0;
  const counters = () => readCoreStats(vm.cpu).counters;
  const hypercalls = () => {
    const row = counters().find((c) => c.kind === "hypercall" && c.reason === PV_HC_VIRTIO_NOTIFY);
    return { core: row?.core ?? 0, host: row?.host ?? 0 };
  };
  const exits = (reason: number) => {
    const row = counters().find((c) => c.kind === "exit" && c.reason === reason);
    return (row?.core ?? 0) + (row?.host ?? 0);
  };
  return { vm, fn, rng, devfn: slot << 3, hostCall, start, result, hypercalls, exits };
}

describe("pv virtio notify hypercall (71) from a guest", () => {
  it("kicks the queue: the device fills the buffer, the notification and the host hypercall are counted", async () => {
    const m = await machine();
    m.start([...notify(m.devfn, 0, 0), ...HLT]);
    expect(m.vm.run(1000)).toEqual({ kind: "halted" });
    expect(m.result(0)).toBe(0);
    expect(m.rng.bytes).toBe(16);
    expect(m.fn.counters.notifications[0]).toBe(1);
    expect(m.vm.memory.read(0x20000, 16).every((b) => b === 0xab)).toBe(true);
    expect(m.vm.memory.readU16(0x12002)).toBe(1); // used index
    expect(m.hypercalls()).toEqual({ core: 0, host: 1 });
    expect(m.exits(EXIT_VMCALL)).toBe(0); // counted as a hypercall, not also as a VMCALL exit
    expect(m.exits(EXIT_IO)).toBe(0); // no port I/O: the point of the hypercall
  });

  it("answers -EINVAL for a devfn without a virtio function or a queue it does not have, and kicks nothing", async () => {
    const m = await machine();
    const calls: [number, number][] = [
      [0x08, 0], // 00:01.0, the ISA bridge
      [m.devfn, 1], // the rng has one queue
      [m.devfn | 1, 0], // function 1 of the rng's slot: nothing there
      [0xff, 0xffff],
      [0xffffffff, 0],
      [m.devfn, 0x10000],
      [m.devfn, 0xffffffff],
    ];
    m.start([...calls.flatMap(([d, q], i) => notify(d, q, i)), ...HLT]);
    expect(m.vm.run(1000)).toEqual({ kind: "halted" });
    expect(calls.map((_, i) => m.result(i))).toEqual(calls.map(() => -EINVAL));
    expect(m.rng.bytes).toBe(0);
    expect(m.fn.counters.notifications[0]).toBe(0);
    expect(m.fn.faultCount).toBe(0);
    expect(m.hypercalls()).toEqual({ core: 0, host: calls.length });
  });

  it("a queue the driver has not enabled is counted as a kick and completes nothing", async () => {
    const m = await machine();
    // Queue 0 disabled again (queue_enable is write-1-only in virtio 1.x: reset the device).
    m.vm.devices.mmioWrite(m.fn.barBase(4)! + 0x14, 1, 0);
    m.start([...notify(m.devfn, 0, 0), ...HLT]);
    expect(m.vm.run(1000)).toEqual({ kind: "halted" });
    expect(m.result(0)).toBe(0);
    expect(m.fn.counters.notifications[0]).toBe(1);
    expect(m.rng.bytes).toBe(0);
    expect(m.vm.memory.readU16(0x12002)).toBe(0);
  });

  it("from CPL 3 it is -KVM_EPERM, refused in the core and never forwarded", async () => {
    const m = await machine();
    m.start([...notify(m.devfn, 0, 0), ...JMP_SELF], 3);
    expect(m.vm.run(200)).toEqual({ kind: "limit" });
    expect(m.result(0)).toBe(-KVM_EPERM);
    expect(m.rng.bytes).toBe(0);
    expect(m.hypercalls()).toEqual({ core: 1, host: 0 });
  });

  it("is the pv mode's only: under hvm it is -KVM_ENOSYS and kicks nothing", async () => {
    const m = await machine("hvm");
    expect(m.vm.pvHost).toBeUndefined();
    m.start([...notify(m.devfn, 0, 0), ...HLT]);
    expect(m.vm.run(1000)).toEqual({ kind: "halted" });
    expect(m.result(0)).toBe(-KVM_ENOSYS);
    expect(m.rng.bytes).toBe(0);
    expect(m.hypercalls()).toEqual({ core: 1, host: 0 });
  });
});

describe("pv virtio notify hypercall (71), host side", () => {
  it("refuses arguments wider than a devfn or a queue index before looking for a device", async () => {
    const m = await machine();
    expect(m.hostCall(0x1234, 0)).toBe(-EINVAL);
    expect(m.hostCall(m.devfn, 0x10000)).toBe(-EINVAL);
    expect(m.rng.bytes).toBe(0);
    expect(m.hostCall(m.devfn, 0)).toBe(0);
    expect(m.rng.bytes).toBe(16);
  });
});
