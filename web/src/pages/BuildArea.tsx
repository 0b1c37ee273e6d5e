import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api, unwrap } from '../api/client';
import { Link, navigate, pathOf } from '../router';
import { duration, Empty, Field, Loading, ProblemView, RelativeTime, Status } from '../ui';
import type { ComponentRef } from './Component';

export function BuildArea({ org, project, component }: ComponentRef) {
  const queries = useQueryClient();
  const path = { org, project, component };
  const builds = useQuery({
    queryKey: ['builds', org, project, component],
    queryFn: async () =>
      unwrap(
        await api.GET('/api/v1/orgs/{org}/projects/{project}/components/{component}/builds', {
          params: { path },
        }),
      ),
  });
  const [commit, setCommit] = useState('');
  const start = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST('/api/v1/orgs/{org}/projects/{project}/components/{component}/builds', {
          params: { path },
          body: commit.trim() ? { commit: commit.trim() } : {},
        }),
      ),
    onSuccess: async ({ build }) => {
      await queries.invalidateQueries({ queryKey: ['builds', org, project, component] });
      navigate(pathOf('orgs', org, 'builds', build.id));
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    start.mutate();
  };

  return (
    <section aria-labelledby="builds">
      <h2 id="builds">Builds</h2>
      <form onSubmit={submit} className="inline-form">
        <Field label="Commit" hint="empty: the head of the component's branch">
          <input name="commit" value={commit} onChange={(e) => setCommit(e.target.value)} />
        </Field>
        <button type="submit" disabled={start.isPending}>
          {start.isPending ? 'Starting…' : 'Build'}
        </button>
      </form>
      {start.error && <ProblemView error={start.error} />}
      {builds.isPending && <Loading what="builds" />}
      {builds.error && <ProblemView error={builds.error} />}
      {builds.data &&
        (builds.data.items.length === 0 ? (
          <Empty>No builds yet. Build the branch head above; each commit is built once.</Empty>
        ) : (
          <table>
            <thead>
              <tr>
                <th scope="col">Build</th>
                <th scope="col">Commit</th>
                <th scope="col">Status</th>
                <th scope="col">Started</th>
                <th scope="col">Duration</th>
              </tr>
            </thead>
            <tbody>
              {builds.data.items.map((b) => (
                <tr key={b.id}>
                  <td>
                    <Link href={pathOf('orgs', org, 'builds', b.id)}>{b.id}</Link>
                  </td>
                  <td>
                    <code>{b.commit?.slice(0, 12) ?? '—'}</code>
                  </td>
                  <td>
                    <Status value={b.status} />
                  </td>
                  <td>
                    <RelativeTime at={b.createdAt} />
                  </td>
                  <td>{duration(b.createdAt, b.finishedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ))}
    </section>
  );
}
