// The CLI's live migration: the monitor's migrate tcp:/unix:, info migrate, migrate_cancel and
// migrate_set_parameter act on this; `-incoming tcp:|unix:` waits for a source (incomingMigration).

import { deflateRawSync, inflateRawSync } from "node:zlib";
import type { Machine } from "../lib/machine.js";
import { installSyncCodec } from "../state/container.js";
import { receiveMigration } from "../state/incoming.js";
import type { MigrationControl } from "../state/migration-info.js";
import { MigrationError } from "../state/migration-stream.js";
import { DEFAULT_PARAMETERS, type MigrationInfo, OutgoingMigration } from "../state/outgoing.js";
import { loadCoreModule } from "./load-core.js";
import {
  connectMigration,
  describeAddress,
  listenMigration,
  parseMigrationUri,
  socketChannel,
} from "./migration-socket.js";

/** Node's zlib for saved-VM sections: a migration's downtime has no thread hand-offs (container.ts). */
export function useNodeCodec(): void {
  installSyncCodec({
    deflate: (d) => new Uint8Array(deflateRawSync(d)),
    inflate: (d) => new Uint8Array(inflateRawSync(d)),
  });
}

export class NodeMigrationControl implements MigrationControl {
  parameters = { ...DEFAULT_PARAMETERS };
  private job: OutgoingMigration | undefined;
  private running = false;

  constructor(private readonly machine: Machine) {
    useNodeCodec();
  }

  async start(uri: string): Promise<{ done: Promise<MigrationInfo> }> {
    if (this.running) throw new MigrationError("a migration is already running (migrate_cancel stops it)");
    if (this.machine.status === "ended") throw new MigrationError("the machine has ended");
    const addr = parseMigrationUri(uri);
    this.running = true;
    let socket: Awaited<ReturnType<typeof connectMigration>>;
    try {
      socket = await connectMigration(addr);
    } catch (e) {
      this.running = false;
      throw e;
    }
    this.job = new OutgoingMigration(this.machine, socketChannel(socket), loadCoreModule(), this.parameters);
    const done = this.job.run().finally(() => {
      this.running = false;
    });
    return { done };
  }

  info(): MigrationInfo | undefined {
    return this.job?.info;
  }

  cancel(): boolean {
    if (!this.running || !this.job) return false;
    this.job.cancel();
    return true;
  }
}

/**
 * -incoming tcp:|unix:: listens, and resolves once the source's guest runs here (the machine was
 * built paused). A failed migration rejects with a MigrationError; the guest has not run.
 */
export async function incomingMigration(
  machine: Machine,
  uri: string,
  log: (line: string) => void,
  resume: boolean | (() => boolean) = true,
): Promise<void> {
  useNodeCodec();
  const addr = parseMigrationUri(uri);
  const { accepted } = await listenMigration(addr);
  log(`x86lab: waiting for a migration on ${describeAddress(addr)}`);
  const socket = await accepted;
  const r = await receiveMigration(machine, socketChannel(socket), loadCoreModule(), { resume });
  log(
    `x86lab: migration in: ${r.pages} pages, guest running after ${Math.round(r.totalMs)} ms (state applied in ${Math.round(r.restoreMs)} ms)`,
  );
}
