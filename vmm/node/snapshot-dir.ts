// savevm's states as files in a directory (-state-dir): NAME.x86vm, one saved-VM file each
// (docs/state.md), so that `-loadvm NAME` finds them in a later run. A qcow2 disk's internal
// snapshots are the other holder QEMU uses; both implement SnapshotStore.

import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { SnapshotInfo, SnapshotStore } from "../state/store.js";
import { UserInputError } from "./files.js";

const SUFFIX = ".x86vm";

export class DirectorySnapshotStore implements SnapshotStore {
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  private path(name: string): string {
    if (!/^[A-Za-z0-9_.-]+$/.test(name) || name.startsWith(".")) {
      throw new UserInputError(`snapshot name '${name}': use letters, digits, '_', '-' and '.'`);
    }
    return join(this.dir, name + SUFFIX);
  }

  async put(info: SnapshotInfo, bytes: Uint8Array): Promise<void> {
    // Written beside, then renamed: a crash mid-write never leaves half a state under the name.
    const target = this.path(info.name);
    writeFileSync(`${target}.tmp`, bytes);
    renameSync(`${target}.tmp`, target);
  }

  async get(name: string): Promise<Uint8Array | undefined> {
    try {
      return new Uint8Array(readFileSync(this.path(name)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw e;
    }
  }

  async delete(name: string): Promise<boolean> {
    const p = this.path(name);
    try {
      rmSync(p);
      return true;
    } catch {
      return false;
    }
  }

  async list(): Promise<SnapshotInfo[]> {
    return readdirSync(this.dir)
      .filter((f) => f.endsWith(SUFFIX))
      .map((f) => {
        const st = statSync(join(this.dir, f));
        return { name: f.slice(0, -SUFFIX.length), bytes: st.size, savedAtMs: st.mtimeMs, progress: Number.NaN };
      });
  }
}
