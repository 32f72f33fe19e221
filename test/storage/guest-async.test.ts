// The tiny Linux on disks that answer later: virtio-blk over a copy-on-write disk whose image
// reads take a timer (DelayedSource), and an IDE disk (bus-master DMA) and a virtio disk whose
// every request takes one (LateDisk). The guest reads and writes correct data while the host's
// loop runs it between answers, with several virtio requests in flight at once; a VM saved while
// writes are in flight waits for them, and a fresh VM restored from the file finds every byte.

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { type BlockDevice, bytesSource, CowDisk } from "../../devices/storage/block.js";
import { type BlockDone, type BlockRequest, runSync } from "../../devices/storage/request.js";
import { VirtioBlk } from "../../devices/virtio/blk.js";
import { loadLinux } from "../../vmm/boot/linux.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { restoreStateBytes, stateBytes } from "../../vmm/state/vm-state.js";
import { Vm, type VmPciOptions } from "../../vmm/vm.js";
import { DelayedSource } from "./slow-source.js";

const guest = (name: string) => new Uint8Array(readFileSync(new URL(`../../guests/linux/${name}`, import.meta.url)));
const kernel = guest("bzImage");
const initrd = guest("initramfs.cpio.gz");
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const yieldHost = () => new Promise<void>((r) => setImmediate(r));

/** A disk whose every request is answered after `ms` (done on the copy-on-write disk under it). */
class LateDisk implements BlockDevice {
  constructor(
    readonly inner: CowDisk,
    readonly ms: number,
  ) {}
  get sectors() {
    return this.inner.sectors;
  }
  get size() {
    return this.inner.size;
  }
  get readOnly() {
    return this.inner.readOnly;
  }
  read(sector: number, count: number) {
    return this.inner.read(sector, count);
  }
  write(sector: number, data: Uint8Array) {
    this.inner.write(sector, data);
  }
  flush() {}
  submit(req: BlockRequest, done: BlockDone) {
    setTimeout(() => done(runSync(this.inner, req)), this.ms);
  }
  saveOverlay() {
    return this.inner.saveOverlay();
  }
  loadOverlay(bytes: Uint8Array) {
    this.inner.loadOverlay(bytes);
  }
}

/** 8 MiB whose every 512-byte sector starts with its number and is filled with a byte of it. */
function image(): Uint8Array {
  const b = new Uint8Array(8 << 20);
  for (let s = 0; s < b.length / 512; s++) {
    b.fill((s * 7 + 1) & 0xff, s * 512, (s + 1) * 512);
    new DataView(b.buffer).setUint32(s * 512, s, true);
  }
  return b;
}

interface Shell {
  vm: Vm;
  out: { text: string };
  /** Runs a command line, letting the host answer the disks between slices; its output. */
  sh(cmd: string): Promise<string>;
  /** Types a command line and returns at once. */
  type(cmd: string): void;
  /** Runs until `text` is printed after `from`. */
  until(text: string, from?: number): Promise<void>;
}

async function boot(pci: VmPciOptions, vm?: Vm, out = { text: "" }): Promise<Shell> {
  const v =
    vm ??
    (await Vm.create({
      module: loadCoreModule(),
      ramBytes: 64 << 20,
      pci,
      onSerial: (com, b) => {
        if (com === 1) out.text += String.fromCharCode(b);
      },
    }));
  const until = async (text: string, from = 0) => {
    const t0 = performance.now();
    while (!out.text.includes(text, from)) {
      if (performance.now() - t0 > 120_000) throw new Error(`no '${text}'; output ends with:\n${out.text.slice(-800)}`);
      const stop = v.run(2_000_000);
      if (stop.kind !== "limit") throw new Error(`guest stopped: ${JSON.stringify(stop)}`);
      await yieldHost();
    }
  };
  const type = (cmd: string) => v.devices.com1.receive(`${cmd}; echo @@; echo done\r`);
  const sh = async (cmd: string) => {
    const from = out.text.length;
    type(cmd);
    await until("@@\r\ndone", from);
    return out.text.slice(from, out.text.indexOf("@@\r\ndone", from));
  };
  if (!vm) {
    loadLinux(v.cpu, { kernel, initrd, cmdline: "console=ttyS0" });
    await until("~ # ");
  }
  return { vm: v, out, sh, type, until };
}

const hashOf = (text: string) => /([0-9a-f]{64})/.exec(text)?.[1];

describe("the tiny Linux on disks that answer later", () => {
  it("reads correct data through virtio-blk (several requests in flight) and IDE DMA", async () => {
    const img = image();
    const src = new DelayedSource(img.slice(), 1);
    const blk = new VirtioBlk({ disk: new CowDisk(src) });
    const ideDisk = new LateDisk(new CowDisk(bytesSource(img.slice())), 1);
    const g = await boot({ virtio: [blk], hda: { kind: "disk", disk: ideDisk } });
    const region = img.subarray(1 << 20, 3 << 20);
    const v = await g.sh("dd if=/dev/vda bs=65536 skip=16 count=32 2>/dev/null | sha256sum");
    expect(hashOf(v), v).toBe(sha(region));
    // Two readers at once, each its own data.
    const two = await g.sh(
      "dd if=/dev/vda bs=65536 skip=64 count=16 2>/dev/null | sha256sum > /tmp/a & dd if=/dev/vda bs=65536 skip=96 count=16 2>/dev/null | sha256sum > /tmp/b; wait; cat /tmp/a /tmp/b",
    );
    expect(
      [...two.matchAll(/([0-9a-f]{64})/g)].map((m) => m[1]),
      two,
    ).toEqual([sha(img.subarray(4 << 20, 5 << 20)), sha(img.subarray(6 << 20, 7 << 20))]);
    // A 4 MiB O_DIRECT read is split into several requests (at most 1280 KiB each by default):
    // the driver puts them in the ring together, all at the disk before it answers one.
    blk.queueCounters.maxPending = 0;
    const direct = await g.sh("dd if=/dev/vda of=/dev/null bs=4194304 count=1 iflag=direct && echo direct-ok");
    expect(direct).toContain("direct-ok");
    expect(blk.queueCounters.maxPending).toBeGreaterThan(1);
    expect(blk.queueCounters.late).toBeGreaterThan(0);
    expect(blk.queueCounters.errors).toBe(0);
    const ide = g.vm.devices.pci!.ide;
    const before = ide.busMasters[0].counters.transfers;
    const s = await g.sh("dd if=/dev/sda bs=65536 skip=16 count=32 2>/dev/null | sha256sum");
    expect(hashOf(s), s).toBe(sha(region));
    expect(ide.busMasters[0].counters.transfers).toBeGreaterThan(before);
    // Writes through both, read back after dropping the guest's cache.
    const w = await g.sh(
      "echo async-blk > /tmp/p && for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do cat /tmp/p /tmp/p > /tmp/q && mv /tmp/q /tmp/p; done && dd if=/tmp/p of=/dev/vda bs=65536 seek=40 conv=fsync 2>/dev/null && dd if=/tmp/p of=/dev/sda bs=65536 seek=40 conv=fsync 2>/dev/null && echo 3 > /proc/sys/vm/drop_caches && dd if=/dev/vda bs=65536 skip=40 count=10 2>/dev/null | sha256sum && dd if=/dev/sda bs=65536 skip=40 count=10 2>/dev/null | sha256sum",
    );
    const expected = sha(new Uint8Array(Buffer.alloc(655360, "async-blk\n")));
    expect(
      [...w.matchAll(/([0-9a-f]{64})/g)].map((m) => m[1]),
      w,
    ).toEqual([expected, expected]);
    expect(sha(ideDisk.inner.read(40 * 128, 1280))).toBe(expected);
  }, 240_000);

  it("saves while writes are in flight, and the restored VM finds every byte", async () => {
    const img = image();
    const pci = () => ({ virtio: [new VirtioBlk({ disk: new LateDisk(new CowDisk(bytesSource(img.slice())), 2) })] });
    const first = pci();
    const g = await boot(first);
    const blk = first.virtio[0]!;
    await g.sh(
      "echo saved-mid-write > /tmp/p && for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do cat /tmp/p /tmp/p > /tmp/q && mv /tmp/q /tmp/p; done",
    );
    const from = g.out.text.length;
    g.type("dd if=/tmp/p of=/dev/vda bs=4096 seek=300 oflag=direct 2>/dev/null; echo wrote");
    // Run until the guest has writes at the disk, then save at once.
    const t0 = performance.now();
    while (blk.inFlight === 0 || (blk.counters.requests.OUT ?? 0) < 8) {
      if (performance.now() - t0 > 60_000) throw new Error("no writes in flight");
      g.vm.run(20_000);
      await yieldHost();
    }
    expect(blk.inFlight).toBeGreaterThan(0);
    const state = await stateBytes(g.vm);
    expect(blk.inFlight).toBe(0);
    expect(g.out.text.includes("wrote", from)).toBe(false); // saved mid-dd

    const second = pci();
    const out = { text: "" };
    const vm2 = await Vm.create({
      module: loadCoreModule(),
      ramBytes: 64 << 20,
      pci: second,
      onSerial: (com, b) => {
        if (com === 1) out.text += String.fromCharCode(b);
      },
    });
    await restoreStateBytes(vm2, state);
    const h = await boot(second, vm2, out);
    await h.until("wrote");
    const r = await h.sh(
      "echo 3 > /proc/sys/vm/drop_caches && dd if=/dev/vda bs=4096 skip=300 count=160 2>/dev/null | sha256sum",
    );
    expect(hashOf(r), r).toBe(sha(new Uint8Array(Buffer.alloc(655360, "saved-mid-write\n"))));
  }, 240_000);
});
