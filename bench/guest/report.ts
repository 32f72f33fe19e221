// The table of bench:guest: per marker the median over rounds for each emulator, and our time
// over each peer's. Also checks that every run computed the same outputs.

import { median, type RunTimes } from "./markers.js";

export const PEERS = ["ours", "v86", "qemu"] as const;
export type Peer = (typeof PEERS)[number];

export const BOOT_ROW = "power-on to /init";
export const TOTAL_ROW = "whole script (power-on to end)";

export interface Row {
  marker: string;
  /** Median seconds per emulator, over the runs that reached the marker. */
  seconds: Partial<Record<Peer, number>>;
  /** How many runs of each emulator reached it. */
  samples: Partial<Record<Peer, number>>;
}

/** One row per marker: boot, the workloads in the order the guest runs them, the whole script. */
export function summarize(runs: Partial<Record<Peer, RunTimes[]>>): Row[] {
  const names: string[] = [];
  for (const list of Object.values(runs)) {
    for (const r of list ?? []) for (const w of r.workloads) if (!names.includes(w.name)) names.push(w.name);
  }
  const pick = (f: (r: RunTimes) => number | undefined) => (marker: string) => {
    const row: Row = { marker, seconds: {}, samples: {} };
    for (const p of PEERS) {
      const xs = (runs[p] ?? []).map(f).filter((x): x is number => x !== undefined);
      const m = median(xs);
      if (m !== undefined) {
        row.seconds[p] = m;
        row.samples[p] = xs.length;
      }
    }
    return row;
  };
  return [
    pick((r) => r.boot)(BOOT_ROW),
    ...names.map((n) => pick((r) => r.workloads.find((w) => w.name === n)?.seconds)(n)),
    pick((r) => r.total)(TOTAL_ROW),
  ];
}

/** Our time over the peer's (above 1: we are slower). */
export function ratio(row: Row, peer: Peer): number | undefined {
  const us = row.seconds.ours;
  const them = row.seconds[peer];
  return us !== undefined && them !== undefined && them > 0 ? us / them : undefined;
}

function secs(x: number | undefined): string {
  return x === undefined ? "-" : x.toFixed(x < 10 ? 2 : 1);
}

function times(x: number | undefined): string {
  return x === undefined ? "-" : `${x.toFixed(x < 10 ? 2 : 1)}x`;
}

/** A Markdown table: marker, seconds per emulator that ran, then us/v86 and us/qemu. */
export function formatTable(rows: readonly Row[], peers: readonly Peer[]): string {
  const head = ["marker", ...peers.map((p) => `${p} (s)`)];
  const ratioPeers = peers.includes("ours") ? peers.filter((p) => p !== "ours") : [];
  for (const p of ratioPeers) head.push(`us / ${p}`);
  const body = rows.map((r) => [
    r.marker,
    ...peers.map((p) => secs(r.seconds[p])),
    ...ratioPeers.map((p) => times(ratio(r, p))),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ")} |`;
  // the delimiter row as Biome formats Markdown, so the table can be pasted into the README
  const rule = line(widths.map((w, i) => (i === 0 ? "-".repeat(w) : `${"-".repeat(w - 1)}:`)));
  return [line(head), rule, ...body.map(line)].join("\n");
}

/** Workloads whose output differs between runs (any emulator, any round): one line each. */
export function outputMismatches(runs: Partial<Record<Peer, RunTimes[]>>): string[] {
  const seen = new Map<string, Map<string, string[]>>();
  for (const p of PEERS) {
    (runs[p] ?? []).forEach((r, i) => {
      for (const [name, text] of Object.entries(r.outputs)) {
        const byText = seen.get(name) ?? new Map<string, string[]>();
        byText.set(text, [...(byText.get(text) ?? []), `${p}#${i + 1}`]);
        seen.set(name, byText);
      }
    });
  }
  const out: string[] = [];
  for (const [name, byText] of seen) {
    if (byText.size < 2) continue;
    const parts = [...byText].map(([text, who]) => `${who.join(",")}: ${text}`);
    out.push(`${name}: ${parts.join(" | ")}`);
  }
  return out;
}
