// A new, empty qcow2 image: the header cluster, a refcount table and its blocks, then the L1
// table, every one of them counted; no L2 table and no data cluster until something is written.

import { ImageFormatError, type StorageFile } from "./file.js";
import { encodeHeader, l1EntriesFor, MAX_L1_BYTES, type Qcow2Header } from "./qcow2-header.js";

export interface Qcow2CreateOptions {
  size: number;
  /** 2 (compat=0.10) or 3 (compat=1.1, the default). */
  version?: 2 | 3;
  /** Default 65536. */
  clusterSize?: number;
  /** Default 16. */
  refcountBits?: number;
  backingFile?: string;
  backingFormat?: string;
}

export function createQcow2(file: StorageFile, o: Qcow2CreateOptions): Qcow2Header {
  const fail = (why: string): never => {
    throw new ImageFormatError(`${file.name}: ${why}`);
  };
  const version = o.version ?? 3;
  const cs = o.clusterSize ?? 65536;
  const clusterBits = Math.log2(cs);
  if (!Number.isInteger(clusterBits) || clusterBits < 9 || clusterBits > 21) {
    fail(`cluster size ${cs}: a power of two from 512 bytes to 2 MiB`);
  }
  const refcountBits = o.refcountBits ?? 16;
  const refcountOrder = Math.log2(refcountBits);
  if (!Number.isInteger(refcountOrder) || refcountOrder > 6)
    fail(`refcount_bits ${refcountBits}: a power of two up to 64`);
  if (version === 2 && refcountBits !== 16) fail("compat=0.10 images have 16-bit refcounts");
  if (!Number.isSafeInteger(o.size) || o.size < 0) fail(`invalid size ${o.size}`);
  const l1Size = l1EntriesFor(o.size, clusterBits);
  if (l1Size * 8 > MAX_L1_BYTES) fail(`the size ${o.size} bytes needs an L1 table larger than 32 MiB`);
  const l1Clusters = Math.max(1, Math.ceil((l1Size * 8) / cs));
  const perBlock = (cs * 8) / refcountBits;
  // Header, table, blocks, L1: enough blocks to count all of them, a table to hold the blocks.
  let tableClusters = 1;
  let blocks = 1;
  for (;;) {
    const total = 1 + tableClusters + blocks + l1Clusters;
    const needBlocks = Math.ceil(total / perBlock);
    const needTable = Math.ceil((needBlocks * 8) / cs);
    if (needBlocks === blocks && needTable === tableClusters) break;
    blocks = needBlocks;
    tableClusters = needTable;
  }
  const total = 1 + tableClusters + blocks + l1Clusters;
  const h: Qcow2Header = {
    version,
    backingFile: o.backingFile,
    backingFormat: o.backingFormat,
    clusterBits,
    size: o.size,
    l1Size,
    l1Offset: (1 + tableClusters + blocks) * cs,
    refcountTableOffset: cs,
    refcountTableClusters: tableClusters,
    snapshotCount: 0,
    snapshotsOffset: 0,
    incompatible: 0,
    compatible: 0,
    autoclear: 0,
    refcountOrder,
    headerLength: version === 3 ? 112 : 72,
    otherExtensions: [],
  };
  const image = new Uint8Array(total * cs);
  image.set(encodeHeader(h));
  const view = new DataView(image.buffer);
  for (let b = 0; b < blocks; b++) {
    const at = (1 + tableClusters + b) * cs;
    view.setUint32(cs + b * 8, Math.floor(at / 2 ** 32));
    view.setUint32(cs + b * 8 + 4, at >>> 0);
  }
  const blockBase = (1 + tableClusters) * cs;
  for (let c = 0; c < total; c++) {
    const bit = c * refcountBits;
    const at = blockBase + Math.floor(bit / 8);
    if (refcountBits < 8) image[at] |= 1 << (bit % 8);
    else image[at + refcountBits / 8 - 1] = 1; // big-endian 1
  }
  file.truncate(0);
  file.write(0, image);
  file.flush();
  return h;
}
