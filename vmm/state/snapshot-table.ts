// The snapshot table as qemu-img and QEMU's monitor print it (ID, TAG, VM SIZE, DATE, VM CLOCK,
// ICOUNT), for `img snapshot -l`, `img info` and the monitor's `info snapshots`.

import type { SnapshotListing, SnapshotRow } from "./store.js";

/** qemu's size_to_str: three significant digits in the binary unit below 1000 of it. */
export function sizeToStr(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
  const scaled = bytes / (1000 / 1024);
  const exp = scaled >= 1 ? Math.floor(Math.log2(scaled)) + 1 : 0;
  const i = Math.max(0, Math.floor((exp - 1) / 10));
  const v = bytes / 2 ** (i * 10);
  return `${Number(v.toPrecision(3))} ${units[i]}`;
}

const pad2 = (n: number) => String(n).padStart(2, "0");

/** The header line and one line per snapshot (local time, as QEMU prints it). */
export function snapshotTable(rows: SnapshotRow[]): string {
  const line = (id: string, tag: string, size: string, date: string, clock: string, icount: string) =>
    `${id.padEnd(9)} ${tag.padEnd(17)} ${size.padStart(7)}${date.padStart(20)}${clock.padStart(13)}${icount.padStart(11)}`;
  const lines = [line("ID", "TAG", "VM SIZE", "DATE", "VM CLOCK", "ICOUNT")];
  for (const r of rows) {
    const d = new Date(Math.floor(r.dateMs / 1000) * 1000);
    const date = `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
    let clock = "";
    if (r.vmClockNs !== undefined) {
      const ms = Math.floor(r.vmClockNs / 1e6);
      clock = `${pad2(Math.floor(ms / 3600000))}:${pad2(Math.floor(ms / 60000) % 60)}:${pad2(Math.floor(ms / 1000) % 60)}.${String(ms % 1000).padStart(3, "0")}`;
    }
    lines.push(
      line(r.id, r.name, sizeToStr(r.vmStateSize), date, clock, r.icount === undefined ? "" : String(r.icount)),
    );
  }
  return lines.join("\n");
}

/** `info snapshots` as QEMU's monitor prints it. */
export function infoSnapshots(l: SnapshotListing): string {
  if (l.rows.length === 0 && l.partial.length === 0) return "There is no snapshot available.\n";
  let out = `List of snapshots present on all disks:\n${l.rows.length ? snapshotTable(l.rows) : "None"}\n`;
  for (const p of l.partial) {
    out += `\nList of partial (non-loadable) snapshots on '${p.where}':\n${snapshotTable(p.rows)}\n`;
  }
  return out;
}
