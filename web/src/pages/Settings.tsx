import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api, unwrap } from '../api/client';
import { Link, pathOf } from '../router';
import { CopyButton, Empty, Field, Loading, ProblemView, RelativeTime } from '../ui';
import {
  AddMemberForm,
  EnvironmentForm,
  MemberActions,
  PipelineForm,
  WebhookDeliveries,
} from './SettingsForms';

/** Organization settings: environments and pipelines, members and roles, webhook deliveries, your tokens. */
export function Settings({ org }: { org: string }) {
  return (
    <>
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link href={pathOf('orgs', org)}>{org}</Link> / <span>settings</span>
      </nav>
      <header className="page-head">
        <h1>Organization settings</h1>
        <p className="muted">
          The <Link href={`${pathOf('orgs', org)}/audit`}>audit log</Link> records every change.
        </p>
      </header>
      <Environments org={org} />
      <Pipelines org={org} />
      <Members org={org} />
      <WebhookDeliveries org={org} />
      <Tokens />
    </>
  );
}

function Environments({ org }: { org: string }) {
  const envs = useQuery({
    queryKey: ['environments', org],
    queryFn: async () =>
      unwrap(await api.GET('/api/v1/orgs/{org}/environments', { params: { path: { org } } })),
  });
  return (
    <section aria-labelledby="environments">
      <h2 id="environments">Environments</h2>
      {envs.isPending && <Loading what="environments" />}
      {envs.error && <ProblemView error={envs.error} />}
      {envs.data && (
        <table>
          <thead>
            <tr>
              <th scope="col">Environment</th>
              <th scope="col">Production</th>
              <th scope="col">Data plane</th>
              <th scope="col">Promotions need</th>
            </tr>
          </thead>
          <tbody>
            {envs.data.items.map((e) => (
              <tr key={e.id}>
                <td>{e.displayName || e.name}</td>
                <td>{e.production ? 'yes' : 'no'}</td>
                <td>{e.dataPlane}</td>
                <td>
                  {e.approvalPolicy
                    ? `${e.approvalPolicy.required} approval(s) from ${[...e.approvalPolicy.users, ...e.approvalPolicy.roles.map((r) => `any ${r}`)].join(', ')}`
                    : 'no approval'}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <EnvironmentForm org={org} />
    </section>
  );
}

function Pipelines({ org }: { org: string }) {
  const pipelines = useQuery({
    queryKey: ['pipelines', org],
    queryFn: async () => unwrap(await api.GET('/api/v1/orgs/{org}/pipelines', { params: { path: { org } } })),
  });
  return (
    <section aria-labelledby="pipelines">
      <h2 id="pipelines">Pipelines</h2>
      {pipelines.isPending && <Loading what="pipelines" />}
      {pipelines.error && <ProblemView error={pipelines.error} />}
      {pipelines.data && (
        <ul>
          {pipelines.data.items.map((p) => (
            <li key={p.id}>
              <strong>{p.name}</strong>
              {p.isDefault && ' (default)'}: {p.environments.join(' → ')}
            </li>
          ))}
        </ul>
      )}
      <PipelineForm org={org} />
    </section>
  );
}

function Members({ org }: { org: string }) {
  const members = useQuery({
    queryKey: ['members', org],
    queryFn: async () => unwrap(await api.GET('/api/v1/orgs/{org}/members', { params: { path: { org } } })),
  });
  return (
    <section aria-labelledby="members">
      <h2 id="members">Members</h2>
      {members.isPending && <Loading what="members" />}
      {members.error && <ProblemView error={members.error} />}
      {members.data && (
        <table>
          <thead>
            <tr>
              <th scope="col">User</th>
              <th scope="col">Role</th>
              <th scope="col">Since</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {members.data.items.map((m) => (
              <tr key={m.user}>
                <td>{m.user}</td>
                <td>{m.role}</td>
                <td>
                  <RelativeTime at={m.createdAt} />
                </td>
                <td>
                  <MemberActions org={org} user={m.user} role={m.role} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <AddMemberForm org={org} />
    </section>
  );
}

function Tokens() {
  const queries = useQueryClient();
  const tokens = useQuery({
    queryKey: ['tokens'],
    queryFn: async () => unwrap(await api.GET('/api/v1/tokens')),
  });
  const [name, setName] = useState('');
  const create = useMutation({
    mutationFn: async () => unwrap(await api.POST('/api/v1/tokens', { body: { name } })),
    onSuccess: () => queries.invalidateQueries({ queryKey: ['tokens'] }),
  });
  const revoke = useMutation({
    mutationFn: async (id: string) =>
      unwrap(await api.DELETE('/api/v1/tokens/{id}', { params: { path: { id } } })),
    onSettled: () => {
      create.reset();
      return queries.invalidateQueries({ queryKey: ['tokens'] });
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate();
  };
  return (
    <section aria-labelledby="tokens">
      <h2 id="tokens">Your tokens</h2>
      {tokens.isPending && <Loading what="tokens" />}
      {tokens.error && <ProblemView error={tokens.error} />}
      {tokens.data &&
        (tokens.data.items.length === 0 ? (
          <Empty>No tokens. Create one below for the CLI (`rondo login --with-token`).</Empty>
        ) : (
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Scopes</th>
                <th scope="col">Last used</th>
                <th scope="col">Expires</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {tokens.data.items.map((tok) => (
                <tr key={tok.id}>
                  <td>{tok.name}</td>
                  <td>{tok.scopes.join(', ')}</td>
                  <td>
                    <RelativeTime at={tok.lastUsedAt} />
                  </td>
                  <td>
                    {tok.revokedAt ? (
                      'revoked'
                    ) : tok.expiresAt ? (
                      <RelativeTime at={tok.expiresAt} />
                    ) : (
                      'never'
                    )}
                  </td>
                  <td>
                    {!tok.revokedAt && (
                      <button type="button" onClick={() => revoke.mutate(tok.id)} disabled={revoke.isPending}>
                        Revoke {tok.name}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ))}
      {revoke.error && <ProblemView error={revoke.error} />}
      <form onSubmit={submit} className="inline-form">
        <Field label="Token name">
          <input name="token-name" required value={name} onChange={(e) => setName(e.target.value)} />
        </Field>
        <button type="submit" disabled={create.isPending}>
          Create token
        </button>
      </form>
      {create.error && <ProblemView error={create.error} />}
      {create.data && (
        <p className="shown-once" aria-live="polite">
          New token (shown once; copy it now): <code>{create.data.token}</code>{' '}
          <CopyButton text={create.data.token} label="new token" />
        </p>
      )}
    </section>
  );
}
