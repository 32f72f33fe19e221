// Live migration between two of the page's Workers: the source side in the Worker that runs the
// guest, the destination in a second Worker booted from the same configuration and left paused.
// Both sides are Node's (vmm/state/outgoing.ts and incoming.ts: pre-copy with QEMU's stop rules,
// auto-converge, the bandwidth cap, the dirty log of every mode, the checked stream); only the
// channel is the page's (a MessagePort pair, migration-port.ts). The Worker's run loop plays the
// machine: it runs the guest's slices between the migration's page batches, as the CLI's does.

import type { IncomingResult } from "../../vmm/state/incoming.js";
import { receiveMigration } from "../../vmm/state/incoming.js";
import {
  type MigratingMachine,
  type MigrationInfo,
  type MigrationParameters,
  OutgoingMigration,
} from "../../vmm/state/outgoing.js";
import { PortChannel } from "./migration-port.js";

/** How often the source reports its figures while the migration runs (the panel's live rows). */
const INFO_EVERY_MS = 200;

export type IncomingState = "waiting" | "running" | "failed";

/** Messages about a migration, from the Worker to the page (protocol.ts adds them to FromWorker). */
export type MigrationMessage =
  | { type: "migration"; info: MigrationInfo; done: boolean }
  | { type: "incoming"; state: IncomingState; message?: string; result?: IncomingResult };

type Post = (msg: MigrationMessage) => void;

/** A copy of the info that survives postMessage while the job keeps changing the original. */
const snapshot = (info: MigrationInfo): MigrationInfo => ({
  ...info,
  iterations: info.iterations.map((i) => ({ ...i })),
});

/** The source side: migrates `machine`'s guest over `port`, posting the figures as they change. */
export function migrateOut(
  machine: MigratingMachine,
  module: WebAssembly.Module,
  port: MessagePort,
  params: Partial<MigrationParameters>,
  post: Post,
): OutgoingMigration {
  const job = new OutgoingMigration(machine, new PortChannel(port), module, params);
  const tick = setInterval(() => post({ type: "migration", info: snapshot(job.info), done: false }), INFO_EVERY_MS);
  job.run().then(
    (info) => {
      clearInterval(tick);
      post({ type: "migration", info: snapshot(info), done: true });
    },
    (e: unknown) => {
      clearInterval(tick);
      const info = { ...snapshot(job.info), status: "failed" as const, error: (e as Error).message };
      post({ type: "migration", info, done: true });
    },
  );
  return job;
}

/** The destination side: takes the guest into `machine` (booted paused from the same configuration). */
export function migrateIn(machine: MigratingMachine, module: WebAssembly.Module, port: MessagePort, post: Post): void {
  post({ type: "incoming", state: "waiting" });
  receiveMigration(machine, new PortChannel(port), module).then(
    (result) => post({ type: "incoming", state: "running", result }),
    (e: unknown) => post({ type: "incoming", state: "failed", message: (e as Error).message }),
  );
}
