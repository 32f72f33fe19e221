// The saved-VM file refuses what it cannot trust (wrong magic, version, checksum, truncation,
// another machine's configuration) and leaves the receiving VM as it was; every device's state
// survives a round trip into a new instance byte for byte.

import { describe, expect, it } from "vitest";
import { PortBus } from "../../devices/bus/port-bus.js";
import { ManualClock } from "../../devices/clock.js";
import { crc32 } from "../../devices/crc32.js";
import { FW_CFG_PORTS, FwCfg } from "../../devices/fw-cfg/fw-cfg.js";
import { HostNetBackend } from "../../devices/net/backend.js";
import { Ne2000 } from "../../devices/net/ne2000.js";
import { PcDevices } from "../../devices/pc.js";
import { captureState, decodeState, encodeState } from "../../devices/state/capture.js";
import { applyState } from "../../devices/state/registry.js";
import { bytesSource, CowDisk } from "../../devices/storage/block.js";
import { Vga } from "../../devices/vga/vga.js";
import { VirtioBalloon } from "../../devices/virtio/balloon.js";
import { VirtioBlk } from "../../devices/virtio/blk.js";
import { VirtioConsole } from "../../devices/virtio/console.js";
import { VirtioNet } from "../../devices/virtio/net.js";
import { VirtioRng } from "../../devices/virtio/rng.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { readContainer, VmStateError, writeContainer } from "../../vmm/state/container.js";
import { restoreStateBytes, stateBytes } from "../../vmm/state/vm-state.js";
import { Vm } from "../../vmm/vm.js";

describe("the container", () => {
  it("CRC-32 is zlib's", () => {
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
  });

  it("round-trips sections and refuses damage with a clear error", async () => {
    const sections = new Map([
      ["a", new Uint8Array(10000).fill(7)],
      ["b", Uint8Array.of(1, 2, 3)],
    ]);
    const file = await writeContainer(sections);
    const back = await readContainer(file);
    expect([...back.keys()]).toEqual(["a", "b"]);
    expect(back.get("a")).toEqual(sections.get("a"));

    const magic = file.slice();
    magic[0] = 0x41;
    await expect(readContainer(magic)).rejects.toThrow(/wrong magic/);
    const version = file.slice();
    version[8] = 99;
    await expect(readContainer(version)).rejects.toThrow(/version 99/);
    const flipped = file.slice();
    flipped[30] ^= 1;
    await expect(readContainer(flipped)).rejects.toThrow(VmStateError);
    await expect(readContainer(file.subarray(0, file.length - 9))).rejects.toThrow(/truncated|checksum/);
    await expect(readContainer(file.subarray(0, 10))).rejects.toThrow(/too short/);
  });
});

async function smallVm(opts: { ramBytes?: number; mode?: "native" | "hvm"; disk?: Uint8Array } = {}): Promise<Vm> {
  return Vm.create({
    module: loadCoreModule(),
    ramBytes: opts.ramBytes ?? 4 << 20,
    mode: opts.mode,
    pci: opts.disk ? { hda: { kind: "disk", disk: new CowDisk(bytesSource(opts.disk)) } } : undefined,
  });
}

describe("saving a VM", () => {
  it("a realtime clock goes on from the saved time in the restored VM", async () => {
    const make = () => Vm.create({ module: loadCoreModule(), ramBytes: 4 << 20, clock: "realtime" });
    const a = await make();
    await new Promise((r) => setTimeout(r, 300));
    // Read before the save: the saved time is at least this, and the restored clock no less.
    const saved = a.nowNs();
    const file = await a.save();
    const b = await make();
    expect(b.nowNs()).toBeLessThan(saved);
    await b.restore(file);
    expect(b.nowNs()).toBeGreaterThanOrEqual(saved);
  });

  it("restores into a fresh VM and refuses another machine's state, changing nothing", async () => {
    const disk = new Uint8Array(64 * 512);
    const a = await smallVm({ disk });
    a.cpu.writePhysical(0x1000, Uint8Array.of(0xf4)); // HLT
    a.cpu.setRealSegment(1, 0);
    a.cpu.eip = 0x1000;
    a.cpu.setReg(0, 0x12345678);
    a.devices.pci!.ide.primary.devices[0]!.disk!.write(3, new Uint8Array(512).fill(0xab));
    a.devices.com1.receive("x");
    const file = await stateBytes(a);

    const b = await smallVm({ disk });
    await restoreStateBytes(b, file);
    expect(b.cpu.reg(0)).toBe(0x12345678);
    expect(b.cpu.eip).toBe(0x1000);
    expect(b.cpu.readPhysical(0x1000, 1)[0]).toBe(0xf4);
    expect(b.devices.pci!.ide.primary.devices[0]!.disk!.read(3, 1)[0]).toBe(0xab);
    expect(await stateBytes(b)).toEqual(file);

    const other = await smallVm({ ramBytes: 8 << 20, disk });
    other.cpu.setReg(0, 42);
    await expect(restoreStateBytes(other, file)).rejects.toThrow(/different machine configuration:\n {2}ramBytes/);
    expect(other.cpu.reg(0)).toBe(42);
    const hvm = await smallVm({ mode: "hvm", disk });
    await expect(restoreStateBytes(hvm, file)).rejects.toThrow(/mode: saved "native", this VM "hvm"/);
    const noDisk = await smallVm();
    await expect(restoreStateBytes(noDisk, file)).rejects.toThrow(/disks: saved/);
  });
});

/** Every device class: save, restore into a new instance, save again, compare bytes. */
function roundTrip(make: () => object, poke: (d: object) => void): void {
  const a = make();
  poke(a);
  const first = encodeState(captureState(a));
  const b = make();
  applyState(b, decodeState(first) as never);
  expect(encodeState(captureState(b))).toEqual(first);
  // And the state is not empty: a device poked differs from a new one.
  expect(encodeState(captureState(make()))).not.toEqual(first);
}

describe("every device round-trips its state", () => {
  const clock = new ManualClock();
  const pc = () => {
    const d = new PcDevices({ clock });
    d.attachPci({
      hda: { kind: "disk", disk: new CowDisk(bytesSource(new Uint8Array(8192))) },
      hdc: { kind: "cdrom" },
    });
    return d;
  };
  const legacy: [string, (d: PcDevices) => object, (d: PcDevices) => void][] = [
    ["pic", (d) => d.pic, (d) => d.ioWrite(0x21, 1, 0x5a)],
    [
      "pit",
      (d) => d.pit,
      (d) => {
        d.ioWrite(0x43, 1, 0x34);
        d.ioWrite(0x40, 1, 0x12);
        d.ioWrite(0x40, 1, 0x34);
      },
    ],
    [
      "rtc",
      (d) => d.rtc,
      (d) => {
        d.ioWrite(0x70, 1, 0x20);
        d.ioWrite(0x71, 1, 0x77);
      },
    ],
    [
      "com1",
      (d) => d.com1,
      (d) => {
        d.ioWrite(0x3fb, 1, 0x83);
        d.com1.receive("hi");
      },
    ],
    ["i8042", (d) => d.i8042, (d) => d.ioWrite(0x64, 1, 0xd1)],
    ["port 0x92", (d) => d.portA, (d) => d.ioWrite(0x92, 1, 0x02)],
    ["POST port", (d) => d.post, (d) => d.ioWrite(0x80, 1, 0x42)],
    ["PCI bus", (d) => d.pci!.bus, (d) => d.ioWrite(0xcf8, 4, 0x80000810)],
    [
      "i440FX",
      (d) => d.pci!.host,
      (d) => {
        d.ioWrite(0xcf8, 4, 0x80000058);
        d.ioWrite(0xcfc, 4, 0x33333333);
      },
    ],
    [
      "PIIX3",
      (d) => d.pci!.isa,
      (d) => {
        d.ioWrite(0xcf8, 4, 0x80000860);
        d.ioWrite(0xcfc, 1, 0x0b);
      },
    ],
    [
      "PIIX3 IDE",
      (d) => d.pci!.ide,
      (d) => {
        d.ioWrite(0x1f6, 1, 0xe0);
        d.ioWrite(0x1f2, 1, 5);
      },
    ],
    [
      // IDENTIFY read to its end: the channel keeps the 512-byte buffer it replaced its empty one
      // with (a restored channel takes the saved buffer in place of its own).
      "PIIX3 IDE after a PIO command",
      (d) => d.pci!.ide,
      (d) => {
        d.ioWrite(0x1f6, 1, 0xa0);
        d.ioWrite(0x1f7, 1, 0xec);
        for (let i = 0; i < 256; i++) d.ioRead(0x1f0, 2);
      },
    ],
  ];
  for (const [name, pick, poke] of legacy) {
    it(name, () => {
      // Each instance is its own PC: the device is wired to its own buses and lines.
      let machine: PcDevices;
      roundTrip(
        () => {
          machine = pc();
          return pick(machine);
        },
        () => poke(machine),
      );
    });
  }

  const memory = { read: () => new Uint8Array(0), write: () => {}, size: 0 } as never;
  const virtio: [string, () => object][] = [
    ["virtio-blk", () => new VirtioBlk({ disk: new CowDisk(bytesSource(new Uint8Array(4096))) })],
    ["virtio-net", () => new VirtioNet({ backend: new HostNetBackend() } as never)],
    ["virtio-console", () => new VirtioConsole({} as never)],
    ["virtio-rng", () => new VirtioRng({} as never)],
    ["virtio-balloon", () => new VirtioBalloon({} as never)],
  ];
  for (const [name, device] of virtio) {
    it(`${name} on virtio-pci`, async () => {
      const { VirtioPci } = await import("../../devices/virtio/virtio-pci.js");
      roundTrip(
        () => new VirtioPci(device() as never, { memory }),
        (f) => {
          const fn = f as InstanceType<typeof VirtioPci>;
          fn.writeConfig(0x04, 2, 0x0007);
          fn.state.status = 0x0f;
          fn.state.queueSelect = 1;
        },
      );
    });
  }

  it("VGA", () => {
    roundTrip(
      () => new Vga(),
      (v) => {
        const vga = v as Vga;
        vga.vram[5] = 0x41;
        vga.misc = 0x67;
      },
    );
  });

  it("fw_cfg (the selected item follows its key)", () => {
    const make = () => {
      const f = new FwCfg();
      f.addFile("etc/test", Uint8Array.of(1, 2, 3, 4));
      const ports = new PortBus();
      f.attach(ports);
      return { f, ports };
    };
    const a = make();
    a.ports.write(FW_CFG_PORTS.SELECTOR, 2, 0x20);
    a.ports.read(FW_CFG_PORTS.DATA, 1);
    const saved = encodeState(captureState(a.f));
    const b = make();
    applyState(b.f, decodeState(saved) as never);
    expect(encodeState(captureState(b.f))).toEqual(saved);
    // Both continue with the same next byte of the selected item.
    expect(b.ports.read(FW_CFG_PORTS.DATA, 1)).toBe(a.ports.read(FW_CFG_PORTS.DATA, 1));
  });

  it("ne2k_pci", () => {
    roundTrip(
      () => new Ne2000(new HostNetBackend()),
      (n) => {
        const nic = n as Ne2000;
        nic.state.curpag = 0x47;
        nic.state.mem[100] = 9;
      },
    );
  });
});
