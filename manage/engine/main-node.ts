// `npm run engine -- [--db DIR|postgres://...] [--hosts-port N] [--http-port N]`: the engine as a
// Node process: its database (PGlite in a directory by default, or a PostgreSQL server), a TCP
// port for host agents and the REST API on HTTP. docs/engine.md describes a session.

import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { openDbNode } from "./db-pg-node.js";
import { Engine } from "./engine.js";
import { listenForHosts } from "./host-link-node.js";
import { localProcessFencer, scryptHasher } from "./node-services.js";
import { openApiDocument } from "./openapi.js";
import { RestServer } from "./rest-node.js";

const HELP = `usage: npm run engine -- [options]
  --db DIR|URL          PGlite's directory (default .run/engine-db) or postgres://user:pw@host:port/db
  --hosts-port N        where host agents connect (default 54321; 0: any free port)
  --http-port N         the REST API, /ovirt-engine/api (default 8080; 0: any free port)
  --listen ADDR         the address both listen on (default 127.0.0.1)
  --admin-password PW   the password of admin@internal, created at the first start (default: $ENGINE_ADMIN_PASSWORD)
  --heartbeat-ms N      how often hosts beat (default 2000)
  --missed N            beats missed before a host is NonResponsive and fenced (default 3)
  --openapi             print the API's OpenAPI description (docs/engine-openapi.json) and exit
  --no-fence            never fence: a silent host waits for POST /hosts/{id}/fence (fence_type manual)`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      db: { type: "string" },
      "hosts-port": { type: "string" },
      "http-port": { type: "string" },
      listen: { type: "string" },
      "admin-password": { type: "string" },
      "heartbeat-ms": { type: "string" },
      missed: { type: "string" },
      "no-fence": { type: "boolean" },
      openapi: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  if (values.openapi) {
    // The API's description, as committed in docs/engine-openapi.json.
    console.log(JSON.stringify(openApiDocument(), null, 2));
    return;
  }
  const num = (v: string | undefined, d: number, what: string, min = 1): number => {
    if (v === undefined) return d;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${what} ${v}: expected a whole number of at least ${min}`);
    return n;
  };
  const where = values.db ?? resolve(".run/engine-db");
  const db = await openDbNode(where);
  const password = values["admin-password"] ?? process.env.ENGINE_ADMIN_PASSWORD;
  const engine = new Engine(db, {
    heartbeatMs: num(values["heartbeat-ms"], 2000, "heartbeat-ms", 10),
    missedHeartbeats: num(values.missed, 3, "missed"),
    fencer: values["no-fence"] ? undefined : localProcessFencer,
    hasher: scryptHasher,
    admin: password ? { name: "admin", password } : undefined,
    log: (l) => console.log(`engine: ${l}`),
  });
  await engine.start();
  const listen = values.listen ?? "127.0.0.1";
  const hosts = await listenForHosts(engine, num(values["hosts-port"], 54321, "hosts-port", 0), listen);
  const rest = new RestServer(engine);
  const httpPort = await rest.listen(num(values["http-port"], 8080, "http-port", 0), listen);
  const hostsAddr = hosts.address();
  const hostsPort = typeof hostsAddr === "object" && hostsAddr ? hostsAddr.port : 0;
  console.log(`engine: database ${/^postgres/.test(where) ? where.replace(/:[^:@/]*@/, ":***@") : where}`);
  console.log(`engine: hosts connect to ${listen}:${hostsPort}; API at http://${listen}:${httpPort}/ovirt-engine/api`);
  const stop = async () => {
    await rest.close();
    hosts.close();
    await engine.close();
    await db.close();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop());
  process.on("SIGINT", () => void stop());
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url))
  main().catch((e: Error) => {
    console.error(`engine: ${e.message}`);
    process.exit(2);
  });
