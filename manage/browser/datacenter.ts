// The datacenter in a tab: the engine (manage/engine/engine.ts, the same class the Node server
// runs) in this page, its database PGlite in IndexedDB (`idb://name`: the inventory survives a
// reload), and its hosts as Workers (host-worker.ts) that say hello over MessagePorts as a Node
// host agent does over a socket. Fencing a host here is ending its Worker.

import type { EngineTransport } from "../../web/src/admin/client.js";
import { openPglite } from "../engine/db.js";
import { Engine, type Fencer } from "../engine/engine.js";
import { PageTransport } from "./page-transport.js";
import { startWorkerHost, type WorkerHost } from "./worker-hosts.js";

export interface DatacenterOptions {
  /** The IndexedDB database the inventory lives in. */
  database: string;
  /** Host Workers to start (host1, host2, ...). */
  hosts: number;
  /** Memory each host offers its VMs, MiB (default 512). */
  hostMemoryMib?: number;
}

export interface Datacenter {
  engine: Engine;
  hosts: WorkerHost[];
  transport: EngineTransport;
  /** Problems the hosts reported while starting (a missing core.wasm...). */
  problems: string[];
  close(): Promise<void>;
}

async function compileCore(url: string): Promise<WebAssembly.Module> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url} answered ${res.status} ${res.statusText}: run "npm run build" first`);
  return res.headers.get("Content-Type")?.startsWith("application/wasm")
    ? WebAssembly.compileStreaming(res)
    : WebAssembly.compile(await res.arrayBuffer());
}

export async function startDatacenter(opts: DatacenterOptions): Promise<Datacenter> {
  const count = Math.max(1, Math.min(8, Math.floor(opts.hosts) || 1));
  const base = new URL(".", document.baseURI).href;
  // The core is compiled once, while the database opens, and handed to every host Worker.
  const [module, db] = await Promise.all([
    compileCore(new URL("core.wasm", base).href),
    openPglite(`idb://${opts.database}`),
  ]);
  const hosts: WorkerHost[] = [];
  const fencer: Fencer = {
    async fence(target) {
      const h = hosts.find((w) => w.name === target.name);
      if (!h) return { ok: false, message: `no Worker in this page is host ${target.name}` };
      h.kill();
      return { ok: true, message: `the Worker of host ${target.name} was ended` };
    },
  };
  // A page's main thread also draws and runs PGlite: a longer heartbeat than a server's, and more
  // beats missed before a host counts as not responding (10 s).
  const engine = new Engine(db, {
    fencer,
    heartbeatMs: 2000,
    missedHeartbeats: 5,
    log: (line) => console.info(`engine: ${line}`),
  });
  await engine.start();
  const problems: string[] = [];
  for (let i = 1; i <= count; i++) {
    const host = startWorkerHost(
      { name: `host${i}`, memoryMib: opts.hostMemoryMib ?? 512, cpus: 2, cpuType: engine.opts.cpuType },
      base,
      module,
      (message) => problems.push(message),
    );
    hosts.push(host);
    engine.acceptHost(host.link);
  }
  return {
    engine,
    hosts,
    transport: new PageTransport(engine),
    problems,
    async close() {
      await engine.close();
      for (const h of hosts) h.kill();
      await db.close();
    },
  };
}
