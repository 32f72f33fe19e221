// Disks the browser keeps or the user gives, for the Worker (worker.ts):
//
// - OPFS (the origin private file system): a raw disk image in a file of the page's own storage,
//   written in place, so it is still there after a reload. In a Worker it is read and written
//   through a FileSystemSyncAccessHandle (synchronous: every request completes at once); where
//   there is none, through the asynchronous File API (reads of getFile() slices, writes through a
//   writable stream), whose requests complete later through the block layer
//   (devices/storage/request.ts).
// - A File the user picked: the read-only base, read a slice at a time with Blob.arrayBuffer
//   (asynchronous; the file is never read whole into memory), under a copy-on-write overlay in
//   memory that takes the guest's writes.

import type { AsyncImageSource, ImageSource } from "../../devices/storage/block.js";
import { CowDisk } from "../../devices/storage/block.js";
import { VirtioBlk } from "../../devices/virtio/blk.js";
import type { VmOptions } from "../../vmm/vm.js";
import { blankImage, type GuestWork } from "./guest-work.js";

/** An OPFS file open as a disk image's bytes. */
export interface OpfsImage {
  readonly name: string;
  readonly source: ImageSource | AsyncImageSource;
  /** True when the file was made (or resized) now, from `initial`: it held no disk before. */
  readonly created: boolean;
  /** "sync": a sync access handle (Worker); "async": the File API. */
  readonly access: "sync" | "async";
}

/** What the sync access handle offers (lib.dom's type, kept here so this compiles without it). */
interface SyncHandle {
  read(buffer: Uint8Array, options: { at: number }): number;
  write(buffer: Uint8Array, options: { at: number }): number;
  truncate(size: number): void;
  getSize(): number;
  flush(): void;
  close(): void;
}

interface OpfsFileHandle {
  getFile(): Promise<File>;
  createSyncAccessHandle?(): Promise<SyncHandle>;
  createWritable(options?: { keepExistingData?: boolean }): Promise<{
    write(
      chunk: { type: "write"; position: number; data: Uint8Array } | { type: "truncate"; size: number },
    ): Promise<void>;
    close(): Promise<void>;
  }>;
}

/** A disk image file held open for the life of the Worker (a reset boots again over the same one). */
const open = new Map<string, Promise<OpfsImage>>();

/**
 * Opens (or makes) the OPFS file `name` as a disk of `size` bytes. A file of another size is
 * started over from `initial()` (its contents were not a disk of this machine's size).
 */
export function openOpfsImage(
  name: string,
  size: number,
  initial: () => Uint8Array,
  options: { access?: "sync" | "async" } = {},
): Promise<OpfsImage> {
  const key = `${name}\0${options.access ?? ""}`;
  let p = open.get(key);
  if (!p) {
    p = openFile(name, size, initial, options.access);
    open.set(key, p);
    p.catch(() => open.delete(key));
  }
  return p;
}

async function openFile(
  name: string,
  size: number,
  initial: () => Uint8Array,
  access: "sync" | "async" | undefined,
): Promise<OpfsImage> {
  const storage = (globalThis.navigator as Navigator | undefined)?.storage;
  if (!storage?.getDirectory) throw new Error("this browser has no origin private file system (OPFS)");
  const dir = await storage.getDirectory();
  const handle = (await dir.getFileHandle(name, { create: true })) as unknown as OpfsFileHandle;
  if (access !== "async" && handle.createSyncAccessHandle) {
    const h = await syncHandle(name, handle);
    let created = false;
    if (h.getSize() !== size) {
      const bytes = initial();
      h.truncate(0);
      h.write(bytes, { at: 0 });
      h.truncate(size);
      h.flush();
      created = true;
    }
    return { name, created, access: "sync", source: syncSource(name, h, size) };
  }
  if (access === "sync") throw new Error("OPFS: no synchronous access handle here (only in a Worker)");
  let created = false;
  if ((await handle.getFile()).size !== size) {
    const w = await handle.createWritable({ keepExistingData: false });
    await w.write({ type: "write", position: 0, data: initial() });
    await w.write({ type: "truncate", size });
    await w.close();
    created = true;
  }
  return { name, created, access: "async", source: asyncSource(name, handle, size) };
}

/**
 * The file's sync access handle. Only one may be open: after a reload the previous page's Worker
 * may hold it for a moment longer, so a refusal is tried again for a few seconds.
 */
async function syncHandle(name: string, handle: OpfsFileHandle): Promise<SyncHandle> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await handle.createSyncAccessHandle!();
    } catch (e) {
      if (attempt >= 25 || (e as Error).name !== "NoModificationAllowedError") {
        throw new Error(`OPFS ${name}: ${(e as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

function syncSource(name: string, h: SyncHandle, size: number): ImageSource {
  return {
    size,
    readAt(offset, dest) {
      const n = h.read(dest, { at: offset });
      if (n !== dest.length) throw new Error(`${name}: read ${n} of ${dest.length} bytes at ${offset}`);
    },
    writeAt(offset, data) {
      const n = h.write(data, { at: offset });
      if (n !== data.length) throw new Error(`${name}: wrote ${n} of ${data.length} bytes at ${offset}`);
    },
    flush: () => h.flush(),
  };
}

/**
 * The File API: every read a slice of a fresh File snapshot, every write a writable stream opened,
 * written and closed (closing is what makes it visible), one at a time.
 */
function asyncSource(name: string, handle: OpfsFileHandle, size: number): AsyncImageSource {
  let writes: Promise<void> = Promise.resolve();
  return {
    size,
    async readAt(offset, dest) {
      const file = await handle.getFile();
      dest.set(new Uint8Array(await file.slice(offset, offset + dest.length).arrayBuffer()));
    },
    writeAt(offset, data) {
      const copy = data.slice();
      const w = writes.then(async () => {
        const s = await handle.createWritable({ keepExistingData: true });
        await s.write({ type: "write", position: offset, data: copy });
        await s.close();
      });
      writes = w.catch(() => {});
      return w.catch((e) => {
        throw new Error(`${name}: ${(e as Error).message}`);
      });
    },
    flush: () => writes,
  };
}

/** A File (or any Blob) as a read-only image, read a slice at a time when the guest asks. */
export function blobSource(blob: Blob): AsyncImageSource {
  return {
    size: blob.size,
    async readAt(offset, dest) {
      const bytes = new Uint8Array(await blob.slice(offset, offset + dest.length).arrayBuffer());
      if (bytes.length !== dest.length) throw new Error(`read ${bytes.length} of ${dest.length} bytes at ${offset}`);
      dest.set(bytes);
    },
  };
}

/**
 * A user's File as a hard disk: the file is the read-only base, the guest's writes stay in memory.
 * (Not a CD: ATAPI reads its medium synchronously, devices/ide/channel.ts.)
 */
export function fileDisk(file: Blob & { name?: string }): CowDisk {
  return new CowDisk(blobSource(file), { name: file.name ?? "disk image" });
}

/** An OPFS image as a disk the guest writes in place. */
export function opfsDisk(image: OpfsImage): CowDisk {
  return new CowDisk(image.source, { name: `OPFS ${image.name}`, writeThrough: true });
}

/** The OPFS file of a built-in guest's persistent disk (one per bus and size). */
export function opfsName(disk: NonNullable<GuestWork["disk"]>): string {
  return `x86lab-${disk.bus}-${disk.mib}M.img`;
}

/**
 * The PCI devices of a guest's work whose disk is kept in OPFS (`store: "opfs"`): made from the
 * blank image the first time, the same file on every later boot and page load.
 */
export async function opfsWork(work: GuestWork): Promise<{ pci: VmOptions["pci"]; image: OpfsImage }> {
  const d = work.disk;
  if (!d) throw new Error("the guest has no disk");
  const image = await openOpfsImage(opfsName(d), d.mib << 20, () => blankImage(d.mib));
  const disk = opfsDisk(image);
  return { pci: d.bus === "ide" ? { hda: { kind: "disk", disk } } : { virtio: [new VirtioBlk({ disk })] }, image };
}
