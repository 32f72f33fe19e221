// The qcow2 header (versions 2 and 3) and its extensions, read, checked and written back.
// Layout from the qcow2 specification (docs/interop/qcow2.txt in QEMU): big-endian fields,
// 72 bytes in version 2, `header_length` (at least 104) in version 3, then extensions of
// (type, length, data padded to 8 bytes) up to a type-0 end marker, and the backing file name.
// Everything that could make a later read or write go astray is refused here, before any table
// is loaded, and the file is never written while it is being checked.

import { ImageFormatError, type StorageFile } from "./file.js";

export const QCOW2_MAGIC = 0x514649fb; // "QFI\xfb"
const EXT_END = 0;
const EXT_BACKING_FORMAT = 0xe2792aca;
const EXT_FEATURE_TABLE = 0x6803f857;
const EXT_BITMAPS = 0x23852875;
const EXT_CRYPTO = 0x0537be77;
const EXT_DATA_FILE = 0x44415441;

/** Incompatible feature bits. */
export const INCOMPAT_DIRTY = 1;
export const INCOMPAT_CORRUPT = 2;
const INCOMPAT_DATA_FILE = 4;
const INCOMPAT_COMPRESSION = 8;
const INCOMPAT_EXTL2 = 16;
/** Compatible feature bit 0: lazy refcounts (we never set it). */
export const COMPAT_LAZY_REFCOUNTS = 1;

/** QEMU's limits: a 32 MiB L1 table and an 8 MiB refcount table. */
export const MAX_L1_BYTES = 32 << 20;
export const MAX_REFTABLE_BYTES = 8 << 20;
const MAX_SNAPSHOTS = 65536;
const MAX_BACKING_NAME = 1023;

export interface Qcow2Header {
  version: 2 | 3;
  backingFile?: string;
  backingFormat?: string;
  clusterBits: number;
  size: number;
  l1Size: number;
  l1Offset: number;
  refcountTableOffset: number;
  refcountTableClusters: number;
  snapshotCount: number;
  snapshotsOffset: number;
  incompatible: number;
  compatible: number;
  autoclear: number;
  refcountOrder: number;
  /** v3: the fixed part's length; 72 in v2. */
  headerLength: number;
  /** Extensions we keep but do not interpret (feature table, unknown types), written back as is. */
  otherExtensions: { type: number; data: Uint8Array }[];
}

function u64(view: DataView, at: number, what: string, name: string): number {
  const hi = view.getUint32(at);
  const lo = view.getUint32(at + 4);
  if (hi >= 0x200000)
    throw new ImageFormatError(
      `${name}: ${what} (0x${hi.toString(16)}${lo.toString(16).padStart(8, "0")}) is absurdly large`,
    );
  return hi * 2 ** 32 + lo;
}

function putU64(view: DataView, at: number, v: number): void {
  view.setUint32(at, Math.floor(v / 2 ** 32));
  view.setUint32(at + 4, v >>> 0);
}

/** Entries of `n` bytes that fit in a table of `bytes`: the L1 size for a virtual size. */
export function l1EntriesFor(size: number, clusterBits: number): number {
  const perL2 = 2 ** (clusterBits - 3);
  return Math.ceil(size / (perL2 * 2 ** clusterBits));
}

/** Reads and checks the header of `file` (which is known to start with the qcow2 magic). */
export function readHeader(file: StorageFile): Qcow2Header {
  const name = file.name;
  const fileSize = file.size();
  const fail = (why: string): never => {
    throw new ImageFormatError(`${name}: not a usable qcow2 image: ${why}`);
  };
  if (fileSize < 72) fail(`the file is ${fileSize} bytes, shorter than a qcow2 header`);
  const head = new Uint8Array(Math.min(fileSize, 4096));
  file.read(0, head);
  let view = new DataView(head.buffer);
  if (view.getUint32(0) !== QCOW2_MAGIC) fail("bad magic (not QFI\\xfb)");
  const version = view.getUint32(4);
  if (version !== 2 && version !== 3) fail(`version ${version} (this reads versions 2 and 3)`);
  const clusterBits = view.getUint32(20);
  if (clusterBits < 9 || clusterBits > 21) fail(`cluster_bits ${clusterBits} (9 to 21: 512 bytes to 2 MiB)`);
  const cluster = 2 ** clusterBits;
  // The whole first cluster holds the header, its extensions and the backing file name.
  if (head.length < Math.min(cluster, fileSize)) {
    const full = new Uint8Array(Math.min(cluster, fileSize));
    file.read(0, full);
    view = new DataView(full.buffer);
  }
  const bytes = new Uint8Array(view.buffer);
  const h: Qcow2Header = {
    version: version as 2 | 3,
    clusterBits,
    size: u64(view, 24, "the virtual size", name),
    l1Size: view.getUint32(36),
    l1Offset: u64(view, 40, "the L1 table offset", name),
    refcountTableOffset: u64(view, 48, "the refcount table offset", name),
    refcountTableClusters: view.getUint32(56),
    snapshotCount: view.getUint32(60),
    snapshotsOffset: u64(view, 64, "the snapshot table offset", name),
    incompatible: 0,
    compatible: 0,
    autoclear: 0,
    refcountOrder: 4,
    headerLength: 72,
    otherExtensions: [],
  };
  if (view.getUint32(32) !== 0) fail("the image is encrypted (crypt_method is not 0)");
  if (version === 3) {
    if (bytes.length < 104) fail("the version 3 header is cut short");
    h.incompatible = u64(view, 72, "incompatible features", name);
    h.compatible = u64(view, 80, "compatible features", name);
    h.autoclear = u64(view, 88, "autoclear features", name);
    h.refcountOrder = view.getUint32(96);
    h.headerLength = view.getUint32(100);
    if (h.headerLength < 104 || h.headerLength % 8 !== 0 || h.headerLength > cluster) {
      fail(`header_length ${h.headerLength} (a multiple of 8 from 104 to the cluster size)`);
    }
    if (h.refcountOrder > 6) fail(`refcount_order ${h.refcountOrder} (at most 6: 64-bit refcounts)`);
    if (h.headerLength > 104 && bytes[104] !== 0) fail(`compression type ${bytes[104]} (only zlib, 0, is read)`);
  }
  // Extensions.
  let at = h.headerLength;
  for (;;) {
    if (at + 8 > bytes.length) fail("the header extensions run past the first cluster");
    const type = view.getUint32(at);
    const len = view.getUint32(at + 4);
    at += 8;
    if (type === EXT_END) break;
    if (at + len > bytes.length) fail(`header extension 0x${type.toString(16)} runs past the first cluster`);
    const data = bytes.slice(at, at + len);
    if (type === EXT_BACKING_FORMAT) h.backingFormat = new TextDecoder().decode(data);
    else if (type === EXT_CRYPTO) fail("the image is encrypted");
    else if (type === EXT_DATA_FILE) fail("the image keeps its data in an external file (not supported)");
    else if (type !== EXT_BITMAPS) h.otherExtensions.push({ type, data });
    at += Math.ceil(len / 8) * 8;
  }
  const extEnd = at;
  const unknown = h.incompatible & ~(INCOMPAT_DIRTY | INCOMPAT_CORRUPT);
  if (h.incompatible & INCOMPAT_DATA_FILE) fail("the image keeps its data in an external file (not supported)");
  if (h.incompatible & INCOMPAT_COMPRESSION) fail("the image uses a compression type other than zlib");
  if (h.incompatible & INCOMPAT_EXTL2) fail("the image uses extended L2 entries (subclusters; not supported)");
  if (unknown) fail(`unknown incompatible features 0x${unknown.toString(16)}`);
  // Backing file name.
  const backingOffset = u64(view, 8, "the backing file name offset", name);
  const backingSize = view.getUint32(16);
  if (backingOffset !== 0) {
    if (backingSize > MAX_BACKING_NAME) fail(`the backing file name is ${backingSize} bytes (at most 1023)`);
    if (backingOffset < extEnd || backingOffset + backingSize > bytes.length) {
      fail("the backing file name lies outside the first cluster or over the header");
    }
    h.backingFile = new TextDecoder().decode(bytes.subarray(backingOffset, backingOffset + backingSize));
  }
  // Sizes and tables.
  const maxL1 = MAX_L1_BYTES / 8;
  const needL1 = l1EntriesFor(h.size, clusterBits);
  if (needL1 > maxL1) fail(`the virtual size ${h.size} bytes needs an L1 table larger than 32 MiB`);
  if (h.l1Size < needL1) fail(`the L1 table has ${h.l1Size} entries, ${needL1} are needed for the virtual size`);
  if (h.l1Size > maxL1) fail(`the L1 table has ${h.l1Size} entries (at most ${maxL1})`);
  const table = (what: string, offset: number, bytesLong: number) => {
    if (offset % cluster !== 0) fail(`the ${what} at ${offset} is not cluster-aligned`);
    if (offset < cluster) fail(`the ${what} points into the header (offset ${offset})`);
    if (offset + bytesLong > fileSize)
      fail(`the ${what} (offset ${offset}, ${bytesLong} bytes) lies past the end of the file (${fileSize} bytes)`);
  };
  if (h.l1Size > 0) table("L1 table", h.l1Offset, h.l1Size * 8);
  if (h.refcountTableClusters === 0) fail("the refcount table is empty");
  if (h.refcountTableClusters * cluster > MAX_REFTABLE_BYTES)
    fail(`the refcount table has ${h.refcountTableClusters} clusters (larger than 8 MiB)`);
  table("refcount table", h.refcountTableOffset, h.refcountTableClusters * cluster);
  if (h.snapshotCount > MAX_SNAPSHOTS) fail(`${h.snapshotCount} snapshots (at most ${MAX_SNAPSHOTS})`);
  if (h.snapshotCount > 0) table("snapshot table", h.snapshotsOffset, h.snapshotCount * 40);
  if (version === 2 && h.refcountOrder !== 4) fail("version 2 images have 16-bit refcounts");
  return h;
}

/** The first cluster's header bytes (header, extensions, backing file name). */
export function encodeHeader(h: Qcow2Header): Uint8Array {
  const cluster = 2 ** h.clusterBits;
  const out = new Uint8Array(cluster);
  const view = new DataView(out.buffer);
  view.setUint32(0, QCOW2_MAGIC);
  view.setUint32(4, h.version);
  view.setUint32(20, h.clusterBits);
  putU64(view, 24, h.size);
  view.setUint32(36, h.l1Size);
  putU64(view, 40, h.l1Offset);
  putU64(view, 48, h.refcountTableOffset);
  view.setUint32(56, h.refcountTableClusters);
  view.setUint32(60, h.snapshotCount);
  putU64(view, 64, h.snapshotsOffset);
  let at = 72;
  if (h.version === 3) {
    putU64(view, 72, h.incompatible);
    putU64(view, 80, h.compatible);
    putU64(view, 88, h.autoclear);
    view.setUint32(96, h.refcountOrder);
    h.headerLength = Math.max(h.headerLength, 112);
    view.setUint32(100, h.headerLength);
    at = h.headerLength;
  }
  const ext = (type: number, data: Uint8Array) => {
    const padded = Math.ceil(data.length / 8) * 8;
    if (at + 8 + padded + 8 > cluster)
      throw new ImageFormatError("the header extensions do not fit in the first cluster");
    view.setUint32(at, type);
    view.setUint32(at + 4, data.length);
    out.set(data, at + 8);
    at += 8 + padded;
  };
  if (h.backingFormat !== undefined) ext(EXT_BACKING_FORMAT, new TextEncoder().encode(h.backingFormat));
  for (const e of h.otherExtensions) ext(e.type, e.data);
  if (h.version === 3 && !h.otherExtensions.some((e) => e.type === EXT_FEATURE_TABLE))
    ext(EXT_FEATURE_TABLE, featureTable());
  at += 8; // the end marker (zeros)
  if (h.backingFile !== undefined) {
    const name = new TextEncoder().encode(h.backingFile);
    if (name.length > MAX_BACKING_NAME) throw new ImageFormatError("the backing file name is longer than 1023 bytes");
    if (at + name.length > cluster)
      throw new ImageFormatError("the backing file name does not fit in the first cluster");
    out.set(name, at);
    putU64(view, 8, at);
    view.setUint32(16, name.length);
    at += name.length;
  }
  return out.subarray(0, at);
}

/** The feature name table QEMU writes: (type, bit, 46-byte name) entries. */
function featureTable(): Uint8Array {
  const features: [number, number, string][] = [
    [0, 0, "dirty bit"],
    [0, 1, "corrupt bit"],
    [0, 2, "external data file"],
    [0, 3, "compression type"],
    [0, 4, "extended L2 entries"],
    [1, 0, "lazy refcounts"],
    [2, 0, "bitmaps"],
    [2, 1, "raw external data"],
  ];
  const out = new Uint8Array(features.length * 48);
  features.forEach(([type, bit, name], i) => {
    out[i * 48] = type;
    out[i * 48 + 1] = bit;
    out.set(new TextEncoder().encode(name), i * 48 + 2);
  });
  return out;
}
