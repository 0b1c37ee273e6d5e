import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api, unwrap } from '../api/client';
import { Empty, Field, fieldErrorsOf, Loading, ProblemView, RelativeTime } from '../ui';
import type { ComponentRef } from './Component';

/** The environments of the project's pipeline, in order. */
export function usePipelineEnvironments(org: string, project: string) {
  return useQuery({
    queryKey: ['pipeline-of', org, project],
    queryFn: async () => {
      const p = unwrap(
        await api.GET('/api/v1/orgs/{org}/projects/{project}', { params: { path: { org, project } } }),
      );
      const pipeline = unwrap(
        await api.GET('/api/v1/orgs/{org}/pipelines/{pipeline}', {
          params: { path: { org, pipeline: p.pipeline } },
        }),
      );
      return pipeline.environments;
    },
  });
}

/**
 * Configuration and secrets: the component scope (every environment) and one scope per
 * environment of the project's pipeline. Secret values are write-only; a change applies at the
 * next deployment.
 */
export function ConfigView({ org, project, component }: ComponentRef) {
  const environments = usePipelineEnvironments(org, project);
  if (environments.isPending) return <Loading what="environments" />;
  if (environments.error) return <ProblemView error={environments.error} />;
  return (
    <>
      <ConfigScope target={{ org, project, component }} environment={undefined} />
      {environments.data.map((env) => (
        <ConfigScope key={env} target={{ org, project, component }} environment={env} />
      ))}
    </>
  );
}

function ConfigScope({ target, environment }: { target: ComponentRef; environment: string | undefined }) {
  const queries = useQueryClient();
  const key = ['config', target.org, target.project, target.component, environment ?? ''];
  const path = { path: target };
  const scope = useQuery({
    queryKey: key,
    queryFn: async () =>
      unwrap(
        await api.GET('/api/v1/orgs/{org}/projects/{project}/components/{component}/config', {
          params: { ...path, query: environment ? { environment } : {} },
        }),
      ),
  });
  const [name, setName] = useState('');
  const [value, setValue] = useState('');
  const [secret, setSecret] = useState(false);
  const change = useMutation({
    mutationFn: async (body: { set?: { key: string; value: string; secret: boolean }[]; unset?: string[] }) =>
      unwrap(
        await api.PATCH('/api/v1/orgs/{org}/projects/{project}/components/{component}/config', {
          params: path,
          body: { ...body, ...(environment ? { environment } : {}), revision: scope.data?.revision },
        }),
      ),
    onSuccess: (next) => {
      queries.setQueryData(key, next);
      setName('');
      setValue('');
      setSecret(false);
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    change.mutate({ set: [{ key: name, value, secret }] });
  };
  const title = environment ? `Environment ${environment}` : 'Every environment';
  const id = `config-${environment ?? 'component'}`;
  const errors = fieldErrorsOf(change.error);

  return (
    <section aria-labelledby={id} className="config-scope">
      <h2 id={id}>{title}</h2>
      {scope.isPending && <Loading what="configuration" />}
      {scope.error && <ProblemView error={scope.error} />}
      {scope.data &&
        (scope.data.items.length === 0 ? (
          <Empty>
            No configuration here. Add an env var or a secret below; it applies at the next deploy.
          </Empty>
        ) : (
          <table>
            <thead>
              <tr>
                <th scope="col">Key</th>
                <th scope="col">Value</th>
                <th scope="col">Changed</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {scope.data.items.map((item) => (
                <tr key={item.key}>
                  <td>
                    <code>{item.key}</code>
                  </td>
                  <td>{item.secret ? <em>secret (write-only)</em> : <code>{item.value}</code>}</td>
                  <td>
                    <RelativeTime at={item.updatedAt} /> by {item.updatedBy}
                  </td>
                  <td>
                    <button
                      type="button"
                      disabled={change.isPending}
                      onClick={() => change.mutate({ unset: [item.key] })}
                    >
                      Remove {item.key}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ))}
      <form onSubmit={submit} className="inline-form" aria-label={`Set a key: ${title}`}>
        <Field label="Key" error={errors['set[0].key']}>
          <input name="key" required value={name} onChange={(e) => setName(e.target.value)} />
        </Field>
        <Field label="Value" error={errors['set[0].value']}>
          <input
            name="value"
            type={secret ? 'password' : 'text'}
            autoComplete="off"
            value={value}
            onChange={(e) => setValue(e.target.value)}
          />
        </Field>
        <label className="check">
          <input type="checkbox" checked={secret} onChange={(e) => setSecret(e.target.checked)} /> Secret
        </label>
        <button type="submit" disabled={change.isPending}>
          Set
        </button>
      </form>
      {change.error && <ProblemView error={change.error} />}
    </section>
  );
}
