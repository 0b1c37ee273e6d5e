import type { Command } from 'commander';
import type { Insights } from '../../observability/insights.js';
import { clientFor, globals, requireProject } from '../context.js';
import { printObject } from '../output.js';

const enc = encodeURIComponent;

/** 90 → "1m 30s": durations a person reads. */
export function humanDuration(seconds: number | null): string {
  if (seconds === null) return '–';
  const units: [string, number][] = [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
    ['s', 1],
  ];
  let rest = Math.round(seconds);
  const parts: string[] = [];
  for (const [u, n] of units) {
    if (rest >= n || (u === 's' && parts.length === 0)) {
      parts.push(`${Math.floor(rest / n)}${u}`);
      rest %= n;
    }
    if (parts.length === 2) break;
  }
  return parts.join(' ');
}

/** `rondo insights <c>`: DORA figures of a component in an environment (G3). */
export function registerInsights(program: Command): void {
  program
    .command('insights <component>')
    .description(
      'DORA figures: deployment frequency, lead time for change, change failure rate, time to restore',
    )
    .option('--project <name>', 'the component’s project (required)')
    .option('--env <environment>', 'the environment (default: the last of the project’s pipeline)')
    .option('--since <time>', 'a duration back from now (7d, 30d) or an ISO time', '30d')
    .action(async (component: string, o: { project?: string; env?: string; since: string }, cmd: Command) => {
      const project = requireProject(o.project);
      const api = clientFor(cmd);
      const q = new URLSearchParams({ since: o.since, ...(o.env ? { environment: o.env } : {}) });
      const r = await api.request<Insights>(
        'GET',
        api.orgPath(`/projects/${enc(project)}/components/${enc(component)}/insights?${q}`),
      );
      const format = globals(cmd).output;
      if (format !== 'table') return printObject(format, r);
      const { deploymentFrequency: f, leadTimeForChange: l, changeFailureRate: c, timeToRestore: t } = r;
      printObject(format, r, [
        ['component', `${r.component} in ${r.environment}`],
        ['window', `${r.since} → ${r.until}`],
        ['deployment frequency', `${f.deployments} deployments (${f.perDay}/day, ${f.perWeek}/week)`],
        [
          'lead time for change',
          `median ${humanDuration(l.medianSeconds)}, p95 ${humanDuration(l.p95Seconds)} (${l.measured} measured)`,
        ],
        [
          'change failure rate',
          `${c.rate === null ? '–' : `${(c.rate * 100).toFixed(1)}%`} (${c.failed} failed, ${c.rolledBack} rolled back of ${c.changes})`,
        ],
        [
          'time to restore',
          `median ${humanDuration(t.medianSeconds)} (${t.restored} of ${t.failures} failures restored)`,
        ],
      ]);
    });
}
