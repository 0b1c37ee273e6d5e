import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api, unwrap } from '../api/client';
import { Empty, Field, fieldErrorsOf, Loading, ProblemView, RelativeTime, Status } from '../ui';
import type { ComponentRef } from './Component';

const KINDS = ['latency', 'traffic', 'resource', 'log', 'build-failure', 'status-code', 'system'] as const;
type Kind = (typeof KINDS)[number];

/** What each kind takes, as the API documents it; the form sends them as JSON. */
const PARAMS_HINT: Record<Kind, string> = {
  latency: '{"percentile": 95, "thresholdMs": 500, "periodMinutes": 5}',
  traffic: '{"requestsPerMinute": 100, "periodMinutes": 5}',
  resource: '{"resource": "memory", "threshold": 256, "periodMinutes": 5}',
  log: '{"phrase": "ERROR", "count": 5, "intervalMinutes": 10}',
  'build-failure': '{}',
  'status-code': '{"codes": [500, 502, 503], "count": 10, "intervalMinutes": 5}',
  system: '{"events": ["crash", "oom"], "periodMinutes": 10}',
};

/** Alert rules of a component in one environment, whether each fires now, and their history. */
export function Alerts({ target, environment }: { target: ComponentRef; environment: string }) {
  const { org, project, component } = target;
  const queries = useQueryClient();
  const path = { path: { org, project, component } };
  const key = ['alerts', org, project, component, environment];
  const rules = useQuery({
    queryKey: key,
    queryFn: async () =>
      unwrap(
        await api.GET('/api/v1/orgs/{org}/projects/{project}/components/{component}/alerts', {
          params: { ...path, query: { environment } },
        }),
      ).items,
  });
  const history = useQuery({
    queryKey: [...key, 'history'],
    queryFn: async () =>
      unwrap(
        await api.GET('/api/v1/orgs/{org}/projects/{project}/components/{component}/alerts/history', {
          params: { ...path, query: { environment, limit: 20 } },
        }),
      ).items,
  });
  const toggle = useMutation({
    mutationFn: async ({ name, enabled }: { name: string; enabled: boolean }) =>
      unwrap(
        await api.PATCH('/api/v1/orgs/{org}/projects/{project}/components/{component}/alerts/{name}', {
          params: { path: { ...path.path, name } },
          body: { enabled },
        }),
      ),
    onSettled: () => queries.invalidateQueries({ queryKey: key }),
  });
  const remove = useMutation({
    mutationFn: async (name: string) =>
      unwrap(
        await api.DELETE('/api/v1/orgs/{org}/projects/{project}/components/{component}/alerts/{name}', {
          params: { path: { ...path.path, name } },
        }),
      ),
    onSettled: () => queries.invalidateQueries({ queryKey: key }),
  });
  return (
    <section aria-labelledby="alerts">
      <h2 id="alerts">Alerts</h2>
      {rules.isPending && <Loading what="alert rules" />}
      {rules.error && <ProblemView error={rules.error} />}
      {toggle.error && <ProblemView error={toggle.error} />}
      {remove.error && <ProblemView error={remove.error} />}
      {rules.data &&
        (rules.data.length === 0 ? (
          <Empty>No alert rules in {environment}. Add one below (at most 10 per component).</Empty>
        ) : (
          <table aria-label="Alert rules">
            <thead>
              <tr>
                <th scope="col">Rule</th>
                <th scope="col">Kind</th>
                <th scope="col">State</th>
                <th scope="col">Notifies</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rules.data.map((r) => (
                <tr key={r.name}>
                  <td>{r.name}</td>
                  <td>
                    {r.kind} <code>{JSON.stringify(r.params)}</code>
                  </td>
                  <td>
                    <Status value={r.enabled ? r.state : 'disabled'} />
                  </td>
                  <td>{[r.webhook?.url, ...r.emails].filter(Boolean).join(', ') || '—'}</td>
                  <td>
                    <button
                      type="button"
                      disabled={toggle.isPending}
                      onClick={() => toggle.mutate({ name: r.name, enabled: !r.enabled })}
                    >
                      {r.enabled ? 'Disable' : 'Enable'} {r.name}
                    </button>{' '}
                    <button type="button" disabled={remove.isPending} onClick={() => remove.mutate(r.name)}>
                      Delete {r.name}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ))}
      <NewAlertRule
        target={target}
        environment={environment}
        onCreated={() => queries.invalidateQueries({ queryKey: key })}
      />
      <h3 id="alert-history">Alert history</h3>
      {history.error && <ProblemView error={history.error} />}
      {history.data &&
        (history.data.length === 0 ? (
          <Empty>No alert has fired here.</Empty>
        ) : (
          <table aria-labelledby="alert-history">
            <thead>
              <tr>
                <th scope="col">Rule</th>
                <th scope="col">What</th>
                <th scope="col">Fired</th>
                <th scope="col">Resolved</th>
                <th scope="col">Notifications</th>
              </tr>
            </thead>
            <tbody>
              {history.data.map((i) => (
                <tr key={i.id}>
                  <td>{i.rule}</td>
                  <td className="message">{i.summary}</td>
                  <td>
                    <RelativeTime at={i.firedAt} />
                  </td>
                  <td>{i.resolvedAt ? <RelativeTime at={i.resolvedAt} /> : 'firing'}</td>
                  <td>
                    {i.notifications.map((n) => `${n.channel} ${n.transition}: ${n.status}`).join('; ') ||
                      '—'}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ))}
    </section>
  );
}

function NewAlertRule({
  target,
  environment,
  onCreated,
}: {
  target: ComponentRef;
  environment: string;
  onCreated: () => Promise<unknown>;
}) {
  const [name, setName] = useState('');
  const [kind, setKind] = useState<Kind>('log');
  const [params, setParams] = useState(PARAMS_HINT.log);
  const [emails, setEmails] = useState('');
  const create = useMutation({
    mutationFn: async () => {
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(params || '{}') as Record<string, unknown>;
      } catch {
        throw new Error('params');
      }
      const list = emails
        .split(/[\s,]+/)
        .map((e) => e.trim())
        .filter(Boolean);
      return unwrap(
        await api.POST('/api/v1/orgs/{org}/projects/{project}/components/{component}/alerts', {
          params: { path: target },
          body: { name, environment, kind, params: parsed, ...(list.length ? { emails: list } : {}) },
        }),
      );
    },
    onSuccess: () => {
      setName('');
      return onCreated();
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate();
  };
  const errors = fieldErrorsOf(create.error);
  const badJson = create.error instanceof Error && create.error.message === 'params';
  return (
    <form onSubmit={submit} className="inline-form" aria-label="Add an alert rule">
      <Field label="Rule name" error={errors.name}>
        <input required value={name} onChange={(e) => setName(e.target.value)} />
      </Field>
      <Field label="Kind" error={errors.kind}>
        <select
          value={kind}
          onChange={(e) => {
            const next = e.target.value as Kind;
            setKind(next);
            setParams(PARAMS_HINT[next]);
          }}
        >
          {KINDS.map((k) => (
            <option key={k}>{k}</option>
          ))}
        </select>
      </Field>
      <Field
        label="Parameters (JSON)"
        error={
          badJson
            ? 'not valid JSON'
            : (Object.entries(errors).find(([f]) => f.startsWith('params'))?.[1] ?? undefined)
        }
      >
        <input value={params} onChange={(e) => setParams(e.target.value)} />
      </Field>
      <Field label="Email to" hint="comma-separated, up to 5; empty: history only" error={errors.emails}>
        <input value={emails} onChange={(e) => setEmails(e.target.value)} />
      </Field>
      <button type="submit" disabled={create.isPending}>
        Add alert rule
      </button>
      {create.error && !badJson && <ProblemView error={create.error} />}
    </form>
  );
}
