// The `img` commands that make or change images: create, convert (with -c compression and -B
// backing), commit (the top layer's data into its backing file), rebase (safe and -u), resize.

import { existsSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { ImageFormatError } from "../storage/file.js";
import type { DiskImage, ImageFormat } from "../storage/image.js";
import { openImage, parseFormat } from "../storage/open.js";
import { isZero, Qcow2Image } from "../storage/qcow2.js";
import { createQcow2, type Qcow2CreateOptions } from "../storage/qcow2-create.js";
import { readHeader } from "../storage/qcow2-header.js";
import { RawImage } from "../storage/raw.js";
import { HostFile, hostOpenOptions } from "./storage-file.js";

class CommandError extends ImageFormatError {}

/** Opens an image and its chain; `writable` opens the top file for writing. */
export function openTool(path: string, format: string | undefined, writable: boolean): DiskImage {
  const file = new HostFile(path, writable);
  try {
    return openImage(file, {
      format: format === undefined ? undefined : parseFormat(format),
      readOnly: !writable,
      ...hostOpenOptions(path),
    });
  } catch (e) {
    file.close();
    throw e;
  }
}

/** "10G", "512M", "1.5G", "4096" (bytes), as qemu-img reads them (binary units). */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([bkKmMgGtTpPeE]?)$/.exec(text);
  if (!m) throw new CommandError(`Invalid image size specified: '${text}'. You may use k, M, G, T, P or E suffixes`);
  const unit = { "": 0, b: 0, k: 10, K: 10, m: 20, M: 20, g: 30, G: 30, t: 40, T: 40, p: 50, P: 50, e: 60, E: 60 }[
    m[2]!
  ]!;
  const n = Number(m[1]) * 2 ** unit;
  if (!Number.isSafeInteger(Math.round(n))) throw new CommandError(`Image size must be less than 8 EiB: '${text}'`);
  return Math.round(n);
}

interface CreateArgs {
  format?: string;
  backing?: string;
  backingFormat?: string;
  options?: string;
  size?: string;
}

/** `-o a=b,c=d` into a map (QEMU's key spelling). */
function createOptions(text: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (text ?? "").split(",").filter(Boolean)) {
    const at = part.indexOf("=");
    if (at < 0) throw new CommandError(`Invalid option '${part}' (use key=value)`);
    out.set(part.slice(0, at), part.slice(at + 1));
  }
  return out;
}

function qcow2Options(
  o: Map<string, string>,
  size: number,
  backing?: string,
  backingFormat?: string,
): Qcow2CreateOptions {
  const known = new Set([
    "compat",
    "cluster_size",
    "refcount_bits",
    "backing_file",
    "backing_fmt",
    "lazy_refcounts",
    "preallocation",
    "compression_type",
    "size",
  ]);
  for (const k of o.keys())
    if (!known.has(k)) throw new CommandError(`Invalid parameter '${k}' (qcow2 takes ${[...known].join(", ")})`);
  const compat = o.get("compat") ?? "1.1";
  if (!["0.10", "v2", "1.1", "v3"].includes(compat))
    throw new CommandError(`Invalid compatibility level: '${compat}' (0.10 or 1.1)`);
  if ((o.get("lazy_refcounts") ?? "off") !== "off")
    throw new CommandError("lazy_refcounts=on is not supported (refcounts are always kept up to date)");
  if ((o.get("preallocation") ?? "off") !== "off") throw new CommandError("only preallocation=off is supported");
  if ((o.get("compression_type") ?? "zlib") !== "zlib")
    throw new CommandError("only compression_type=zlib is supported");
  return {
    size,
    version: compat === "0.10" || compat === "v2" ? 2 : 3,
    clusterSize: o.has("cluster_size") ? parseSize(o.get("cluster_size")!) : undefined,
    refcountBits: o.has("refcount_bits") ? Number(o.get("refcount_bits")) : undefined,
    backingFile: backing ?? o.get("backing_file"),
    backingFormat: backingFormat ?? o.get("backing_fmt"),
  };
}

/** The backing file's size and format, found next to the new image. */
function probeBacking(target: string, backing: string, format?: string): { size: number; format: ImageFormat } {
  const path = isAbsolute(backing) ? backing : resolve(dirname(target), backing);
  if (!existsSync(path)) throw new CommandError(`Could not open backing file '${backing}': No such file or directory`);
  const img = openTool(path, format, false);
  try {
    return { size: img.size, format: img.format };
  } finally {
    img.close();
  }
}

export function create(path: string, a: CreateArgs): string {
  const format = parseFormat(a.format ?? "raw");
  const o = createOptions(a.options);
  const backing = a.backing ?? o.get("backing_file");
  if (backing !== undefined && format === "raw")
    throw new CommandError("Backing file not supported for file format 'raw'");
  let backingFormat = a.backingFormat ?? o.get("backing_fmt");
  let size = a.size !== undefined ? parseSize(a.size) : o.has("size") ? parseSize(o.get("size")!) : undefined;
  if (backing !== undefined) {
    const probed = probeBacking(path, backing, backingFormat);
    backingFormat ??= probed.format;
    size ??= probed.size;
  }
  if (size === undefined) throw new CommandError("Image creation needs a size parameter");
  const file = new HostFile(path, true, true);
  try {
    if (format === "raw") {
      file.truncate(size);
      return `Formatting '${path}', fmt=raw size=${size}`;
    }
    const q = qcow2Options(o, size, backing, backingFormat);
    createQcow2(file, q);
    const parts = [
      `Formatting '${path}', fmt=qcow2 cluster_size=${q.clusterSize ?? 65536} extended_l2=off compression_type=zlib size=${size}`,
    ];
    if (q.version === 2) parts.push("compat=0.10");
    if (q.backingFile !== undefined) parts.push(`backing_file=${q.backingFile}`, `backing_fmt=${q.backingFormat}`);
    parts.push(`lazy_refcounts=off refcount_bits=${q.refcountBits ?? 16}`);
    return parts.join(" ");
  } finally {
    file.close();
  }
}

interface ConvertArgs {
  format?: string;
  outFormat?: string;
  compress: boolean;
  options?: string;
  backing?: string;
  backingFormat?: string;
}

export function convert(src: string, dst: string, a: ConvertArgs): void {
  const input = openTool(src, a.format, false);
  try {
    const outFormat = parseFormat(a.outFormat ?? "raw");
    if (a.compress && outFormat !== "qcow2")
      throw new CommandError("Compression not supported for this file format (use -O qcow2)");
    if (a.backing !== undefined && outFormat !== "qcow2")
      throw new CommandError("Backing file not supported for file format 'raw'");
    let backingFormat = a.backingFormat;
    if (a.backing !== undefined) backingFormat ??= probeBacking(dst, a.backing).format;
    const o = createOptions(a.options);
    const file = new HostFile(dst, true, true);
    let out: DiskImage;
    if (outFormat === "raw") {
      file.truncate(input.size);
      out = new RawImage(file);
    } else {
      createQcow2(file, qcow2Options(o, input.size, a.backing, backingFormat));
      file.close();
      out = openTool(dst, "qcow2", true);
    }
    try {
      const cs = out instanceof Qcow2Image ? out.clusterSize : 65536;
      const chunk = new Uint8Array(cs);
      const under = new Uint8Array(cs);
      for (let pos = 0; pos < input.size; pos += cs) {
        const n = Math.min(cs, input.size - pos);
        const part = chunk.subarray(0, n);
        input.read(pos, part);
        if (out.backing) {
          // Only what differs from the new backing file is copied.
          const below = under.subarray(0, n);
          const inside = Math.max(0, Math.min(n, out.backing.size - pos));
          below.fill(0);
          if (inside > 0) out.backing.read(pos, below.subarray(0, inside));
          if (Buffer.compare(part, below) === 0) continue;
        } else if (isZero(part)) continue;
        if (a.compress && out instanceof Qcow2Image && n === cs) out.writeCompressed(pos / cs, part.slice());
        else out.write(pos, part);
      }
      out.flush();
    } finally {
      out.close();
    }
  } finally {
    input.close();
  }
}

/** The backing file of a qcow2 image, opened for writing. */
function openBackingWritable(top: Qcow2Image): DiskImage {
  const name = top.header.backingFile;
  if (name === undefined) throw new CommandError(`${top.file.name}: the image has no backing file to commit to`);
  const path = isAbsolute(name) ? name : resolve(dirname(top.file.name), name);
  return openTool(path, top.header.backingFormat, true);
}

export function commit(path: string, format: string | undefined, keep: boolean): void {
  const top = openTool(path, format, true);
  try {
    if (!(top instanceof Qcow2Image))
      throw new CommandError(`${path}: only a qcow2 image has a backing file to commit to`);
    const base = openBackingWritable(top);
    try {
      const buf = new Uint8Array(top.clusterSize);
      for (let pos = 0; pos < top.size; ) {
        const st = top.status(pos, top.size - pos);
        if (st.allocated) {
          for (let at = pos; at < pos + st.length; at += buf.length) {
            const n = Math.min(buf.length, pos + st.length - at);
            const part = buf.subarray(0, n);
            top.read(at, part);
            if (at + n > base.size)
              throw new CommandError(`${base.file.name}: the backing file is smaller than the data to commit`);
            base.write(at, part);
          }
        }
        pos += st.length;
      }
      base.flush();
    } finally {
      base.close();
    }
    // QEMU empties the committed layer unless told to keep it (-d).
    if (!keep) for (let gc = 0; gc < Math.ceil(top.size / top.clusterSize); gc++) top.discard(gc);
    top.flush();
  } finally {
    top.close();
  }
}

interface RebaseArgs {
  format?: string;
  backing: string;
  backingFormat?: string;
  unsafe: boolean;
}

export function rebase(path: string, a: RebaseArgs): void {
  const top = openTool(path, a.format, true);
  try {
    if (!(top instanceof Qcow2Image)) throw new CommandError(`${path}: only a qcow2 image has a backing file`);
    let newBacking: DiskImage | undefined;
    let newFormat = a.backingFormat;
    if (a.backing !== "") {
      const p = isAbsolute(a.backing) ? a.backing : resolve(dirname(path), a.backing);
      newBacking = openTool(p, newFormat, false);
      newFormat ??= newBacking.format;
    }
    try {
      if (!a.unsafe) {
        // Where the top layer shows its old backing, keep what the guest saw: copy up what differs.
        const cs = top.clusterSize;
        const old = new Uint8Array(cs);
        const neu = new Uint8Array(cs);
        for (let pos = 0; pos < top.size; pos += cs) {
          if (top.status(pos, cs).allocated) continue;
          const n = Math.min(cs, top.size - pos);
          top.read(pos, old.subarray(0, n));
          neu.fill(0);
          const inside = newBacking ? Math.max(0, Math.min(n, newBacking.size - pos)) : 0;
          if (newBacking && inside > 0) newBacking.read(pos, neu.subarray(0, inside));
          if (Buffer.compare(old.subarray(0, n), neu.subarray(0, n)) !== 0) top.write(pos, old.slice(0, n));
        }
        top.flush();
      }
      // Check the new name fits before anything of the header changes.
      if (a.backing === "") {
        top.header.backingFile = undefined;
        top.header.backingFormat = undefined;
      } else {
        top.header.backingFile = a.backing;
        top.header.backingFormat = newFormat;
      }
      top.rewriteHeader();
      readHeader(top.file);
    } finally {
      newBacking?.close();
    }
  } finally {
    top.close();
  }
}

export function resize(path: string, sizeText: string, format: string | undefined, shrink: boolean): void {
  const img = openTool(path, format, true);
  try {
    const relative = sizeText.startsWith("+") || sizeText.startsWith("-");
    const n = parseSize(relative ? sizeText.slice(1) : sizeText);
    const size = sizeText.startsWith("+") ? img.size + n : sizeText.startsWith("-") ? img.size - n : n;
    if (size < 0) throw new CommandError("New image size must be positive");
    if (size < img.size && !shrink) {
      throw new CommandError("Use the --shrink option to perform a shrink operation (data past the new end is lost)");
    }
    if (img instanceof Qcow2Image) {
      if (readSnapshotCount(img) && size < img.size)
        throw new CommandError("Can't shrink an image with internal snapshots");
      img.resize(size);
    } else (img as RawImage).resize(size);
    img.flush();
  } finally {
    img.close();
  }
}

function readSnapshotCount(img: Qcow2Image): number {
  return img.header.snapshotCount;
}
