// The figures a lab step's disk and migration checks compare (format.ts DISK_FIGURES and
// MIGRATION_FIGURES): taken from what the Disk and Migrate tabs show, in the page and in the
// Node tests alike.

import type { MigrationInfo } from "../../../vmm/state/outgoing.js";
import type { DiskAllocation } from "../qcow2-view.js";
import type { DiskFigure, MigrationFigure } from "./format.js";

/** The qcow2 disk at the end of a run; `bootFileBytes` is the image file's size at boot. */
export function diskFigures(
  a: DiskAllocation,
  bootFileBytes: number,
  guestBytesWritten: number,
): Record<DiskFigure, number> {
  return {
    fileBytes: a.fileBytes,
    grownBytes: a.fileBytes - bootFileBytes,
    data: a.data,
    zero: a.zero,
    l2Tables: a.l2Tables,
    guestBytesWritten,
  };
}

/** A finished migration's figures (iterations = QEMU's dirty sync count; converged and completed are 1 or 0). */
export function migrationFigures(info: MigrationInfo): Record<MigrationFigure, number> {
  return {
    iterations: info.iterations.length,
    completed: info.status === "completed" ? 1 : 0,
    converged: info.stopReason === "converged" ? 1 : 0,
    downtimeMs: Math.round(info.downtimeMs ?? -1),
    totalTimeMs: Math.round(info.totalTimeMs),
    stopPages: info.stopPages,
    transferredBytes: info.transferredBytes,
    lastIterationPages: info.iterations.at(-1)?.pages ?? 0,
  };
}
