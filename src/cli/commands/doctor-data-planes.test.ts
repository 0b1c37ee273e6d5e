import { describe, expect, it } from 'vitest';
import type { DataPlane } from '../../domain/resources.js';
import { ApiError } from '../client.js';
import { dataPlaneChecks } from './doctor-data-planes.js';

const plane = (name: string, type: DataPlane['type'], status?: DataPlane['status']): DataPlane => ({
  id: `dp_${name}`,
  name,
  type,
  config: {},
  environments: [],
  createdAt: '2026-12-01T00:00:00Z',
  ...(status ? { status } : {}),
});
const at = { checkedAt: '2026-12-01T00:00:00Z', tookMs: 3 };

/** An API that answers the list and each data plane from `planes`. */
function api(planes: DataPlane[], listFails?: ApiError) {
  return {
    orgPath: (rest: string) => `/orgs/_${rest}`,
    async request<T>(_method: string, path: string): Promise<T> {
      if (path === '/orgs/_/dataplanes') {
        if (listFails) throw listFails;
        return { items: planes.map(({ status: _, ...p }) => p) } as T;
      }
      return planes.find((p) => path.endsWith(`/${p.name}`)) as T;
    },
  };
}

describe('rondo doctor’s data plane checks', () => {
  it('checks each data plane: reachable ones pass with version and capacity, others fail with the reason and a fix', async () => {
    const checks = await dataPlaneChecks(
      api([
        plane('local', 'docker', {
          reachable: true,
          version: 'Docker 27.5.1 (API 1.47)',
          capacity: { cpus: 2, memoryBytes: 4 * 2 ** 30 },
          ...at,
        }),
        plane('lab', 'kubernetes', {
          reachable: false,
          reason: 'the API server at https://x does not answer',
          ...at,
        }),
      ]),
      true,
      true,
    );
    expect(checks).toEqual([
      {
        name: 'data plane local',
        ok: true,
        detail: 'docker: reachable, Docker 27.5.1 (API 1.47), 2 CPUs, 4.0 GiB memory',
      },
      {
        name: 'data plane lab',
        ok: false,
        detail: 'kubernetes: unreachable (the API server at https://x does not answer)',
        fix: expect.stringMatching(/^make the API server reachable/),
      },
    ]);
  });

  it('skips without a login or a control plane, and fails when the list is refused', async () => {
    expect(await dataPlaneChecks(api([]), true, false)).toMatchObject([
      { ok: true, skipped: true, detail: expect.stringMatching(/no login/) },
    ]);
    expect(await dataPlaneChecks(api([]), false, true)).toMatchObject([{ ok: true, skipped: true }]);
    const refused = await dataPlaneChecks(
      api([], new ApiError(401, 'UNAUTHENTICATED', 'token revoked')),
      true,
      true,
    );
    expect(refused).toMatchObject([
      { name: 'data planes', ok: false, detail: 'cannot list them: token revoked' },
    ]);
  });
});
