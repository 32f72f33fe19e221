// The marker lines bench/guest/init prints on the serial console, read as they arrive, and the
// times the host takes from them (see the comment at the top of bench/guest/init):
//   @@bench init | start NAME | done NAME | out NAME TEXT | end

export type MarkerKind = "init" | "start" | "done" | "out" | "end";

export interface MarkerEvent {
  kind: MarkerKind;
  /** The workload (start, done, out). */
  name?: string;
  /** What the workload computed (out). */
  text?: string;
  /** Host milliseconds from starting the emulator to the arrival of the line's end. */
  atMs: number;
}

const MARKER = /@@bench (init|start|done|out|end)(?: (\S+))?(?: (.*))?$/;

/** Parses one console line (without its line end); undefined when it holds no marker. */
export function parseMarker(line: string, atMs: number): MarkerEvent | undefined {
  const m = MARKER.exec(line.replace(/\r+$/, ""));
  if (!m) return undefined;
  const kind = m[1] as MarkerKind;
  const needsName = kind === "start" || kind === "done" || kind === "out";
  if (needsName !== (m[2] !== undefined)) return undefined;
  const ev: MarkerEvent = { kind, atMs };
  if (m[2] !== undefined) ev.name = m[2];
  if (kind === "out") ev.text = (m[3] ?? "").trim();
  return ev;
}

/**
 * Splits a byte stream into lines and collects their markers. A line is timed when its line end
 * arrives, so a marker split across two reads is timed by the second.
 */
export class MarkerReader {
  readonly events: MarkerEvent[] = [];
  private partial = "";

  /** Feeds console text that arrived at atMs; returns the markers it completed. */
  feed(text: string, atMs: number): MarkerEvent[] {
    const lines = (this.partial + text).split("\n");
    this.partial = lines.pop() ?? "";
    // a console that never ends a line must not grow this without bound
    if (this.partial.length > 4096) this.partial = this.partial.slice(-4096);
    const found: MarkerEvent[] = [];
    for (const line of lines) {
      const ev = parseMarker(line, atMs);
      if (ev) found.push(ev);
    }
    this.events.push(...found);
    return found;
  }

  get ended(): boolean {
    return this.events.some((e) => e.kind === "end");
  }
}

/** The times of one run, in seconds; a run that stopped early has only what it reached. */
export interface RunTimes {
  /** Power-on (starting the emulator's process) to the first line of /init. */
  boot?: number;
  /** Each workload's start line to its done line, in the order the guest ran them. */
  workloads: { name: string; seconds: number }[];
  /** Power-on to the end line. */
  total?: number;
  /** What each workload computed (its out line). */
  outputs: Record<string, string>;
}

/** The times a run's markers give (the first of a repeated marker counts). */
export function runTimes(events: readonly MarkerEvent[]): RunTimes {
  const first = (kind: MarkerKind, name?: string) => events.find((e) => e.kind === kind && e.name === name);
  const times: RunTimes = { workloads: [], outputs: {} };
  const init = first("init");
  if (init) times.boot = init.atMs / 1000;
  const seen = new Set<string>();
  for (const s of events) {
    if (s.kind !== "start" || s.name === undefined || seen.has(s.name)) continue;
    seen.add(s.name);
    const d = events.find((e) => e.kind === "done" && e.name === s.name && e.atMs >= s.atMs);
    if (d) times.workloads.push({ name: s.name, seconds: (d.atMs - s.atMs) / 1000 });
    const o = first("out", s.name);
    if (o?.text !== undefined) times.outputs[s.name] = o.text;
  }
  const end = first("end");
  if (end) times.total = end.atMs / 1000;
  return times;
}

export function median(xs: readonly number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1]! + s[mid]!) / 2;
}
