// A streaming time-series chart (uPlot): x is seconds since boot, one series per kind. uPlot draws
// on a canvas; its data is replaced on every update, the chart object is built once per series set.

import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";

/** 1, 10, 100, 1k, 10k, 1M: short tick labels for a logarithmic axis. */
function compact(n: number | null): string {
  if (n === null || !Number.isFinite(n)) return "";
  if (n >= 1e9) return `${n / 1e9}G`;
  if (n >= 1e6) return `${n / 1e6}M`;
  if (n >= 1e3) return `${n / 1e3}k`;
  return String(n);
}

export interface SeriesSpec {
  label: string;
  color: string;
}

interface Props {
  title: string;
  series: SeriesSpec[];
  /** [x, y1, y2, ...], each the same length. */
  data: (number | null)[][];
  height?: number;
  /** A logarithmic y axis (the default: rates span orders of magnitude); false: linear from 0. */
  log?: boolean;
  /** Tick labels of the y axis (default: 1k, 1M, ...). */
  yValues?: (n: number) => string;
}

export function Chart({ title, series, data, height = 220, log = true, yValues = compact }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  /** What the canvas shows: the x points, the last x and the number of series. */
  const drawn = useRef<{ n: number; last: number | null | undefined; series: number }>({
    n: -1,
    last: null,
    series: 0,
  });
  const key = series.map((s) => s.label + s.color).join("|");
  useEffect(() => {
    const el = box.current!;
    const opts: uPlot.Options = {
      width: Math.max(280, el.clientWidth),
      height,
      scales: { x: { time: false }, y: log ? { distr: 3 } : { range: (_u, _min, max) => [0, Math.max(1, max)] } },
      axes: [
        { stroke: "#aaa", grid: { stroke: "#333" }, ticks: { stroke: "#444" } },
        {
          stroke: "#aaa",
          grid: { stroke: "#333" },
          ticks: { stroke: "#444" },
          size: 50,
          values: (_u: uPlot, splits: number[]) => splits.map(yValues),
        },
      ],
      legend: { show: false },
      series: [
        { label: "s" },
        ...series.map((s) => ({ label: s.label, stroke: s.color, width: 1.5, spanGaps: false })),
      ],
    };
    const u = new uPlot(opts, data as uPlot.AlignedData, el);
    plot.current = u;
    drawn.current = { n: data[0]?.length ?? 0, last: data[0]?.at(-1), series: data.length };
    const resize = new ResizeObserver(() => u.setSize({ width: Math.max(280, el.clientWidth), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
      plot.current = undefined;
    };
  }, [key, height, log]);
  // The page re-renders on every message from the Worker (serial output, the VGA screen, status),
  // but the data changes only with a stats message (four a second): redraw the canvas only then.
  useEffect(() => {
    const x = data[0] ?? [];
    const d = drawn.current;
    if (d.n === x.length && d.last === x[x.length - 1] && d.series === data.length) return;
    drawn.current = { n: x.length, last: x[x.length - 1], series: data.length };
    plot.current?.setData(data as uPlot.AlignedData);
  });
  // The canvas is hidden from assistive technology: the tables beside it carry the same numbers.
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <div ref={box} aria-hidden="true" />
    </figure>
  );
}
