import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api, unwrap } from '../api/client';
import type { Deployment } from '../api/types';
import { Field, ProblemView, RelativeTime, Status } from '../ui';
import type { ComponentRef } from './Component';

/** What a deployment changed against the one before it in the same environment. */
function changeOf(d: Deployment, before: Deployment | undefined): string {
  if (!before) return 'first deployment';
  const what = [];
  if (d.image !== before.image) what.push('image');
  if (d.configRevision !== before.configRevision) what.push('configuration');
  if (d.release !== before.release && d.image === before.image) what.push('release');
  return what.length ? what.join(', ') : 'nothing (same release and configuration)';
}

/** The component's deployments, newest first, with what each changed and a rollback to any earlier one. */
export function DeploymentHistory({ target, version }: { target: ComponentRef; version: number }) {
  const queries = useQueryClient();
  const path = { path: target };
  const history = useQuery({
    // `version` moves with the status the page reads, so the history follows rollouts.
    queryKey: ['deployments', target.org, target.project, target.component, version],
    queryFn: async () =>
      unwrap(
        await api.GET('/api/v1/orgs/{org}/projects/{project}/components/{component}/deployments', {
          params: { ...path, query: { limit: 20 } },
        }),
      ).items,
  });
  const rollback = useMutation({
    mutationFn: async (d: Deployment) =>
      unwrap(
        await api.POST('/api/v1/orgs/{org}/projects/{project}/components/{component}/rollbacks', {
          params: path,
          body: { environment: d.environment, to: d.id },
        }),
      ),
    onSettled: () =>
      queries.invalidateQueries({ queryKey: ['status', target.org, target.project, target.component] }),
  });
  if (!history.data || history.data.length === 0) return null;
  const items = history.data;
  return (
    <section aria-labelledby="history">
      <h2 id="history">Deployment history</h2>
      {rollback.error && <ProblemView error={rollback.error} />}
      <table>
        <thead>
          <tr>
            <th scope="col">Deployment</th>
            <th scope="col">Environment</th>
            <th scope="col">Action</th>
            <th scope="col">Status</th>
            <th scope="col">Changed</th>
            <th scope="col">When</th>
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {items.map((d, i) => {
            const before = items.slice(i + 1).find((e) => e.environment === d.environment);
            return (
              <tr key={d.id}>
                <td>{d.name ?? d.id}</td>
                <td>{d.environment}</td>
                <td>{d.action ?? '—'}</td>
                <td>
                  <Status value={d.status} />
                </td>
                <td>{changeOf(d, before)}</td>
                <td>
                  <RelativeTime at={d.createdAt} /> by {d.createdBy ?? 'rondo'}
                </td>
                <td>
                  {d.status === 'superseded' && (
                    <button type="button" disabled={rollback.isPending} onClick={() => rollback.mutate(d)}>
                      Roll {d.environment} back to {d.name ?? d.id}
                    </button>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <CompareDeployments org={target.org} items={items} />
    </section>
  );
}

const label = (d: Deployment) => `${d.name ?? d.id} (${d.environment}, ${d.status})`;

/** Two chosen deployments side by side: what changed from the first to the second. */
function CompareDeployments({ org, items }: { org: string; items: Deployment[] }) {
  const [from, setFrom] = useState(items[1]?.id ?? items[0]?.id ?? '');
  const [to, setTo] = useState(items[0]?.id ?? '');
  const compare = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.GET('/api/v1/orgs/{org}/deployments/{id}/compare', {
          params: { path: { org, id: from }, query: { with: to } },
        }),
      ),
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    compare.mutate();
  };
  const c = compare.data;
  const keys = (list: string[]) => (list.length ? list.join(', ') : '—');
  return (
    <section aria-labelledby="compare">
      <h3 id="compare">Compare two deployments</h3>
      <form onSubmit={submit} className="inline-form">
        <Field label="From">
          <select value={from} onChange={(e) => setFrom(e.target.value)}>
            {items.map((d) => (
              <option key={d.id} value={d.id}>
                {label(d)}
              </option>
            ))}
          </select>
        </Field>
        <Field label="To">
          <select value={to} onChange={(e) => setTo(e.target.value)}>
            {items.map((d) => (
              <option key={d.id} value={d.id}>
                {label(d)}
              </option>
            ))}
          </select>
        </Field>
        <button type="submit" disabled={compare.isPending}>
          Compare
        </button>
      </form>
      {compare.error && <ProblemView error={compare.error} />}
      {c && (
        <table aria-label="Differences">
          <thead>
            <tr>
              <th scope="col">What</th>
              <th scope="col">{c.from.name ?? c.from.id}</th>
              <th scope="col">{c.to.name ?? c.to.id}</th>
              <th scope="col">Changed</th>
            </tr>
          </thead>
          <tbody>
            <tr>
              <th scope="row">Release</th>
              <td>{c.from.release ?? '—'}</td>
              <td>{c.to.release ?? '—'}</td>
              <td>{c.release ? 'yes' : 'no'}</td>
            </tr>
            <tr>
              <th scope="row">Image</th>
              <td className="digest">
                <code>{c.from.image}</code>
              </td>
              <td className="digest">
                <code>{c.to.image}</code>
              </td>
              <td>{c.image ? 'yes' : 'no'}</td>
            </tr>
            <tr>
              <th scope="row">Commit</th>
              <td>
                <code>{c.from.commit?.slice(0, 12) ?? '—'}</code>
              </td>
              <td>
                <code>{c.to.commit?.slice(0, 12) ?? '—'}</code>
              </td>
              <td>{c.commit ? 'yes' : 'no'}</td>
            </tr>
            <tr>
              <th scope="row">Replicas, endpoints</th>
              <td>{c.from.replicas}</td>
              <td>{c.to.replicas}</td>
              <td>{c.replicas || c.endpoints ? 'yes' : 'no'}</td>
            </tr>
            <tr>
              <th scope="row">Descriptor</th>
              <td colSpan={2}>
                declared configurations added: {keys(c.descriptor.declaredAdded)}; removed:{' '}
                {keys(c.descriptor.declaredRemoved)}
              </td>
              <td>{c.descriptor.changed ? 'yes' : 'no'}</td>
            </tr>
            <tr>
              <th scope="row">Configuration keys</th>
              <td colSpan={3}>
                added: {keys(c.config.added)}; changed: {keys(c.config.changed)}; removed:{' '}
                {keys(c.config.removed)}
              </td>
            </tr>
          </tbody>
        </table>
      )}
    </section>
  );
}
