// Storage domains with the real host agent (in this process, no VM): volumes created on a host
// (qcow2 thin, raw preallocated; qcow2 preallocated refused), a data domain whose directory is
// removed turns inactive with the reason, a VM with a disk there is refused a start naming the
// domain and loses nothing, and the domain is active again when the directory is back.

import { mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import type { Server } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callApi } from "../../../manage/engine/api.js";
import { SYSTEM } from "../../../manage/engine/auth.js";
import { type Db, openPglite } from "../../../manage/engine/db.js";
import { Engine } from "../../../manage/engine/engine.js";
import { listenForHosts } from "../../../manage/engine/host-link-node.js";
import { HostAgent } from "../../../manage/host/agent.js";
import { type Json, tempDir, waitFor } from "./cluster-harness.js";

let db: Db;
let engine: Engine;
let server: Server;
let agent: HostAgent;
const dir = tempDir("storage");
const data = join(dir, "data1");

const api = async (method: string, path: string, body?: Record<string, unknown>) =>
  (await callApi(engine, SYSTEM, method, path, body)) as { status: number; body: Json };

beforeAll(async () => {
  db = await openPglite("memory://");
  engine = new Engine(db, { heartbeatMs: 100, missedHeartbeats: 5 });
  await engine.start();
  server = await listenForHosts(engine, 0);
  const port = (server.address() as { port: number }).port;
  agent = new HostAgent({
    engine: { host: "127.0.0.1", port },
    name: "s1",
    memoryMib: 256,
    cpus: 2,
    cpuType: "x86lab-p6",
    address: "127.0.0.1",
    runDir: join(dir, "run"),
  });
  agent.run();
  mkdirSync(data);
  await waitFor(
    async () => ((await api("GET", "/hosts")).body.host[0]?.status === "up" ? true : undefined),
    30_000,
    "the host",
  );
}, 60_000);

afterAll(async () => {
  agent?.stop();
  server?.close();
  await engine?.close();
  await db?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("storage domains", () => {
  it("creates volumes on a host: qcow2 thin, raw preallocated", async () => {
    const sd = await api("POST", "/storagedomains", { name: "data1", type: "data", storage: { path: data } });
    expect(sd.status).toBe(201);
    const q = await api("POST", "/storagedomains/data1/disks", {
      name: "boot",
      format: "cow",
      provisioned_size: 8 << 20,
    });
    expect(q.status).toBe(201);
    expect(readFileSync(q.body.path).subarray(0, 4).toString("latin1")).toBe("QFI\xfb");
    const r = await api("POST", "/storagedomains/data1/disks", {
      name: "scratch",
      format: "raw",
      sparse: false,
      provisioned_size: 2 << 20,
    });
    expect(r.status).toBe(201);
    const st = statSync(r.body.path);
    expect(st.size).toBe(2 << 20);
    expect(st.blocks * 512).toBeGreaterThanOrEqual(2 << 20); // allocated, not a hole
    const bad = await api("POST", "/storagedomains/data1/disks", {
      name: "pre",
      format: "cow",
      sparse: false,
      provisioned_size: 1 << 20,
    });
    expect(bad.status).toBe(409);
    expect(bad.body.detail).toMatch(/preallocated volume is raw here/);
    expect((await api("GET", "/storagedomains/data1/disks")).body.disk).toHaveLength(2);
  });

  it("a domain whose directory disappears is inactive; a VM on it is refused a start and kept", async () => {
    const xml = `<domain type='kvm'><name>on-data1</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>
      <os><type arch='i686'>hvm</type></os>
      <devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${data}/boot.qcow2'/><target dev='vda' bus='virtio'/></disk></devices></domain>`;
    expect((await api("POST", "/vms", { domain_xml: xml })).status).toBe(201);
    rmSync(data, { recursive: true });
    const sd = await waitFor(
      async () => {
        const s = (await api("GET", "/storagedomains/data1")).body;
        return s.status === "inactive" ? s : undefined;
      },
      10_000,
      "the domain to turn inactive",
    );
    expect(sd.status_detail).toBe(`directory ${data} is missing`);
    const start = await api("POST", "/vms/on-data1/start");
    expect(start.status).toBe(409);
    expect(start.body.detail).toMatch(
      /boot\.qcow2 is on storage domain data1, which is inactive \(directory .* is missing\)/,
    );
    expect((await api("GET", "/vms/on-data1")).body.status).toBe("down");
    expect((await api("GET", "/storagedomains/data1/disks")).body.disk).toHaveLength(2);
    const events = (await api("GET", "/events")).body.event as { code: string }[];
    expect(events.map((e) => e.code)).toContain("STORAGE_DOMAIN_INACTIVE");
    mkdirSync(data);
    await waitFor(
      async () => ((await api("GET", "/storagedomains/data1")).body.status === "active" ? true : undefined),
      10_000,
      "active again",
    );
  });
});
