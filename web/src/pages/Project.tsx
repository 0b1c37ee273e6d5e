import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api, unwrap } from '../api/client';
import {
  BUILD_PRESETS,
  COMPONENT_TYPES,
  type Component,
  type ComponentInput,
  PRESET_CONFIG_KEYS,
} from '../api/types';
import { Link, navigate, pathOf } from '../router';
import { Empty, Field, fieldErrorsOf, Loading, ProblemView, Status } from '../ui';

export function Project({ org, project }: { org: string; project: string }) {
  const info = useQuery({
    queryKey: ['project', org, project],
    queryFn: async () =>
      unwrap(await api.GET('/api/v1/orgs/{org}/projects/{project}', { params: { path: { org, project } } })),
  });
  const components = useQuery({
    queryKey: ['components', org, project],
    queryFn: async () =>
      unwrap(
        await api.GET('/api/v1/orgs/{org}/projects/{project}/components', {
          params: { path: { org, project }, query: { limit: 500 } },
        }),
      ),
    enabled: info.isSuccess,
  });

  if (info.error) return <ProblemView error={info.error} />;
  return (
    <>
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link href={pathOf('orgs', org)}>{org}</Link> / <span>{project}</span>
      </nav>
      <header className="page-head">
        <h1>{info.data?.displayName || project}</h1>
        {info.data?.description && <p className="muted">{info.data.description}</p>}
      </header>
      {(info.isPending || components.isPending) && <Loading what="components" />}
      {components.error && <ProblemView error={components.error} />}
      {components.data &&
        (components.data.items.length === 0 ? (
          <Empty>No components yet. Create one from a Git repository or an image below.</Empty>
        ) : (
          <table>
            <thead>
              <tr>
                <th scope="col">Component</th>
                <th scope="col">Type</th>
                <th scope="col">Source</th>
                <th scope="col">Status per environment</th>
              </tr>
            </thead>
            <tbody>
              {components.data.items.map((c) => (
                <tr key={c.id}>
                  <td>
                    <Link href={pathOf('orgs', org, 'projects', project, 'components', c.name)}>
                      {c.name}
                    </Link>
                  </td>
                  <td>{c.type}</td>
                  <td>
                    <SourceText component={c} />
                  </td>
                  <td>
                    <EnvironmentStatuses org={org} project={project} component={c.name} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ))}
      {info.isSuccess && <CreateComponent org={org} project={project} />}
    </>
  );
}

export function SourceText({ component }: { component: Component }) {
  const s = component.source;
  if (s.kind === 'image') return <code>{s.image}</code>;
  return (
    <span>
      <code>{s.repoUrl}</code> {s.branch}
      {s.path !== '.' && ` (${s.path})`}
    </span>
  );
}

function EnvironmentStatuses({
  org,
  project,
  component,
}: {
  org: string;
  project: string;
  component: string;
}) {
  const status = useQuery({
    queryKey: ['status', org, project, component],
    queryFn: async () =>
      unwrap(
        await api.GET('/api/v1/orgs/{org}/projects/{project}/components/{component}/status', {
          params: { path: { org, project, component } },
        }),
      ),
    retry: false,
  });
  if (!status.data) return <span className="muted">{status.isPending ? '…' : 'not deployed'}</span>;
  return (
    <span className="env-statuses">
      {status.data.items.map((e) => (
        <span key={e.environment}>
          {e.environment}: <Status value={e.active?.status ?? e.latest?.status ?? 'not deployed'} />
        </span>
      ))}
    </span>
  );
}

function CreateComponent({ org, project }: { org: string; project: string }) {
  const queries = useQueryClient();
  const [name, setName] = useState('');
  const [type, setType] = useState<ComponentInput['type']>('service');
  const [kind, setKind] = useState<'git' | 'image'>('git');
  const [repoUrl, setRepoUrl] = useState('');
  const [branch, setBranch] = useState('main');
  const [path, setPath] = useState('.');
  const [image, setImage] = useState('');
  const [port, setPort] = useState('8080');
  const [preset, setPreset] = useState<(typeof BUILD_PRESETS)[number]>('dockerfile');
  const [configs, setConfigs] = useState<Record<string, string>>({ dockerFilePath: 'Dockerfile' });

  const create = useMutation({
    mutationFn: async () => {
      const body: ComponentInput =
        kind === 'git'
          ? {
              name,
              type,
              source: { repoUrl, branch, path },
              buildPreset: preset,
              // Only the configs of this preset that were filled in; the API applies the defaults.
              buildConfigs: Object.fromEntries(
                PRESET_CONFIG_KEYS[preset].flatMap((k) => (configs[k] ? [[k, configs[k]]] : [])),
              ),
            }
          : {
              name,
              type,
              source: { image },
              // Tasks serve nothing: only long-running types have an endpoint.
              ...(type.endsWith('-task') ? {} : { endpoints: [{ port: Number(port) }] }),
            };
      return unwrap(
        await api.POST('/api/v1/orgs/{org}/projects/{project}/components', {
          params: { path: { org, project } },
          body,
        }),
      );
    },
    onSuccess: async (created) => {
      await queries.invalidateQueries({ queryKey: ['components', org, project] });
      navigate(pathOf('orgs', org, 'projects', project, 'components', created.name));
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate();
  };
  const errors = fieldErrorsOf(create.error);

  return (
    <section aria-labelledby="create-component">
      <h2 id="create-component">Create a component</h2>
      <form onSubmit={submit} className="grid-form">
        <Field label="Name" error={errors.name}>
          <input name="name" required value={name} onChange={(e) => setName(e.target.value)} />
        </Field>
        <Field label="Type">
          <select
            name="type"
            value={type}
            onChange={(e) => setType(e.target.value as ComponentInput['type'])}
          >
            {COMPONENT_TYPES.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </Field>
        <fieldset>
          <legend>Source</legend>
          <label>
            <input type="radio" name="kind" checked={kind === 'git'} onChange={() => setKind('git')} /> Git
            repository
          </label>
          <label>
            <input type="radio" name="kind" checked={kind === 'image'} onChange={() => setKind('image')} />{' '}
            Container image
          </label>
        </fieldset>
        {kind === 'git' ? (
          <>
            <Field label="Repository URL" error={errors['source.repoUrl']}>
              <input name="repoUrl" required value={repoUrl} onChange={(e) => setRepoUrl(e.target.value)} />
            </Field>
            <Field label="Branch">
              <input name="branch" value={branch} onChange={(e) => setBranch(e.target.value)} />
            </Field>
            <Field label="Directory">
              <input name="path" value={path} onChange={(e) => setPath(e.target.value)} />
            </Field>
            <Field label="Build preset">
              <select
                name="preset"
                value={preset}
                onChange={(e) => setPreset(e.target.value as (typeof BUILD_PRESETS)[number])}
              >
                {BUILD_PRESETS.map((p) => (
                  <option key={p}>{p}</option>
                ))}
              </select>
            </Field>
            {PRESET_CONFIG_KEYS[preset].map((key) => (
              <Field key={key} label={`Build config ${key}`} error={errors[`buildConfigs.${key}`]}>
                <input
                  name={key}
                  value={configs[key] ?? ''}
                  onChange={(e) => setConfigs({ ...configs, [key]: e.target.value })}
                />
              </Field>
            ))}
          </>
        ) : (
          <>
            <Field label="Image" error={errors['source.image']}>
              <input name="image" required value={image} onChange={(e) => setImage(e.target.value)} />
            </Field>
            <Field label="Endpoint port">
              <input name="port" inputMode="numeric" value={port} onChange={(e) => setPort(e.target.value)} />
            </Field>
          </>
        )}
        <button type="submit" disabled={create.isPending}>
          {create.isPending ? 'Creating…' : 'Create component'}
        </button>
      </form>
      {create.error && <ProblemView error={create.error} />}
    </section>
  );
}
