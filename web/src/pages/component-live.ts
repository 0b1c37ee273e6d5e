import { useQueryClient } from '@tanstack/react-query';
import type { EnvironmentStatus } from '../api/types';
import { useEventStream } from '../event-stream';
import { pathOf } from '../router';
import type { ComponentRef } from './Component';

/**
 * One server push stream per component page, whatever the tab: the status it pushes fills the
 * Deploy view's cache, and its `builds` and `executions` events make the lists read again when a
 * build or a run starts or ends, by whoever started it (no polling). `open` is false until the
 * page's own data arrived, so the stream never delays the first render.
 */
export function useComponentLive({ org, project, component }: ComponentRef, open: boolean) {
  const queries = useQueryClient();
  const statusKey = ['status', org, project, component];
  return useEventStream(
    open
      ? `${pathOf('api', 'v1', 'orgs', org, 'projects', project, 'components', component)}/status/stream`
      : null,
    {
      status: (data: { items: EnvironmentStatus[] }) => {
        // A change (a promotion approved by someone else, a rollout's end) may settle a request too.
        const before = queries.getQueryData(statusKey);
        if (before && JSON.stringify(before) !== JSON.stringify(data))
          void queries.invalidateQueries({ queryKey: ['approvals', org, project, component] });
        queries.setQueryData(statusKey, data);
      },
      builds: () => void queries.invalidateQueries({ queryKey: ['builds', org, project, component] }),
      executions: () => void queries.invalidateQueries({ queryKey: ['executions', org, project, component] }),
    },
  );
}
