import { useQuery } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api, unwrap } from '../api/client';
import { Link, pathOf } from '../router';
import { Empty, Field, Loading, ProblemView, RelativeTime } from '../ui';

interface Filters {
  actor?: string;
  action?: string;
  outcome?: 'success' | 'denied';
}

/** The organization's audit log, newest first, with the API's filters (admins only). */
export function Audit({ org }: { org: string }) {
  const [filters, setFilters] = useState<Filters>({});
  const [draft, setDraft] = useState<Filters>({});
  const events = useQuery({
    queryKey: ['audit', org, filters],
    queryFn: async () =>
      unwrap(
        await api.GET('/api/v1/orgs/{org}/audit', {
          params: { path: { org }, query: { ...filters, limit: 100 } },
        }),
      ),
  });
  const apply = (event: FormEvent) => {
    event.preventDefault();
    setFilters(Object.fromEntries(Object.entries(draft).filter(([, v]) => v)) as Filters);
  };
  return (
    <>
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link href={pathOf('orgs', org)}>{org}</Link> /{' '}
        <Link href={`${pathOf('orgs', org)}/settings`}>settings</Link> / <span>audit</span>
      </nav>
      <header className="page-head">
        <h1>Audit log</h1>
      </header>
      <form onSubmit={apply} className="inline-form">
        <Field label="Actor">
          <input value={draft.actor ?? ''} onChange={(e) => setDraft({ ...draft, actor: e.target.value })} />
        </Field>
        <Field label="Action" hint="e.g. project.create">
          <input
            value={draft.action ?? ''}
            onChange={(e) => setDraft({ ...draft, action: e.target.value })}
          />
        </Field>
        <Field label="Outcome">
          <select
            value={draft.outcome ?? ''}
            onChange={(e) =>
              setDraft({ ...draft, outcome: (e.target.value || undefined) as Filters['outcome'] })
            }
          >
            <option value="">any</option>
            <option value="success">success</option>
            <option value="denied">denied</option>
          </select>
        </Field>
        <button type="submit">Filter</button>
      </form>
      {events.isPending && <Loading what="the audit log" />}
      {events.error && <ProblemView error={events.error} />}
      {events.data &&
        (events.data.items.length === 0 ? (
          <Empty>No events match these filters.</Empty>
        ) : (
          <table>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Actor</th>
                <th scope="col">Action</th>
                <th scope="col">Resource</th>
                <th scope="col">Outcome</th>
              </tr>
            </thead>
            <tbody>
              {events.data.items.map((e) => (
                <tr key={e.id}>
                  <td>
                    <RelativeTime at={e.createdAt} />
                  </td>
                  <td>{e.actor}</td>
                  <td>{e.action}</td>
                  <td>
                    {e.resourceType} {e.resource}
                  </td>
                  <td>{e.outcome}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ))}
    </>
  );
}
