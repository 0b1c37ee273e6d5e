import { useQuery } from '@tanstack/react-query';
import { type FormEvent, lazy, Suspense, useEffect, useState } from 'react';
import { ApiProblem, api, noticeRefusal, type Problem, unwrap } from '../api/client';
import { pathOf } from '../router';
import { Empty, Field, Loading, ProblemView, RelativeTime } from '../ui';
import type { ComponentRef } from './Component';
import { usePipelineEnvironments } from './ConfigView';
import type { Series } from './MetricsChart';
import { Alerts } from './ObservabilityAlerts';

// The chart library is fetched only when this tab shows metrics: a first visit does not download it.
const MetricsChart = lazy(() => import('./MetricsChart'));

const LEVELS = ['error', 'warn', 'info', 'debug'] as const;
const WINDOWS = ['15m', '1h', '6h', '1d', '7d'] as const;
/** Lines kept on the page while following: the newest. */
const KEEP = 1000;

interface LogLine {
  timestamp: string;
  stream: string;
  level: string | null;
  message: string;
  replica: string;
  deployment: string;
}
interface GatewayLine {
  timestamp: string;
  method: string;
  path: string;
  status: number;
  outcome: string;
  durationMs: number;
  requestId: string;
}
type Line = LogLine | GatewayLine;
interface LogFilter {
  type: 'application' | 'gateway';
  level: string;
  grep: string;
  since: string;
  follow: boolean;
}

/** Observability of a component in one environment: runtime logs, events and conditions, DORA figures. */
export function Observability({ org, project, component }: ComponentRef) {
  const environments = usePipelineEnvironments(org, project);
  const [chosen, setChosen] = useState('');
  const environment = chosen || environments.data?.[0] || '';
  if (environments.isPending) return <Loading what="environments" />;
  if (environments.error) return <ProblemView error={environments.error} />;
  if (!environment)
    return <Empty>This project's pipeline has no environments; an organization admin adds them.</Empty>;
  const ref = { org, project, component };
  return (
    <>
      <div className="inline-form">
        <Field label="Environment">
          <select value={environment} onChange={(e) => setChosen(e.target.value)}>
            {(environments.data ?? []).map((env) => (
              <option key={env}>{env}</option>
            ))}
          </select>
        </Field>
      </div>
      <Metrics target={ref} environment={environment} />
      <Insights target={ref} environment={environment} />
      <Alerts target={ref} environment={environment} />
      <Events target={ref} environment={environment} />
      <RuntimeLogs target={ref} environment={environment} />
    </>
  );
}

function RuntimeLogs({ target, environment }: { target: ComponentRef; environment: string }) {
  const [draft, setDraft] = useState<LogFilter>({
    type: 'application',
    level: '',
    grep: '',
    since: '1h',
    follow: false,
  });
  const [filter, setFilter] = useState(draft);
  const { lines, error, loading, following } = useRuntimeLogs(target, environment, filter);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setFilter(draft);
  };
  const fields = error
    ? Object.fromEntries((error.problem.errors ?? []).map((e) => [e.field, e.message]))
    : {};
  return (
    <section aria-labelledby="runtime-logs">
      <h2 id="runtime-logs">Logs {following && <span className="muted">(following)</span>}</h2>
      <form onSubmit={submit} className="inline-form">
        <Field label="Source" error={fields.type}>
          <select
            value={draft.type}
            onChange={(e) => setDraft({ ...draft, type: e.target.value as LogFilter['type'] })}
          >
            <option value="application">application (replicas' output)</option>
            <option value="gateway">gateway (access log)</option>
          </select>
        </Field>
        <Field label="Level" error={fields.level}>
          <select value={draft.level} onChange={(e) => setDraft({ ...draft, level: e.target.value })}>
            <option value="">any</option>
            {LEVELS.map((l) => (
              <option key={l}>{l}</option>
            ))}
          </select>
        </Field>
        <Field label="Text" hint="lines that contain it (any case)" error={fields.grep}>
          <input value={draft.grep} onChange={(e) => setDraft({ ...draft, grep: e.target.value })} />
        </Field>
        <Field label="Since" error={fields.since}>
          <select value={draft.since} onChange={(e) => setDraft({ ...draft, since: e.target.value })}>
            {WINDOWS.map((w) => (
              <option key={w}>{w}</option>
            ))}
          </select>
        </Field>
        <label className="check">
          <input
            type="checkbox"
            checked={draft.follow}
            onChange={(e) => setDraft({ ...draft, follow: e.target.checked })}
          />{' '}
          Follow
        </label>
        <button type="submit">Show</button>
      </form>
      {error && <ProblemView error={error} />}
      {loading && <Loading what="logs" />}
      {!loading && !error && lines.length === 0 && (
        <Empty>
          No lines in this window. Widen the window, clear the filters, or follow to see new lines.
        </Empty>
      )}
      {lines.length > 0 && (
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling log must be reachable by keyboard (axe scrollable-region-focusable)
        <section className="log" tabIndex={0} aria-label="Runtime log">
          <pre>
            {lines.map((l, i) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: lines have no id; the list only grows at the end
              <span key={i} className={lineClass(l)}>
                {lineText(l)}
              </span>
            ))}
          </pre>
        </section>
      )}
    </section>
  );
}

function lineText(l: Line): string {
  const at = l.timestamp.slice(11, 23);
  if ('message' in l) return `${at} ${l.replica.slice(0, 6)} ${(l.level ?? '').padEnd(5)} ${l.message}\n`;
  return `${at} ${l.status} ${l.method} ${l.path} ${Math.round(l.durationMs)} ms ${l.outcome} ${l.requestId}\n`;
}

function lineClass(l: Line): string | undefined {
  if ('message' in l) return l.level ? `level-${l.level}` : undefined;
  return l.status >= 500 ? 'level-error' : l.status >= 400 ? 'level-warn' : undefined;
}

/**
 * The runtime log lines of a filter: one page (GET …/logs), or with follow one NDJSON stream
 * (`follow=1`) that sends the newest lines and then each new one as it is stored.
 */
function useRuntimeLogs(target: ComponentRef, environment: string, filter: LogFilter) {
  const [lines, setLines] = useState<Line[]>([]);
  const [error, setError] = useState<ApiProblem | null>(null);
  const [loading, setLoading] = useState(true);
  const [following, setFollowing] = useState(false);
  const { org, project, component } = target;
  const { type, level, grep, since, follow } = filter;

  useEffect(() => {
    const abort = new AbortController();
    setLines([]);
    setError(null);
    setLoading(true);
    setFollowing(false);
    const query = new URLSearchParams({ environment, since, limit: '500' });
    if (type === 'gateway') query.set('type', type);
    if (level) query.set('level', level);
    if (grep) query.set('grep', grep);
    if (follow) query.set('follow', '1');
    const url = `${pathOf('api', 'v1', 'orgs', org, 'projects', project, 'components', component)}/logs?${query}`;
    (async () => {
      const response = await fetch(url, { signal: abort.signal });
      if (!response.ok) {
        const problem = (await response.json()) as Problem;
        noticeRefusal(problem);
        throw new ApiProblem(problem);
      }
      if (!follow) {
        const page = (await response.json()) as { items: Line[] };
        setLines(page.items);
        setLoading(false);
        return;
      }
      setLoading(false);
      setFollowing(true);
      const reader = response.body?.pipeThrough(new TextDecoderStream()).getReader();
      let partial = '';
      for (;;) {
        const chunk = await reader?.read();
        if (!chunk || chunk.done) break;
        const text = partial + chunk.value;
        const cut = text.lastIndexOf('\n') + 1;
        partial = text.slice(cut);
        const added = text
          .slice(0, cut)
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Line);
        if (added.length) setLines((before) => [...before, ...added].slice(-KEEP));
      }
      setFollowing(false);
    })().catch((err: unknown) => {
      if (abort.signal.aborted) return;
      setLoading(false);
      setFollowing(false);
      setError(
        err instanceof ApiProblem
          ? err
          : new ApiProblem({
              title: 'The log stream broke off',
              status: 0,
              fix: 'Press Show to read it again.',
            }),
      );
    });
    return () => abort.abort();
  }, [org, project, component, environment, type, level, grep, since, follow]);

  return { lines, error, loading, following };
}

function Events({ target, environment }: { target: ComponentRef; environment: string }) {
  const { org, project, component } = target;
  const events = useQuery({
    queryKey: ['events', org, project, component, environment],
    queryFn: async () =>
      unwrap(
        await api.GET('/api/v1/orgs/{org}/projects/{project}/components/{component}/events', {
          params: { path: { org, project, component }, query: { environment, limit: 50 } },
        }),
      ).items,
  });
  return (
    <section aria-labelledby="events">
      <h2 id="events">Events and conditions</h2>
      {events.isPending && <Loading what="events" />}
      {events.error && <ProblemView error={events.error} />}
      {events.data &&
        (events.data.length === 0 ? (
          <Empty>
            No events: no rollout failed and no replica crashed, restarted or ran out of memory here.
          </Empty>
        ) : (
          <table aria-labelledby="events">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Kind</th>
                <th scope="col">Deployment</th>
                <th scope="col">What happened</th>
              </tr>
            </thead>
            <tbody>
              {events.data.map((e, i) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: events have no id in the answer
                <tr key={i}>
                  <td>
                    <RelativeTime at={e.createdAt} />
                  </td>
                  <td>{e.kind}</td>
                  <td>{e.deployment}</td>
                  <td className="message">{e.message}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ))}
    </section>
  );
}

const hours = (s: number | null) =>
  s === null ? '—' : s < 3600 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`;

function Insights({ target, environment }: { target: ComponentRef; environment: string }) {
  const { org, project, component } = target;
  const insights = useQuery({
    queryKey: ['insights', org, project, component, environment],
    queryFn: async () =>
      unwrap(
        await api.GET('/api/v1/orgs/{org}/projects/{project}/components/{component}/insights', {
          params: { path: { org, project, component }, query: { environment, since: '30d' } },
        }),
      ),
  });
  const d = insights.data;
  return (
    <section aria-labelledby="insights">
      <h2 id="insights">Delivery (last 30 days)</h2>
      {insights.isPending && <Loading what="delivery figures" />}
      {insights.error && <ProblemView error={insights.error} />}
      {d && (
        <dl className="figures">
          <div>
            <dt>Deployments</dt>
            <dd>
              {d.deploymentFrequency.deployments} ({d.deploymentFrequency.perWeek.toFixed(1)} a week)
            </dd>
          </div>
          <div>
            <dt>Lead time, commit to active (median)</dt>
            <dd>{hours(d.leadTimeForChange.medianSeconds)}</dd>
          </div>
          <div>
            <dt>Change failure rate</dt>
            <dd>
              {d.changeFailureRate.rate === null ? '—' : `${Math.round(d.changeFailureRate.rate * 100)} %`} (
              {d.changeFailureRate.failed} failed, {d.changeFailureRate.rolledBack} rolled back)
            </dd>
          </div>
          <div>
            <dt>Time to restore (median)</dt>
            <dd>{hours(d.timeToRestore.medianSeconds)}</dd>
          </div>
        </dl>
      )}
    </section>
  );
}

const METRIC_WINDOWS = ['1h', '6h', '24h', '7d'] as const;

/** Request rate, errors, latency, CPU and memory over a chosen window: one chart per series name. */
function Metrics({ target, environment }: { target: ComponentRef; environment: string }) {
  const { org, project, component } = target;
  const [range, setRange] = useState<(typeof METRIC_WINDOWS)[number]>('1h');
  const metrics = useQuery({
    queryKey: ['metrics', org, project, component, environment, range],
    queryFn: async () =>
      unwrap(
        await api.GET('/api/v1/orgs/{org}/projects/{project}/components/{component}/metrics', {
          params: { path: { org, project, component }, query: { environment, from: range } },
        }),
      ),
  });
  const groups = new Map<string, Series[]>();
  for (const s of metrics.data?.series ?? []) groups.set(s.name, [...(groups.get(s.name) ?? []), s]);
  const withData = [...groups].filter(([, list]) => list.some((s) => s.points.length > 0));
  return (
    <section aria-labelledby="metrics">
      <h2 id="metrics">Metrics</h2>
      <div className="inline-form">
        <Field label="Window">
          <select value={range} onChange={(e) => setRange(e.target.value as typeof range)}>
            {METRIC_WINDOWS.map((w) => (
              <option key={w}>{w}</option>
            ))}
          </select>
        </Field>
      </div>
      {metrics.isPending && <Loading what="metrics" />}
      {metrics.error && <ProblemView error={metrics.error} />}
      {metrics.data &&
        (withData.length === 0 ? (
          <Empty>
            No samples in this window yet: metrics start when the component runs and receives requests.
          </Empty>
        ) : (
          <Suspense fallback={<Loading what="the charts" />}>
            <div className="charts">
              {withData.map(([name, list]) => (
                <MetricsChart
                  key={name}
                  title={name}
                  series={list}
                  from={metrics.data.from}
                  to={metrics.data.to}
                />
              ))}
            </div>
          </Suspense>
        ))}
    </section>
  );
}
