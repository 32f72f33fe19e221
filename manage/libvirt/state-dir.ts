// Where a connection keeps things, as libvirt's session daemon keeps them under ~/.config and
// ~/.local: persistent definitions are XML files (rewritten whole, through a temporary file and a
// rename, so a crash leaves the old one or the new one, never half), running domains' files are
// in run/ (domain-process.ts, network-process.ts).
//
//   STATE/domains/NAME.xml          persistent domain definitions
//   STATE/networks/NAME.xml         network definitions (the XML as given)
//   STATE/pools/NAME.xml            storage pools
//   STATE/snapshots/DOMAIN/S.xml    snapshot metadata (<domainsnapshot>)
//   STATE/vmstate/DOMAIN/           savevm states when the disks cannot hold them (-state-dir)
//   STATE/images/                   the default pool's directory
//   STATE/run/                      pid files, sockets, logs, live XML, ids
//
// The default STATE is $X86LAB_LIBVIRT_DIR, else $XDG_DATA_HOME/x86lab/libvirt, else
// ~/.local/share/x86lab/libvirt; a URI x86lab:///session is that, x86lab:///ABSOLUTE/PATH a
// state directory of its own (another "host" on this machine, e.g. a migration's destination).

import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";

export class LibvirtError extends Error {}

export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env["X86LAB_LIBVIRT_DIR"]) return resolve(env["X86LAB_LIBVIRT_DIR"]);
  const data = env["XDG_DATA_HOME"] || join(homedir(), ".local", "share");
  return join(data, "x86lab", "libvirt");
}

/** A connection URI (virsh -c): x86lab:///session, or x86lab:///PATH for a state directory. */
export function stateDirFromUri(uri: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const u = uri ?? env["VIRSH_DEFAULT_CONNECT_URI"] ?? env["LIBVIRT_DEFAULT_URI"];
  if (u === undefined || u === "x86lab:///session" || u === "qemu:///session") return defaultStateDir(env);
  const m = /^x86lab:\/\/(\/.+)$/.exec(u);
  if (!m) throw new LibvirtError(`no connection driver for '${u}': use x86lab:///session or x86lab:///STATE-DIR`);
  return m[1]!;
}

/** The URI of a state directory. */
export function uriOf(dir: string, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(dir) === defaultStateDir(env) ? "x86lab:///session" : `x86lab://${resolve(dir)}`;
}

export class StateDir {
  readonly run: string;

  constructor(readonly root: string) {
    this.run = join(root, "run");
  }

  path(...parts: string[]): string {
    return join(this.root, ...parts);
  }

  /** Names of the XML files in a folder (domains, networks, pools, snapshots/DOMAIN). */
  names(folder: string): string[] {
    try {
      return readdirSync(this.path(folder))
        .filter((f) => f.endsWith(".xml"))
        .map((f) => f.slice(0, -4))
        .sort();
    } catch {
      return [];
    }
  }

  read(folder: string, name: string): string | undefined {
    try {
      return readFileSync(this.path(folder, `${name}.xml`), "utf8");
    } catch {
      return undefined;
    }
  }

  has(folder: string, name: string): boolean {
    return existsSync(this.path(folder, `${name}.xml`));
  }

  /** Writes a file whole: a temporary file, then a rename. */
  write(folder: string, name: string, text: string): void {
    writeAtomic(this.path(folder, `${name}.xml`), text);
  }

  remove(folder: string, name: string): void {
    rmSync(this.path(folder, `${name}.xml`), { force: true });
  }

  /** A small text file in run/ (ids, live XML). */
  runFile(name: string): string {
    return join(this.run, name);
  }
}

export function writeAtomic(path: string, text: string): void {
  mkdirSync(join(path, ".."), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

export function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}
