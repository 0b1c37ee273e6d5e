import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import { api, unwrap } from '../api/client';
import type { Build } from '../api/types';
import { useEventStream } from '../event-stream';
import { Link, pathOf } from '../router';
import { CopyButton, duration, Loading, ProblemView, RelativeTime, Status } from '../ui';

const FINISHED = new Set(['succeeded', 'failed', 'cancelled', 'replaced', 'collected']);

/** A build: its steps and log, pushed by the server while it runs (one event stream, no polling). */
export function BuildDetails({ org, id }: { org: string; id: string }) {
  const queries = useQueryClient();
  const key = ['build', org, id];
  const build = useQuery({
    queryKey: key,
    queryFn: async () =>
      unwrap(await api.GET('/api/v1/orgs/{org}/builds/{id}', { params: { path: { org, id } } })),
  });
  const [log, setLog] = useState('');
  const [progress, setProgress] = useState<string | null>(null);
  const stream = useEventStream(`${pathOf('api', 'v1', 'orgs', org, 'builds', id)}/stream`, {
    open: () => setLog(''),
    build: (b: Omit<Build, 'steps'> & { steps: Omit<Build['steps'][number], 'log'>[] }) =>
      queries.setQueryData<Build>(key, { ...b, steps: b.steps.map((s) => ({ ...s, log: '' })) }),
    log: ({ text }: { text: string }) => setLog((before) => before + text),
    progress: ({ line }: { line: string | null }) => setProgress(line),
  });
  const running = build.data ? !FINISHED.has(build.data.status) : false;
  const logEnd = useRef<HTMLElement>(null);
  const cancel = useMutation({
    mutationFn: async () =>
      unwrap(await api.POST('/api/v1/orgs/{org}/builds/{id}/cancel', { params: { path: { org, id } } })),
    onSuccess: (b) => queries.setQueryData(key, b),
  });

  // The list of the component's builds shows the end state once the stream says the build ended.
  useEffect(() => {
    if (!stream.ended || !build.data) return;
    void queries.invalidateQueries({ queryKey: ['builds', org, build.data.project, build.data.component] });
  }, [stream.ended, queries, org, build.data]);
  useEffect(() => {
    if (log) logEnd.current?.scrollTo({ top: logEnd.current.scrollHeight });
  }, [log]);

  if (build.isPending) return <Loading what="the build" />;
  if (build.error) return <ProblemView error={build.error} />;
  const b = build.data;
  const componentPath = pathOf('orgs', org, 'projects', b.project, 'components', b.component);
  return (
    <>
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link href={pathOf('orgs', org)}>{org}</Link> /{' '}
        <Link href={pathOf('orgs', org, 'projects', b.project)}>{b.project}</Link> /{' '}
        <Link href={`${componentPath}/build`}>{b.component}</Link> / <span>{b.id}</span>
      </nav>
      <header className="page-head">
        <h1>
          Build <code>{b.commit?.slice(0, 12) ?? b.id}</code> <Status value={b.status} />
        </h1>
        <p className="muted">
          started <RelativeTime at={b.createdAt} /> by {b.createdBy} · {duration(b.createdAt, b.finishedAt)}
        </p>
        {b.reason && <p>{b.reason}</p>}
        {b.image && (
          <p>
            Image <code>{b.image}</code> <CopyButton text={b.image} label="image" />
          </p>
        )}
        {running && (
          <div className="actions">
            <button type="button" disabled={cancel.isPending} onClick={() => cancel.mutate()}>
              {cancel.isPending ? 'Cancelling…' : 'Cancel build'}
            </button>
          </div>
        )}
        {cancel.error && <ProblemView error={cancel.error} />}
      </header>
      <section aria-labelledby="steps">
        <h2 id="steps">Steps</h2>
        <ol className="steps">
          {b.steps.map((s) => (
            <li key={s.name}>
              <Status value={s.status} /> {s.name}{' '}
              <span className="muted">{s.startedAt ? duration(s.startedAt, s.endedAt) : ''}</span>
            </li>
          ))}
        </ol>
      </section>
      <section aria-labelledby="log">
        <h2 id="log">Log {running && !stream.ended && <span className="muted">(following)</span>}</h2>
        {stream.error && <ProblemView error={stream.error} />}
        {running && progress && (
          <p className="muted" aria-live="polite">
            {progress}
          </p>
        )}
        {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling log must be reachable by keyboard (axe scrollable-region-focusable) */}
        <section className="log" ref={logEnd} tabIndex={0} aria-label="Build log">
          <pre>{log || (stream.ended ? 'No output.' : '…')}</pre>
        </section>
      </section>
    </>
  );
}
