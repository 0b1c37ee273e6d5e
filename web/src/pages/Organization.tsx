import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api, unwrap } from '../api/client';
import type { ProjectHealth } from '../api/types';
import { Link, navigate, pathOf } from '../router';
import { Empty, Field, Loading, ProblemView, RelativeTime } from '../ui';

export function Organization({ org }: { org: string }) {
  const projects = useQuery({
    queryKey: ['projects', org],
    queryFn: async () =>
      unwrap(
        await api.GET('/api/v1/orgs/{org}/projects', { params: { path: { org }, query: { limit: 500 } } }),
      ),
  });

  // Components by state per environment, for every project in one request (not one per component).
  const health = useQuery({
    queryKey: ['health', org],
    // Read at every visit: components and deployments change on other pages and by other people.
    staleTime: 0,
    queryFn: async () =>
      unwrap(await api.GET('/api/v1/orgs/{org}/health', { params: { path: { org } } })).items,
  });
  const healthOf = (project: string) => health.data?.find((h) => h.project === project);

  return (
    <>
      <header className="page-head">
        <h1>Projects</h1>
        <p className="muted">Organization {org}</p>
      </header>
      {projects.isPending && <Loading what="projects" />}
      {projects.error && <ProblemView error={projects.error} />}
      {projects.data &&
        (projects.data.items.length === 0 ? (
          <Empty>No projects yet. Create the first one below; components live in projects.</Empty>
        ) : (
          <table>
            <thead>
              <tr>
                <th scope="col">Project</th>
                <th scope="col">Description</th>
                <th scope="col">Pipeline</th>
                <th scope="col">Components by environment</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {projects.data.items.map((p) => (
                <tr key={p.id}>
                  <td>
                    <Link href={pathOf('orgs', org, 'projects', p.name)}>{p.displayName || p.name}</Link>
                  </td>
                  <td>{p.description}</td>
                  <td>{p.pipeline}</td>
                  <td>
                    <ProjectHealthText health={healthOf(p.name)} />
                  </td>
                  <td>
                    <RelativeTime at={p.createdAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ))}
      <CreateProject org={org} />
    </>
  );
}

/** "development: 2 active, 1 failed" per environment; nothing for a project without components. */
function ProjectHealthText({ health }: { health: ProjectHealth | undefined }) {
  if (!health) return <span className="muted">…</span>;
  if (health.components === 0) return <span className="muted">no components</span>;
  return (
    <span className="env-statuses">
      {health.environments.map(({ environment, counts }) => {
        const parts = (
          [
            ['active', counts.active],
            ['deploying', counts.deploying],
            ['failed', counts.failed],
            ['not deployed', counts.notDeployed],
          ] as const
        ).filter(([, n]) => n > 0);
        return (
          <span key={environment}>
            {environment}: {parts.map(([what, n]) => `${n} ${what}`).join(', ')}
          </span>
        );
      })}
    </span>
  );
}

function CreateProject({ org }: { org: string }) {
  const queries = useQueryClient();
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const create = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST('/api/v1/orgs/{org}/projects', {
          params: { path: { org } },
          body: { name, ...(description ? { description } : {}) },
        }),
      ),
    onSuccess: async (project) => {
      await queries.invalidateQueries({ queryKey: ['projects', org] });
      navigate(pathOf('orgs', org, 'projects', project.name));
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate();
  };
  return (
    <section aria-labelledby="create-project">
      <h2 id="create-project">Create a project</h2>
      <form onSubmit={submit} className="inline-form">
        <Field label="Name" hint="lowercase letters, digits and dashes">
          <input name="name" required value={name} onChange={(e) => setName(e.target.value)} />
        </Field>
        <Field label="Description">
          <input name="description" value={description} onChange={(e) => setDescription(e.target.value)} />
        </Field>
        <button type="submit" disabled={create.isPending}>
          {create.isPending ? 'Creating…' : 'Create project'}
        </button>
      </form>
      {create.error && <ProblemView error={create.error} />}
    </section>
  );
}
