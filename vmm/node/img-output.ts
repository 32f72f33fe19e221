// What `img` prints, in qemu-img's shapes: sizes as "396 KiB", `info` in text and JSON, the
// snapshot table, `map`'s text and JSON lines, and `check`'s report and JSON.

import { statSync } from "node:fs";
import { snapshotTable as formatSnapshotTable, sizeToStr } from "../state/snapshot-table.js";
import { chainOf, type DiskImage } from "../storage/image.js";
import { Qcow2Image } from "../storage/qcow2.js";
import type { CheckResult } from "../storage/qcow2-check.js";
import { readSnapshots, type Snapshot } from "../storage/qcow2-snapshot.js";

export { sizeToStr };

function actualSize(path: string): number {
  try {
    return statSync(path).blocks * 512;
  } catch {
    return 0;
  }
}

function snapshotJson(s: Snapshot): Record<string, unknown> {
  const icount = icountOf(s);
  return {
    ...(icount === undefined ? {} : { icount }),
    "vm-clock-nsec": s.vmClockNsec % 1e9,
    name: s.name,
    "date-sec": s.dateSec,
    "date-nsec": s.dateNsec,
    "vm-clock-sec": Math.floor(s.vmClockNsec / 1e9),
    id: s.id,
    "vm-state-size": s.vmStateSize,
  };
}

function icountOf(s: Snapshot): number | undefined {
  if (s.extra.length < 24) return undefined;
  const v = new DataView(s.extra.buffer, s.extra.byteOffset);
  if (v.getUint32(16) === 0xffffffff && v.getUint32(20) === 0xffffffff) return undefined;
  return v.getUint32(16) * 2 ** 32 + v.getUint32(20);
}

export function snapshotTable(list: Snapshot[]): string {
  return formatSnapshotTable(
    list.map((s) => ({
      id: s.id,
      name: s.name,
      vmStateSize: s.vmStateSize,
      dateMs: s.dateSec * 1000,
      vmClockNs: s.vmClockNsec,
      icount: icountOf(s),
    })),
  );
}

/** `info`'s fields for one image, as qemu-img's JSON names them. */
export function infoJson(image: DiskImage, filename: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (image instanceof Qcow2Image) {
    const h = image.header;
    if (h.backingFormat !== undefined) out["backing-filename-format"] = h.backingFormat;
    const snaps = readSnapshots(image);
    if (snaps.length) out.snapshots = snaps.map(snapshotJson);
  }
  out["virtual-size"] = image.size;
  out.filename = filename;
  if (image instanceof Qcow2Image) out["cluster-size"] = image.clusterSize;
  out.format = image.format;
  out["actual-size"] = actualSize(image.file.name);
  if (image instanceof Qcow2Image) {
    const h = image.header;
    const data: Record<string, unknown> = { compat: h.version === 3 ? "1.1" : "0.10" };
    data["compression-type"] = "zlib";
    if (h.version === 3) {
      data["lazy-refcounts"] = (h.compatible & 1) !== 0;
      data["refcount-bits"] = 2 ** h.refcountOrder;
      data.corrupt = (h.incompatible & 2) !== 0;
      data["extended-l2"] = false;
    } else data["refcount-bits"] = 16;
    out["format-specific"] = { type: "qcow2", data };
    if (h.backingFile !== undefined) {
      out["full-backing-filename"] = image.backing?.file.name ?? h.backingFile;
      out["backing-filename"] = h.backingFile;
    }
    out["dirty-flag"] = (h.incompatible & 1) !== 0;
  } else out["dirty-flag"] = false;
  return out;
}

export function infoText(image: DiskImage, filename: string): string {
  const j = infoJson(image, filename);
  const lines = [
    `image: ${filename}`,
    `file format: ${image.format}`,
    `virtual size: ${sizeToStr(image.size)} (${image.size} bytes)`,
    `disk size: ${sizeToStr(j["actual-size"] as number)}`,
  ];
  if (image instanceof Qcow2Image) {
    const h = image.header;
    lines.push(`cluster_size: ${image.clusterSize}`);
    if (h.backingFile !== undefined) {
      lines.push(
        `backing file: ${h.backingFile}${j["full-backing-filename"] !== h.backingFile ? ` (actual path: ${j["full-backing-filename"]})` : ""}`,
      );
      if (h.backingFormat !== undefined) lines.push(`backing file format: ${h.backingFormat}`);
    }
    const snaps = readSnapshots(image);
    if (snaps.length) lines.push("Snapshot list:", snapshotTable(snaps));
    const data = (j["format-specific"] as { data: Record<string, unknown> }).data;
    lines.push("Format specific information:");
    for (const [k, v] of Object.entries(data)) lines.push(`    ${k.replace(/-/g, " ")}: ${v}`);
  }
  return lines.join("\n");
}

/** JSON in qemu-img's layout: four-space indent. */
export function json(v: unknown): string {
  return JSON.stringify(v, null, 4);
}

export interface MapEntry {
  start: number;
  length: number;
  depth: number;
  present: boolean;
  zero: boolean;
  data: boolean;
  offset?: number;
  file?: string;
}

/** The chain's allocation map: for each run, the first layer that decides it. */
export function mapChain(top: DiskImage): MapEntry[] {
  const chain = chainOf(top);
  const out: MapEntry[] = [];
  let pos = 0;
  while (pos < top.size) {
    let len = top.size - pos;
    let entry: MapEntry | undefined;
    for (let depth = 0; depth < chain.length && !entry; depth++) {
      const layer = chain[depth]!;
      if (pos >= layer.size) {
        // Past a shorter backing file's end: zeros that no layer holds.
        entry = { start: pos, length: len, depth: depth - 1, present: false, zero: true, data: false };
        break;
      }
      const st = layer.status(pos, Math.min(len, layer.size - pos));
      len = Math.min(len, st.length);
      if (st.allocated) {
        entry = { start: pos, length: len, depth, present: true, zero: st.zero, data: !st.zero };
        if (st.hostOffset !== undefined) {
          entry.offset = st.hostOffset;
          entry.file = layer.file.name;
        }
      } else if (depth === chain.length - 1) {
        entry = { start: pos, length: len, depth, present: false, zero: true, data: false };
      }
    }
    const e = entry!;
    const last = out[out.length - 1];
    if (
      last &&
      last.depth === e.depth &&
      last.present === e.present &&
      last.zero === e.zero &&
      last.data === e.data &&
      (last.offset === undefined ? e.offset === undefined : e.offset === last.offset + last.length)
    ) {
      last.length += e.length;
    } else out.push(e);
    pos += e.length;
  }
  return out;
}

export function mapJson(entries: MapEntry[]): string {
  const lines = entries.map(
    (e) =>
      `{ "start": ${e.start}, "length": ${e.length}, "depth": ${e.depth}, "present": ${e.present}, "zero": ${e.zero}, "data": ${e.data}${e.offset === undefined ? "" : `, "offset": ${e.offset}`}}`,
  );
  return `[${lines.join(",\n")}]`;
}

export function mapText(entries: MapEntry[]): string {
  const hex = (n: number) => `0x${n.toString(16)}`;
  const lines = [`${"Offset".padEnd(16)}${"Length".padEnd(16)}${"Mapped to".padEnd(16)}File`];
  for (const e of entries) {
    if (!e.data || e.offset === undefined) continue;
    lines.push(`${hex(e.start).padEnd(16)}${hex(e.length).padEnd(16)}${hex(e.offset).padEnd(16)}${e.file}`);
  }
  return lines.join("\n");
}

export function checkText(r: CheckResult, repaired: boolean): string {
  const lines: string[] = [];
  if (r.corruptions - r.corruptionsFixed === 0 && r.leaks - r.leaksFixed === 0)
    lines.push("No errors were found on the image.");
  if (r.corruptions - r.corruptionsFixed > 0) {
    lines.push(
      "",
      `${r.corruptions - r.corruptionsFixed} errors were found on the image.`,
      "Data may be corrupted, or further writes to the image may corrupt it.",
    );
  }
  if (r.leaks - r.leaksFixed > 0) {
    lines.push(
      "",
      `${r.leaks - r.leaksFixed} leaked clusters were found on the image.`,
      "This means waste of disk space, but no harm to data.",
    );
  }
  if (repaired && (r.leaksFixed || r.corruptionsFixed)) {
    lines.unshift(
      "The following inconsistencies were found and repaired:",
      "",
      `    ${r.leaksFixed} leaked clusters`,
      `    ${r.corruptionsFixed} corruptions`,
      "",
    );
  }
  const pct = (n: number) => fixed2((100 * n) / Math.max(1, r.totalClusters));
  const ofAllocated = (n: number) => fixed2((100 * n) / Math.max(1, r.allocatedClusters));
  if (r.totalClusters && r.allocatedClusters) {
    lines.push(
      `${r.allocatedClusters}/${r.totalClusters} = ${pct(r.allocatedClusters)}% allocated, ${ofAllocated(r.fragmentedClusters)}% fragmented, ${ofAllocated(r.compressedClusters)}% compressed clusters`,
    );
  }
  lines.push(`Image end offset: ${r.imageEndOffset}`);
  return lines.join("\n");
}

/** printf's %.2f: an exact half rounds to even (3.125 -> 3.12), as C does. */
function fixed2(v: number): string {
  const s = v * 100;
  const f = Math.floor(s);
  const d = s - f;
  const r = d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
  return (r / 100).toFixed(2);
}

export function checkJson(r: CheckResult, filename: string): string {
  const out: Record<string, unknown> = { "image-end-offset": r.imageEndOffset, "total-clusters": r.totalClusters };
  out["check-errors"] = 0;
  if (r.leaks - r.leaksFixed) out.leaks = r.leaks - r.leaksFixed;
  if (r.corruptions - r.corruptionsFixed) out.corruptions = r.corruptions - r.corruptionsFixed;
  if (r.leaksFixed) out["leaks-fixed"] = r.leaksFixed;
  if (r.corruptionsFixed) out["corruptions-fixed"] = r.corruptionsFixed;
  if (r.allocatedClusters) out["allocated-clusters"] = r.allocatedClusters;
  out.filename = filename;
  out.format = "qcow2";
  if (r.fragmentedClusters) out["fragmented-clusters"] = r.fragmentedClusters;
  if (r.compressedClusters) out["compressed-clusters"] = r.compressedClusters;
  return json(out);
}
