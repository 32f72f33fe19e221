// virsh's output shapes: its tables (vsh-table.c: a leading space, columns padded to the widest
// cell plus three spaces, the last one not padded, a dashes line as wide as every column plus
// three), its "Label:  value" blocks (%-15s), and its capacities (vshPrettyCapacity: 2 decimals
// and a binary unit).

/** A virsh table: header row, dashes, rows. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    ` ${cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]! + 3))).join("")}`.trimEnd();
  const dashes = "-".repeat(widths.reduce((a, w) => a + w + 3, 0));
  return `${[line(headers), dashes, ...rows.map(line)].join("\n")}\n`;
}

/** virsh's "Label:         value" lines. */
export function fields(pairs: [string, string | number][]): string {
  return `${pairs.map(([k, v]) => `${`${k}:`.padEnd(15)} ${v}`).join("\n")}\n`;
}

/** vshPrettyCapacity: 512.00 B, 1.00 GiB. */
export function prettyCapacity(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(2)} ${units[u]}`;
}

/** A snapshot's creation time as virsh prints it: 2024-01-01 10:00:00 +0000 (local time). */
export function snapshotTime(seconds: number): string {
  const d = new Date(seconds * 1000);
  const off = -d.getTimezoneOffset();
  const p = (n: number) => String(Math.abs(n)).padStart(2, "0");
  const tz = `${off >= 0 ? "+" : "-"}${p(Math.trunc(off / 60))}${p(off % 60)}`;
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${tz}`;
}
