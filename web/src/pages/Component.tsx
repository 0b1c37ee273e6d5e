import { useQuery } from '@tanstack/react-query';
import { useEffect } from 'react';
import { api, unwrap } from '../api/client';
import { Link, pathOf } from '../router';
import { Loading, ProblemView } from '../ui';
import { BuildArea } from './BuildArea';
import { ConfigView } from './ConfigView';
import { useComponentLive } from './component-live';
import { DeployView } from './DeployView';
import { Observability } from './Observability';
import { SourceText } from './Project';
import { RepositoryWebhook } from './RepositoryWebhook';
import { TasksView } from './TasksView';

export const RENDERED_MARK = 'rondo:component-rendered';

export type ComponentTab = 'build' | 'deploy' | 'config' | 'tasks' | 'observability';

export interface ComponentRef {
  org: string;
  project: string;
  component: string;
}

/** A component: its Build area and its Deploy view, each a tab with its own URL. */
export function ComponentPage({ tab, ...ref }: ComponentRef & { tab: ComponentTab }) {
  const { org, project, component } = ref;
  const info = useQuery({
    queryKey: ['component', org, project, component],
    queryFn: async () =>
      unwrap(
        await api.GET('/api/v1/orgs/{org}/projects/{project}/components/{component}', {
          params: { path: { org, project, component } },
        }),
      ),
  });
  const live = useComponentLive(ref, info.data !== undefined);
  const base = pathOf('orgs', org, 'projects', project, 'components', component);
  // The bench reads this mark: the component page's first render with its data.
  useEffect(() => {
    if (info.data && performance.getEntriesByName(RENDERED_MARK).length === 0)
      performance.mark(RENDERED_MARK);
  }, [info.data]);

  if (info.isPending) return <Loading what="the component" />;
  if (info.error) return <ProblemView error={info.error} />;
  return (
    <>
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link href={pathOf('orgs', org)}>{org}</Link> /{' '}
        <Link href={pathOf('orgs', org, 'projects', project)}>{project}</Link> / <span>{component}</span>
      </nav>
      <header className="page-head">
        <h1>{info.data.displayName || component}</h1>
        <p className="muted">
          {info.data.type} · <SourceText component={info.data} />
        </p>
      </header>
      <nav aria-label="Component" className="tabs">
        <Link href={`${base}/build`} aria-current={tab === 'build' ? 'page' : undefined}>
          Build
        </Link>
        <Link href={`${base}/deploy`} aria-current={tab === 'deploy' ? 'page' : undefined}>
          Deploy
        </Link>
        <Link href={`${base}/config`} aria-current={tab === 'config' ? 'page' : undefined}>
          Configuration
        </Link>
        <Link href={`${base}/observability`} aria-current={tab === 'observability' ? 'page' : undefined}>
          Observability
        </Link>
        {info.data.type.endsWith('-task') && (
          <Link href={`${base}/tasks`} aria-current={tab === 'tasks' ? 'page' : undefined}>
            Tasks
          </Link>
        )}
      </nav>
      {/* Without a data plane (503) the tab's own reads already say so, in the same words. */}
      {live.error && live.error.problem.status !== 503 && <ProblemView error={live.error} />}
      {tab === 'build' && <BuildArea {...ref} />}
      {tab === 'build' && info.data.source.kind !== 'image' && <RepositoryWebhook {...ref} />}
      {tab === 'deploy' && <DeployView {...ref} />}
      {tab === 'config' && <ConfigView {...ref} />}
      {tab === 'observability' && <Observability {...ref} />}
      {tab === 'tasks' && <TasksView {...ref} scheduled={info.data.type === 'scheduled-task'} />}
    </>
  );
}
