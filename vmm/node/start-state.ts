// -loadvm NAME and -incoming file:PATH: the machine built from the command line takes a saved
// state before it runs (the command line must describe the same machine: the state's check
// names every difference).

import { readFileSync } from "node:fs";
import type { Machine } from "../lib/machine.js";
import type { SnapshotStore } from "../state/store.js";
import type { Args } from "./args.js";
import { UserInputError } from "./files.js";

export async function startFromState(
  machine: Machine,
  args: Pick<Args, "loadvm" | "incoming">,
  snapshots: SnapshotStore | undefined,
): Promise<void> {
  let bytes: Uint8Array | undefined;
  if (args.incoming !== undefined) {
    try {
      bytes = new Uint8Array(readFileSync(args.incoming));
    } catch (e) {
      throw new UserInputError(`-incoming file:${args.incoming}: ${(e as Error).message}`);
    }
  } else if (args.loadvm !== undefined) {
    bytes = await snapshots?.get(args.loadvm);
    if (!bytes) throw new UserInputError(`-loadvm ${args.loadvm}: no such state in -state-dir`);
  }
  if (bytes) await machine.vm.restore(bytes);
}
