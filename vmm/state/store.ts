// Where named saved states live (the monitor's savevm/loadvm/delvm/info snapshots). The bytes
// are one saved-VM file each (vm-state.ts); a holder only keeps them. QEMU keeps savevm's state
// in a qcow2 disk's internal snapshots: a qcow2-backed store implements this interface.

export interface SnapshotInfo {
  name: string;
  bytes: number;
  /** Host time of the save (ms since the epoch). */
  savedAtMs: number;
  /** Guest progress (instructions and idle time) when saved. */
  progress: number;
}

export interface SnapshotStore {
  put(info: SnapshotInfo, bytes: Uint8Array): Promise<void>;
  get(name: string): Promise<Uint8Array | undefined>;
  delete(name: string): Promise<boolean>;
  list(): Promise<SnapshotInfo[]>;
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
