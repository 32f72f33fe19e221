// -loadvm NAME and -incoming file:PATH: the machine built from the command line takes a saved
// state before it runs (the command line must describe the same machine: the state's check
// names every difference). -loadvm finds NAME where savevm put it: in the qcow2 disks' internal
// snapshots, or in -state-dir for a VM without a writable qcow2 disk.

import { readFileSync } from "node:fs";
import type { Machine } from "../lib/machine.js";
import { DiskSnapshots } from "../state/disk-snapshots.js";
import { MemorySnapshotStore, type SnapshotStore, StoredSnapshots, type VmSnapshots } from "../state/store.js";
import type { Args } from "./args.js";
import { imageBehind } from "./disk-image.js";
import { diskSources } from "./drives.js";
import { UserInputError } from "./files.js";
import { DirectorySnapshotStore } from "./snapshot-dir.js";

/** savevm's holder for the CLI: qcow2 disks' internal snapshots, else -state-dir (else memory). */
export function cliSnapshots(stateDir: string | undefined): { store?: SnapshotStore; snapshots: VmSnapshots } {
  const store = stateDir === undefined ? undefined : new DirectorySnapshotStore(stateDir);
  const fallback = new StoredSnapshots(store ?? new MemorySnapshotStore());
  return { store, snapshots: new DiskSnapshots((disk) => imageBehind(diskSources.get(disk)), fallback) };
}

export async function startFromState(
  machine: Machine,
  args: Pick<Args, "loadvm" | "incoming" | "stateDir">,
  snapshots: VmSnapshots,
): Promise<void> {
  if (args.incoming !== undefined) {
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(readFileSync(args.incoming));
    } catch (e) {
      throw new UserInputError(`-incoming file:${args.incoming}: ${(e as Error).message}`);
    }
    await machine.vm.restore(bytes);
  } else if (args.loadvm !== undefined) {
    try {
      await snapshots.load(machine.vm, args.loadvm);
    } catch (e) {
      const where = args.stateDir === undefined ? "" : ` (-state-dir ${args.stateDir})`;
      throw new UserInputError(`-loadvm ${args.loadvm}: ${(e as Error).message}${where}`);
    }
  }
}
