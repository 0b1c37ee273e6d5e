import type { Command } from 'commander';
import type { ComponentMetrics, MetricSeries } from '../../observability/metrics/component-metrics.js';
import { clientFor, globals, requireProject } from '../context.js';
import { printObject } from '../output.js';

const enc = encodeURIComponent;
const BARS = '▁▂▃▄▅▆▇█';
const WIDTH = 40;

/** Up to `width` bars, each the mean of the points that fall in its slice of the series. */
export function sparkline(values: number[], width = WIDTH): string {
  if (values.length === 0) return '';
  const slices = Math.min(width, values.length);
  const means: number[] = [];
  for (let i = 0; i < slices; i++) {
    const part = values.slice(
      Math.floor((i * values.length) / slices),
      Math.floor(((i + 1) * values.length) / slices),
    );
    means.push(part.reduce((a, b) => a + b, 0) / part.length);
  }
  const lo = Math.min(...means);
  const hi = Math.max(...means);
  return means
    .map((v) => BARS[hi === lo ? 0 : Math.round(((v - lo) / (hi - lo)) * (BARS.length - 1))])
    .join('');
}

/** A number in at most 6 characters: 0, 12.3, 1234, 12.3k. */
export function compact(n: number): string {
  const a = Math.abs(n);
  if (a >= 100_000) return `${(n / 1000).toFixed(0)}k`;
  if (a >= 1000 || Number.isInteger(n)) return n.toFixed(0);
  return a >= 10 ? n.toFixed(1) : n.toFixed(2);
}

const nameOf = (s: MetricSeries) => (s.labels ? `${s.name} ${Object.values(s.labels).join(',')}` : s.name);

/** The table: one row per series with min, mean, max and last, and its sparkline. */
export function metricsTable(m: ComponentMetrics): string {
  const rows = m.series.map((s) => {
    const v = s.points.map((p) => p[1]);
    if (v.length === 0) return [nameOf(s), s.unit, '-', '-', '-', '-', 'no data'];
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    return [
      nameOf(s),
      s.unit,
      compact(Math.min(...v)),
      compact(mean),
      compact(Math.max(...v)),
      compact(v.at(-1) ?? 0),
      sparkline(v),
    ];
  });
  const head = ['SERIES', 'UNIT', 'MIN', 'AVG', 'MAX', 'LAST', ''];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i >= 2 && i <= 5 ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const range = `${new Date(m.from * 1000).toISOString()} → ${new Date(m.to * 1000).toISOString()}, every ${m.step} s`;
  return [`${m.component} in ${m.environment}: ${range}`, line(head), ...rows.map(line)].join('\n');
}

/** `rondo metrics <component> --env E [--since 1h]` (G3). */
export function registerMetrics(program: Command): void {
  program
    .command('metrics <component>')
    .description(
      'a component’s request rate, error rate, latency, CPU, memory, restarts and OOM kills (tasks: executions and durations), with a sparkline each',
    )
    .option('--project <name>', 'the component’s project (required)')
    .requiredOption('--env <environment>', 'the environment')
    .option('--since <time>', 'from a time or a duration back from now (30m, 6h, 7d)', '1h')
    .option('--until <time>', 'up to a time or a duration back from now (default now)')
    .option('--step <duration>', 'seconds between points: 60, 15s, 5m (default: about 240 points)')
    .action(
      async (
        component: string,
        o: { project?: string; env: string; since: string; until?: string; step?: string },
        cmd: Command,
      ) => {
        const project = requireProject(o.project);
        const api = clientFor(cmd);
        const q = new URLSearchParams({ environment: o.env, from: o.since });
        if (o.until) q.set('to', o.until);
        if (o.step) q.set('step', o.step);
        const m = await api.request<ComponentMetrics>(
          'GET',
          api.orgPath(`/projects/${enc(project)}/components/${enc(component)}/metrics?${q}`),
        );
        const format = globals(cmd).output;
        if (format !== 'table') return printObject(format, m);
        process.stdout.write(`${metricsTable(m)}\n`);
      },
    );
}
