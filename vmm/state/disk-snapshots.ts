// savevm/loadvm/delvm as QEMU does them where the VM's writable disks are qcow2: each disk gets
// an internal snapshot of that name (its L1 table copied, its clusters' counts raised, so the
// next guest write to a shared cluster copies it first), and the first such disk also keeps the
// VM's state, the saved-VM file without any disk contents, in the snapshot's vmstate area
// (qcow2-snapshot.ts). `qemu-img snapshot -l` lists them; `qemu-img snapshot -a` reverts a disk.
// A VM with no writable qcow2 disk (raw, or none) keeps its states in the fallback holder.

import type { BlockDevice } from "../../devices/storage/block.js";
import type { DiskImage } from "../storage/image.js";
import { Qcow2Image } from "../storage/qcow2.js";
import {
  applySnapshot,
  checkSnapshotable,
  createSnapshot,
  deleteSnapshot,
  findSnapshot,
  readSnapshots,
  readVmState,
  type Snapshot,
} from "../storage/qcow2-snapshot.js";
import type { Vm } from "../vm.js";
import { icountOf, SnapshotError, type SnapshotListing, type SnapshotRow, type VmSnapshots } from "./store.js";
import { prepareRestore, stateBytes, vmDisks } from "./vm-state.js";

/** The image behind a VM's disk, when the host knows it (the CLI's drives). */
export type ImageOf = (disk: BlockDevice) => DiskImage | undefined;

interface HeldDisk {
  where: string;
  disk: BlockDevice;
  image: Qcow2Image;
}

function row(s: Snapshot): SnapshotRow {
  const v = new DataView(s.extra.buffer, s.extra.byteOffset, s.extra.byteLength);
  const none = s.extra.length < 24 || (v.getUint32(16) === 0xffffffff && v.getUint32(20) === 0xffffffff);
  return {
    id: s.id,
    name: s.name,
    vmStateSize: s.vmStateSize,
    dateMs: s.dateSec * 1000 + Math.floor(s.dateNsec / 1e6),
    vmClockNs: s.vmClockNsec,
    icount: none ? undefined : v.getUint32(16) * 2 ** 32 + v.getUint32(20),
  };
}

/** Runs an image operation; its ImageFormatError (a corrupt table, a read-only file) names the disk. */
function onDisk<T>(d: HeldDisk, op: () => T): T {
  try {
    return op();
  } catch (e) {
    throw new SnapshotError(
      `disk ${d.where} (${d.image.file.name}): ${(e as Error).message.replace(`${d.image.file.name}: `, "")}`,
    );
  }
}

export class DiskSnapshots implements VmSnapshots {
  constructor(
    private readonly imageOf: ImageOf,
    private readonly fallback: VmSnapshots,
  ) {}

  /**
   * The writable disks holding snapshots, the VM state's first; undefined when none is qcow2.
   * As in QEMU, every other writable disk must be able to take a snapshot too.
   */
  private held(vm: Vm): HeldDisk[] | undefined {
    const writable = vmDisks(vm).filter(([, d]) => !d.readOnly);
    const held: HeldDisk[] = [];
    let other: string | undefined;
    for (const [where, disk] of writable) {
      const image = this.imageOf(disk);
      if (image instanceof Qcow2Image) held.push({ where, disk, image });
      else other ??= where;
    }
    if (held.length === 0) return undefined;
    if (other !== undefined) throw new SnapshotError(`Device '${other}' is writable but does not support snapshots`);
    return held;
  }

  async save(vm: Vm, name: string): Promise<void> {
    const held = this.held(vm);
    if (!held) return this.fallback.save(vm, name);
    // Everything is read and checked before the first write: a read-only or corrupt image
    // refuses here and nothing changes.
    for (const d of held) onDisk(d, () => checkSnapshotable(d.image));
    const state = await stateBytes(vm, { disksHeld: new Set(held.map((d) => d.disk)) });
    const now = Date.now();
    const vmInfo = { state, vmClockNsec: vm.nowNs(), icount: icountOf(vm) };
    const made: HeldDisk[] = [];
    try {
      for (const [i, d] of held.entries()) {
        onDisk(d, () => {
          d.image.flush();
          if (findSnapshot(d.image, name)?.name === name) deleteSnapshot(d.image, name);
          createSnapshot(d.image, name, now, i === 0 ? vmInfo : undefined);
        });
        made.push(d);
      }
    } catch (e) {
      // A later disk failed: the earlier ones lose the new snapshot again (an old one of that
      // name, replaced already, stays gone, as in QEMU).
      for (const d of made) {
        try {
          deleteSnapshot(d.image, name);
        } catch {}
      }
      throw e;
    }
  }

  async load(vm: Vm, name: string): Promise<void> {
    const held = this.held(vm);
    if (!held) return this.fallback.load(vm, name);
    const first = held[0]!;
    const found = held.map((d) => onDisk(d, () => findSnapshot(d.image, name)));
    if (found.some((s) => s === undefined))
      throw new SnapshotError(`Snapshot '${name}' does not exist in one or more devices`);
    const snap = found[0]!;
    if (snap.vmStateSize === 0)
      throw new SnapshotError("This is a disk-only snapshot. Revert to it offline using qemu-img");
    for (const d of held) if (d.image.readOnly) onDisk(d, () => d.image.fail("the image is read-only"));
    const state = onDisk(first, () => readVmState(first.image, snap));
    // The state is checked against the VM before any disk goes back.
    const commit = await prepareRestore(vm, state, { disksHeld: new Set(held.map((d) => d.disk)) });
    for (const [i, d] of held.entries()) onDisk(d, () => applySnapshot(d.image, found[i]!.id));
    commit();
  }

  async delete(vm: Vm, name: string): Promise<void> {
    const held = this.held(vm);
    if (!held) return this.fallback.delete(vm, name);
    let deleted = 0;
    for (const d of held) {
      onDisk(d, () => {
        const s = findSnapshot(d.image, name);
        if (!s) return;
        deleteSnapshot(d.image, s.id);
        deleted++;
      });
    }
    if (deleted === 0) throw new SnapshotError(`no snapshot named '${name}'`);
  }

  async list(vm: Vm): Promise<SnapshotListing> {
    const held = this.held(vm);
    if (!held) return this.fallback.list(vm);
    const lists = held.map((d) => onDisk(d, () => readSnapshots(d.image)));
    const onAll = (s: Snapshot) => lists.every((l) => l.some((x) => x.name === s.name));
    return {
      rows: lists[0]!.filter(onAll).map((s) => ({ ...row(s), id: "--" })),
      partial: held
        .map((d, i) => ({ where: d.where, rows: lists[i]!.filter((s) => !onAll(s)).map(row) }))
        .filter((p) => p.rows.length > 0),
    };
  }
}
