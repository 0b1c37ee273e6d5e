import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api, unwrap } from '../api/client';
import { Link, navigate, pathOf } from '../router';
import { duration, Empty, Field, fieldErrorsOf, Loading, ProblemView, RelativeTime, Status } from '../ui';
import type { ComponentRef } from './Component';
import { usePipelineEnvironments } from './ConfigView';

/** Tasks: the schedules, run now with arguments, and the executions with their 30-day counts. */
export function TasksView({ org, project, component, scheduled }: ComponentRef & { scheduled: boolean }) {
  const queries = useQueryClient();
  const path = { path: { org, project, component } };
  const environments = usePipelineEnvironments(org, project);
  const executions = useQuery({
    queryKey: ['executions', org, project, component],
    queryFn: async () =>
      unwrap(
        await api.GET('/api/v1/orgs/{org}/projects/{project}/components/{component}/executions', {
          params: path,
        }),
      ),
  });
  const [environment, setEnvironment] = useState('');
  const [args, setArgs] = useState('');
  const run = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST('/api/v1/orgs/{org}/projects/{project}/components/{component}/executions', {
          params: path,
          body: {
            environment: environment || environments.data?.[0] || '',
            // One argument per line, passed as argv (no shell).
            args: args.split('\n').filter((a) => a !== ''),
            trigger: 'manual',
          },
        }),
      ),
    onSuccess: async (execution) => {
      await queries.invalidateQueries({ queryKey: ['executions', org, project, component] });
      navigate(pathOf('orgs', org, 'executions', execution.id));
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    run.mutate();
  };
  const errors = fieldErrorsOf(run.error);
  const counts = executions.data ? Object.entries(executions.data.last30Days) : [];

  return (
    <section aria-labelledby="run-task">
      {scheduled && <Schedules org={org} project={project} component={component} />}
      <h2 id="run-task">Run now</h2>
      <form onSubmit={submit} className="inline-form">
        <Field label="Environment" error={errors.environment}>
          <select value={environment} onChange={(e) => setEnvironment(e.target.value)}>
            {(environments.data ?? []).map((env) => (
              <option key={env}>{env}</option>
            ))}
          </select>
        </Field>
        <Field label="Arguments" hint="one per line, appended to the entrypoint" error={errors.args}>
          <textarea rows={2} value={args} onChange={(e) => setArgs(e.target.value)} />
        </Field>
        <button type="submit" disabled={run.isPending}>
          {run.isPending ? 'Starting…' : 'Run'}
        </button>
      </form>
      {run.error && <ProblemView error={run.error} />}
      <h2>Executions</h2>
      {counts.length > 0 && (
        <p className="muted">Last 30 days: {counts.map(([status, n]) => `${n} ${status}`).join(', ')}</p>
      )}
      {executions.isPending && <Loading what="executions" />}
      {executions.error && <ProblemView error={executions.error} />}
      {executions.data &&
        (executions.data.items.length === 0 ? (
          <Empty>No executions yet. Deploy the task to an environment, then run it above.</Empty>
        ) : (
          <table>
            <thead>
              <tr>
                <th scope="col">Execution</th>
                <th scope="col">Environment</th>
                <th scope="col">Status</th>
                <th scope="col">Trigger</th>
                <th scope="col">Started</th>
                <th scope="col">Duration</th>
              </tr>
            </thead>
            <tbody>
              {executions.data.items.map((x) => (
                <tr key={x.id}>
                  <td>
                    <Link href={pathOf('orgs', org, 'executions', x.id)}>{x.id}</Link>
                  </td>
                  <td>{x.environment}</td>
                  <td>
                    <Status value={x.status} />
                  </td>
                  <td>
                    {x.trigger} by {x.triggeredBy}
                  </td>
                  <td>
                    <RelativeTime at={x.startedAt ?? x.triggeredAt} />
                  </td>
                  <td>{duration(x.startedAt, x.finishedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ))}
    </section>
  );
}

/** A scheduled task's schedule per environment where it is deployed, suspended or resumed here. */
function Schedules({ org, project, component }: ComponentRef) {
  const queries = useQueryClient();
  const path = { path: { org, project, component } };
  const key = ['schedules', org, project, component];
  const schedules = useQuery({
    queryKey: key,
    queryFn: async () =>
      unwrap(
        await api.GET('/api/v1/orgs/{org}/projects/{project}/components/{component}/schedules', {
          params: path,
        }),
      ).items,
  });
  const change = useMutation({
    mutationFn: async ({ environment, suspended }: { environment: string; suspended: boolean }) =>
      unwrap(
        await api.PUT(
          '/api/v1/orgs/{org}/projects/{project}/components/{component}/schedules/{environment}',
          { params: { path: { ...path.path, environment } }, body: { suspended } },
        ),
      ),
    onSettled: () => queries.invalidateQueries({ queryKey: key }),
  });
  return (
    <>
      <h2 id="schedules">Schedules</h2>
      {schedules.isPending && <Loading what="schedules" />}
      {schedules.error && <ProblemView error={schedules.error} />}
      {change.error && <ProblemView error={change.error} />}
      {schedules.data &&
        (schedules.data.length === 0 ? (
          <Empty>Not deployed anywhere yet: deploy the task to an environment to arm its schedule.</Empty>
        ) : (
          <table aria-labelledby="schedules">
            <thead>
              <tr>
                <th scope="col">Environment</th>
                <th scope="col">Schedule</th>
                <th scope="col">State</th>
                <th scope="col">Next run</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {schedules.data.map((s) => (
                <tr key={s.environment}>
                  <td>{s.environment}</td>
                  <td>
                    <code>{s.cron}</code> ({s.timezone})
                  </td>
                  <td>
                    <Status value={s.suspended ? 'suspended' : 'active'} />
                  </td>
                  <td>{s.suspended ? '—' : <RelativeTime at={s.nextRunAt} />}</td>
                  <td>
                    <button
                      type="button"
                      disabled={change.isPending}
                      onClick={() => change.mutate({ environment: s.environment, suspended: !s.suspended })}
                    >
                      {s.suspended ? 'Resume' : 'Suspend'} in {s.environment}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ))}
    </>
  );
}
