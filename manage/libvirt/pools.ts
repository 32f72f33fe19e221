// A connection's storage pools: directories of raw and qcow2 images (libvirt's dir pools). Images
// are made by the project's image code (vmm/node/img-commands.ts: qcow2 as qemu-img makes them)
// and read with its image reader (the capacity of a qcow2 is its virtual size). A fresh state
// directory gets the pool `default` at STATE/images, as libvirt's session has one.

import { existsSync, mkdirSync, readdirSync, rmSync, statfsSync, statSync } from "node:fs";
import { join } from "node:path";
import { create, openTool, parseSize } from "../../vmm/node/img-commands.js";
import { LibvirtError, type StateDir } from "./state-dir.js";
import {
  formatPoolXml,
  formatVolumeXml,
  type PoolDef,
  parsePoolXml,
  parseVolumeXml,
  StorageXmlError,
  type VolumeDef,
} from "./storage-xml.js";

export interface PoolStatus {
  name: string;
  active: boolean;
  autostart: boolean;
  path: string;
}

export interface VolumeInfo {
  name: string;
  path: string;
  type: "file";
  format: string;
  capacity: number;
  allocation: number;
}

export class Pools {
  constructor(private readonly store: StateDir) {
    if (!existsSync(store.path("pools"))) {
      const images = store.path("images");
      mkdirSync(images, { recursive: true });
      store.write("pools", "default", formatPoolXml({ type: "dir", name: "default", path: images }));
    }
  }

  private def(name: string): PoolDef {
    const xml = this.store.read("pools", name);
    if (xml === undefined) throw new LibvirtError(`failed to get pool '${name}'`);
    return parsePoolXml(xml);
  }

  define(xml: string): string {
    let def: PoolDef;
    try {
      def = parsePoolXml(xml);
    } catch (e) {
      if (e instanceof StorageXmlError) throw new LibvirtError(`XML error: ${e.message}`);
      throw e;
    }
    this.store.write("pools", def.name, formatPoolXml(def));
    return def.name;
  }

  /** A dir pool is active when its directory is there (pool-build makes it). */
  list(all: boolean): PoolStatus[] {
    return this.store
      .names("pools")
      .map((name) => {
        const path = this.def(name).path;
        return { name, active: existsSync(path), autostart: false, path };
      })
      .filter((p) => all || p.active);
  }

  private activePath(pool: string): string {
    const path = this.def(pool).path;
    if (!existsSync(path))
      throw new LibvirtError(`Requested operation is not valid: storage pool '${pool}' is not active`);
    return path;
  }

  volumePath(pool: string, vol: string): string | undefined {
    try {
      const p = join(this.activePath(pool), vol);
      return existsSync(p) ? p : undefined;
    } catch {
      return undefined;
    }
  }

  createVolume(pool: string, def: VolumeDef): VolumeInfo {
    const path = join(this.activePath(pool), def.name);
    if (existsSync(path)) throw new LibvirtError(`storage volume '${def.name}' exists already`);
    try {
      create(path, {
        format: def.format,
        size: String(def.capacityBytes),
        backing: def.backingPath,
        backingFormat: def.backingFormat,
      } as Parameters<typeof create>[1]);
    } catch (e) {
      rmSync(path, { force: true });
      throw new LibvirtError(`internal error: ${(e as Error).message}`);
    }
    return this.info(pool, def.name);
  }

  /** vol-create-as POOL NAME CAPACITY [--format raw|qcow2]. */
  createAs(pool: string, name: string, capacity: string, format = "raw"): VolumeInfo {
    let bytes: number;
    try {
      bytes = parseSize(capacity);
    } catch {
      throw new LibvirtError(`Malformed size ${capacity}`);
    }
    if (format !== "raw" && format !== "qcow2")
      throw new LibvirtError(`unsupported configuration: format '${format}': this machine has raw and qcow2`);
    if (name.includes("/")) throw new LibvirtError(`invalid volume name '${name}'`);
    return this.createVolume(pool, { name, capacityBytes: bytes, format });
  }

  createXML(pool: string, xml: string): VolumeInfo {
    try {
      return this.createVolume(pool, parseVolumeXml(xml));
    } catch (e) {
      if (e instanceof StorageXmlError) throw new LibvirtError(`XML error: ${e.message}`);
      throw e;
    }
  }

  volumes(pool: string): VolumeInfo[] {
    const dir = this.activePath(pool);
    return readdirSync(dir)
      .filter((f) => statSync(join(dir, f)).isFile())
      .sort()
      .map((f) => this.info(pool, f));
  }

  info(pool: string, vol: string): VolumeInfo {
    const path = this.volumePath(pool, vol);
    if (!path) throw new LibvirtError(`failed to get vol '${vol}'`);
    const st = statSync(path);
    let format = "raw";
    let capacity = st.size;
    try {
      const img = openTool(path, undefined, false);
      try {
        format = img.format;
        capacity = img.size;
      } finally {
        img.close();
      }
    } catch {}
    return { name: vol, path, type: "file", format, capacity, allocation: st.blocks * 512 };
  }

  volumeXml(pool: string, vol: string): string {
    const i = this.info(pool, vol);
    return formatVolumeXml(
      { name: i.name, capacityBytes: i.capacity, format: i.format as "raw" | "qcow2" },
      i.path,
      i.allocation,
    );
  }

  deleteVolume(pool: string, vol: string): void {
    const path = this.volumePath(pool, vol);
    if (!path) throw new LibvirtError(`failed to get vol '${vol}'`);
    rmSync(path);
  }

  /** The pool's XML with its sizes (the file system's). */
  xml(pool: string): string {
    const def = this.def(pool);
    let sizes: { capacity: number; allocation: number; available: number } | undefined;
    try {
      const s = statfsSync(def.path);
      const capacity = s.blocks * s.bsize;
      const available = s.bavail * s.bsize;
      sizes = { capacity, allocation: capacity - available, available };
    } catch {}
    return formatPoolXml(def, sizes);
  }
}
