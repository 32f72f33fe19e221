// The verbs that move a domain's state: save and restore (the project's saved-VM file, QMP's
// `migrate file:`), snapshots (the monitor's savevm/loadvm/delvm: internal qcow2 snapshots where
// the writable disks are qcow2, else the domain's state directory: docs/state.md), live migration
// to another connection (a destination process started with -incoming, then the monitor's
// migrate: docs/migration.md), disks attached to or detached from the definition, and domstats.

import { existsSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import { type Connection, LibvirtError } from "./connection.js";
import { runPaths } from "./domain-process.js";
import { type DiskDef, type DomainDef, formatDomainXml, parseDomainXml } from "./domain-xml.js";
import { readText, writeAtomic } from "./state-dir.js";
import { el, formatXml, parseXml, type XmlNode } from "./xml-tree.js";

/** The file beside a saved domain that holds its definition (restore needs it). */
export const savedXmlPath = (file: string) => `${file}.domain.xml`;

/** save: writes the running domain to FILE (and its XML beside it); the domain is then shut off (saved). */
export async function saveDomain(conn: Connection, ref: string, file: string): Promise<void> {
  const i = conn.internals();
  const { name, proc } = i.running(ref);
  const path = resolve(file);
  const def = i.liveDef(name)!;
  await i.qmpDo(proc, async (q) => {
    await q.execute("stop");
    try {
      await q.hmp(`migrate file:${path}`).then(checkHmp);
    } catch (e) {
      await q.execute("cont").catch(() => {});
      throw e;
    }
  });
  writeAtomic(savedXmlPath(path), formatDomainXml(def));
  await proc.quit("saved");
  i.ended(name, "saved");
}

/** restore: starts the domain saved in FILE (running, reason restored). */
export async function restoreDomain(conn: Connection, file: string): Promise<string> {
  const i = conn.internals();
  const path = resolve(file);
  if (!existsSync(path)) throw new LibvirtError(`Failed to open file '${file}': No such file or directory`);
  const xml = readText(savedXmlPath(path));
  if (xml === undefined)
    throw new LibvirtError(
      `'${file}' has no domain definition beside it (${savedXmlPath(file)}): was it written by virsh save?`,
    );
  const def = parseDomainXml(xml);
  const persistent = i.persistentDef(def.name);
  if (persistent?.uuid && persistent.uuid !== def.uuid)
    throw new LibvirtError(`operation failed: domain '${def.name}' already exists with uuid ${persistent.uuid}`);
  await i.launch(def, "restored", { incoming: `file:${path}` });
  return def.name;
}

/**
 * savevm, loadvm, delvm and migrate print nothing when they work; anything they print is their
 * error (the monitor answers human-monitor-command with its text, as QEMU's does).
 */
function checkHmp(text: string): string {
  if (text.trim() !== "") throw new LibvirtError(`operation failed: ${text.trim()}`);
  return text;
}

// ----- snapshots -----

export interface SnapshotInfo {
  name: string;
  description?: string;
  /** The domain's state when it was taken: running or paused. */
  state: string;
  creationTime: number;
  parent?: string;
}

const snapFolder = (name: string) => `snapshots/${name}`;

function readSnapshot(conn: Connection, domain: string, snap: string): SnapshotInfo {
  const xml = conn.store.read(snapFolder(domain), snap);
  if (xml === undefined)
    throw new LibvirtError(`Domain snapshot not found: no domain snapshot with matching name '${snap}'`);
  const root = parseXml(xml, "snapshot XML");
  const text = (n: string) => root.children?.find((c) => c.name === n)?.text;
  const parent = root.children?.find((c) => c.name === "parent")?.children?.find((c) => c.name === "name")?.text;
  return {
    name: text("name") ?? snap,
    description: text("description"),
    state: text("state") ?? "running",
    creationTime: Number(text("creationTime") ?? 0),
    parent,
  };
}

function currentSnapshot(conn: Connection, domain: string): string | undefined {
  const c = readText(conn.store.path(snapFolder(domain), "current"))?.trim();
  return c && conn.store.has(snapFolder(domain), c) ? c : undefined;
}

export async function snapshotCreateAs(
  conn: Connection,
  ref: string,
  snap: string | undefined,
  description?: string,
): Promise<string> {
  const i = conn.internals();
  const { name, proc } = i.running(ref);
  const status = await conn.status(name);
  const snapName = snap ?? String(Math.floor(Date.now() / 1000));
  if (!/^[^/\s]+$/.test(snapName)) throw new LibvirtError(`invalid snapshot name '${snapName}'`);
  if (conn.store.has(snapFolder(name), snapName))
    throw new LibvirtError(`operation failed: domain snapshot '${snapName}' already exists`);
  await i.qmpDo(proc, (q) => q.hmp(`savevm ${snapName}`).then(checkHmp));
  const parent = currentSnapshot(conn, name);
  const def = i.liveDef(name)!;
  const tree: XmlNode = el("domainsnapshot", {}, [
    el("name", {}, snapName),
    description !== undefined ? el("description", {}, description) : undefined,
    el("state", {}, status.state),
    parent ? el("parent", {}, [el("name", {}, parent)]) : undefined,
    el("creationTime", {}, Math.floor(Date.now() / 1000)),
    el("memory", { snapshot: "internal" }),
    parseXml(formatDomainXml(def), "domain XML"),
  ]);
  conn.store.write(snapFolder(name), snapName, formatXml(tree));
  writeAtomic(conn.store.path(snapFolder(name), "current"), `${snapName}\n`);
  return snapName;
}

export function snapshotList(conn: Connection, ref: string): SnapshotInfo[] {
  const name = conn.resolveName(ref);
  return conn.store
    .names(snapFolder(name))
    .map((s) => readSnapshot(conn, name, s))
    .sort((a, b) => a.creationTime - b.creationTime || a.name.localeCompare(b.name));
}

/** snapshot-revert: loadvm in the running domain, or a start from the snapshot (-loadvm). */
export async function snapshotRevert(conn: Connection, ref: string, snap: string): Promise<void> {
  const i = conn.internals();
  const name = conn.resolveName(ref);
  const info = readSnapshot(conn, name, snap);
  const proc = conn.process(name);
  if (proc) {
    await i.qmpDo(proc, async (q) => {
      checkHmp(await q.hmp(`loadvm ${snap}`));
      if (info.state === "paused") await q.execute("stop");
      else await q.execute("cont");
    });
  } else {
    const def = i.persistentDef(name);
    if (!def) throw new LibvirtError(`failed to get domain '${ref}'`);
    await i.launch(def, "from snapshot", { loadvm: snap, paused: info.state === "paused" });
  }
  writeAtomic(conn.store.runFile(`${name}.reason`), "from snapshot\n");
  writeAtomic(conn.store.path(snapFolder(name), "current"), `${snap}\n`);
}

export async function snapshotDelete(conn: Connection, ref: string, snap: string): Promise<void> {
  const i = conn.internals();
  const name = conn.resolveName(ref);
  const info = readSnapshot(conn, name, snap);
  const proc = conn.process(name);
  if (proc) await i.qmpDo(proc, (q) => q.hmp(`delvm ${snap}`).then(checkHmp));
  else {
    const file = conn.store.path("vmstate", name, `${snap}.x86vm`);
    if (!existsSync(file))
      throw new LibvirtError(
        `Requested operation is not valid: snapshot '${snap}' is in the domain's qcow2 disks: start the domain to delete it`,
      );
    rmSync(file);
  }
  // Children point at the deleted one's parent, as libvirt re-parents them.
  for (const s of conn.store.names(snapFolder(name))) {
    const xml = conn.store.read(snapFolder(name), s)!;
    if (readSnapshot(conn, name, s).parent === snap) {
      const root = parseXml(xml, "snapshot XML");
      root.children = (root.children ?? []).filter((c) => c.name !== "parent");
      if (info.parent) root.children.splice(3, 0, el("parent", {}, [el("name", {}, info.parent)]));
      conn.store.write(snapFolder(name), s, formatXml(root));
    }
  }
  conn.store.remove(snapFolder(name), snap);
  if (currentSnapshot(conn, name) === undefined) {
    if (info.parent) writeAtomic(conn.store.path(snapFolder(name), "current"), `${info.parent}\n`);
    else rmSync(conn.store.path(snapFolder(name), "current"), { force: true });
  }
}

// ----- migration -----

export interface MigrateOptions {
  live?: boolean;
  /** Define the domain on the destination too. */
  persistent?: boolean;
  /** Remove the definition here afterwards. */
  undefineSource?: boolean;
}

/**
 * migrate: starts the domain in the destination connection's run directory, waiting with
 * -incoming on a unix socket there, and sends it the running guest with the monitor's migrate.
 * Without --live the guest is paused first (libvirt's offline-ish default). On failure the
 * destination process is ended and the domain runs on here.
 */
export async function migrateDomain(
  conn: Connection,
  ref: string,
  dest: Connection,
  opts: MigrateOptions,
): Promise<void> {
  const i = conn.internals();
  const d = dest.internals();
  const { name, proc } = i.running(ref);
  if (resolve(dest.store.root) === resolve(conn.store.root))
    throw new LibvirtError("Requested operation is not valid: the destination is this connection");
  if (dest.process(name))
    throw new LibvirtError(`Requested operation is not valid: domain '${name}' is already active on the destination`);
  const def = i.liveDef(name)!;
  const incoming = runPaths(dest.runDir, name).qmp.replace(/\.qmp$/, ".incoming");
  rmSync(incoming, { force: true });
  const target = await d.launch(def, "migrated", { incoming: `unix:${incoming}` });
  try {
    await i.qmpDo(proc, async (q) => {
      if (!opts.live) await q.execute("stop");
      checkHmp(await q.hmp(`migrate unix:${incoming}`));
    });
  } catch (e) {
    await target.kill("failed");
    d.ended(name, "failed");
    if (!opts.live) await i.qmpDo(proc, (q) => q.execute("cont")).catch(() => {});
    throw e;
  } finally {
    rmSync(incoming, { force: true });
  }
  await proc.quit("migrated");
  i.ended(name, "migrated");
  if (opts.persistent) dest.store.write("domains", name, formatDomainXml(def));
  if (opts.undefineSource && conn.store.has("domains", name)) conn.store.remove("domains", name);
}

// ----- disks -----

export interface AttachDiskOptions {
  targetBus?: string;
  /** --subdriver: raw or qcow2. */
  format?: string;
  /** --type: disk or cdrom. */
  device?: string;
  readonly?: boolean;
  /** --config (or --persistent): change the definition. */
  config?: boolean;
  /** --live: change the running domain. */
  live?: boolean;
}

/** The persistent definition a --config change edits (a change to the running domain is refused). */
function definitionToChange(
  conn: Connection,
  ref: string,
  opts: { config?: boolean; live?: boolean },
): { name: string; def: DomainDef } {
  const name = conn.resolveName(ref);
  liveChange(conn, name, opts);
  const def = conn.internals().persistentDef(name);
  if (!def) throw new LibvirtError("Requested operation is not valid: cannot change a transient domain's definition");
  return { name, def };
}

/** Whether this change reaches the running domain (it cannot: there is no hot-plug here). */
function liveChange(conn: Connection, name: string, opts: { config?: boolean; live?: boolean }): void {
  const running = conn.process(name) !== undefined;
  if (opts.live || (running && !opts.config))
    throw new LibvirtError(
      running || opts.live
        ? "Operation not supported: this machine has no hot-plug; use --config (the change takes effect at the next start)"
        : "Requested operation is not valid: domain is not running",
    );
}

export function attachDisk(
  conn: Connection,
  ref: string,
  source: string,
  target: string,
  opts: AttachDiskOptions,
): void {
  const { name, def } = definitionToChange(conn, ref, opts);
  if (def.devices.some((x) => x.kind === "disk" && x.target === target))
    throw new LibvirtError(`operation failed: target ${target} already exists`);
  const device = opts.device ?? "disk";
  const disk: DiskDef = {
    kind: "disk",
    type: "file",
    device,
    file: resolve(source),
    target,
    bus: opts.targetBus ?? (target.startsWith("vd") ? "virtio" : "ide"),
  };
  if (opts.format) disk.format = opts.format;
  if (opts.readonly || device === "cdrom") disk.readonly = true;
  // After the last disk, as libvirt keeps disks together at the start of <devices>.
  const devices = [...def.devices];
  const last = devices.map((x) => x.kind).lastIndexOf("disk");
  devices.splice(last + 1, 0, disk);
  const next: DomainDef = { ...def, devices };
  conn.internals().check(JSON.parse(JSON.stringify(next)) as DomainDef);
  conn.store.write("domains", name, formatDomainXml(next));
}

export function detachDisk(
  conn: Connection,
  ref: string,
  target: string,
  opts: { config?: boolean; live?: boolean },
): void {
  const { name, def } = definitionToChange(conn, ref, opts);
  const devices = def.devices.filter(
    (x) => !(x.kind === "disk" && (x.target === target || x.file === resolve(target))),
  );
  if (devices.length === def.devices.length) throw new LibvirtError(`operation failed: disk ${target} not found`);
  conn.store.write("domains", name, formatDomainXml({ ...def, devices }));
}

// ----- domstats -----

const STATE_CODE: Record<string, number> = { running: 1, paused: 3, "shut off": 5 };
const REASON_CODE: Record<string, Record<string, number>> = {
  running: { unknown: 0, booted: 1, migrated: 2, restored: 3, "from snapshot": 4, unpaused: 5 },
  paused: {
    unknown: 0,
    user: 1,
    migration: 2,
    save: 3,
    ioerror: 5,
    "from snapshot": 7,
    "shutting down": 8,
    "starting up": 11,
  },
  "shut off": {
    unknown: 0,
    shutdown: 1,
    destroyed: 2,
    crashed: 3,
    migrated: 4,
    saved: 5,
    failed: 6,
    "from snapshot": 7,
  },
};

/** domstats: libvirt's field names for what this machine knows. */
export async function domainStats(conn: Connection, ref: string): Promise<[string, string | number][]> {
  const s = await conn.status(ref);
  const def = conn.domainDef(s.name);
  const cpu = conn.cpuSeconds(s.pid);
  const out: [string, string | number][] = [
    ["state.state", STATE_CODE[s.state] ?? 0],
    ["state.reason", REASON_CODE[s.state]?.[s.reason] ?? 0],
  ];
  if (s.pid !== undefined) out.push(["cpu.time", Math.round(cpu * 1e9)]);
  out.push(
    ["balloon.current", def.currentMemoryKiB ?? def.memoryKiB],
    ["balloon.maximum", def.memoryKiB],
    ["vcpu.current", def.vcpu],
    ["vcpu.maximum", def.vcpu],
  );
  const nics = def.devices.filter((d) => d.kind === "interface");
  out.push(["net.count", nics.length]);
  nics.forEach((n, k) => {
    if (n.kind === "interface") out.push([`net.${k}.name`, `vnet${k}`], [`net.${k}.mac`, n.mac ?? ""]);
  });
  const disks = def.devices.filter((d): d is DiskDef => d.kind === "disk");
  out.push(["block.count", disks.length]);
  disks.forEach((b, k) => {
    out.push([`block.${k}.name`, b.target]);
    if (b.file) out.push([`block.${k}.path`, b.file]);
  });
  return out;
}
