// `img check` for qcow2: walks every table that holds a reference (header, refcount table and
// blocks, active and snapshot L1 tables, their L2 tables, data and compressed clusters, the
// snapshot table), counts references per host cluster, and compares with the stored refcounts.
// A count above the references is a leak (space lost, data safe); below is corruption (a
// write could overwrite live data), as are wrong COPIED flags and references past the file's
// end. With repair, leaks (and with "all", corruptions of counts and flags) are fixed.

import type { L2Entry, Qcow2Image } from "./qcow2.js";
import { fixCopiedFlags, readSnapshots } from "./qcow2-snapshot.js";

export interface CheckResult {
  /** Corruptions: counts below references, bad flags, references past the end. */
  corruptions: number;
  leaks: number;
  /** Fixed by repair. */
  corruptionsFixed: number;
  leaksFixed: number;
  messages: string[];
  totalClusters: number;
  allocatedClusters: number;
  fragmentedClusters: number;
  compressedClusters: number;
  imageEndOffset: number;
}

export function checkQcow2(img: Qcow2Image, repair?: "leaks" | "all"): CheckResult {
  const cs = img.clusterSize;
  const fileClusters = Math.ceil(img.file.size() / cs);
  const refs = new Map<number, number>();
  const messages: string[] = [];
  let corruptions = 0;
  const ref = (offset: number, bytes: number, what: string) => {
    const first = Math.floor(offset / cs);
    const last = Math.floor((offset + Math.max(bytes, 1) - 1) / cs);
    for (let c = first; c <= last; c++) {
      if (c >= fileClusters) {
        messages.push(`ERROR ${what} at offset ${c * cs} is beyond the end of the image file`);
        corruptions++;
        continue;
      }
      refs.set(c, (refs.get(c) ?? 0) + 1);
    }
  };
  const h = img.header;
  ref(0, cs, "header");
  ref(img.refcounts.tableOffset, img.refcounts.tableClusters * cs, "refcount table");
  for (const b of img.refcounts.blockOffsets()) ref(b, cs, "refcount block");
  const stats = { allocated: 0, fragmented: 0, compressed: 0 };
  const walk = (l1: number[], active: boolean) => {
    let lastHost = -1;
    for (const l2 of l1) {
      if (!l2) continue;
      ref(l2, cs, "L2 table");
      const t = img.l2Table(l2);
      for (let i = 0; i < img.l2Entries; i++) {
        let e: L2Entry;
        try {
          e = img.decodeL2(t, i);
        } catch (err) {
          messages.push(`ERROR ${(err as Error).message}`);
          corruptions++;
          continue;
        }
        if (e.kind === "compressed") {
          ref(e.offset, e.compressedSize, "compressed cluster");
          if (active) {
            stats.allocated++;
            stats.compressed++;
          }
        } else if (e.offset) {
          ref(e.offset, cs, "data cluster");
          if (active && e.kind === "data") {
            stats.allocated++;
            if (lastHost >= 0 && e.offset !== lastHost + cs) stats.fragmented++;
            lastHost = e.offset;
          }
        }
      }
    }
  };
  if (h.l1Size) ref(h.l1Offset, h.l1Size * 8, "L1 table");
  walk(img.l1, true);
  const snapshots = readSnapshots(img);
  if (snapshots.length) {
    const bytes = snapshots.reduce((n, s) => n + Math.ceil((40 + s.extra.length + enc(s.id) + enc(s.name)) / 8) * 8, 0);
    ref(h.snapshotsOffset, bytes, "snapshot table");
  }
  for (const s of snapshots) {
    if (s.l1Size) ref(s.l1Offset, s.l1Size * 8, `snapshot ${s.id}'s L1 table`);
    walk(img.readL1(s.l1Offset, s.l1Size).offsets, false);
  }
  // Compare with the stored counts.
  let leaks = 0;
  let leaksFixed = 0;
  let corruptionsFixed = 0;
  const rc = img.refcounts;
  const last = Math.max(fileClusters, rc.countedClusters);
  let end = 0;
  for (let c = 0; c < last; c++) {
    const stored = rc.get(c);
    const wanted = refs.get(c) ?? 0;
    if (stored || wanted) end = c + 1;
    if (stored === wanted) continue;
    if (stored > wanted) {
      messages.push(`${repair ? "Repairing" : "Leaked"} cluster ${c} refcount=${stored} reference=${wanted}`);
      leaks++;
      if (repair) {
        rc.set(c, wanted);
        leaksFixed++;
      }
    } else {
      messages.push(`${repair === "all" ? "Repairing" : "ERROR"} cluster ${c} refcount=${stored} reference=${wanted}`);
      corruptions++;
      if (repair === "all") {
        rc.set(c, Math.min(wanted, rc.max));
        corruptionsFixed++;
      }
    }
  }
  // COPIED flags in the active tables: set exactly when the count is 1. A flag set on a shared
  // cluster is the dangerous case (a write would change a snapshot); QEMU counts both as errors.
  let flagErrors = 0;
  const hex = (offset: number, copied: boolean, low = 0) =>
    (BigInt(offset) | BigInt(low) | (copied ? 1n << 63n : 0n)).toString(16);
  img.l1.forEach((l2, i) => {
    if (!l2) return;
    const count = rc.get(l2 / cs);
    if ((count === 1) !== img.l1Copied[i]) {
      flagErrors++;
      messages.push(
        `ERROR OFLAG_COPIED L2 cluster: l1_index=${i} l1_entry=${hex(l2, img.l1Copied[i])} refcount=${count}`,
      );
    }
    const t = img.l2Table(l2);
    for (let j = 0; j < img.l2Entries; j++) {
      try {
        const e = img.decodeL2(t, j);
        if (e.kind === "compressed" || !e.offset) continue;
        const n = rc.get(e.offset / cs);
        if ((n === 1) !== e.copied) {
          flagErrors++;
          messages.push(
            `ERROR OFLAG_COPIED data cluster: l2_entry=${hex(e.offset, e.copied, e.kind === "zero" ? 1 : 0)} refcount=${n}`,
          );
        }
      } catch {}
    }
  });
  if (flagErrors) {
    corruptions += flagErrors;
    if (repair === "all") {
      fixCopiedFlags(img);
      corruptionsFixed += flagErrors;
    }
  }
  if (repair) img.flush();
  return {
    corruptions,
    leaks,
    corruptionsFixed,
    leaksFixed,
    messages,
    totalClusters: Math.ceil(img.size / cs),
    allocatedClusters: stats.allocated,
    fragmentedClusters: stats.fragmented,
    compressedClusters: stats.compressed,
    imageEndOffset: end * cs,
  };
}

function enc(s: string): number {
  return new TextEncoder().encode(s).length;
}
