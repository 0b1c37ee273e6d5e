import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api, unwrap } from '../api/client';
import { Empty, Field, fieldErrorsOf, Loading, ProblemView, RelativeTime, Status } from '../ui';

const ROLES = ['admin', 'developer', 'viewer'] as const;
type Role = (typeof ROLES)[number];

const listOf = (text: string) =>
  text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
/** The first field error of a list field (`users`, `users[2]`, …). */
const firstOf = (errors: Record<string, string>, field: string) =>
  Object.entries(errors).find(([f]) => f === field || f.startsWith(`${field}[`))?.[1];

/** Adds an environment, or changes one (the API decides who may: organization admins). */
export function EnvironmentForm({ org }: { org: string }) {
  const queries = useQueryClient();
  const [name, setName] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [production, setProduction] = useState(false);
  const [approvals, setApprovals] = useState('');
  const [reviewerRoles, setReviewerRoles] = useState('admin');
  const [reviewerUsers, setReviewerUsers] = useState('');
  const save = useMutation({
    mutationFn: async () => {
      const existing = unwrap(
        await api.GET('/api/v1/orgs/{org}/environments', { params: { path: { org } } }),
      ).items.some((e) => e.name === name);
      // One request, so a refused policy leaves the environment as it was (or not created).
      const required = Number(approvals);
      const approvalPolicy =
        approvals.trim() === ''
          ? {}
          : {
              approvalPolicy:
                required > 0
                  ? { required, roles: listOf(reviewerRoles), users: listOf(reviewerUsers) }
                  : null,
            };
      const body = { production, ...(displayName ? { displayName } : {}), ...approvalPolicy };
      if (existing)
        unwrap(
          await api.PATCH('/api/v1/orgs/{org}/environments/{env}', {
            params: { path: { org, env: name } },
            body,
          }),
        );
      else
        unwrap(
          await api.POST('/api/v1/orgs/{org}/environments', {
            params: { path: { org } },
            body: { name, ...body },
          }),
        );
      return existing ? `Changed ${name}.` : `Added ${name}.`;
    },
    onSettled: () => queries.invalidateQueries({ queryKey: ['environments', org] }),
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate();
  };
  const errors = fieldErrorsOf(save.error);
  return (
    <form onSubmit={submit} className="inline-form" aria-label="Add or change an environment">
      <Field label="Environment name" hint="an existing name changes that environment" error={errors.name}>
        <input required value={name} onChange={(e) => setName(e.target.value)} />
      </Field>
      <Field label="Display name" error={errors.displayName}>
        <input value={displayName} onChange={(e) => setDisplayName(e.target.value)} />
      </Field>
      <label className="check">
        <input type="checkbox" checked={production} onChange={(e) => setProduction(e.target.checked)} />{' '}
        Production
      </label>
      <Field
        label="Approvals required"
        hint="promotions into it wait for this many; 0: none; empty: unchanged"
        error={errors['approvalPolicy.required'] ?? errors.approvalPolicy}
      >
        <input
          type="number"
          min={0}
          max={10}
          value={approvals}
          onChange={(e) => setApprovals(e.target.value)}
        />
      </Field>
      <Field
        label="Reviewer roles"
        hint="comma-separated: admin, developer"
        error={firstOf(errors, 'approvalPolicy.roles')}
      >
        <input value={reviewerRoles} onChange={(e) => setReviewerRoles(e.target.value)} />
      </Field>
      <Field
        label="Reviewers by name"
        hint="comma-separated user names, members of the organization"
        error={firstOf(errors, 'approvalPolicy.users')}
      >
        <input value={reviewerUsers} onChange={(e) => setReviewerUsers(e.target.value)} />
      </Field>
      <button type="submit" disabled={save.isPending}>
        Save environment
      </button>
      {save.data && <p aria-live="polite">{save.data}</p>}
      {save.error && <ProblemView error={save.error} />}
    </form>
  );
}

/** Creates a pipeline, or sets an existing one's environments in promotion order. */
export function PipelineForm({ org }: { org: string }) {
  const queries = useQueryClient();
  const [name, setName] = useState('');
  const [order, setOrder] = useState('');
  const [isDefault, setIsDefault] = useState(false);
  const save = useMutation({
    mutationFn: async () => {
      const environments = order
        .split(/[\s,>→-]+/)
        .map((e) => e.trim())
        .filter(Boolean);
      const existing = unwrap(
        await api.GET('/api/v1/orgs/{org}/pipelines', { params: { path: { org } } }),
      ).items.some((p) => p.name === name);
      const extra = isDefault ? { isDefault } : {};
      if (existing)
        unwrap(
          await api.PATCH('/api/v1/orgs/{org}/pipelines/{pipeline}', {
            params: { path: { org, pipeline: name } },
            body: { environments, ...extra },
          }),
        );
      else
        unwrap(
          await api.POST('/api/v1/orgs/{org}/pipelines', {
            params: { path: { org } },
            body: { name, environments, ...extra },
          }),
        );
      return existing ? `Changed ${name}.` : `Added ${name}.`;
    },
    onSettled: () => queries.invalidateQueries({ queryKey: ['pipelines', org] }),
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate();
  };
  const errors = fieldErrorsOf(save.error);
  return (
    <form onSubmit={submit} className="inline-form" aria-label="Add or change a pipeline">
      <Field label="Pipeline name" hint="an existing name changes that pipeline" error={errors.name}>
        <input required value={name} onChange={(e) => setName(e.target.value)} />
      </Field>
      <Field
        label="Environments in order"
        hint="e.g. development, staging, production"
        error={errors.environments}
      >
        <input required value={order} onChange={(e) => setOrder(e.target.value)} />
      </Field>
      <label className="check">
        <input type="checkbox" checked={isDefault} onChange={(e) => setIsDefault(e.target.checked)} /> Default
      </label>
      <button type="submit" disabled={save.isPending}>
        Save pipeline
      </button>
      {save.data && <p aria-live="polite">{save.data}</p>}
      {save.error && <ProblemView error={save.error} />}
    </form>
  );
}

/** Members: change a role, remove one, add a user by name. */
export function MemberActions({ org, user, role }: { org: string; user: string; role: string }) {
  const queries = useQueryClient();
  const change = useMutation({
    mutationFn: async (next: Role | null) => {
      const params = { params: { path: { org, user } } };
      if (next === null) unwrap(await api.DELETE('/api/v1/orgs/{org}/members/{user}', params));
      else unwrap(await api.PUT('/api/v1/orgs/{org}/members/{user}', { ...params, body: { role: next } }));
    },
    onSettled: () => queries.invalidateQueries({ queryKey: ['members', org] }),
  });
  return (
    <>
      <select
        aria-label={`Role of ${user}`}
        value={role}
        disabled={change.isPending}
        onChange={(e) => change.mutate(e.target.value as Role)}
      >
        {ROLES.map((r) => (
          <option key={r}>{r}</option>
        ))}
      </select>{' '}
      <button type="button" disabled={change.isPending} onClick={() => change.mutate(null)}>
        Remove {user}
      </button>
      {change.error && <ProblemView error={change.error} />}
    </>
  );
}

export function AddMemberForm({ org }: { org: string }) {
  const queries = useQueryClient();
  const [user, setUser] = useState('');
  const [role, setRole] = useState<Role>('developer');
  const add = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.PUT('/api/v1/orgs/{org}/members/{user}', {
          params: { path: { org, user } },
          body: { role },
        }),
      ),
    onSuccess: () => setUser(''),
    onSettled: () => queries.invalidateQueries({ queryKey: ['members', org] }),
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    add.mutate();
  };
  const errors = fieldErrorsOf(add.error);
  return (
    <form onSubmit={submit} className="inline-form" aria-label="Add a member">
      <Field label="User" error={errors.user}>
        <input required value={user} onChange={(e) => setUser(e.target.value)} />
      </Field>
      <Field label="Role" error={errors.role}>
        <select value={role} onChange={(e) => setRole(e.target.value as Role)}>
          {ROLES.map((r) => (
            <option key={r}>{r}</option>
          ))}
        </select>
      </Field>
      <button type="submit" disabled={add.isPending}>
        Add member
      </button>
      {add.error && <ProblemView error={add.error} />}
    </form>
  );
}

/** Webhook deliveries of the organization, newest first: outcome, and the builds started or why not. */
export function WebhookDeliveries({ org }: { org: string }) {
  const deliveries = useQuery({
    queryKey: ['webhook-deliveries', org],
    queryFn: async () =>
      unwrap(
        await api.GET('/api/v1/orgs/{org}/webhook-deliveries', {
          params: { path: { org }, query: { limit: 50 } },
        }),
      ).items,
  });
  return (
    <section aria-labelledby="webhooks">
      <h2 id="webhooks">Webhook deliveries</h2>
      {deliveries.isPending && <Loading what="webhook deliveries" />}
      {deliveries.error && <ProblemView error={deliveries.error} />}
      {deliveries.data &&
        (deliveries.data.length === 0 ? (
          <Empty>
            No deliveries yet. A component's Build tab gives its repository's webhook URL and secret to set at
            the provider.
          </Empty>
        ) : (
          <table aria-labelledby="webhooks">
            <thead>
              <tr>
                <th scope="col">Received</th>
                <th scope="col">Provider</th>
                <th scope="col">Status</th>
                <th scope="col">Outcome</th>
                <th scope="col">Detail</th>
              </tr>
            </thead>
            <tbody>
              {deliveries.data.map((d) => (
                <tr key={d.id}>
                  <td>
                    <RelativeTime at={d.receivedAt} />
                  </td>
                  <td>{d.provider}</td>
                  <td>{d.status}</td>
                  <td>
                    <Status value={d.outcome} />
                  </td>
                  <td className="message">
                    <code>{JSON.stringify(d.detail)}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ))}
    </section>
  );
}
