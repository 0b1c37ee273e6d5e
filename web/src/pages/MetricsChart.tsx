import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  name: string;
  unit: string;
  labels?: Record<string, string>;
  /** [unix seconds, value] (the API's tuples, typed as arrays by the generator) */
  points: number[][];
}

const COLORS = ['#0b57d0', '#c5221f', '#188038', '#b06000', '#8430ce'];

/** The series' times joined (uPlot wants one x array); a series without a point at a time has a gap. */
function align(series: Series[]): uPlot.AlignedData {
  const xs = [...new Set(series.flatMap((s) => s.points.map((p) => p[0] ?? 0)))].sort((a, b) => a - b);
  const ys = series.map((s) => {
    const at = new Map(s.points.map((p) => [p[0] ?? 0, p[1] ?? null]));
    return xs.map((x) => at.get(x) ?? null);
  });
  return [xs, ...ys];
}

const labelOf = (s: Series) =>
  s.labels && Object.keys(s.labels).length ? Object.values(s.labels).join(' ') : s.name;

/** One chart (uPlot, canvas) of the series that share a name, e.g. latency p50/p95/p99. Loaded only by the Observability tab. */
export default function MetricsChart({
  title,
  series,
  from,
  to,
}: {
  title: string;
  series: Series[];
  /** The window asked for (unix seconds): the time axis spans it even when few points fall in it. */
  from: number;
  to: number;
}) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const width = Math.max(280, Math.min(560, el.clientWidth || 560));
    // A canvas does not follow CSS: the axes take the theme's text color when drawn.
    const ink = getComputedStyle(el).color;
    const chart = new uPlot(
      {
        width,
        height: 160,
        series: [
          {},
          ...series.map((s, i) => ({
            label: labelOf(s),
            stroke: COLORS[i % COLORS.length] ?? '#0b57d0',
            width: 1.5,
            spanGaps: false,
          })),
        ],
        axes: [{ stroke: ink }, { stroke: ink, size: 56 }],
        scales: { x: { time: true, range: () => [from, to] } },
        legend: { show: true },
      },
      align(series),
      el,
    );
    return () => chart.destroy();
  }, [series, from, to]);
  const unit = series[0]?.unit ?? '';
  const summary = series
    .map((s) => {
      const last = s.points.at(-1)?.[1];
      return `${labelOf(s)}: ${last === undefined ? 'no data' : `${Number(last.toFixed(2))} ${unit}`}`;
    })
    .join('; ');
  return (
    <figure className="chart">
      <figcaption>
        {title} <span className="muted">({unit})</span>
      </figcaption>
      <div ref={box} role="img" aria-label={`${title}, last values: ${summary}`} />
    </figure>
  );
}
