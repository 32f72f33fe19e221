// The library's Node entry: createVm with core.wasm and the project's tiny Linux filled in, and
// kernel, initrd and disks also given as file paths. Everything else is index.ts.

import { readFileSync } from "node:fs";
import { projectFile } from "../node/files.js";
import { loadCoreModule } from "../node/load-core.js";
import { type CreateVmOptions, createVm as create, type LabVm } from "./index.js";

export * from "./index.js";

type Image = Uint8Array | string;

export interface NodeCreateVmOptions extends Omit<CreateVmOptions, "wasm" | "kernel" | "initrd" | "disks"> {
  /** Default: the package's core.wasm. */
  wasm?: CreateVmOptions["wasm"];
  /** Bytes or a path; default: the tiny Linux (with its initramfs unless `kernel` is given). */
  kernel?: Image;
  initrd?: Image;
  disks?: { hda?: Image; hdb?: Image; hdc?: Image; hdd?: Image };
}

const bytes = (i: Image | undefined) => (typeof i === "string" ? new Uint8Array(readFileSync(i)) : i);

/** The tiny Linux's files, as the package ships them. */
export const TINY_LINUX = {
  kernel: projectFile("guests/linux/bzImage"),
  initrd: projectFile("guests/linux/initramfs.cpio.gz"),
};

export function createVm(opts: NodeCreateVmOptions = {}): Promise<LabVm> {
  const kernel = bytes(opts.kernel ?? TINY_LINUX.kernel)!;
  const initrd = bytes(opts.initrd ?? (opts.kernel === undefined ? TINY_LINUX.initrd : undefined));
  const d = opts.disks ?? {};
  return create({
    ...opts,
    wasm: opts.wasm ?? loadCoreModule(),
    kernel,
    initrd,
    disks: { hda: bytes(d.hda), hdb: bytes(d.hdb), hdc: bytes(d.hdc), hdd: bytes(d.hdd) },
  });
}
