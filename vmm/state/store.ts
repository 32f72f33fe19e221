// Where named saved states live (the monitor's savevm/loadvm/delvm/info snapshots, -loadvm).
// Two layers: a `SnapshotStore` only keeps the bytes of saved-VM files (vm-state.ts) by name (in
// memory, or a directory of files); a `VmSnapshots` saves and loads a whole VM by name. Where a
// VM's writable disks are qcow2, QEMU keeps savevm's state inside them as internal snapshots
// (disk-snapshots.ts); `StoredSnapshots` is the other kind, over a SnapshotStore.

import type { Vm } from "../vm.js";
import { restoreStateBytes, stateBytes } from "./vm-state.js";

export interface SnapshotInfo {
  name: string;
  bytes: number;
  /** Host time of the save (ms since the epoch). */
  savedAtMs: number;
  /** Guest progress (instructions and idle time) when saved. */
  progress: number;
  /** The guest's virtual clock at the save (ns), when the holder kept it. */
  vmClockNs?: number;
  /** Retired instructions at the save, under an icount clock. */
  icount?: number;
}

export interface SnapshotStore {
  put(info: SnapshotInfo, bytes: Uint8Array): Promise<void>;
  get(name: string): Promise<Uint8Array | undefined>;
  delete(name: string): Promise<boolean>;
  list(): Promise<SnapshotInfo[]>;
}

/** One line of `info snapshots` (QEMU's columns). */
export interface SnapshotRow {
  id: string;
  name: string;
  vmStateSize: number;
  dateMs: number;
  vmClockNs?: number;
  icount?: number;
}

/** The snapshot listing: those every disk holds, and those only some do (not loadable). */
export interface SnapshotListing {
  rows: SnapshotRow[];
  partial: { where: string; rows: SnapshotRow[] }[];
}

/** A refusal or failure of savevm/loadvm/delvm, in one line the monitor prints after the command. */
export class SnapshotError extends Error {
  override name = "SnapshotError";
}

export interface VmSnapshots {
  /** Saves the whole VM under `name`, replacing a snapshot of that name (as QEMU's savevm does). */
  save(vm: Vm, name: string): Promise<void>;
  /** Loads the snapshot `name` into `vm`; a refusal leaves the VM and every holder as they were. */
  load(vm: Vm, name: string): Promise<void>;
  delete(vm: Vm, name: string): Promise<void>;
  list(vm: Vm): Promise<SnapshotListing>;
}

/** Snapshots kept in memory for the life of the process. */
export class MemorySnapshotStore implements SnapshotStore {
  private readonly items = new Map<string, { info: SnapshotInfo; bytes: Uint8Array }>();
  async put(info: SnapshotInfo, bytes: Uint8Array): Promise<void> {
    this.items.set(info.name, { info, bytes });
  }
  async get(name: string): Promise<Uint8Array | undefined> {
    return this.items.get(name)?.bytes;
  }
  async delete(name: string): Promise<boolean> {
    return this.items.delete(name);
  }
  async list(): Promise<SnapshotInfo[]> {
    return [...this.items.values()].map((i) => i.info);
  }
}

/** Icount of a VM for a snapshot's table entry: retired instructions, under an icount clock only. */
export function icountOf(vm: Vm): number | undefined {
  return vm.clockMode === "icount" ? vm.cpu.retired : undefined;
}

/** Whole saved-VM files in a SnapshotStore (disk overlays inside them). */
export class StoredSnapshots implements VmSnapshots {
  constructor(readonly store: SnapshotStore) {}

  async save(vm: Vm, name: string): Promise<void> {
    const bytes = await stateBytes(vm);
    const info: SnapshotInfo = {
      name,
      bytes: bytes.length,
      savedAtMs: Date.now(),
      progress: vm.progress,
      vmClockNs: vm.nowNs(),
      icount: icountOf(vm),
    };
    await this.store.put(info, bytes);
  }

  async load(vm: Vm, name: string): Promise<void> {
    const bytes = await this.store.get(name);
    if (!bytes) throw new SnapshotError(`no state named '${name}' (info snapshots lists them)`);
    await restoreStateBytes(vm, bytes);
  }

  async delete(_vm: Vm, name: string): Promise<void> {
    if (!(await this.store.delete(name))) throw new SnapshotError(`no state named '${name}'`);
  }

  async list(): Promise<SnapshotListing> {
    const rows = (await this.store.list()).map(
      (i, n): SnapshotRow => ({
        id: String(n + 1),
        name: i.name,
        vmStateSize: i.bytes,
        dateMs: i.savedAtMs,
        vmClockNs: i.vmClockNs,
        icount: i.icount,
      }),
    );
    return { rows, partial: [] };
  }
}
