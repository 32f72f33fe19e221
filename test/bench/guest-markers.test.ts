// bench:guest's marker parser and table (bench/guest/markers.ts, report.ts): no emulator runs here.

import { describe, expect, it } from "vitest";
import { MarkerReader, median, parseMarker, runTimes } from "../../bench/guest/markers.js";
import { formatTable, outputMismatches, ratio, summarize } from "../../bench/guest/report.js";

/** A console transcript: [milliseconds, text] pairs as they would arrive from the emulator. */
function read(chunks: [number, string][]) {
  const r = new MarkerReader();
  for (const [at, text] of chunks) r.feed(text, at);
  return r;
}

describe("parseMarker", () => {
  it("reads each kind, with a carriage return or kernel text before it", () => {
    expect(parseMarker("@@bench init\r", 5)).toEqual({ kind: "init", atMs: 5 });
    expect(parseMarker("@@bench start md5sum-64M", 1)).toEqual({ kind: "start", name: "md5sum-64M", atMs: 1 });
    expect(parseMarker("[  3.1] x@@bench done sort-1M\r\r", 2)).toEqual({ kind: "done", name: "sort-1M", atMs: 2 });
    expect(parseMarker("@@bench out gzip 5825075 extra words", 3)).toEqual({
      kind: "out",
      name: "gzip",
      text: "5825075 extra words",
      atMs: 3,
    });
    expect(parseMarker("@@bench end", 4)?.kind).toBe("end");
  });

  it("ignores other lines and malformed markers", () => {
    expect(parseMarker("[    7.46] Run /init as init process", 0)).toBeUndefined();
    expect(parseMarker("@@bench start", 0)).toBeUndefined();
    expect(parseMarker("@@bench init now", 0)).toBeUndefined();
    expect(parseMarker("@@bench finish x", 0)).toBeUndefined();
  });
});

describe("MarkerReader and runTimes", () => {
  const transcript: [number, string][] = [
    [100, "Linux version 6.1\r\n[ 7.4] Run /init\r\n@@bench in"],
    [2500, "it\r\n@@bench start md5\r\n"],
    [4000, "@@bench done md5\r\n@@bench out md5 abc -\r\n@@bench start gz\r\n"],
    [9000, "@@bench done gz\r\n@@bench end\r\n@@bench end\r\n[ 51.0] reboot: Power down\r\n"],
  ];

  it("times a line by the arrival of its end, also when split across reads", () => {
    const r = read(transcript);
    expect(r.ended).toBe(true);
    expect(r.events.map((e) => `${e.kind}@${e.atMs}`)).toEqual([
      "init@2500",
      "start@2500",
      "done@4000",
      "out@4000",
      "start@4000",
      "done@9000",
      "end@9000",
      "end@9000",
    ]);
  });

  it("gives boot, each workload and the whole script in seconds", () => {
    const t = runTimes(read(transcript).events);
    expect(t.boot).toBe(2.5);
    expect(t.workloads).toEqual([
      { name: "md5", seconds: 1.5 },
      { name: "gz", seconds: 5 },
    ]);
    expect(t.total).toBe(9);
    expect(t.outputs).toEqual({ md5: "abc -" });
  });

  it("keeps what a run that stopped early reached", () => {
    const t = runTimes(read(transcript.slice(0, 3)).events);
    expect(t.boot).toBe(2.5);
    expect(t.workloads.map((w) => w.name)).toEqual(["md5"]);
    expect(t.total).toBeUndefined();
    expect(read(transcript.slice(0, 3)).ended).toBe(false);
  });
});

describe("summary and table", () => {
  const run = (boot: number, md5: number, total: number, out = "abc") => ({
    boot,
    workloads: [{ name: "md5", seconds: md5 }],
    total,
    outputs: { md5: out },
  });

  it("takes the median per marker and our time over each peer's", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeUndefined();
    const rows = summarize({
      ours: [run(100, 20, 200), run(120, 30, 260), run(110, 25, 230)],
      v86: [run(10, 5, 40), run(12, 4, 50)],
      qemu: [run(5, 2, 20)],
    });
    expect(rows.map((r) => r.marker)).toEqual(["power-on to /init", "md5", "whole script (power-on to end)"]);
    expect(rows[0]!.seconds).toEqual({ ours: 110, v86: 11, qemu: 5 });
    expect(rows[0]!.samples).toEqual({ ours: 3, v86: 2, qemu: 1 });
    expect(ratio(rows[0]!, "v86")).toBe(10);
    expect(ratio(rows[1]!, "qemu")).toBe(12.5);
    const table = formatTable(rows, ["ours", "v86", "qemu"]).split("\n");
    expect(table[0]).toMatch(/^\| marker .*\| ours \(s\) \| v86 \(s\) \| qemu \(s\) \| us \/ v86 \| us \/ qemu \|$/);
    expect(table[2]).toMatch(/^\| power-on to \/init +\| +110\.0 \| +11\.0 \| +5\.00 \| +10\.0x \| +22\.0x \|$/);
    expect(table[1]).toBe("| ------------------------------ | -------: | ------: | -------: | -------: | --------: |");
    expect(table).toHaveLength(5);
  });

  it("shows a dash where an emulator did not reach a marker, and no ratios without ours", () => {
    const rows = summarize({ v86: [{ boot: 10, workloads: [], outputs: {} }], qemu: [run(5, 2, 20)] });
    expect(rows[1]!.seconds).toEqual({ qemu: 2 });
    const table = formatTable(rows, ["v86", "qemu"]);
    expect(table).not.toContain("us /");
    expect(table.split("\n")[3]).toMatch(/^\| md5 +\| +- \| +2\.00 \|$/);
  });

  it("names the runs whose outputs differ", () => {
    expect(outputMismatches({ ours: [run(1, 1, 1)], v86: [run(1, 1, 1)] })).toEqual([]);
    expect(outputMismatches({ ours: [run(1, 1, 1), run(1, 1, 1, "bad")], qemu: [run(1, 1, 1)] })).toEqual([
      "md5: ours#1,qemu#1: abc | ours#2: bad",
    ]);
  });
});
