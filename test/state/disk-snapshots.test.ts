// savevm/loadvm/delvm into qcow2 internal snapshots on a VM built in the test (a virtio disk over
// a qcow2 file): the disk and the CPU go back together, Debian's qemu-img checks and lists the
// result and applies our snapshot itself; a corrupt or read-only image refuses savevm and is not
// changed by a byte; a writable raw disk beside the qcow2 is refused as QEMU refuses it.

import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { bytesSource, CowDisk } from "../../devices/storage/block.js";
import { VirtioBlk } from "../../devices/virtio/blk.js";
import { loadKernel } from "../../vmm/boot/kernel.js";
import { Machine } from "../../vmm/lib/machine.js";
import { Monitor } from "../../vmm/monitor/monitor.js";
import { QmpSession } from "../../vmm/monitor/qmp.js";
import { loadCoreModule } from "../../vmm/node/load-core.js";
import { HostFile, hostOpenOptions } from "../../vmm/node/storage-file.js";
import { DiskSnapshots } from "../../vmm/state/disk-snapshots.js";
import { MemorySnapshotStore, StoredSnapshots } from "../../vmm/state/store.js";
import { type DiskImage, imageSource } from "../../vmm/storage/image.js";
import { openImage } from "../../vmm/storage/open.js";
import type { Qcow2Image } from "../../vmm/storage/qcow2.js";
import { createSnapshot, readSnapshots } from "../../vmm/storage/qcow2-snapshot.js";
import { Vm } from "../../vmm/vm.js";
import { hasQemuImg, pattern, qemuImg, qemuIo, scratch } from "../storage/helpers.js";
import { multibootKernel } from "../vmm/cli-process.js";

const tmp = scratch("disk-snapshots");
afterAll(tmp.done);
const sha = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");
// At 0x100020: inc eax; jmp back (counts for ever).
const COUNT = [0x40, 0xeb, 0xfd];

/** A stopped machine whose virtio disks sit over `images` (and a raw one when asked). */
async function machineOver(images: DiskImage[], raw = false) {
  const disks = images.map(
    (img) => new CowDisk(imageSource(img, !img.readOnly), { writeThrough: !img.readOnly, readOnly: img.readOnly }),
  );
  const behind = new Map<unknown, DiskImage>(disks.map((d, i) => [d, images[i]!]));
  const all = raw ? [...disks, new CowDisk(bytesSource(new Uint8Array(1 << 20)), { writeThrough: true })] : disks;
  const machine = await Machine.create(
    async (io) => {
      const vm = await Vm.create({
        module: loadCoreModule(),
        ramBytes: 16 << 20,
        ...io,
        pci: { virtio: all.map((disk) => new VirtioBlk({ disk })) },
      });
      loadKernel(vm.cpu, multibootKernel(COUNT), undefined, "");
      return vm;
    },
    { startPaused: true },
  );
  const snapshots = new DiskSnapshots((d) => behind.get(d), new StoredSnapshots(new MemorySnapshotStore()));
  const monitor = new Monitor(machine, { quit: () => {}, vmSnapshots: snapshots });
  return { machine, monitor, disk: disks[0]!, vm: machine.vm };
}

/** A QMP session on the machine: send a command, get every line it answered with. */
function qmp(machine: Machine, monitor: Monitor) {
  const lines: Record<string, unknown>[] = [];
  const session = new QmpSession(
    machine,
    monitor,
    (l) => lines.push(JSON.parse(l)),
    () => {},
  );
  return {
    lines,
    async run(execute: string, args?: Record<string, unknown>) {
      const from = lines.length;
      await session.receive(JSON.stringify({ execute, ...(args ? { arguments: args } : {}) }));
      return lines.slice(from);
    },
  };
}

function open(path: string, writable = true): Qcow2Image {
  return openImage(new HostFile(path, writable), hostOpenOptions(path)) as Qcow2Image;
}

describe.skipIf(!hasQemuImg())("savevm into qcow2 internal snapshots", () => {
  it("disk and CPU go back together; qemu-img checks, lists and applies the snapshot", async () => {
    const path = tmp.path("vm.qcow2");
    expect(qemuImg("create", "-q", "-f", "qcow2", path, "8M").status).toBe(0);
    const image = open(path);
    const { monitor, disk, vm } = await machineOver([image]);
    const first = pattern(64 << 10, 1);
    disk.write(0, first);
    vm.run(1000);
    const eax = vm.cpu.reg(0);
    expect(await monitor.execute("savevm s1")).toBe("");
    disk.write(0, pattern(64 << 10, 2));
    disk.write(4096, pattern(4096, 3));
    vm.run(1000);
    expect(vm.cpu.reg(0)).not.toBe(eax);
    expect(await monitor.execute("loadvm s1")).toBe("");
    expect(vm.cpu.reg(0)).toBe(eax);
    expect(disk.read(0, 128)).toEqual(first);
    const s = readSnapshots(image)[0]!;
    expect(s.vmStateSize).toBeGreaterThan(0);
    expect(s.vmClockNsec).toBe(vm.nowNs());
    // savevm again under the same name replaces it (QEMU does too).
    expect(await monitor.execute("savevm s1")).toBe("");
    expect(readSnapshots(image).map((x) => x.name)).toEqual(["s1"]);
    expect(await monitor.execute("info snapshots")).toMatch(/--\s+s1\s+[\d.]+ KiB/);
    image.close();

    const check = qemuImg("check", path);
    expect(check.status, check.stdout + check.stderr).toBe(0);
    const list = qemuImg("snapshot", "-l", path).stdout;
    expect(list).toMatch(/^1\s+s1\s+[\d.]+ KiB \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \d\d:\d\d:\d\d\.\d{3}\s+\d+$/m);
    // qemu-img reverts the disk to our snapshot (its L1 is longer than the active one: the
    // vmstate area past the disk), and the image stays clean.
    expect(qemuIo(path, "write -P 0x77 0 64k")).toMatch(/wrote/);
    expect(qemuImg("snapshot", "-a", "s1", path).status).toBe(0);
    expect(qemuImg("check", path).status).toBe(0);
    const raw = tmp.path("flat.raw");
    expect(qemuImg("convert", "-O", "raw", path, raw).status).toBe(0);
    expect(new Uint8Array(readFileSync(raw).subarray(0, 64 << 10))).toEqual(first);
    const reopened = open(path);
    const { monitor: m2 } = await machineOver([reopened]);
    expect(await m2.execute("delvm s1")).toBe("");
    expect(await m2.execute("info snapshots")).toBe("There is no snapshot available.\n");
    reopened.close();
    expect(qemuImg("check", path).status).toBe(0);
  });

  it("QMP snapshot-save/-load/-delete run as jobs, as QEMU's: events, query-jobs, job-dismiss", async () => {
    const path = tmp.path("qmp.qcow2");
    expect(qemuImg("create", "-q", "-f", "qcow2", path, "8M").status).toBe(0);
    expect(qemuImg("snapshot", "-c", "diskonly", path).status).toBe(0);
    const image = open(path);
    const { machine, monitor, vm } = await machineOver([image]);
    const q = qmp(machine, monitor);
    await q.run("qmp_capabilities");
    vm.run(500);
    const eax = vm.cpu.reg(0);
    const saved = await q.run("snapshot-save", { "job-id": "j1", tag: "t1", vmstate: "virtio0", devices: ["virtio0"] });
    expect(saved[0]).toEqual({ return: {} });
    const states = saved
      .filter((l) => l.event === "JOB_STATUS_CHANGE")
      .map((l) => (l.data as { status: string }).status);
    expect(states).toEqual(["created", "running", "waiting", "pending", "concluded"]);
    expect((await q.run("query-jobs"))[0]).toMatchObject({
      return: [{ id: "j1", type: "snapshot-save", status: "concluded" }],
    });
    expect((await q.run("job-dismiss", { id: "j1" }))[0]).toEqual({ return: {} });
    vm.run(500);
    await q.run("snapshot-load", { "job-id": "j2", tag: "t1", vmstate: "virtio0", devices: ["virtio0"] });
    expect(vm.cpu.reg(0)).toBe(eax);
    const refused = await q.run("snapshot-load", { "job-id": "j3", tag: "diskonly", vmstate: "virtio0", devices: [] });
    expect(refused.filter((l) => l.event).map((l) => (l.data as { status: string }).status)).toEqual([
      "created",
      "running",
      "aborting",
      "concluded",
    ]);
    const jobs = (await q.run("query-jobs"))[0]!.return as { id: string; error?: string }[];
    expect(jobs.find((j) => j.id === "j3")?.error).toBe(
      "This is a disk-only snapshot. Revert to it offline using qemu-img",
    );
    await q.run("snapshot-delete", { "job-id": "j4", tag: "t1", devices: [] });
    expect(readSnapshots(image).map((x) => x.name)).toEqual(["diskonly"]);
    image.close();
    expect(qemuImg("check", path).status).toBe(0);
  });

  it("a corrupt image refuses savevm and is left byte for byte", async () => {
    const path = tmp.path("corrupt.qcow2");
    expect(qemuImg("create", "-q", "-f", "qcow2", path, "8M").status).toBe(0);
    qemuIo(path, "write -P 0x11 0 64k");
    // The first L2 entry points far past the end of the file.
    const img = open(path, false);
    const l2 = img.l1[0]!;
    img.close();
    const bytes = readFileSync(path);
    bytes.writeUInt32BE((0x80000000 | 0x10) >>> 0, l2);
    writeFileSync(path, bytes);
    const before = sha(path);
    const image = open(path);
    const { monitor } = await machineOver([image]);
    expect(await monitor.execute("savevm bad")).toMatch(
      /^savevm: disk virtio-blk@2\.0 \(.*corrupt\.qcow2\): a data cluster at \d+ lies past the end of the file \(the image is corrupt\)/,
    );
    image.close();
    expect(sha(path)).toBe(before);
  });

  it("a read-only image refuses a snapshot and is not changed; a writable raw disk beside it is refused", async () => {
    const path = tmp.path("ro.qcow2");
    expect(qemuImg("create", "-q", "-f", "qcow2", path, "8M").status).toBe(0);
    const before = sha(path);
    const ro = open(path, false);
    expect(() => createSnapshot(ro, "x", Date.now(), { state: new Uint8Array(10), vmClockNsec: 0 })).toThrow(
      /ro\.qcow2: the image is read-only/,
    );
    ro.close();
    expect(sha(path)).toBe(before);

    const image = open(path);
    const { monitor } = await machineOver([image], true);
    expect(await monitor.execute("savevm x")).toBe(
      "savevm: Device 'virtio-blk@3.0' is writable but does not support snapshots\n",
    );
    image.close();
    expect(sha(path)).toBe(before);
  });
});
