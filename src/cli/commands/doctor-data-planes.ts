import type { DataPlane } from '../../domain/resources.js';
import type { Check } from '../../platform/doctor-check.js';
import type { ApiClient } from '../client.js';
import { statusSummary } from './data-plane-status.js';

const FIX: Record<DataPlane['type'], string> = {
  docker:
    'start the engine (rondo up starts dockerd) or register the data plane again with the right --socket',
  kubernetes:
    'make the API server reachable from the control plane, or register the cluster again with a current kubeconfig',
};

/**
 * `rondo doctor`'s check of every data plane of the organization, through the API (each read
 * checks reachability, version and capacity within seconds). Needs a login; without one, or
 * without an answering control plane, the checks are skipped, not failed.
 */
export async function dataPlaneChecks(
  api: Pick<ApiClient, 'request' | 'orgPath'>,
  apiUp: boolean,
  loggedIn: boolean,
): Promise<Check[]> {
  const skipped = (detail: string): Check[] => [{ name: 'data planes', ok: true, skipped: true, detail }];
  if (!apiUp) return skipped('not checked: the control plane does not answer');
  if (!loggedIn) return skipped('not checked: no login (rondo login, or RONDO_TOKEN)');
  let planes: DataPlane[];
  try {
    planes = (await api.request<{ items: DataPlane[] }>('GET', api.orgPath('/dataplanes'))).items;
  } catch (err) {
    return [
      {
        name: 'data planes',
        ok: false,
        detail: `cannot list them: ${err instanceof Error ? err.message : String(err)}`,
        fix: 'rondo login with a token of the organization (or --org)',
      },
    ];
  }
  return Promise.all(
    planes.map(async (p): Promise<Check> => {
      const name = `data plane ${p.name}`;
      try {
        const d = await api.request<DataPlane>(
          'GET',
          api.orgPath(`/dataplanes/${encodeURIComponent(p.name)}`),
        );
        const s = d.status;
        if (!s)
          return {
            name,
            ok: false,
            detail: 'the control plane gave no status',
            fix: 'upgrade the control plane',
          };
        return {
          name,
          ok: s.reachable,
          detail: `${d.type}: ${statusSummary(s)}${s.reason ? ` (${s.reason})` : ''}`,
          ...(s.reachable ? {} : { fix: FIX[d.type] }),
        };
      } catch (err) {
        return { name, ok: false, detail: err instanceof Error ? err.message : String(err) };
      }
    }),
  );
}
