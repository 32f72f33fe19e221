// Internal qcow2 snapshots: the snapshot table (one entry per snapshot: its own copy of the L1
// table, an id, a name, a date) and the three operations on it. A snapshot shares clusters with
// the active image by reference count; a shared cluster loses its COPIED flag, so the next write
// to it copies it first (qcow2.ts). Each operation raises counts before it adds a reference and
// drops references before it lowers counts, so a crash in between only leaks clusters.

import { ImageFormatError } from "./file.js";
import type { L2Entry, Qcow2Image } from "./qcow2.js";

export interface Snapshot {
  l1Offset: number;
  l1Size: number;
  id: string;
  name: string;
  dateSec: number;
  dateNsec: number;
  vmClockNsec: number;
  /** Bytes of saved VM state (0 for a disk-only snapshot). */
  vmStateSize: number;
  /** The extra data as read (vm_state_size_large, disk_size, icount in QEMU's layout). */
  extra: Uint8Array;
}

function u64(v: DataView, at: number): number {
  return v.getUint32(at) * 2 ** 32 + v.getUint32(at + 4);
}
function put64(v: DataView, at: number, n: number): void {
  v.setUint32(at, Math.floor(n / 2 ** 32));
  v.setUint32(at + 4, n >>> 0);
}

export function readSnapshots(img: Qcow2Image): Snapshot[] {
  const h = img.header;
  const out: Snapshot[] = [];
  if (h.snapshotCount === 0) return out;
  const fileSize = img.file.size();
  let at = h.snapshotsOffset;
  const dec = new TextDecoder();
  for (let i = 0; i < h.snapshotCount; i++) {
    const fixed = new Uint8Array(40);
    if (at + 40 > fileSize) img.fail(`snapshot ${i + 1} lies past the end of the file (the image is corrupt)`);
    img.file.read(at, fixed);
    const v = new DataView(fixed.buffer);
    const idLen = v.getUint16(12);
    const nameLen = v.getUint16(14);
    const extraLen = v.getUint32(36);
    if (extraLen > 1024) img.fail(`snapshot ${i + 1} has ${extraLen} bytes of extra data (the image is corrupt)`);
    const rest = new Uint8Array(extraLen + idLen + nameLen);
    img.file.read(at + 40, rest);
    const s: Snapshot = {
      l1Offset: u64(v, 0),
      l1Size: v.getUint32(8),
      dateSec: v.getUint32(16),
      dateNsec: v.getUint32(20),
      vmClockNsec: u64(v, 24),
      vmStateSize: v.getUint32(32),
      extra: rest.slice(0, extraLen),
      id: dec.decode(rest.subarray(extraLen, extraLen + idLen)),
      name: dec.decode(rest.subarray(extraLen + idLen)),
    };
    if (s.l1Size > (32 << 20) / 8)
      img.fail(`snapshot ${s.id} has an L1 table of ${s.l1Size} entries (the image is corrupt)`);
    if (s.l1Size > 0) {
      if (s.l1Offset % img.clusterSize !== 0 || s.l1Offset < img.clusterSize || s.l1Offset + s.l1Size * 8 > fileSize) {
        img.fail(
          `snapshot ${s.id}'s L1 table at ${s.l1Offset} lies outside the file or in the header (the image is corrupt)`,
        );
      }
    }
    if (s.extra.length >= 8 && s.vmStateSize === 0) s.vmStateSize = u64(new DataView(s.extra.buffer), 0);
    out.push(s);
    at += Math.ceil((40 + rest.length) / 8) * 8;
  }
  return out;
}

function encodeSnapshots(list: Snapshot[]): Uint8Array {
  const enc = new TextEncoder();
  const parts = list.map((s) => {
    const id = enc.encode(s.id);
    const name = enc.encode(s.name);
    const len = Math.ceil((40 + s.extra.length + id.length + name.length) / 8) * 8;
    const b = new Uint8Array(len);
    const v = new DataView(b.buffer);
    put64(v, 0, s.l1Offset);
    v.setUint32(8, s.l1Size);
    v.setUint16(12, id.length);
    v.setUint16(14, name.length);
    v.setUint32(16, s.dateSec);
    v.setUint32(20, s.dateNsec);
    put64(v, 24, s.vmClockNsec);
    v.setUint32(32, Math.min(s.vmStateSize, 0xffffffff));
    v.setUint32(36, s.extra.length);
    b.set(s.extra, 40);
    b.set(id, 40 + s.extra.length);
    b.set(name, 40 + s.extra.length + id.length);
    return b;
  });
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Writes `bytes` into newly allocated clusters (data, then counts): their offset. */
function writeNew(img: Qcow2Image, bytes: Uint8Array): number {
  const n = Math.max(1, Math.ceil(bytes.length / img.clusterSize));
  const first = img.refcounts.allocate(n);
  const padded = new Uint8Array(n * img.clusterSize);
  padded.set(bytes);
  img.file.write(first * img.clusterSize, padded);
  for (let c = first; c < first + n; c++) img.refcounts.set(c, 1);
  return first * img.clusterSize;
}

function freeRange(img: Qcow2Image, offset: number, bytes: number): void {
  const first = offset / img.clusterSize;
  const n = Math.max(1, Math.ceil(bytes / img.clusterSize));
  for (let c = first; c < first + n; c++) img.refcounts.add(c, -1);
}

/** Replaces the snapshot table: new table written, header switched, old table freed. */
function writeTable(img: Qcow2Image, list: Snapshot[]): void {
  const h = img.header;
  const bytes = encodeSnapshots(list);
  const offset = list.length ? writeNew(img, bytes) : 0;
  img.file.flush();
  const field = new Uint8Array(12);
  const v = new DataView(field.buffer);
  v.setUint32(0, list.length);
  put64(v, 4, offset);
  img.file.write(60, field);
  img.file.flush();
  const oldOffset = h.snapshotsOffset;
  const oldBytes = h.snapshotCount ? encodeSnapshots(readSnapshots(img)).length : 0;
  h.snapshotCount = list.length;
  h.snapshotsOffset = offset;
  if (oldBytes) freeRange(img, oldOffset, oldBytes);
}

/** The host clusters an L2 entry holds a reference to. */
function clustersOf(img: Qcow2Image, e: L2Entry): number[] {
  if (e.kind === "compressed") {
    const first = Math.floor(e.offset / img.clusterSize);
    const last = Math.floor((e.offset + e.compressedSize - 1) / img.clusterSize);
    return Array.from({ length: last - first + 1 }, (_, i) => first + i);
  }
  return e.offset ? [e.offset / img.clusterSize] : [];
}

/**
 * Adds `delta` to the count of every L2 table and data cluster an L1 table reaches, and keeps
 * the COPIED flags of the L2 entries it passes true to the new counts. Checks for overflow
 * before the first write.
 */
function updateTree(img: Qcow2Image, l1: number[], delta: number): void {
  const rc = img.refcounts;
  if (delta > 0) {
    const want = new Map<number, number>();
    const bump = (c: number) => want.set(c, (want.get(c) ?? rc.get(c)) + delta);
    for (const l2 of l1) {
      if (!l2) continue;
      bump(l2 / img.clusterSize);
      const t = img.l2Table(l2);
      for (let i = 0; i < img.l2Entries; i++) for (const c of clustersOf(img, img.decodeL2(t, i))) bump(c);
    }
    for (const [c, v] of want) {
      if (v > rc.max)
        throw new ImageFormatError(
          `${img.file.name}: refcount overflow: cluster ${c} would be referenced ${v} times (at most ${rc.max})`,
        );
    }
    // Flags first: a COPIED flag left on a shared cluster would let a write change the
    // snapshot, a flag missing on an owned one only costs a copy.
    clearCopiedFlags(img, l1);
  }
  for (const l2 of l1) {
    if (!l2) continue;
    const t = img.l2Table(l2);
    for (let i = 0; i < img.l2Entries; i++) {
      const e = img.decodeL2(t, i);
      const cs = clustersOf(img, e);
      for (const c of cs) rc.add(c, delta);
      if (e.kind !== "compressed" && e.offset) {
        const copied = rc.get(e.offset / img.clusterSize) === 1;
        if (copied !== e.copied && rc.get(l2 / img.clusterSize) > 0)
          img.writeL2Entry(l2, i, e.offset, { copied, zero: e.kind === "zero" });
      }
    }
    if (rc.add(l2 / img.clusterSize, delta) === 0) img.dropL2(l2);
  }
}

/** Clears COPIED on every L2 entry an L1 table reaches, and on the active L1's entries. */
function clearCopiedFlags(img: Qcow2Image, l1: number[]): void {
  for (const l2 of l1) {
    if (!l2) continue;
    const t = img.l2Table(l2);
    for (let i = 0; i < img.l2Entries; i++) {
      const e = img.decodeL2(t, i);
      if (e.copied && e.kind !== "compressed" && e.offset)
        img.writeL2Entry(l2, i, e.offset, { copied: false, zero: e.kind === "zero" });
    }
  }
  img.l1.forEach((l2, i) => {
    if (l2 && img.l1Copied[i] && l1.includes(l2)) img.writeL1Entry(i, l2, false);
  });
}

/** Makes the active tables' COPIED flags say exactly which clusters have a count of 1. */
export function fixCopiedFlags(img: Qcow2Image): void {
  const rc = img.refcounts;
  img.l1.forEach((l2, i) => {
    if (!l2) return;
    const own = rc.get(l2 / img.clusterSize) === 1;
    if (own !== img.l1Copied[i]) img.writeL1Entry(i, l2, own);
    if (!own) return;
    const t = img.l2Table(l2);
    for (let j = 0; j < img.l2Entries; j++) {
      const e = img.decodeL2(t, j);
      if (e.kind === "compressed" || !e.offset) continue;
      const copied = rc.get(e.offset / img.clusterSize) === 1;
      if (copied !== e.copied) img.writeL2Entry(l2, j, e.offset, { copied, zero: e.kind === "zero" });
    }
  });
}

function l1Bytes(l1: number[]): Uint8Array {
  const b = new Uint8Array(l1.length * 8);
  const v = new DataView(b.buffer);
  for (const [i, o] of l1.entries()) put64(v, i * 8, o);
  return b;
}

function find(list: Snapshot[], idOrName: string, img: Qcow2Image): Snapshot {
  const s = list.find((x) => x.id === idOrName) ?? list.find((x) => x.name === idOrName);
  if (!s) img.fail(`no snapshot '${idOrName}'`);
  return s;
}

/** A VM state to keep in a snapshot (savevm): QEMU's vmstate area and the table entry's clocks. */
export interface SnapshotVmState {
  state: Uint8Array;
  /** The guest's virtual clock at the save, in ns. */
  vmClockNsec: number;
  /** Retired instructions under an icount clock; undefined writes QEMU's "none" (all ones). */
  icount?: number;
}

/** The L2 span: the guest bytes one L1 entry covers. */
function l2Span(img: Qcow2Image): number {
  return img.clusterSize * img.l2Entries;
}

/**
 * Where QEMU keeps a snapshot's VM state: in the snapshot's own L1 table, from the first L1
 * entry past the virtual disk (qcow2_vm_state_offset), so that its clusters come from the same
 * allocation and are counted as the disk's are.
 */
export function vmStateOffset(img: Qcow2Image, diskSize = img.size): number {
  return Math.ceil(diskSize / l2Span(img)) * l2Span(img);
}

/** The virtual disk size a snapshot recorded (v3 extra data), or the image's. */
function diskSizeOf(img: Qcow2Image, s: Snapshot): number {
  if (s.extra.length < 16) return img.size;
  return u64(new DataView(s.extra.buffer, s.extra.byteOffset, s.extra.byteLength), 8);
}

/**
 * Reads every table a new snapshot would touch (the snapshot table, the active L1 and each L2
 * table it reaches, each entry checked) without writing: a corrupt image fails here, unchanged.
 */
export function checkSnapshotable(img: Qcow2Image): void {
  if (img.readOnly) img.fail("the image is read-only");
  readSnapshots(img);
  for (const l2 of img.l1) {
    if (!l2) continue;
    const t = img.l2Table(l2);
    for (let i = 0; i < img.l2Entries; i++) img.decodeL2(t, i);
  }
}

/**
 * Writes a VM state into newly allocated clusters and L2 tables (counts of 1, referenced only by
 * the snapshot's L1), and returns the snapshot's L1: the active entries, then zeros up to the
 * vmstate area, then the new tables.
 */
function writeVmState(img: Qcow2Image, l1: number[], state: Uint8Array): number[] {
  const cs = img.clusterSize;
  const first = vmStateOffset(img) / l2Span(img);
  // In runs of at most a quarter of a refcount block's reach: a reserved run covering a whole
  // block's range would leave that block no cluster of its own to sit in.
  const perBlock = (cs * 8) / 2 ** img.header.refcountOrder;
  const run = Math.max(1, Math.floor(perBlock / 4)) * cs;
  const clusters: number[] = [];
  for (let at = 0; at < state.length; at += run) {
    const offset = writeNew(img, state.subarray(at, Math.min(state.length, at + run)));
    for (let o = 0; o < Math.min(run, state.length - at); o += cs) clusters.push(offset + o);
  }
  const out = [...l1];
  while (out.length < first) out.push(0);
  for (let t = 0; t * img.l2Entries < clusters.length; t++) {
    const table = new Uint8Array(cs);
    const v = new DataView(table.buffer);
    const part = clusters.slice(t * img.l2Entries, (t + 1) * img.l2Entries);
    // No COPIED flag: only the active tables carry it (QEMU's snapshot tables have none).
    for (const [i, o] of part.entries()) put64(v, i * 8, o);
    out.push(writeNew(img, table));
  }
  if (out.length * 8 > 32 << 20) img.fail("the VM state needs an L1 table larger than 32 MiB");
  return out;
}

/**
 * A new snapshot of the active image, with a VM state when `vm` is given (savevm), or disk-only
 * (vm_state_size 0, as `qemu-img snapshot -c` makes).
 */
export function createSnapshot(img: Qcow2Image, name: string, now = Date.now(), vm?: SnapshotVmState): Snapshot {
  if (img.readOnly) img.fail("the image is read-only");
  const list = readSnapshots(img);
  if (list.some((s) => s.name === name)) img.fail(`a snapshot named '${name}' exists already`);
  if (vm && img.header.version < 3 && vm.state.length > 0xffffffff)
    img.fail("a VM state of 4 GiB or more needs a version 3 image");
  const id = String(list.reduce((m, s) => Math.max(m, Number(s.id) || 0), 0) + 1);
  const l1 = [...img.l1];
  // Counts first (checked for overflow before any write), then the tables that reference them.
  updateTree(img, l1, 1);
  const snapL1 = vm && vm.state.length > 0 ? writeVmState(img, l1, vm.state) : l1;
  const l1Offset = writeNew(img, l1Bytes(snapL1));
  const vmStateSize = vm?.state.length ?? 0;
  const extra = new Uint8Array(24);
  const ev = new DataView(extra.buffer);
  put64(ev, 0, vmStateSize);
  put64(ev, 8, img.size);
  if (vm) {
    if (vm.icount === undefined) {
      ev.setUint32(16, 0xffffffff);
      ev.setUint32(20, 0xffffffff);
    } else put64(ev, 16, vm.icount);
  }
  // Without a VM, icount stays 0, as qemu-img writes it (no replay).
  const s: Snapshot = {
    l1Offset,
    l1Size: snapL1.length,
    id,
    name,
    dateSec: Math.floor(now / 1000),
    dateNsec: (now % 1000) * 1e6,
    vmClockNsec: vm?.vmClockNsec ?? 0,
    vmStateSize,
    extra: img.header.version === 3 ? extra : new Uint8Array(0),
  };
  writeTable(img, [...list, s]);
  fixCopiedFlags(img);
  img.flush();
  return s;
}

/** A snapshot's VM state (empty for a disk-only one), read through the snapshot's own L1. */
export function readVmState(img: Qcow2Image, s: Snapshot): Uint8Array {
  if (s.vmStateSize > 2 ** 31) img.fail(`snapshot ${s.id}'s VM state of ${s.vmStateSize} bytes is too large to load`);
  const out = new Uint8Array(s.vmStateSize);
  if (s.vmStateSize === 0) return out;
  const cs = img.clusterSize;
  const { offsets } = img.readL1(s.l1Offset, s.l1Size);
  const base = vmStateOffset(img, diskSizeOf(img, s));
  for (let pos = 0; pos < out.length; pos += cs) {
    const gc = (base + pos) / cs;
    const l2 = offsets[Math.floor(gc / img.l2Entries)];
    if (!l2) continue;
    const e = img.decodeL2(img.l2Table(l2), gc % img.l2Entries);
    const dest = out.subarray(pos, Math.min(out.length, pos + cs));
    if (e.kind === "data") img.file.read(e.offset, dest);
    else if (e.kind === "compressed") dest.set(img.inflate(e).subarray(0, dest.length));
  }
  return out;
}

/** The snapshot named (or numbered) `idOrName`, or undefined. */
export function findSnapshot(img: Qcow2Image, idOrName: string): Snapshot | undefined {
  const list = readSnapshots(img);
  return list.find((x) => x.id === idOrName) ?? list.find((x) => x.name === idOrName);
}

export function applySnapshot(img: Qcow2Image, idOrName: string): void {
  if (img.readOnly) img.fail("the image is read-only");
  const s = find(readSnapshots(img), idOrName, img);
  const { offsets } = img.readL1(s.l1Offset, s.l1Size);
  // The disk's entries only: those from the vmstate area on stay the snapshot's own.
  const diskEntries = Math.min(offsets.length, vmStateOffset(img, diskSizeOf(img, s)) / l2Span(img));
  if (diskEntries > img.header.l1Size) img.fail(`snapshot ${s.id}'s L1 table is larger than the image's`);
  const target = offsets.slice(0, diskEntries);
  while (target.length < img.header.l1Size) target.push(0);
  const old = [...img.l1];
  updateTree(img, target, 1);
  img.file.flush();
  for (const [i, o] of target.entries()) img.writeL1Entry(i, o, false);
  img.file.flush();
  updateTree(img, old, -1);
  fixCopiedFlags(img);
  img.flush();
}

export function deleteSnapshot(img: Qcow2Image, idOrName: string): void {
  if (img.readOnly) img.fail("the image is read-only");
  const list = readSnapshots(img);
  const s = find(list, idOrName, img);
  const { offsets } = img.readL1(s.l1Offset, s.l1Size);
  writeTable(
    img,
    list.filter((x) => x !== s),
  );
  updateTree(img, offsets, -1);
  if (s.l1Size) freeRange(img, s.l1Offset, s.l1Size * 8);
  fixCopiedFlags(img);
  img.flush();
}
