import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { api, unwrap } from '../api/client';
import type { Execution } from '../api/types';
import { useEventStream } from '../event-stream';
import { Link, pathOf } from '../router';
import { duration, Loading, ProblemView, RelativeTime, Status } from '../ui';

/** One task execution: its revision, arguments, outcome and output, pushed by the server while it runs. */
export function ExecutionDetails({ org, id }: { org: string; id: string }) {
  const queries = useQueryClient();
  const key = ['execution', org, id];
  const execution = useQuery({
    queryKey: key,
    queryFn: async () =>
      unwrap(await api.GET('/api/v1/orgs/{org}/executions/{id}', { params: { path: { org, id } } })),
  });
  const [log, setLog] = useState('');
  const stream = useEventStream(`${pathOf('api', 'v1', 'orgs', org, 'executions', id)}/stream`, {
    open: () => setLog(''),
    execution: (x: Execution) => queries.setQueryData(key, x),
    log: ({ text }: { text: string }) => setLog((before) => before + text),
  });
  const cancel = useMutation({
    mutationFn: async () =>
      unwrap(await api.POST('/api/v1/orgs/{org}/executions/{id}/cancel', { params: { path: { org, id } } })),
    onSuccess: (x) => queries.setQueryData(key, x),
  });
  const running = execution.data?.status === 'running';
  useEffect(() => {
    if (!stream.ended || !execution.data) return;
    const { project, component } = execution.data;
    void queries.invalidateQueries({ queryKey: ['executions', org, project, component] });
  }, [stream.ended, queries, org, execution.data]);

  if (execution.isPending) return <Loading what="the execution" />;
  if (execution.error) return <ProblemView error={execution.error} />;
  const x = execution.data;
  const componentPath = pathOf('orgs', org, 'projects', x.project, 'components', x.component);
  return (
    <>
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link href={pathOf('orgs', org)}>{org}</Link> /{' '}
        <Link href={pathOf('orgs', org, 'projects', x.project)}>{x.project}</Link> /{' '}
        <Link href={`${componentPath}/tasks`}>{x.component}</Link> / <span>{x.id}</span>
      </nav>
      <header className="page-head">
        <h1>
          Execution in {x.environment} <Status value={x.status} />
        </h1>
        <p className="muted">
          {x.trigger} by {x.triggeredBy} <RelativeTime at={x.triggeredAt} /> ·{' '}
          {duration(x.startedAt, x.finishedAt)}
          {x.exitCode !== null && ` · exit code ${x.exitCode}`}
        </p>
        <p>
          Deployment {x.revision.deployment ?? x.revision.deploymentId}
          {x.args.length > 0 && (
            <>
              {' '}
              · arguments <code>{JSON.stringify(x.args)}</code>
            </>
          )}
        </p>
        {x.reason && <p>{x.reason}</p>}
        {running && (
          <div className="actions">
            <button type="button" disabled={cancel.isPending} onClick={() => cancel.mutate()}>
              {cancel.isPending ? 'Cancelling…' : 'Cancel execution'}
            </button>
          </div>
        )}
        {cancel.error && <ProblemView error={cancel.error} />}
      </header>
      <h2>Output {running && !stream.ended && <span className="muted">(following)</span>}</h2>
      {stream.error && <ProblemView error={stream.error} />}
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling log must be reachable by keyboard (axe scrollable-region-focusable) */}
      <section className="log" tabIndex={0} aria-label="Execution output">
        <pre>{log || (stream.ended ? 'No output.' : '…')}</pre>
      </section>
      {x.logsTruncated && <p className="muted">The output was longer than the limit; its start was kept.</p>}
    </>
  );
}
