// The asynchronous block layer's cost and what a disk that answers later does to the guest:
//
//   layer    64 KiB and 4 KiB requests on an in-memory copy-on-write disk, called directly
//            (disk.read/write) and through the block queue (devices/storage/request.ts), which
//            completes them inside submit: the host time per request each way.
//   guest    the tiny Linux reads 16 MiB of /dev/vda (virtio-blk) and /dev/sda (IDE, bus-master
//            DMA) with dd bs=64k after dropping its cache, over three disks: in memory (answers
//            at once), an image source whose reads are promises resolved at once (answers after
//            the notify, in a microtask), and one whose reads take a 1 ms timer; and a write of
//            16 MiB with conv=fsync. Guest MiB/s in host time, the requests and the most pending
//            at once in the block queue.
//
//   npm run bench:block [-- --no-write]
//
// Writes bench/results/block-latest.txt unless --no-write.

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type AsyncImageSource, bytesSource, CowDisk } from "../devices/storage/block.js";
import { BlockQueue, type BlockQueueCounters, backendOf } from "../devices/storage/request.js";
import { VirtioBlk } from "../devices/virtio/blk.js";
import { loadLinux } from "../vmm/boot/linux.js";
import { loadCoreModule } from "../vmm/node/load-core.js";
import { Vm } from "../vmm/vm.js";

const root = fileURLToPath(new URL("../", import.meta.url));
const guest = (name: string) => new Uint8Array(readFileSync(join(root, "guests/linux", name)));
const MIB = 16;

function layer(lines: string[]): void {
  lines.push("", "layer: host time per request on an in-memory disk (median of 5 rounds)");
  lines.push("request        direct     queued    overhead");
  for (const [op, size] of [
    ["read", 65536],
    ["write", 65536],
    ["read", 4096],
    ["write", 4096],
  ] as const) {
    const disk = new CowDisk(bytesSource(new Uint8Array(64 << 20)));
    const q = new BlockQueue(backendOf(disk));
    const sectors = size / 512;
    const n = op === "read" ? 20_000 : 5_000;
    const data = new Uint8Array(size).fill(3);
    const direct = () => {
      for (let i = 0; i < n; i++) {
        const s = (i * sectors) % disk.sectors;
        if (op === "read") disk.read(s, sectors);
        else disk.write(s, data);
      }
    };
    const queued = () => {
      for (let i = 0; i < n; i++) {
        const s = (i * sectors) % disk.sectors;
        q.submit({ op, sector: s, count: sectors, data: op === "read" ? new Uint8Array(size) : data }, () => {});
      }
    };
    const time = (f: () => void) => {
      const t: number[] = [];
      for (let r = 0; r < 5; r++) {
        const t0 = performance.now();
        f();
        t.push(((performance.now() - t0) * 1e6) / n);
      }
      return t.sort((a, b) => a - b)[2]!;
    };
    time(direct);
    time(queued); // warm both
    const d = time(direct);
    const qd = time(queued);
    lines.push(
      `${`${op} ${size / 1024} KiB`.padEnd(12)} ${`${(d / 1000).toFixed(2)} us`.padStart(9)} ${`${(qd / 1000).toFixed(2)} us`.padStart(10)} ${`${((qd - d) / 1000).toFixed(2)} us`.padStart(11)}`,
    );
  }
}

/** An in-memory image whose reads and writes answer in a microtask or after a timer. */
function laterSource(bytes: Uint8Array, ms: number | "microtask"): AsyncImageSource {
  const later = (act: () => void): Promise<void> =>
    ms === "microtask"
      ? Promise.resolve().then(act)
      : new Promise((r) =>
          setTimeout(() => {
            act();
            r();
          }, ms),
        );
  return {
    size: bytes.length,
    readAt: (o, dest) => later(() => dest.set(bytes.subarray(o, o + dest.length))),
  };
}

async function guestRun(kind: "memory" | "microtask" | "1 ms"): Promise<string[]> {
  const image = new Uint8Array(64 << 20);
  for (let i = 0; i < image.length; i += 512) image[i] = (i >> 9) & 0xff;
  const source = () =>
    kind === "memory" ? bytesSource(image.slice()) : laterSource(image.slice(), kind === "microtask" ? "microtask" : 1);
  const blk = new VirtioBlk({ disk: new CowDisk(source()) });
  const ideDisk = new CowDisk(source());
  let text = "";
  const vm = await Vm.create({
    module: loadCoreModule(),
    ramBytes: 64 << 20,
    pci: { virtio: [blk], hda: { kind: "disk", disk: ideDisk } },
    onSerial: (com, b) => {
      if (com === 1) text += String.fromCharCode(b);
    },
  });
  loadLinux(vm.cpu, { kernel: guest("bzImage"), initrd: guest("initramfs.cpio.gz"), cmdline: "console=ttyS0" });
  const until = async (s: string, from = 0) => {
    while (!text.includes(s, from)) {
      vm.run(1_000_000);
      await new Promise<void>((r) => setImmediate(r));
    }
  };
  await until("~ # ");
  const sh = async (cmd: string) => {
    const from = text.length;
    vm.devices.com1.receive(`${cmd}; echo @@; echo done\r`);
    await until("@@\r\ndone", from);
  };
  const out: string[] = [];
  for (const [dev, label, counters] of [
    ["vda", "virtio read", () => blk.queueCounters],
    ["sda", "ide-dma read", () => vm.devices.pci!.ide.primary.queueCounters(0)!],
  ] as const) {
    await sh("echo 3 > /proc/sys/vm/drop_caches");
    const before: BlockQueueCounters = { ...counters() };
    const t0 = performance.now();
    await sh(`dd if=/dev/${dev} of=/dev/null bs=65536 count=${MIB * 16} 2>/dev/null`);
    const s = (performance.now() - t0) / 1000;
    const c = counters();
    out.push(
      `${kind.padEnd(10)} ${label.padEnd(13)} ${(MIB / s).toFixed(1).padStart(7)} MiB/s  ${String(c.submitted - before.submitted).padStart(6)} requests  max pending ${c.maxPending}`,
    );
  }
  if (kind === "memory") {
    const t0 = performance.now();
    await sh(`dd if=/dev/zero of=/dev/vda bs=65536 count=${MIB * 16} conv=fsync 2>/dev/null`);
    const s = (performance.now() - t0) / 1000;
    out.push(`${kind.padEnd(10)} ${"virtio write".padEnd(13)} ${(MIB / s).toFixed(1).padStart(7)} MiB/s`);
  }
  return out;
}

const lines = [`bench:block ${new Date().toISOString()} (host load ${loadavg()[0]!.toFixed(1)})`];
layer(lines);
lines.push("", `guest: the tiny Linux, dd bs=64k of ${MIB} MiB after drop_caches (host time, native mode)`);
for (const kind of ["memory", "microtask", "1 ms"] as const) lines.push(...(await guestRun(kind)));
const text = lines.join("\n");
console.log(text);
if (!process.argv.includes("--no-write")) {
  const dir = fileURLToPath(new URL("results/", import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "block-latest.txt"), `${text}\n`);
}
